package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local tags

function init(args)
  c.seed()
  tags = c.lines("tags.txt")
end

function request()
  return wrk.format("GET", "/api/v1/items?limit=50&tags=" .. c.urlencode(c.pick(tags)), c.headers)
end
