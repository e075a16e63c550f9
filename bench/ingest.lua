-- ingest.lua — wrk script: unitary Ingest calls (the seed's SoapUI-style
-- envelope), each with its own values, over keep-alive connections. Every
-- response must be a 200 carrying a uuid; anything else is counted and reported.
-- Needs env SB_TOKEN and SB_SECURITY (from a Logon).
local token = os.getenv("SB_TOKEN")
local security = os.getenv("SB_SECURITY")
local counter = 0
local thread_id = 0
local bad = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/nl/jsp/soaprouter.jsp"
  wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
  wrk.headers["SOAPAction"] = "xtk:session#Ingest"
  wrk.headers["X-Security-Token"] = security
end

function request()
  counter = counter + 1
  local body = string.format(
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">' ..
    '<soapenv:Header/><soapenv:Body><urn:Ingest><urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc>' ..
    '<sampleTableStg testcol1="value %d-%d" testcol2="bench" xtkschema="dem:sampleTableStg"/>' ..
    '</urn:domDoc></urn:Ingest></soapenv:Body></soapenv:Envelope>', token, thread_id, counter)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, "<pstrSUuids xsi:type='xsd:string'>%x+%-") then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("wrk: requests=%d non2xx=%d errors=%d\n", summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
