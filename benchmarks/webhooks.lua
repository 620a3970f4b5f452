-- wrk script of benchmarks/webhooks.py: POSTs pre-signed Stripe events, each once.
-- The file (first script argument) holds records "<Stripe-Signature>\t<body>\0"; thread i of n sends the
-- records i, i+n, i+2n... in turn. A thread that runs out starts over (duplicates): webhooks.py checks
-- that every answered request stored a new event, so that would show.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local n = tonumber(args[2])
  local i = 0
  for signature, body in data:gmatch("([^\t%z]+)\t([^%z]+)%z") do
    if i % n == index then
      table.insert(requests, wrk.format("POST", "/v1/webhooks/stripe", {
        ["Content-Type"] = "application/json; charset=utf-8",
        ["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        ["Stripe-Signature"] = signature,
      }, body))
    end
    i = i + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
  end
  return requests[position]
end
