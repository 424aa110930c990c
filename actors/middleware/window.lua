-- Per-recipient sliding window: record one send in the log unless the recipient already had `max` in the window.
--
-- KEYS[1]  a sorted set of sends to one recipient: member = message id, score = send time in milliseconds.
-- ARGV[1]  window length in milliseconds.
-- ARGV[2]  max sends in the window.
-- ARGV[3]  the message id (re-checking the same message never counts twice).
-- ARGV[4]  now in milliseconds, or "" for the Redis server clock.
--
-- Returns the wait in milliseconds until the recipient has room again; 0 means the send was recorded.
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local now
if ARGV[4] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[4])
end
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now - window)
if redis.call("ZSCORE", KEYS[1], ARGV[3]) then
  return 0
end
if redis.call("ZCARD", KEYS[1]) < max then
  redis.call("ZADD", KEYS[1], now, ARGV[3])
  redis.call("PEXPIRE", KEYS[1], window)
  return 0
end
local oldest = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
return math.max(1, tonumber(oldest[2]) + window - now)
