-- Overload: get-by-id or a two-word fuzzy search (BENCH_OVERLOAD_ENDPOINT), counting the answers
-- by status and, from wrk's latency histogram, how many took longer than BENCH_BUDGET_MS.
package.path = (os.getenv("BENCH_WRK_DIR") or "benchmarks/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local endpoint = os.getenv("BENCH_OVERLOAD_ENDPOINT") or "get_by_id"
local budget_us = tonumber(os.getenv("BENCH_BUDGET_MS") or "5000") * 1000
local samples

function init(args)
  c.seed()
  samples = c.lines(endpoint == "get_by_id" and "ids.txt" or "two_words.txt")
end

function request()
  if endpoint == "get_by_id" then
    return wrk.format("GET", "/api/v1/items/" .. c.pick(samples), c.headers)
  end
  return wrk.format("GET", "/api/v1/items?limit=20&q=" .. c.urlencode(c.pick(samples)), c.headers)
end

s2xx, s503, s5xx, sother = 0, 0, 0, 0
function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 503 then
    s503 = s503 + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
end

function done(summary, latency, requests)
  local t = { s2xx = 0, s503 = 0, s5xx = 0, sother = 0 }
  for _, thread in ipairs(c.threads) do
    for key, _ in pairs(t) do
      t[key] = t[key] + (thread:get(key) or 0)
    end
  end
  -- Answers slower than the budget: wrk keeps every distinct latency with its count.
  local late = 0
  for i = 1, #latency do
    local value, count = latency(i)
    if value > budget_us then late = late + count end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_OVERLOAD {"requests":%d,"duration_us":%d,"s2xx":%d,"s503":%d,"s5xx":%d,' ..
    '"sother":%d,"late":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, t.s2xx, t.s503, t.s5xx, t.sother, late,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
