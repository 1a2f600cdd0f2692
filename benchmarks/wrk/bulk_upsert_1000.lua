-- POST /items/batch with 1,000 seeded items each: disjoint id sets, so concurrent batches may wait
-- on each other's row locks but never deadlock, and every server replaces the same rows.
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local requests = {}
local next_index = 1

function init(args)
  c.seed()
  local listing = io.popen('ls "' .. c.data .. '/batches"')
  for name in listing:lines() do
    local body = c.read(c.data .. "/batches/" .. name)
    requests[#requests + 1] = wrk.format("POST", "/api/v1/items/batch", c.headers, body)
  end
  listing:close()
  assert(#requests > 0, "no batch bodies")
  next_index = math.random(#requests)
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
