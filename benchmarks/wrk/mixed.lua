-- A mixed workload: 60% get by id, 15% list by tag, 10% fuzzy search, 10% create, 5% patch.
-- With BENCH_CONSISTENCY=1 (`run --replicas N`, the items API that reads through replicas), each
-- wrk thread acts as one client that keeps the latest Consistency-Token its writes were answered
-- with and sends it on every read after (docs/scaling.md, "Read-your-writes").
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local ids, tags, queries, bodies, patches
local consistency = os.getenv("BENCH_CONSISTENCY") == "1"
local token = nil
local reading = c.headers

function init(args)
  c.seed()
  ids = c.lines("ids.txt")
  tags = c.lines("tags.txt")
  queries = c.lines("queries.txt")
  bodies = c.lines("bodies.txt")
  patches = c.lines("patches.txt")
end

if consistency then
  function response(status, headers, body)
    if c.server_timing then c.timing(headers) end
    local got = headers["consistency-token"] or headers["Consistency-Token"]
    if got ~= nil and got ~= token then
      token = got
      reading = {}
      for name, value in pairs(c.headers) do reading[name] = value end
      reading["Consistency-Token"] = token
    end
  end
end

function request()
  local r = math.random()
  if r < 0.60 then
    return wrk.format("GET", "/api/v1/items/" .. c.pick(ids), reading)
  elseif r < 0.75 then
    return wrk.format("GET", "/api/v1/items?limit=50&tags=" .. c.urlencode(c.pick(tags)), reading)
  elseif r < 0.85 then
    return wrk.format("GET", "/api/v1/items?limit=20&q=" .. c.urlencode(c.pick(queries)), reading)
  elseif r < 0.95 then
    return wrk.format("POST", "/api/v1/items", c.headers, c.pick(bodies))
  end
  return wrk.format("PATCH", "/api/v1/items/" .. c.pick(ids), c.headers, c.pick(patches))
end
