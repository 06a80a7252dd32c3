-- GCRA rate limiter: one atomic read-decide-write on the Redis server clock.
-- The maths is documented in src/ratelimit/mod.rs and modelled in src/ratelimit/gcra.rs.
--
-- KEYS[1]  the client's key for the policy: its theoretical arrival time (TAT),
--          integer microseconds since the epoch (server clock)
-- ARGV[1]  emission interval T, integer microseconds >= 1
-- ARGV[2]  burst, integer units >= 1 (tau = T * burst)
-- ARGV[3]  cost n, integer units >= 0
--
-- Returns {allowed (1 or 0), remaining units, reset_after ms, retry_after ms (-1: never)};
-- durations are rounded up to the millisecond. Only an allowed request with n > 0 writes.
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tau = t * burst

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- GET answers false for a missing key; tonumber(false) is nil.
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end

local new_tat = tat + cost * t
local debt = new_tat - now
if debt <= tau then
  if cost > 0 then
    -- '%.0f' keeps every digit (a plain number would be written as '%.14g');
    -- the key means nothing once now >= new_tat, hence its TTL (at least 1 ms as debt >= T).
    redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(debt / 1000))
  end
  return {1, math.floor((tau - debt) / t), math.ceil(debt / 1000), -1}
end

local held = tat - now
local retry = -1
if cost <= burst then
  retry = math.ceil((debt - tau) / 1000)
end
return {0, math.max(0, math.floor((tau - held) / t)), math.ceil(held / 1000), retry}
