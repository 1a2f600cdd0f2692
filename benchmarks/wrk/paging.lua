-- Walks the newest-first listing through its Link: rel="next" cursors, then starts over. Each
-- response hands its next-page URL to a later request of the same thread; a chain goes on with
-- probability 0.9, so walks are 10 pages deep on average.
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local FIRST = "/api/v1/items?limit=50"
local CONTINUE = 0.9
local pending = {}

function init(args)
  c.seed()
end

function request()
  local url = table.remove(pending) or FIRST
  return wrk.format("GET", url, c.headers)
end

function response(status, headers, body)
  if c.server_timing then c.timing(headers) end
  if status ~= 200 or math.random() > CONTINUE then return end
  local link = headers["link"] or headers["Link"]
  local url = link and link:match("<([^>]+)>")
  if url then pending[#pending + 1] = url end
end
