-- Reserve the next send slots of a bucket (GCRA with a burst of 1), atomically for every worker process; for
-- n reservations in one call, taken in order (the same answers as n calls, one round trip).
--
-- KEYS[i]      the bucket key of reservation i; it holds the theoretical arrival time (TAT) of the next free
--              slot, in microseconds. Several reservations may name the same bucket.
-- ARGV[5i-4]   emission interval in microseconds (1e6 / rate per second).
-- ARGV[5i-3]   horizon in microseconds: a slot further ahead than this is not reserved.
-- ARGV[5i-2]   now in microseconds, or "" to use the Redis server clock (shared by every host).
-- ARGV[5i-1]   lead in microseconds: the slot starts no earlier than this after now (the caller has work to do
--              before it can use it; an idle bucket's capacity is shifted, not lost).
-- ARGV[5i]     count: how many consecutive slots reservation i asks for (a wave's rows, one script item).
--
-- Returns one {granted, wait_us, now_us} per reservation: the first `granted` slots (0..count), starting wait_us
-- from now and one interval apart, are reserved for the caller, who must wait that long and then go; a slot
-- beyond the horizon is not reserved, and the first one refused starts wait_us + granted * interval from now.
-- now_us is the "now" used, so the caller can place the slots on its own clock however late it reads the answer.
local server_now
local answers = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[5 * i - 4])
  local horizon = tonumber(ARGV[5 * i - 3])
  local lead = tonumber(ARGV[5 * i - 1])
  local count = tonumber(ARGV[5 * i])
  local now
  if ARGV[5 * i - 2] == "" then
    if server_now == nil then
      local t = redis.call("TIME")
      server_now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    end
    now = server_now
  else
    now = tonumber(ARGV[5 * i - 2])
  end
  local tat = tonumber(redis.call("GET", KEYS[i]) or "0")
  local slot = math.max(tat, now + lead)
  local wait = slot - now
  if wait > horizon then
    answers[i] = {0, wait, now}
  else
    -- Slot k starts at wait + k * interval; every one within the horizon is granted, up to count.
    local granted = math.min(count, math.floor((horizon - wait) / interval) + 1)
    local new_tat = slot + granted * interval
    -- Keep the key a little longer than the reservation it records; an idle bucket costs nothing.
    local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
    redis.call("SET", KEYS[i], string.format("%.0f", new_tat), "PX", ttl_ms)
    answers[i] = {granted, wait, now}
  end
end
return answers
