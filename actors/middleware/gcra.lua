-- Reserve the next send slot in one bucket (GCRA with a burst of 1), atomically for every worker process.
--
-- KEYS[1]  the bucket key; it holds the theoretical arrival time (TAT) of the next free slot, in microseconds.
-- ARGV[1]  emission interval in microseconds (1e6 / rate per second).
-- ARGV[2]  horizon in microseconds: a slot further ahead than this is not reserved.
-- ARGV[3]  now in microseconds, or "" to use the Redis server clock (shared by every host).
--
-- Returns {granted, wait_us}: granted = 1 means the slot starting wait_us from now is reserved for the
-- caller, who must wait that long and then go; granted = 0 means nothing was reserved and the earliest
-- slot is wait_us away (beyond the horizon).
local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local now
if ARGV[3] == "" then
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local tat = tonumber(redis.call("GET", KEYS[1]) or "0")
local slot = math.max(tat, now)
local wait = slot - now
if wait > horizon then
  return {0, wait}
end
local new_tat = slot + interval
-- Keep the key a little longer than the reservation it records; an idle bucket costs nothing.
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call("SET", KEYS[1], string.format("%.0f", new_tat), "PX", ttl_ms)
return {1, wait}
