-- wrk script shared by benchmarks/api.py, load.py and scale.py: sends pre-rendered raw HTTP requests.
-- The file (first script argument) holds whole HTTP/1.1 requests, each followed by "\0"; thread i of n
-- (second argument) sends the requests i, i+n, i+2n... in turn and starts over when it runs out (the
-- Python side makes enough for requests that must not repeat). Every answer's status is counted, and
-- done() prints one line "BENCH {json}": statuses, latency percentiles (microseconds), requests.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  local n = tonumber(args[2])
  requests = {}
  statuses = {}
  local i = 0
  for raw in data:gmatch("([^%z]+)%z") do
    if i % n == index then
      table.insert(requests, raw)
    end
    i = i + 1
  end
  data = nil
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
  end
  return requests[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(totals) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"statuses": {%s}, "requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, ' ..
    '"max": %d, "socket_errors": %d}\n',
    table.concat(parts, ", "), summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    errors.connect + errors.read + errors.write + errors.timeout))
end
