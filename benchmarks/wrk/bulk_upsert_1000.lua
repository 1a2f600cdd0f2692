-- POST /items/batch with 1,000 seeded items each: disjoint id sets, so concurrent batches may wait
-- on each other's row locks but never deadlock, and every server replaces the same rows.
-- The threads walk the bodies in one order between them (thread k of n takes every n-th, from
-- the k-th), starting where the runner says the last run stopped (BENCH_BATCH_START): the three
-- versions of a set's body are a third of the walk apart, so every body sent changes its rows.
-- A random pick would resend a set's current content a third of the time, and such a batch costs
-- the search trigger, and an ORM that skips unchanged rows, next to nothing.
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local requests = {}
local position, step = 0, 1

function init(args)
  local listing = io.popen('ls "' .. c.data .. '/batches"')
  for name in listing:lines() do
    local body = c.read(c.data .. "/batches/" .. name)
    requests[#requests + 1] = wrk.format("POST", "/api/v1/items/batch", c.headers, body)
  end
  listing:close()
  assert(#requests > 0, "no batch bodies")
  step = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  position = tonumber(os.getenv("BENCH_BATCH_START") or "0") + (thread_number or 1) - 1
end

function request()
  local chosen = requests[position % #requests + 1]
  position = position + step
  return chosen
end
