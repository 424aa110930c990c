-- Adjust how many live Dramatiq messages point at each ledger row; drop a row's counter when it reaches zero.
--
-- KEYS[1]  the hash of counters (field = ledger row id, run:ID for a fan-out, rows:ID for a run's queued rows).
-- ARGV     pairs: field, delta (+1 / -1 per message for a row or a fan-out; the batch's rows for a run's count).
for i = 1, #ARGV, 2 do
  local n = redis.call("HINCRBY", KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
  if n <= 0 then
    redis.call("HDEL", KEYS[1], ARGV[i])
  end
end
return #ARGV / 2
