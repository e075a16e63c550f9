-- ingest.lua — wrk script: Ingest / IngestExt calls in the seed's SoapUI-style
-- envelope over keep-alive connections, each request with its own values.
-- Every answer is checked: a 200 carrying one uuid per record for Ingest, a 200
-- with an IngestExtResponse for IngestExt; anything else is counted as bad and
-- reported by done() (bench/run.sh fails the run when bad > 0).
--
-- Environment (set by bench/run.sh, see docs/benchmarks.md):
--   SB_TOKEN, SB_SECURITY  session and security tokens (from a Logon)      required
--   SB_MODE     ingest | ingestext                                          default ingest
--   SB_BATCH    records per call: 1 = one record, N > 1 = a collection     default 1
--   SB_KEYS     ingestext: keys drawn at random from 1..SB_KEYS (repeats)  default 10000
--   SB_RATE     paced mode: total requests/s to aim at (0 = as fast as possible)
--   SB_THREADS, SB_CONNS   wrk's -t and -c (needed by the paced mode)
--
-- done() prints one machine-readable line:
--   wrk-result requests=N duration_us=N rps=X p50_us=N p90_us=N p99_us=N max_us=N non200=N bad=N errors=N
local token = os.getenv("SB_TOKEN") or ""
local security = os.getenv("SB_SECURITY") or ""
local mode = os.getenv("SB_MODE") or "ingest"
local batch = tonumber(os.getenv("SB_BATCH") or "1")
local keys = tonumber(os.getenv("SB_KEYS") or "10000")
local rate = tonumber(os.getenv("SB_RATE") or "0")
local nthreads = tonumber(os.getenv("SB_THREADS") or "1")
local nconns = tonumber(os.getenv("SB_CONNS") or "1")

-- setup/done run in wrk's main Lua state: keep the threads to sum their counters.
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
thread_id = 0
local counter = 0
bad = 0
first_bad = nil
local action = mode == "ingestext" and "IngestExt" or "Ingest"
local head, tail

-- Paced mode: every connection waits delay_ms before its next request; once a
-- second the thread compares the requests it completed with its share of
-- SB_RATE and scales delay_ms (bounded steps).
local delay_ms = 0
local target = 0
local window_sec = nil
local window_count = 0

function init(args)
  wrk.method = "POST"
  wrk.path = "/nl/jsp/soaprouter.jsp"
  wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
  wrk.headers["SOAPAction"] = "xtk:session#" .. action
  wrk.headers["X-Security-Token"] = security
  head = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">' ..
    '<soapenv:Header/><soapenv:Body><urn:' .. action .. '><urn:sessiontoken>' .. token .. '</urn:sessiontoken><urn:domDoc>'
  tail = '</urn:domDoc></urn:' .. action .. '></soapenv:Body></soapenv:Envelope>'
  math.randomseed(os.time() * 1000 + thread_id)
  if rate > 0 then
    target = rate / nthreads
    delay_ms = (nconns / nthreads) * 1000 / target
  end
end

local function record_attrs()
  counter = counter + 1
  if mode == "ingestext" then
    local k = math.random(1, keys)
    return string.format('_key="@id" id="00000000-0000-4000-8000-%012d" testcol1="value %d-%d" testcol2="bench"',
      k, thread_id, counter)
  end
  return string.format('testcol1="value %d-%d" testcol2="bench"', thread_id, counter)
end

function request()
  local doc
  if batch <= 1 then
    doc = '<sampleTableStg ' .. record_attrs() .. ' xtkschema="dem:sampleTableStg"/>'
  else
    local parts = { '<sampleTableStg-collection xtkschema="dem:sampleTableStg">' }
    for i = 1, batch do
      parts[#parts + 1] = '<sampleTableStg ' .. record_attrs() .. '/>'
    end
    parts[#parts + 1] = '</sampleTableStg-collection>'
    doc = table.concat(parts)
  end
  return wrk.format(nil, nil, nil, head .. doc .. tail)
end

function delay()
  if target <= 0 then
    return 0
  end
  -- Dither the fractional millisecond (wrk's timer resolution is 1 ms).
  return math.floor(delay_ms + math.random())
end

local uuid_pattern = "%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x"

function response(status, headers, body)
  local ok = status == 200 and not string.find(body, "Fault", 1, true)
  if ok then
    if mode == "ingestext" then
      ok = string.find(body, "<IngestExtResponse", 1, true) ~= nil
    else
      local s, e = string.find(body, "<pstrSUuids xsi:type='xsd:string'>", 1, true)
      if not s then
        ok = false
      else
        local stop = string.find(body, "</pstrSUuids>", e, true) or #body
        local _, n = string.gsub(string.sub(body, e + 1, stop - 1), uuid_pattern, "")
        ok = n == batch
      end
    end
  end
  if not ok then
    bad = bad + 1
    if bad == 1 then
      -- The first bad answer of the thread, for the report's raw file.
      first_bad = string.format("status=%d body=%s", status, string.sub(body or "", 1, 600))
    end
  end
  if target > 0 then
    local now = os.time()
    if now ~= window_sec then
      -- Skip the first (partial) second; then steer towards the thread's share.
      if window_sec ~= nil and window_count > 0 then
        local factor = window_count / target
        if factor < 0.5 then factor = 0.5 end
        if factor > 2 then factor = 2 end
        delay_ms = delay_ms * factor
      end
      window_sec = now
      window_count = 0
    end
    window_count = window_count + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do
    total_bad = total_bad + (t:get("bad") or 0)
    local first = t:get("first_bad")
    if first then
      io.write("wrk-first-bad " .. first .. "\n")
    end
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "wrk-result requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non200=%d bad=%d errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status, total_bad, errors))
end
