-- wrk script: POST one answer per request, each with its own invitation token (a token used
-- twice would be a replay, 409). Usage: wrk -t N -d S -s answers.lua URL -- TOKENS_FILE N S
-- Counts 201 answers per thread and prints them as JSON in done(). With S (wrk's duration in
-- seconds) it stops posting answers 2 s before the end and asks GET /healthz instead, so that
-- no answer is in flight when wrk stops: every answer the server committed is counted.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[2]) or 1
  tokens = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then tokens[#tokens + 1] = line end
    i = i + 1
  end
  idx = 0
  created = 0
  other = 0
  stop_at = args[3] and (os.time() + tonumber(args[3]) - 2) or nil
  comments = {
    "Delivery was late again and nobody told me why.",
    "Great service, the app makes it easy. Call me on 020 7946 0958.",
    "Price went up but support was kind; mail a.b@example.com <script>x</script>",
    "",
  }
end

function request()
  if stop_at and os.time() >= stop_at then return wrk.format("GET", "/healthz") end
  idx = idx + 1
  local tok = tokens[idx] or tokens[1]
  local body = '{"token":"' .. tok .. '","nps":' .. (idx % 11) ..
    ',"comment":"' .. comments[idx % 4 + 1] .. '","rating_delivery":' .. (idx % 10 + 1) .. '}'
  return wrk.format("POST", "/api/v1/responses", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1 elseif status ~= 200 then other = other + 1 end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format('{"created": %d, "other": %d, "requests": %d, "errors": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "duration_s": %.3f}\n',
    c, o, summary.requests, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.duration / 1e6))
end
