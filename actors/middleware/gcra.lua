-- Reserve the next send slot in a bucket (GCRA with a burst of 1), atomically for every worker process; for
-- n reservations in one call, taken in order (the same answers as n calls of one each, one round trip).
--
-- KEYS[i]      the bucket key of reservation i; it holds the theoretical arrival time (TAT) of the next free
--              slot, in microseconds. Several reservations may name the same bucket.
-- ARGV[4i-3]   emission interval in microseconds (1e6 / rate per second).
-- ARGV[4i-2]   horizon in microseconds: a slot further ahead than this is not reserved.
-- ARGV[4i-1]   now in microseconds, or "" to use the Redis server clock (shared by every host).
-- ARGV[4i]     lead in microseconds: the slot starts no earlier than this after now (the caller has work to do
--              before it can use it; an idle bucket's capacity is shifted, not lost).
--
-- Returns one {granted, wait_us, now_us} per reservation: granted = 1 means the slot starting wait_us from now is
-- reserved for the caller, who must wait that long and then go; granted = 0 means nothing was reserved and
-- the earliest slot is wait_us away (beyond the horizon). now_us is the "now" used, so the caller can place the
-- slot on its own clock however late it reads the answer.
local server_now
local answers = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 3])
  local horizon = tonumber(ARGV[4 * i - 2])
  local lead = tonumber(ARGV[4 * i])
  local now
  if ARGV[4 * i - 1] == "" then
    if server_now == nil then
      local t = redis.call("TIME")
      server_now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    end
    now = server_now
  else
    now = tonumber(ARGV[4 * i - 1])
  end
  local tat = tonumber(redis.call("GET", KEYS[i]) or "0")
  local slot = math.max(tat, now + lead)
  local wait = slot - now
  if wait > horizon then
    answers[i] = {0, wait, now}
  else
    local new_tat = slot + interval
    -- Keep the key a little longer than the reservation it records; an idle bucket costs nothing.
    local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
    redis.call("SET", KEYS[i], string.format("%.0f", new_tat), "PX", ttl_ms)
    answers[i] = {1, wait, now}
  end
end
return answers
