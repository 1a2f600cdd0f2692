-- A mixed workload: 60% get by id, 15% list by tag, 10% fuzzy search, 10% create, 5% patch.
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local ids, tags, queries, bodies, patches

function init(args)
  c.seed()
  ids = c.lines("ids.txt")
  tags = c.lines("tags.txt")
  queries = c.lines("queries.txt")
  bodies = c.lines("bodies.txt")
  patches = c.lines("patches.txt")
end

function request()
  local r = math.random()
  if r < 0.60 then
    return wrk.format("GET", "/api/v1/items/" .. c.pick(ids), c.headers)
  elseif r < 0.75 then
    return wrk.format("GET", "/api/v1/items?limit=50&tags=" .. c.urlencode(c.pick(tags)), c.headers)
  elseif r < 0.85 then
    return wrk.format("GET", "/api/v1/items?limit=20&q=" .. c.urlencode(c.pick(queries)), c.headers)
  elseif r < 0.95 then
    return wrk.format("POST", "/api/v1/items", c.headers, c.pick(bodies))
  end
  return wrk.format("PATCH", "/api/v1/items/" .. c.pick(ids), c.headers, c.pick(patches))
end
