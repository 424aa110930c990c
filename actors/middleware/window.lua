-- Per-recipient sliding window: record one send in the log unless the recipient already had `max` in the window;
-- for n sends in one call, checked in order (the same answers as n calls of one each, one round trip).
--
-- KEYS[i]      a sorted set of sends to one recipient: member = message id, score = send time in milliseconds.
-- ARGV[4i-3]   window length in milliseconds.
-- ARGV[4i-2]   max sends in the window.
-- ARGV[4i-1]   the message id (re-checking the same message never counts twice).
-- ARGV[4i]     now in milliseconds, or "" for the Redis server clock.
--
-- Returns one wait per send, in milliseconds until the recipient has room again; 0 means the send was recorded.
local server_now
local answers = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local window = tonumber(ARGV[4 * i - 3])
  local max = tonumber(ARGV[4 * i - 2])
  local member = ARGV[4 * i - 1]
  local now
  if ARGV[4 * i] == "" then
    if server_now == nil then
      local t = redis.call("TIME")
      server_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    now = server_now
  else
    now = tonumber(ARGV[4 * i])
  end
  redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
  if redis.call("ZSCORE", key, member) then
    answers[i] = 0
  elseif redis.call("ZCARD", key) < max then
    redis.call("ZADD", key, now, member)
    redis.call("PEXPIRE", key, window)
    answers[i] = 0
  else
    local oldest = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    answers[i] = math.max(1, tonumber(oldest[2]) + window - now)
  end
end
return answers
