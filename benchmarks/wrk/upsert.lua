package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local ids, bodies

function init(args)
  c.seed()
  ids = c.lines("ids.txt")
  bodies = c.lines("bodies.txt")
end

function request()
  return wrk.format("PUT", "/api/v1/items/" .. c.pick(ids), c.headers, c.pick(bodies))
end
