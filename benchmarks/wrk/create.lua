package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local bodies

function init(args)
  c.seed()
  bodies = c.lines("bodies.txt")
end

function request()
  return wrk.format("POST", "/api/v1/items", c.headers, c.pick(bodies))
end
