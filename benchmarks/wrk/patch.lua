package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local ids, patches

function init(args)
  c.seed()
  ids = c.lines("ids.txt")
  patches = c.lines("patches.txt")
end

function request()
  return wrk.format("PATCH", "/api/v1/items/" .. c.pick(ids), c.headers, c.pick(patches))
end
