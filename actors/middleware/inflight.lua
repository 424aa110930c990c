-- Adjust how many live Dramatiq messages point at each ledger row; drop a row's counter when it reaches zero.
--
-- KEYS[1]  the hash of counters (field = message id).
-- ARGV     pairs: message id, delta (+1 on enqueue, -1 on ack or dead letter).
for i = 1, #ARGV, 2 do
  local n = redis.call("HINCRBY", KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
  if n <= 0 then
    redis.call("HDEL", KEYS[1], ARGV[i])
  end
end
return #ARGV / 2
