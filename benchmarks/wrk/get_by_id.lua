package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local ids

function init(args)
  c.seed()
  ids = c.lines("ids.txt")
end

function request()
  return wrk.format("GET", "/api/v1/items/" .. c.pick(ids), c.headers)
end
