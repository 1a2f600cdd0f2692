package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local queries

function init(args)
  c.seed()
  queries = c.lines("queries.txt")
end

function request()
  return wrk.format("GET", "/api/v1/items?limit=20&q=" .. c.urlencode(c.pick(queries)), c.headers)
end
