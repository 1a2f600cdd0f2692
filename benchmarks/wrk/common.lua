-- Shared by every endpoint script. The runner sets BENCH_DATA (a directory of sample files written
-- by benchmarks/seed.py) and BENCH_AUTH_HEADER / BENCH_AUTH_VALUE (empty for servers without auth).
local M = {}

M.data = os.getenv("BENCH_DATA") or "benchmarks/.work/data"
M.headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local auth_header = os.getenv("BENCH_AUTH_HEADER") or ""
if auth_header ~= "" then
  M.headers[auth_header] = os.getenv("BENCH_AUTH_VALUE") or ""
end

function M.lines(name)
  local out = {}
  local file = assert(io.open(M.data .. "/" .. name, "r"), "missing sample file " .. name)
  for line in file:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  file:close()
  return out
end

function M.read(path)
  local file = assert(io.open(path, "rb"), "missing file " .. path)
  local body = file:read("*a")
  file:close()
  return body
end

function M.pick(list)
  return list[math.random(#list)]
end

function M.urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Each thread gets its own random sequence.
local counter = 0
local threads = {}
M.threads = threads  -- for a script's own done()
function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  threads[#threads + 1] = thread
end

-- With BENCH_SERVER_TIMING=1, sum the server's `Server-Timing: db;dur=…, total;dur=…` per thread
-- (global variables of the thread, read back by done()).
M.server_timing = os.getenv("BENCH_SERVER_TIMING") == "1"
timed, db_ms, total_ms = 0, 0.0, 0.0
function M.timing(headers)
  local value = headers["server-timing"] or headers["Server-Timing"]
  if value == nil then return end
  local db = value:match("db;dur=([%d.]+)")
  local total = value:match("total;dur=([%d.]+)")
  if db and total then
    timed = timed + 1
    db_ms = db_ms + tonumber(db)
    total_ms = total_ms + tonumber(total)
  end
end
if M.server_timing then
  function response(status, headers, body)
    M.timing(headers)
  end
end

function M.seed()
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

-- One JSON line the runner parses. Latencies in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  local n, db, total = 0, 0.0, 0.0
  for _, thread in ipairs(threads) do
    n = n + (thread:get("timed") or 0)
    db = db + (thread:get("db_ms") or 0)
    total = total + (thread:get("total_ms") or 0)
  end
  if n > 0 then
    io.write(string.format('BENCH_TIMING {"timed":%d,"db_ms":%.4f,"total_ms":%.4f}\n',
      n, db / n, total / n))
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end

return M
