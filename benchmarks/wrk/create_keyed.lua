-- POST /api/v1/items with a fresh Idempotency-Key on every request: what a keyed create costs
-- next to `create` (the key's lock, lookup and stored response, in one transaction with the write).
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local bodies
local headers = {}
local nonce
local sent = 0

function init(args)
  c.seed()
  bodies = c.lines("bodies.txt")
  for name, value in pairs(c.headers) do headers[name] = value end
  -- Unique across threads, runs and rounds: a key is never reused, so every request writes.
  nonce = string.format("%d-%d-%d", os.time(), thread_number or 0, math.random(1, 1e9))
end

function request()
  sent = sent + 1
  headers["Idempotency-Key"] = string.format('"bench-%s-%d"', nonce, sent)
  return wrk.format("POST", "/api/v1/items", headers, c.pick(bodies))
end
