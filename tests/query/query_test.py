#!/usr/bin/env python3
"""query_test.py BACKEND — the read API (xtk:queryDef#ExecuteQuery) and `stagebridge query`
end to end, against the real binary (docs/query.md; the cases of the test matrix in
research/executequery-wire.md §7).

BACKEND is sqlite or postgres (local and cloud databases on that backend). Every case uses
fresh databases, a real `stagebridge serve`, raw SOAP over HTTP — the SoapUI literal style
(an empty <urn:sessiontoken/>, the tokens in the Cookie and X-Security-Token headers) and
the acc-js-sdk style (<document xsi:type="">, xtkschema, ACC-SDK-Version: faults with HTTP
200), each answer compared byte for byte between the two — and the CLI. Fixtures (IngestExt
with caller keys, so that every order is collation-independent): T1 alpha/one, T2 Beta/two,
T3 "O'Brien; drop table x"/three, T4 gamma/(no testcol2), and one keyless Ingest U delta/four.

  1. semantics  Q1–Q16 before any sync: counts, get/getIfExists/select, paging, the
                empty collection, NULL as attr="", the lastModified format (checked against
                the stored value), LIKE case-sensitive, IS NULL, NOT IN, date literals,
                boolOperator groups and precedence, alias, aggregates and groupBy, a
                tombstone (delete="1"), the server's uuid; the functions; every request style.
  2. sync       Q17–Q21 around `stagebridge workflow run ffdaReplicateStagingData`: a row
                is visible in dem:sampleTableStg at once, in dem:sampleTable only after the
                run; the partial update never blanks testcol2.
  3. recipient  Q22: nms:recipient rows written by IngestExt on nms:recipientStg, synced;
                booleans, dates, datetimes, the cloud default of an unnamed flag.
  4. hostile    N1–N9, N12, N13 on a server with --query-max-rows 50 (60 rows staged and 60
                in the cloud): every input gets its documented fault code (faultstring
                starting with it, HTTP 500, and HTTP 200 in the acc-js-sdk style), writes
                nothing (table list and row counts of both databases unchanged) and the
                server keeps answering; the documented limits are the limits (inputs just
                inside them are answered, on both backends).
  5. timeout    --query-timeout 1 and a query that runs for many seconds (an expensive
                where over 10 000 rows): QRY-500001 after about 1 s; an Ingest during it is
                acknowledged (reads do not block writes); the CLI's query_timeout too.
  6. rights     N10/N11: amy (--schema dem:sampleTable) and bob (--schema nms:recipient)
                read only their schemas (QRY-200010 otherwise); no, unknown or mismatched
                tokens → XSV-350008; method discovery and the WSDL.
  7. cli        `stagebridge query`: --format xml equals the SOAP pdomOutput byte for byte
                (queryDef on stdin, in a file, and the shorthand flags); json, csv and the
                table; exit 1 with the QRY code on stderr, exit 2 on a usage error.

The same code runs on both backends with exact expectations, so a divergence between SQLite
and PostgreSQL fails. Prints ok/FAIL per check and `query[BACKEND]: N passed, M failed`;
exits 1 when anything failed. Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, and for postgres
STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh). QRY_CASES=semantics,cli runs a subset.
"""

import csv
import http.client
import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr, unescape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import (  # noqa: E402
    CaseDatabases, CaseError, Server, SoapClient, run_cases, timestamp_epoch, workflow_json)

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
# The servers, the CLI and psql inherit it: PostgreSQL sessions whose default time zone is not UTC, so that
# a datetime rendered or taken apart in the session's zone (not UTC, as docs/query.md says) shows.
os.environ["PGTZ"] = "Asia/Kolkata"
PASSWORD = "query-secret"
ROUTER = "/nl/jsp/soaprouter.jsp"
ACTION = "xtk:queryDef#ExecuteQuery"
ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
LITERALXML = "http://xml.apache.org/xml-soap/literalxml"
QNS = "urn:xtk:queryDef"
STG = "dem:sampleTableStg"
CLOUD = "dem:sampleTable"
NO_SCHEDULES = ["--replicate-schedule", "off", "--unsubscribe-schedule", "off"]
LOCAL_TABLES = ["demsampletablestg", "nmsrecipientstg", "nmsservicestg", "nmssubscriptionstg",
                "nmsappsubscriptionrcpstg"]
CLOUD_TABLES = ["demsampletable", "nmsrecipient", "nmsservice", "nmssubscription", "nmssubhisto",
                "nmsappsubscriptionrcp"]
FIXTURE = [("T1", {"testcol1": "alpha", "testcol2": "one"}),
           ("T2", {"testcol1": "Beta", "testcol2": "two"}),
           ("T3", {"testcol1": "O'Brien; drop table x", "testcol2": "three"}),
           ("T4", {"testcol1": "gamma"})]
T3 = "O'Brien; drop table x"


class Re:
    """An expected attribute value given as a regular expression (full match)."""

    def __init__(self, rx, what):
        self.rx = re.compile(rx)
        self.what = what

    def ok(self, v):
        return v is not None and self.rx.fullmatch(v) is not None

    def __repr__(self):
        return "<%s>" % self.what


DATETIME = Re(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", "YYYY-MM-DD HH:MM:SS.mmmZ")
UUID = Re(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "lowercase uuid")


# ----------------------------------------------------------------------------- queryDef documents

def node(expr, **attrs):
    return "<node expr=%s%s/>" % (quoteattr(expr), "".join(" %s=%s" % (k, quoteattr(str(v)))
                                                          for k, v in attrs.items()))


def cond(expr, **attrs):
    a = "".join(" %s=%s" % (k.replace("_", "-"), quoteattr(str(v))) for k, v in attrs.items())
    return "<condition expr=%s%s/>" % (quoteattr(expr), a)


def qdef(schema, operation="select", select=(), where=(), order=(), children="", **attrs):
    """A <queryDef>: select/where items are expressions or raw XML (starting with '<'); order items are
    expressions, 'EXPR desc' for a descending node."""
    def items(xs, make):
        return "".join(x if x.startswith("<") else make(x) for x in xs)

    def order_node(x):
        if x.endswith(" desc"):
            return node(x[:-5], sortDesc="true")
        return node(x)

    head = "<queryDef schema=%s operation=%s%s" % (
        quoteattr(schema), quoteattr(operation), "".join(" %s=%s" % (k, quoteattr(str(v))) for k, v in attrs.items()))
    body = ""
    if select:
        body += "<select>%s</select>" % items(select, node)
    if where:
        body += "<where>%s</where>" % items(where, cond)
    if order:
        body += "<orderBy>%s</orderBy>" % items(order, order_node)
    body += children
    return head + ("/>" if not body else ">%s</queryDef>" % body)


def stg_row(schema="dem:sampleTableStg", **attrs):
    tag = schema.split(":")[1]
    return "<%s xtkschema=%s %s/>" % (tag, quoteattr(schema), " ".join("%s=%s" % (k, quoteattr(str(v)))
                                                                      for k, v in attrs.items()))


def stg_collection(rows, schema="dem:sampleTableStg"):
    tag = schema.split(":")[1]
    return "<%s-collection xtkschema=%s>%s</%s-collection>" % (
        tag, quoteattr(schema), "".join("<%s %s/>" % (tag, " ".join("%s=%s" % (k, quoteattr(str(v)))
                                                                   for k, v in r.items())) for r in rows), tag)


# ----------------------------------------------------------------------------- request styles
# Each returns (path, headers, body) for one ExecuteQuery of `qd`.

def soapui_request(session, security, qd, action=True):
    """SoapUI from the WSDL (research §1.2): prefixed literal, indented, an empty <urn:sessiontoken/>, the tokens in
    the Cookie and X-Security-Token headers, a quoted SOAPAction."""
    body = ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="%s">\n<soapenv:Header/>\n<soapenv:Body>\n'
            '   <urn:ExecuteQuery>\n      <urn:sessiontoken/>\n      <urn:entity>\n%s\n      </urn:entity>\n'
            '   </urn:ExecuteQuery>\n</soapenv:Body>\n</soapenv:Envelope>\n' % (ENV_NS, QNS, qd))
    headers = {"Content-Type": "text/xml;charset=UTF-8"}
    if action:
        headers["SOAPAction"] = '"%s"' % ACTION
    if session:
        headers["Cookie"] = "__sessiontoken=" + session
    if security:
        headers["X-Security-Token"] = security
    return ROUTER, headers, body


def sdk_request(session, security, qd):
    """acc-js-sdk 1.2.0 (research §1.1): the queryDef as the "this" parameter <document xsi:type=""> with
    xtkschema="xtk:queryDef", tokens in the headers, the SOAP Header and the first parameter, ?soapAction=."""
    m = re.match(r"<queryDef\b[^>]*>", qd)
    if m and "xtkschema=" not in m.group(0):
        qd = '<queryDef xtkschema="xtk:queryDef"' + qd[len("<queryDef"):]
    body = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="%s" '
            'xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Header><Cookie>__sessiontoken=%s</Cookie>'
            '<X-Security-Token>%s</X-Security-Token></SOAP-ENV:Header><SOAP-ENV:Body>'
            '<m:ExecuteQuery xmlns:m="%s" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
            '<sessiontoken xsi:type="xsd:string">%s</sessiontoken>'
            '<document xsi:type="" SOAP-ENV:encodingStyle="%s">%s</document></m:ExecuteQuery></SOAP-ENV:Body>'
            '</SOAP-ENV:Envelope>' % (ENV_NS, session, security, QNS, session, LITERALXML, qd))
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8", "SOAPAction": ACTION,
               "X-Security-Token": security, "X-Session-Token": session, "Cookie": "__sessiontoken=" + session,
               "User-Agent": "@adobe/acc-js-sdk/1.2.0 ACC Javascript SDK", "ACC-SDK-Version": "@adobe/acc-js-sdk 1.2.0",
               "X-Query-Source": "@adobe/acc-js-sdk 1.2.0"}
    return ROUTER + "?soapAction=" + urllib.parse.quote(ACTION, safe=""), headers, body


def nodesoap_request(session, security, qd):
    """node-soap from the WSDL: document/literal in the default namespace (the queryDef inherits urn:xtk:queryDef),
    a quoted SOAPAction, the session token in the body."""
    body = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:tns="%s"><soap:Body>'
            '<ExecuteQuery xmlns="%s"><sessiontoken>%s</sessiontoken><entity>%s</entity></ExecuteQuery>'
            '</soap:Body></soap:Envelope>' % (ENV_NS, QNS, QNS, session, qd))
    return ROUTER, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s"' % ACTION,
                    "X-Security-Token": security}, body


def adobe_rpc_request(session, security, qd):
    """Adobe's documented RPC envelope (research §1.2): <__sessiontoken/>, <entity xsi:type='ns:Element'>, the
    tokens only in the headers."""
    body = ("<?xml version='1.0'?><SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
            "xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='http://xml.apache.org/xml-soap' "
            "xmlns:SOAP-ENV='%s'><SOAP-ENV:Body><ExecuteQuery xmlns='%s' "
            "SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'><__sessiontoken xsi:type='xsd:string'/>"
            "<entity xsi:type='ns:Element' SOAP-ENV:encodingStyle='%s'>%s</entity></ExecuteQuery></SOAP-ENV:Body>"
            "</SOAP-ENV:Envelope>" % (ENV_NS, QNS, LITERALXML, qd))
    return ROUTER, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION,
                    "Cookie": "__sessiontoken=" + session, "X-Security-Token": security}, body


def body_token_request(session, security, qd):
    """The session token in the body's <urn:sessiontoken>, the security token in its header, no cookie."""
    body = ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="%s"><soapenv:Body><urn:ExecuteQuery>'
            '<urn:sessiontoken>%s</urn:sessiontoken><urn:entity>%s</urn:entity></urn:ExecuteQuery></soapenv:Body>'
            '</soapenv:Envelope>' % (ENV_NS, QNS, session, qd))
    return ROUTER, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ACTION,
                    "X-Security-Token": security}, body


def post(port, path, headers, body, timeout=120):
    """(status, text, seconds) of one POST on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.time()
    try:
        conn.request("POST", path, body.encode("utf-8") if isinstance(body, str) else body, headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace"), time.time() - t0
    finally:
        conn.close()


# ----------------------------------------------------------------------------- answers

def local_name(tag):
    return tag.rsplit("}", 1)[-1]


def as_tuple(el):
    return (local_name(el.tag), dict(el.attrib), [as_tuple(c) for c in el])


class Reply:
    """One ExecuteQuery answer. Success: `pdom` (the text inside pdomOutput, exactly as sent) and `tree`
    (tag, attributes, children) of its single element. Fault: `code` (the code the faultstring starts with),
    `faultstring`, `faultcode`. HTTP 413 gives code 'HTTP 413'."""

    def __init__(self, status, text, elapsed):
        self.status = status
        self.text = text
        self.elapsed = elapsed
        self.pdom = None
        self.tree = None
        self.code = None
        self.faultstring = ""
        self.faultcode = None
        self.problem = None
        if "<SOAP-ENV:Fault>" in text:
            m = re.search(r"<faultstring[^>]*>([^<]*)</faultstring>", text)
            self.faultstring = unescape(m.group(1)) if m else ""
            m = re.match(r"([A-Z]{3}-\d{6}) ", self.faultstring)
            self.code = m.group(1) if m else None
            m = re.search(r"<faultcode>([^<]*)</faultcode>", text)
            self.faultcode = m.group(1) if m else None
            return
        if status == 413:
            self.code = "HTTP 413"
            return
        m = re.search(r"<pdomOutput\b[^>]*>(.*)</pdomOutput>", text, re.S)
        if status != 200 or not m:
            self.problem = "no pdomOutput"
            return
        self.pdom = m.group(1)
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as e:
            self.problem = "response is not XML: %s" % e
            return
        out = root.find(".//{%s}pdomOutput" % QNS)
        kids = list(out) if out is not None else []
        if out is None or len(kids) != 1 or (out.text or "").strip() or (kids[0].tail or "").strip():
            self.problem = "pdomOutput does not hold exactly one element"
            return
        self.tree = as_tuple(kids[0])

    @property
    def rows(self):
        """Attribute dicts of a collection's rows."""
        return [r[1] for r in self.tree[2]] if self.tree else None

    def describe(self, n=700):
        if self.code:
            return "HTTP %s %s fault %s" % (self.status, self.faultcode, self.faultstring[:n])
        if self.pdom is not None:
            return "HTTP %s %s%s" % (self.status, self.pdom[:n], "…" if len(self.pdom) > n else "")
        return "HTTP %s (%s) %s" % (self.status, self.problem, self.text[-n:])


def coll(tag, *rows):
    """The expected collection <tag-collection><tag …/>…</tag-collection>."""
    return (tag + "-collection", {}, [(tag, r, []) for r in rows])


def elem(tag, attrs=None):
    return (tag, dict(attrs or {}), [])


def same(want, got):
    if got is None or want[0] != got[0] or set(want[1]) != set(got[1]) or len(want[2]) != len(got[2]):
        return False
    for k, v in want[1].items():
        if isinstance(v, Re):
            if not v.ok(got[1][k]):
                return False
        elif got[1][k] != v:
            return False
    return all(same(w, g) for w, g in zip(want[2], got[2]))


def render(t):
    attrs = "".join(" %s=%s" % (k, repr(v) if isinstance(v, Re) else quoteattr(v)) for k, v in t[1].items())
    if not t[2]:
        return "<%s%s/>" % (t[0], attrs)
    return "<%s%s>%s</%s>" % (t[0], attrs, "".join(render(c) for c in t[2]), t[0])


def short(qd, n=400):
    return qd if len(qd) <= n else qd[:n] + "…(%d bytes)" % len(qd)


class Querier:
    """ExecuteQuery calls of one session."""

    def __init__(self, port, session, security):
        self.port = port
        self.session = session
        self.security = security

    def ask(self, qd, style=soapui_request):
        path, headers, body = style(self.session, self.security, qd)
        try:
            return Reply(*post(self.port, path, headers, body))
        except (OSError, http.client.HTTPException) as e:
            return Reply(0, "%s: %s" % (type(e).__name__, e), 0)

    def raw(self, request):
        try:
            return Reply(*post(self.port, *request))
        except (OSError, http.client.HTTPException) as e:
            return Reply(0, "%s: %s" % (type(e).__name__, e), 0)


class Checker:
    """Checks of one case: `rows` (an exact answer, the same in both styles), `fault` (a code, both styles)."""

    def __init__(self, results, prefix, q):
        self.results = results
        self.prefix = prefix
        self.q = q

    def rows(self, what, qd, want):
        r = self.q.ask(qd)
        s = self.q.ask(qd, sdk_request)
        ok = r.tree is not None and same(want, r.tree) and s.status == 200 and s.pdom == r.pdom
        detail = "request %s; got %s; want %s" % (short(qd), r.describe(), render(want))
        if s.pdom != r.pdom:
            detail += "; the acc-js-sdk style got %s" % s.describe()
        self.results.check("%s: %s" % (self.prefix, what), ok, detail)
        return r

    def fault(self, what, qd, codes, names=(), style_pairs=True):
        codes = {codes} if isinstance(codes, str) else set(codes)
        r = self.q.ask(qd)
        ok = fault_ok(r, codes, names, 500)
        detail = "request %s; got %s; want %s" % (short(qd), r.describe(), "/".join(sorted(codes)))
        if style_pairs:
            s = self.q.ask(qd, sdk_request)
            if not (fault_ok(s, codes, names, 200) and s.code == r.code):
                ok = False
                detail += "; the acc-js-sdk style got %s (want the same code with HTTP 200)" % s.describe()
        self.results.check("%s: %s → %s" % (self.prefix, what, "/".join(sorted(codes))), ok, detail)
        return r


def fault_ok(r, codes, names, status):
    if r.code not in codes:
        return False
    if r.code == "HTTP 413":
        return True
    if r.status != status:
        return False
    want_fc = "SOAP-ENV:Server" if re.match(r"[A-Z]{3}-5", r.code) else "SOAP-ENV:Client"
    if r.faultcode != want_fc:
        return False
    if re.search(r"\bSELECT\b|\bFROM\b|uSampleTableId|sTestcol", r.text):
        return False  # a fault never carries SQL text or column names
    return all(n in r.faultstring for n in names)


# ----------------------------------------------------------------------------- setup

def start_server(dbs, name, args):
    server = Server(dbs, dbs.work, name, args)
    server.start()
    client = SoapClient(server.port)
    client.logon("admin", PASSWORD)
    return server, client


def ok_call(r, what):
    if r.kind != "ok":
        raise CaseError("%s was not acknowledged: %r" % (what, r))
    return r


def ingest_fixtures(c):
    """T1…T4 by IngestExt with caller keys, then one keyless Ingest; returns its uuid."""
    for ident, attrs in FIXTURE:
        ok_call(c.ingest_ext(stg_row(_key="@id", id=ident, **attrs)), "IngestExt %s" % ident)
    r = ok_call(c.ingest(stg_row(testcol1="delta", testcol2="four")), "Ingest delta")
    if len(r.ids) != 1:
        raise CaseError("Ingest returned %r" % r.ids)
    return r.ids[0]


def run_sync(results, name, dbs):
    rc, run, err = workflow_json(dbs, ["workflow", "run", "ffdaReplicateStagingData", "--json"])
    ok = rc == 0 and run is not None and run.get("status") == "done"
    results.check(name, ok, "" if ok else "rc %s, run %s, stderr: %s" % (rc, run, err[-1500:]))
    if not ok:
        raise CaseError(name)
    return run


def count_of(r):
    return r.tree[1].get("count") if r.tree else None


# ----------------------------------------------------------------------------- 1. semantics (Q1–Q16)

def case_semantics(work, results):
    n = "semantics"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        t0 = time.time()
        u = ingest_fixtures(c)
        t1 = time.time()
        q = Querier(server.port, c.session, c.security)
        k = Checker(results, n, q)
        S = "sampleTableStg"

        # Request styles: the same answer whatever the client.
        qd = qdef(STG, "select", ["@id", "@testcol1"], ["@id LIKE 'T%'"], ["@id"])
        base = q.ask(qd)
        want = coll(S, {"id": "T1", "testcol1": "alpha"}, {"id": "T2", "testcol1": "Beta"},
                    {"id": "T3", "testcol1": T3}, {"id": "T4", "testcol1": "gamma"})
        results.check("%s: SoapUI literal style (empty sessiontoken, tokens in headers) answers the select" % n,
                      base.tree is not None and same(want, base.tree), "got %s" % base.describe())
        console = qd.replace("<queryDef ", '<queryDef firstRows="true" lineCount="200" startLine="0" startPath="/" '
                                           'xtkschema="xtk:queryDef" fullLoad="false" ', 1)
        for label, style, doc in [
                ("acc-js-sdk (<document xsi:type=\"\">, ?soapAction=)", sdk_request, qd),
                ("node-soap (default namespace, quoted SOAPAction)", nodesoap_request, qd),
                ("Adobe RPC (<__sessiontoken/>, entity ns:Element, console attributes)", adobe_rpc_request, console),
                ("session token in the body, no cookie", body_token_request, qd),
                ("no SOAPAction (the body's element)", lambda s, t, d: soapui_request(s, t, d, action=False), qd)]:
            r = q.ask(doc, style)
            results.check("%s: %s gives the same pdomOutput byte for byte" % (n, label),
                          r.status == 200 and r.pdom is not None and r.pdom == base.pdom, r.describe())

        # Q1–Q3
        k.rows("Q1 count on dem:sampleTableStg", qdef(STG, "count"), elem(S, {"count": "5"}))
        k.rows("Q2 count on dem:sampleTable (nothing synced yet)", qdef(CLOUD, "count"),
               elem("sampleTable", {"count": "0"}))
        k.rows("Q3 getIfExists on dem:sampleTable @id='T1' → the empty <sampleTable/>",
               qdef(CLOUD, "getIfExists", where=["@id='T1'"]), elem("sampleTable"))
        # Q4
        r = k.rows("Q4 get on Stg @id='T1' with 5 select nodes",
                   qdef(STG, "get", ["@id", "@testcol1", "@testcol2", "@delete", "@lastModified"], ["@id='T1'"]),
                   elem(S, {"id": "T1", "testcol1": "alpha", "testcol2": "one", "delete": "0",
                            "lastModified": DATETIME}))
        lm = r.tree[1].get("lastModified") if r.tree else None
        stored = dbs.query("SELECT tsLastModified FROM DemSampleTableStg WHERE uSampleTableId = 'T1'")
        se, le = timestamp_epoch(stored[0][0] if stored else None), timestamp_epoch(lm)
        results.check("%s: Q4 lastModified is the stored value in UTC, to the millisecond, and the ingestion time"
                      % n, se is not None and le is not None and abs(se - le) < 0.001 and t0 - 5 <= le <= t1 + 5,
                      "rendered %s, stored %s, ingested between %.3f and %.3f" % (lm, stored, t0, t1))
        # Q5 paging
        in4 = "@id IN ('T1','T2','T3','T4')"
        k.rows("Q5 select IN (T1…T4) orderBy @id lineCount 2 → T1, T2",
               qdef(STG, "select", ["@id"], [in4], ["@id"], lineCount=2), coll(S, {"id": "T1"}, {"id": "T2"}))
        k.rows("Q5 … startLine 2 → T3, T4",
               qdef(STG, "select", ["@id"], [in4], ["@id"], lineCount=2, startLine=2), coll(S, {"id": "T3"}, {"id": "T4"}))
        r = k.rows("Q5 … startLine 4 → the empty collection",
                   qdef(STG, "select", ["@id"], [in4], ["@id"], lineCount=2, startLine=4), coll(S))
        results.check("%s: Q5 the empty collection is exactly <sampleTableStg-collection/>" % n,
                      r.pdom == "<sampleTableStg-collection/>", r.describe())
        # Q6
        k.rows("Q6 select @id='T1' → a collection of one row", qdef(STG, "select", ["@id"], ["@id='T1'"]),
               coll(S, {"id": "T1"}))
        # Q7
        for lit in ["'O\\'Brien; drop table x'", "'O''Brien; drop table x'", '"O\'Brien; drop table x"']:
            k.rows("Q7 @testcol1 = %s → only T3" % lit, qdef(STG, "select", ["@id", "@testcol1"], ["@testcol1 = " + lit]),
                   coll(S, {"id": "T3", "testcol1": T3}))
        k.rows("Q7 afterwards count on dem:sampleTableStg still 5", qdef(STG, "count"), elem(S, {"count": "5"}))
        k.rows("Q7 afterwards count on dem:sampleTable still 0", qdef(CLOUD, "count"), elem("sampleTable", {"count": "0"}))
        tables = dbs.snapshot(LOCAL_TABLES)[0]
        ctables = dbs.cloud_snapshot(CLOUD_TABLES)[0]
        results.check("%s: Q7 DemSampleTableStg and DemSampleTable still exist, no table x" % n,
                      "demsampletablestg" in tables and "demsampletable" in ctables and "x" not in tables + ctables,
                      "local %s; cloud %s" % (tables, ctables))
        # Q8
        k.rows("Q8 Lower(@testcol1) = 'beta' → T2", qdef(STG, "select", ["@id"], ["Lower(@testcol1) = 'beta'"]),
               coll(S, {"id": "T2"}))
        k.rows("Q8 upper(@testcol1) = 'BETA' (function names case-insensitive) → T2",
               qdef(STG, "select", ["@id"], ["upper(@testcol1) = 'BETA'"]), coll(S, {"id": "T2"}))
        # Q9
        k.rows("Q9 @testcol1 LIKE 'a%' → T1", qdef(STG, "select", ["@id"], ["@testcol1 LIKE 'a%'"]), coll(S, {"id": "T1"}))
        k.rows("Q9 @testcol1 LIKE 'b%' → empty (LIKE is case-sensitive)",
               qdef(STG, "select", ["@id"], ["@testcol1 LIKE 'b%'"]), coll(S))
        k.rows("Q9 @testcol1 LIKE 'B%' → T2", qdef(STG, "select", ["@id"], ["@testcol1 LIKE 'B%'"]), coll(S, {"id": "T2"}))
        k.rows("Q9 @testcol1 like 'g_mm_' (keyword case, '_') → T4",
               qdef(STG, "select", ["@id"], ["@testcol1 like 'g_mm_'"]), coll(S, {"id": "T4"}))
        k.rows("Q9 NOT LIKE 'a%' AND @id LIKE 'T%' → T2, T3, T4",
               qdef(STG, "select", ["@id"], ["@testcol1 NOT LIKE 'a%' AND @id LIKE 'T%'"], ["@id"]),
               coll(S, {"id": "T2"}, {"id": "T3"}, {"id": "T4"}))
        k.rows("Q9 LIKE 'O\\'Brien;%' (a quote in a pattern) → T3",
               qdef(STG, "select", ["@id"], ["@testcol1 LIKE 'O\\'Brien;%'"]), coll(S, {"id": "T3"}))
        # Q10
        k.rows("Q10 @testcol2 IS NULL AND @id LIKE 'T%', every attribute → T4 with testcol2=\"\"",
               qdef(STG, "select", where=["@testcol2 IS NULL AND @id LIKE 'T%'"]),
               coll(S, {"id": "T4", "testcol1": "gamma", "testcol2": "", "delete": "0", "lastModified": DATETIME}))
        k.rows("Q10 @testcol2 IS NOT NULL → count 4", qdef(STG, "count", where=["@testcol2 IS NOT NULL"]),
               elem(S, {"count": "4"}))
        # Q11
        k.rows("Q11 @id NOT IN ('T1','T2') orderBy @testcol2 → T4 (NULL first), U, T3",
               qdef(STG, "select", ["@id", "@testcol2"], ["@id NOT IN ('T1','T2')"], ["@testcol2"]),
               coll(S, {"id": "T4", "testcol2": ""}, {"id": u, "testcol2": "four"}, {"id": "T3", "testcol2": "three"}))
        k.rows("Q11 … orderBy @testcol2 desc → T3, U, T4 (NULL last)",
               qdef(STG, "select", ["@id"], ["@id NOT IN ('T1','T2')"], ["@testcol2 desc"]),
               coll(S, {"id": "T3"}, {"id": u}, {"id": "T4"}))
        every = coll(S, {"id": "T4"}, {"id": u}, {"id": "T1"}, {"id": "T3"}, {"id": "T2"})
        k.rows("Q11 @lastModified >= #2000-01-01# → all five", qdef(STG, "select", ["@id"],
                                                                    ["@lastModified >= #2000-01-01#"], ["@testcol2"]),
               every)
        k.rows("Q11 @lastModified < #2000-01-01# → empty", qdef(STG, "select", ["@id"], ["@lastModified < #2000-01-01#"]),
               coll(S))
        k.rows("Q11 @lastModified >= '2000-01-01' (a string read as a date) → all five",
               qdef(STG, "select", ["@id"], ["@lastModified >= '2000-01-01'"], ["@testcol2"]), every)
        k.rows("Q11 @lastModified > #2000/01/01# AND < #2999-12-31 10:00:00Z# → count 5",
               qdef(STG, "count", where=["@lastModified > #2000/01/01# AND @lastModified < #2999-12-31 10:00:00Z#"]),
               elem(S, {"count": "5"}))
        k.rows("Q11 @lastModified > #2999-01-01T10:00:00.5+02:00# → count 0",
               qdef(STG, "count", where=["@lastModified > #2999-01-01T10:00:00.5+02:00#"]), elem(S, {"count": "0"}))
        # Q12
        for spelling in ["boolOperator", "bool-operator"]:
            group = "<condition><condition expr=\"@id='T1'\" %s=\"OR\"/><condition expr=\"@id='T2'\"/></condition>" \
                    % spelling
            k.rows("Q12 (@id='T1' %s OR @id='T2') AND @testcol2='two' → T2" % spelling,
                   qdef(STG, "select", ["@id"], [group, "@testcol2='two'"]), coll(S, {"id": "T2"}))
        k.rows("Q12 without the group: @id='T1' OR @id='T2' AND @testcol2='two' (AND binds tighter) → T1, T2",
               qdef(STG, "select", ["@id"], [cond("@id='T1'", boolOperator="OR"), "@id='T2'", "@testcol2='two'"], ["@id"]),
               coll(S, {"id": "T1"}, {"id": "T2"}))
        k.rows("Q12 ignore=\"true\" skips a condition, enabledIf=\"\" is accepted → T1",
               qdef(STG, "select", ["@id"], [cond("@id LIKE 'T%'", enabledIf=""), cond("@id='T2'", ignore="true"),
                                             "@testcol1 = 'alpha'"]), coll(S, {"id": "T1"}))
        # Q13
        k.rows("Q13 alias=\"@label\" renames testcol1 (no testcol1 attribute)",
               qdef(STG, "get", ["@id", node("@testcol1", alias="@label")], ["@id='T1'"]),
               elem(S, {"id": "T1", "label": "alpha"}))
        # Q14
        k.rows("Q14 get Count(@id) alias @count → count=\"5\"",
               qdef(STG, "get", [node("Count(@id)", alias="@count")]), elem(S, {"count": "5"}))
        k.rows("Q14 select @delete groupBy=\"true\" + Count() alias @n → one row per delete value",
               qdef(STG, "select", [node("@delete", groupBy="true"), node("Count()", alias="@n")]),
               coll(S, {"delete": "0", "n": "5"}))
        # The functions (exact values on both databases).
        fns = [node("@id"), node("Substring(@testcol1, 0, 3)", alias="@s"), node("Substring(@testcol1, 2)", alias="@s2"),
               node("Coalesce(@testcol2, 'none')", alias="@c"), node("IsNull(@testcol2)", alias="@n"),
               node("Iif(@testcol2 IS NULL, 'yes', 'no')", alias="@i"), node("Length(@testcol1)", alias="@l"),
               node("Upper(@testcol1) + '-' + @id", alias="@u"), node("1 / 0", alias="@z"), node("7 / 2", alias="@d"),
               node("Abs(2 - 5)", alias="@a"), node("ToNumber('12.5')", alias="@tn"), node("ToNumber('x1')", alias="@tx"),
               node("Trim('  a b  ') + '|' + Ltrim('  c') + '|' + Rtrim('d  ')", alias="@t")]
        common = {"z": "", "d": "3.5", "a": "3", "tn": "12.5", "tx": "", "t": "a b|c|d"}
        k.rows("functions: Substring (0 counts as 1), Coalesce, IsNull, Iif, Length, Upper, '+', '/', Abs, ToNumber, "
               "Trim", qdef(STG, "select", fns, ["@id LIKE 'T%'"], ["@id"]),
               coll(S, dict(common, id="T1", s="alp", s2="lpha", c="one", n="0", i="no", l="5", u="ALPHA-T1"),
                    dict(common, id="T2", s="Bet", s2="eta", c="two", n="0", i="no", l="4", u="BETA-T2"),
                    dict(common, id="T3", s="O'B", s2="'Brien; drop table x", c="three", n="0", i="no", l="21",
                         u="O'BRIEN; DROP TABLE X-T3"),
                    dict(common, id="T4", s="gam", s2="amma", c="none", n="1", i="yes", l="5", u="GAMMA-T4")))
        r = q.ask(qdef(STG, "get", ["@lastModified", node("Year(@lastModified)", alias="@y"),
                                    node("Month(@lastModified)", alias="@mo"), node("Day(@lastModified)", alias="@d"),
                                    node("Hour(@lastModified)", alias="@h"), node("Minute(@lastModified)", alias="@mi"),
                                    node("DateOnly(@lastModified)", alias="@do"),
                                    node("ToString(@lastModified)", alias="@ts"), node("GetDate()", alias="@now")],
                       ["@id = 'T1'"]))
        a = r.tree[1] if r.tree else {}
        lm = a.get("lastModified", "")
        want = {"lastModified": lm, "y": str(int(lm[0:4] or 0)), "mo": str(int(lm[5:7] or 0)),
                "d": str(int(lm[8:10] or 0)), "h": str(int(lm[11:13] or 0)), "mi": str(int(lm[14:16] or 0)),
                "do": lm[:10], "ts": lm[:19], "now": a.get("now")}
        now = timestamp_epoch(a.get("now"))
        results.check("%s: Year/Month/Day/Hour/Minute, DateOnly, ToString of lastModified agree with it; "
                      "GetDate() is now in UTC" % n,
                      DATETIME.ok(lm) and a == want and DATETIME.ok(a.get("now")) and now is not None
                      and abs(now - time.time()) < 300, "got %s; want %s" % (r.describe(), want))
        parts = [("Second(#2026-12-01 10:20:15.7Z#)", "15"), ("Minute(#2026-12-01 10:20:15.7Z#)", "20"),
                 ("Hour(#2026-12-01T10:20:15.7+02:00#)", "8"), ("Day(#2026-12-31T23:30:00-02:00#)", "1"),
                 ("Month(#2026-12-31T23:30:00-02:00#)", "1"), ("Year(#2026-12-31T23:30:00-02:00#)", "2027"),
                 ("DateOnly(#2026-12-31T23:30:00-02:00#)", "2027-01-01"),
                 ("ToString(#2026-12-31T23:30:00.25-02:00#)", "2027-01-01 01:30:00"),
                 ("#2026-12-31T23:30:00.25-02:00#", "2027-01-01 01:30:00.250Z"), ("Day(#2026/02/03#)", "3"),
                 ("#2026-02-03#", "2026-02-03")]
        k.rows("date parts of datetime literals are the integer parts in UTC (Second of :15.7 is 15)",
               qdef(STG, "get", [node(e, alias="@a%d" % i) for i, (e, _) in enumerate(parts)], ["@id = 'T1'"]),
               elem(S, {"a%d" % i: v for i, (_, v) in enumerate(parts)}))
        k.rows("aggregates: Count(), CountDistinct, Min, Max, Sum, Avg over T1…T4",
               qdef(STG, "get", [node("Count()", alias="@n"), node("CountDistinct(@testcol2)", alias="@cd"),
                                 node("Min(@id)", alias="@mi"), node("Max(@id)", alias="@ma"),
                                 node("Sum(Length(@testcol1))", alias="@s"), node("Avg(Length(@testcol1))", alias="@a"),
                                 node("CountAll()", alias="@all")], ["@id LIKE 'T%'"]),
               elem(S, {"n": "4", "cd": "3", "mi": "T1", "ma": "T4", "s": "35", "a": "8.75", "all": "4"}))
        # Q15
        ok_call(c.ingest_ext(stg_row(_key="@id", id="T2", _operation="delete")), "IngestExt T2 delete")
        k.rows("Q15 after IngestExt T2 _operation=\"delete\": @delete = 1 → T2 delete=\"1\"",
               qdef(STG, "select", ["@id", "@delete"], ["@delete = 1"]), coll(S, {"id": "T2", "delete": "1"}))
        k.rows("Q15 @delete = true → T2", qdef(STG, "select", ["@id"], ["@delete = true"]), coll(S, {"id": "T2"}))
        k.rows("Q15 the tombstone is still staged: count 5", qdef(STG, "count"), elem(S, {"count": "5"}))
        k.rows("Q15 grouping on @delete now gives delete 0 → 4, delete 1 → 1",
               qdef(STG, "select", [node("@delete", groupBy="true"), node("Count()", alias="@n")], order=["@delete"]),
               coll(S, {"delete": "0", "n": "4"}, {"delete": "1", "n": "1"}))
        k.rows("Q15 groupBy/having: Count() > 1 keeps only delete 0",
               qdef(STG, "select", ["@delete", node("Count()", alias="@n")],
                    children="<groupBy><node expr=\"@delete\"/></groupBy><having><condition expr=\"Count() &gt; 1\"/>"
                             "</having>"), coll(S, {"delete": "0", "n": "4"}))
        # Q16
        results.check("%s: Q16 Ingest returned a lowercase uuid" % n, UUID.ok(u), u)
        k.rows("Q16 get @id='<U>' → the row under the uuid Ingest returned",
               qdef(STG, "get", where=["@id='%s'" % u]),
               elem(S, {"id": u, "testcol1": "delta", "testcol2": "four", "delete": "0", "lastModified": DATETIME}))

        k.rows("distinct=\"true\" on @delete → two rows", qdef(STG, "select", ["@delete"], order=["@delete"],
                                                            distinct="true"),
               coll(S, {"delete": "0"}, {"delete": "1"}))
        k.rows("count with distinct=\"true\" counts the distinct selected values",
               qdef(STG, "count", ["@delete"], distinct="true"), elem(S, {"count": "2"}))
        k.fault("get with no row (acc-js-sdk gets HTTP 200)", qdef(STG, "get", where=["@id = 'nope'"]), "QRY-200011",
                ["dem:sampleTableStg"])
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 2. sync (Q17–Q21)

def case_sync(work, results):
    n = "sync"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        u = ingest_fixtures(c)
        ok_call(c.ingest_ext(stg_row(_key="@id", id="T2", _operation="delete")), "IngestExt T2 delete")
        q = Querier(server.port, c.session, c.security)
        k = Checker(results, n, q)
        S, C = "sampleTableStg", "sampleTable"
        k.rows("before the run: 5 rows staged", qdef(STG, "count"), elem(S, {"count": "5"}))
        k.rows("before the run: nothing in the cloud", qdef(CLOUD, "count"), elem(C, {"count": "0"}))
        run_sync(results, "%s: workflow run ffdaReplicateStagingData ends done" % n, dbs)
        k.rows("Q17 count on Stg after the run → 0 (merged rows are cleared)", qdef(STG, "count"), elem(S, {"count": "0"}))
        k.rows("Q18 count on dem:sampleTable → 4", qdef(CLOUD, "count"), elem(C, {"count": "4"}))
        k.rows("Q18 the cloud rows are T4, U, T1, T3 (T2 was deleted before it reached the cloud)",
               qdef(CLOUD, "select", ["@id", "@testcol2"], order=["@testcol2"]),
               coll(C, {"id": "T4", "testcol2": ""}, {"id": u, "testcol2": "four"}, {"id": "T1", "testcol2": "one"},
                    {"id": "T3", "testcol2": "three"}))
        k.rows("Q19 get on the cloud @id='T1' → every attribute of dem:sampleTable",
               qdef(CLOUD, "get", where=["@id='T1'"]), elem(C, {"id": "T1", "testcol1": "alpha", "testcol2": "one"}))
        k.rows("Q20 getIfExists on the cloud @id='T2' → <sampleTable/>", qdef(CLOUD, "getIfExists", where=["@id='T2'"]),
               elem(C))
        k.fault("Q20 get on the cloud @id='T2'", qdef(CLOUD, "get", where=["@id='T2'"]), "QRY-200011", ["dem:sampleTable"])
        # Q21 and a new row: in Stg at once, in the cloud after the next run.
        ok_call(c.ingest_ext(stg_row(_key="@id", id="T1", testcol1="alpha2")), "IngestExt T1 alpha2")
        ok_call(c.ingest_ext(stg_row(_key="@id", id="T7", testcol1="late", testcol2="seven")), "IngestExt T7")
        k.rows("Q21 Stg shows T1 testcol1=\"alpha2\" testcol2=\"\" (not named)", qdef(STG, "get", where=["@id='T1'"]),
               elem(S, {"id": "T1", "testcol1": "alpha2", "testcol2": "", "delete": "0", "lastModified": DATETIME}))
        k.rows("Q21 in Stg, T1's testcol2 IS NULL", qdef(STG, "select", ["@id"], ["@testcol2 IS NULL"]),
               coll(S, {"id": "T1"}))
        k.rows("Q21 the cloud still shows T1 alpha/one", qdef(CLOUD, "get", where=["@id='T1'"]),
               elem(C, {"id": "T1", "testcol1": "alpha", "testcol2": "one"}))
        k.rows("a new row T7 is visible in dem:sampleTableStg at once",
               qdef(STG, "getIfExists", ["@id", "@testcol1", "@testcol2"], ["@id='T7'"]),
               elem(S, {"id": "T7", "testcol1": "late", "testcol2": "seven"}))
        k.rows("… and not yet in dem:sampleTable", qdef(CLOUD, "getIfExists", where=["@id='T7'"]), elem(C))
        run_sync(results, "%s: the second run ends done" % n, dbs)
        k.rows("Q21 after the run the cloud shows T1 alpha2/one (the partial update kept testcol2)",
               qdef(CLOUD, "get", where=["@id='T1'"]), elem(C, {"id": "T1", "testcol1": "alpha2", "testcol2": "one"}))
        k.rows("T7 is in dem:sampleTable after the run", qdef(CLOUD, "getIfExists", where=["@id='T7'"]),
               elem(C, {"id": "T7", "testcol1": "late", "testcol2": "seven"}))
        k.rows("after the second run: Stg empty", qdef(STG, "count"), elem(S, {"count": "0"}))
        k.rows("after the second run: 5 rows in the cloud", qdef(CLOUD, "count"), elem(C, {"count": "5"}))
        k.rows("nms:subHisto (a cloud schema without staging) is readable: count 0", qdef("nms:subHisto", "count"),
               elem("subHisto", {"count": "0"}))
        # Values are escaped in the output: markup, quotes, ampersands and non-ASCII text come back as written.
        tricky = '<b class="x">Tom & \'Jerry\'</b> Zoë – 東京'
        ok_call(c.ingest_ext(stg_row(_key="@id", id="T8", testcol1=tricky, testcol2="a\tb")), "IngestExt T8")
        k.rows("a value with <, &, quotes, a tab and non-ASCII text round-trips through the XML",
               qdef(STG, "get", ["@id", "@testcol1", "@testcol2"], ["@id = 'T8'"]),
               elem(S, {"id": "T8", "testcol1": tricky, "testcol2": "a\tb"}))
        k.rows("… and can be matched exactly", qdef(STG, "count", where=["@testcol1 = %s" % "'%s'" % tricky.replace(
            "'", "\\'")]), elem(S, {"count": "1"}))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 3. recipient (Q22)

def case_recipient(work, results):
    n = "recipient"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        people = [{"email": "jane@example.com", "firstName": "Jane", "blackList": "0", "birthDate": "1980-05-17",
                   "gender": "2"},
                  {"email": "Kim@Example.com", "blackList": "false"},
                  {"email": "black@example.com", "blackList": "1"},
                  {"email": "out@elsewhere.org", "blackList": "0"},
                  {"email": "noflag@example.com", "lastName": "Noflag"}]
        for p in people:
            ok_call(c.ingest_ext(stg_row("nms:recipientStg", _key="@email", **p)), "IngestExt %s" % p["email"])
        q = Querier(server.port, c.session, c.security)
        k = Checker(results, n, q)
        k.rows("nms:recipientStg holds the 5 staged recipients", qdef("nms:recipientStg", "count"),
               elem("recipientStg", {"count": "5"}))
        k.rows("in nms:recipientStg an unnamed blackList IS NULL", qdef("nms:recipientStg", "select", ["@email"],
                                                                      ["@blackList IS NULL"]),
               coll("recipientStg", {"email": "noflag@example.com"}))
        k.rows("nms:recipient is empty before the run", qdef("nms:recipient", "count"), elem("recipient", {"count": "0"}))
        run_sync(results, "%s: workflow run ffdaReplicateStagingData ends done" % n, dbs)
        k.rows("Q22 @blackList = 0 AND Lower(@email) LIKE '%@example.com' → jane, Kim, noflag (default false)",
               qdef("nms:recipient", "select", ["@email", "@blackList"],
                    ["@blackList = 0 AND Lower(@email) LIKE '%@example.com'"], ["Lower(@email)"]),
               coll("recipient", {"email": "jane@example.com", "blackList": "0"},
                    {"email": "Kim@Example.com", "blackList": "0"}, {"email": "noflag@example.com", "blackList": "0"}))
        k.rows("Q22 @blackList = true → black@example.com with blackList=\"1\"",
               qdef("nms:recipient", "select", ["@email", "@blackList"], ["@blackList = true"]),
               coll("recipient", {"email": "black@example.com", "blackList": "1"}))
        k.rows("Q22 a date renders YYYY-MM-DD, a byte as a number, a datetime default as YYYY-MM-DD HH:MM:SS.mmmZ",
               qdef("nms:recipient", "get", ["@email", "@firstName", "@birthDate", "@gender", "@created",
                                             "@blackListEmail"], ["@email = 'jane@example.com'"]),
               elem("recipient", {"email": "jane@example.com", "firstName": "Jane", "birthDate": "1980-05-17",
                                  "gender": "2", "created": DATETIME, "blackListEmail": "0"}))
        k.rows("Q22 @birthDate = #1980-05-17# and Year(@birthDate) = 1980 → jane",
               qdef("nms:recipient", "select", ["@email"], ["@birthDate = #1980-05-17#", "Year(@birthDate) = 1980"]),
               coll("recipient", {"email": "jane@example.com"}))
        k.rows("Q22 recipientStg is empty after the run", qdef("nms:recipientStg", "count"),
               elem("recipientStg", {"count": "0"}))
        k.fault("a link in an expression on nms:subscription ([recipient/@email])",
                qdef("nms:subscription", "select", [node("[recipient/@email]", alias="@e")]), "QRY-200006",
                ["recipient/@email"])
        k.rows("a link's foreign key [@recipient-id] is an attribute", qdef("nms:subscription", "select",
                                                                           ["[@recipient-id]"]),
               coll("subscription"))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 4. hostile (N1–N9, N12, N13)

def nested_tree(depth, leaf):
    return leaf if depth == 0 else "(%s+%s)" % (nested_tree(depth - 1, leaf), nested_tree(depth - 1, leaf))


def case_hostile(work, results):
    n = "hostile"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES + ["--query-max-rows", "50", "--query-default-rows", "7"])
        rows = [{"_key": "@id", "id": "R%02d" % i, "testcol1": "r%02d" % i} for i in range(60)]
        ok_call(c.ingest_ext(stg_collection(rows)), "IngestExt R00…R59")
        run_sync(results, "%s: the 60 rows are synced to the cloud" % n, dbs)
        ok_call(c.ingest_ext(stg_collection([{"_key": "@id", "id": r["id"], "testcol2": "again"} for r in rows])),
                "IngestExt R00…R59 again")
        q = Querier(server.port, c.session, c.security)
        k = Checker(results, n, q)
        S, C = "sampleTableStg", "sampleTable"
        before = (dbs.snapshot(LOCAL_TABLES), dbs.cloud_snapshot(CLOUD_TABLES))
        results.check("%s: 60 rows staged and 60 in the cloud" % n,
                      before[0][1]["demsampletablestg"] == 60 and before[1][1]["demsampletable"] == 60, repr(before))

        def ids(lo, hi, step=1):
            return [{"id": "R%02d" % i} for i in range(lo, hi, step)]

        def hostile(label, request, codes, names=(), fast=False):
            """The fault (codes), nothing written, the server answers afterwards; also in the acc-js-sdk style
            for a queryDef text."""
            codes = {codes} if isinstance(codes, str) else set(codes)
            is_qd = isinstance(request, str)
            r = q.ask(request) if is_qd else q.raw(request(c.session, c.security))
            ok = fault_ok(r, codes, names, 500)
            detail = "request %s; got %s" % (short(request) if is_qd else label, r.describe())
            if fast and r.elapsed >= 1.0:
                ok = False
                detail += "; took %.2f s" % r.elapsed
            if is_qd and ok and r.code != "HTTP 413":
                s = q.ask(request, sdk_request)
                if not (fault_ok(s, codes, names, 200) and s.code == r.code):
                    ok = False
                    detail += "; acc-js-sdk style got %s" % s.describe()
            after = (dbs.snapshot(LOCAL_TABLES), dbs.cloud_snapshot(CLOUD_TABLES))
            alive = q.ask(qdef(STG, "count"))
            if after != before:
                ok = False
                detail += "; the databases changed: %s → %s" % (before, after)
            if count_of(alive) != "60":
                ok = False
                detail += "; the server's next answer: %s" % alive.describe()
            results.check("%s: %s → %s, nothing written, still serving" % (n, label, "/".join(sorted(codes))), ok,
                          detail)

        W = lambda expr, schema=STG: qdef(schema, "select", ["@id"], [expr])  # noqa: E731
        # N1 schemas
        for schema in ["dem:nope", "xtk:operator", "dem:sampleTable; DROP TABLE x", "xtk:queryDef", "xtk:session"]:
            hostile("N1 schema=%r" % schema, qdef(schema, "count"), "QRY-200001", [schema])
        # N2 attributes
        hostile("N2 @testcol9 in a where", W("@testcol9 = 'a'"), "QRY-200004", ["@testcol9", "dem:sampleTableStg"])
        hostile("N2 @stgSeq (bookkeeping) in a where", W("@stgSeq > 0"), "QRY-200004", ["stgSeq"])
        hostile("N2 [@iStgSeq] (bookkeeping column) in a select", qdef(STG, "select", ["[@iStgSeq]"]), "QRY-200004",
                ["iStgSeq"])
        hostile("N2 @stgOp in an orderBy", qdef(STG, "select", ["@id"], order=["@stgOp"]), "QRY-200004", ["stgOp"])
        hostile("N2 @iStgKey on the cloud schema", W("@iStgKey = 0", CLOUD), "QRY-200004", ["iStgKey"])
        # N3 syntax and SQL-looking input
        hostile("N3 '@testcol1 ='", W("@testcol1 ="), "QRY-200003", ["@testcol1 ="])
        hostile("N3 \"@testcol1 = 'x' OR 1=1; DROP TABLE DemSampleTable --\"",
                W("@testcol1 = 'x' OR 1=1; DROP TABLE DemSampleTable --"), "QRY-200003")
        hostile("N3 \"@id = '1'; drop table x --'\"", W("@id = '1'; drop table x --'"), "QRY-200003")
        hostile("N3 '@id) or (1=1'", W("@id) or (1=1"), "QRY-200003")
        hostile("N3 a bare string \"'x'' OR 1=1 --'\" as a condition", W("'x'' OR 1=1 --'"), ["QRY-200003", "QRY-200007"])
        k.rows("N3 \"@testcol1 = 'x'' OR 1=1 --'\" is a value: no row", W("@testcol1 = 'x'' OR 1=1 --'"), coll(S))
        k.rows("N3 \"@id = '1''; drop table x --'\" is a value: no row", W("@id = '1''; drop table x --'"), coll(S))
        hostile("N3 an invalid date #2026-13-01#", W("@lastModified > #2026-13-01#"), "QRY-200003", ["2026-13-01"])
        hostile("N3 a LIKE pattern ending with \\", W("@testcol1 LIKE 'r\\\\'"), "QRY-200003")
        # N4 functions
        for expr, name in [("pg_sleep(10) IS NULL", "pg_sleep"), ("sqlite_version() = '3'", "sqlite_version"),
                           ("Sleep(1) = 0", "Sleep"), ("load_extension('x') = 1", "load_extension")]:
            hostile("N4 %s within a second" % expr, W(expr), "QRY-200005", [name], fast=True)
        hostile("N4 Lower() with no argument", W("Lower() = 'a'"), "QRY-200005", ["Lower"])
        hostile("N4 Lower with two arguments", W("Lower(@id, @id) = 'a'"), "QRY-200005", ["Lower"])
        # N5 unsupported constructs
        hostile("N5 <condition sql=\"1=1\"/>", qdef(STG, "select", ["@id"], ['<condition sql="1=1"/>']), "QRY-200006",
                ["sql"])
        hostile("N5 filter-name=\"x\"", qdef(STG, "select", ["@id"], ['<condition filter-name="x"/>']), "QRY-200006",
                ["filter-name"])
        hostile("N5 enabledIf=\"$(/ignored/@x)=1\"", qdef(STG, "select", ["@id"],
                                                       [cond("@id = 'R01'", enabledIf="$(/ignored/@x)=1")]),
                "QRY-200006", ["enabledIf"])
        hostile("N5 a subQuery (setOperator)",
                qdef(STG, "select", ["@id"], ['<condition expr="@id" setOperator="NOT IN"><subQuery schema="%s">'
                                              '<select><node expr="@id"/></select></subQuery></condition>' % CLOUD]),
                "QRY-200006", ["setOperator"])
        hostile("N5 $(sz) in an expression", W("@id = $(sz)"), ["QRY-200003", "QRY-200006"], ["$("])
        hostile("N5 nested select nodes (a collection link)",
                qdef(STG, "select", ['<node expr="@id"><node expr="@testcol1"/></node>']), "QRY-200006")
        hostile("N5 an unknown child element <foo/>", qdef(STG, "select", children="<foo/>"), "QRY-200006", ["foo"])
        hostile("N5 a link [folder/@label]", W("[folder/@label] = 'x'"), "QRY-200006", ["folder/@label"])
        # N6 aliases
        for alias in ["@a b", '@x"y', "@1x", "x", "@", "@" + "a" * 65, "@a<b"]:
            hostile("N6 alias=%r" % (alias if len(alias) < 20 else alias[:6] + "…(%d)" % len(alias)),
                    qdef(STG, "select", [node("@testcol1", alias=alias)]), "QRY-200009")
        hostile("N6 a computed node without alias", qdef(STG, "select", ["Lower(@testcol1)"]), "QRY-200009")
        hostile("N6 two nodes rendering testcol1", qdef(STG, "select", ["@testcol1", node("@testcol2",
                                                                                            alias="@testcol1")]),
                "QRY-200009", ["testcol1"])
        # N7 attributes of the queryDef
        for lc in ["-1", "abc", "99999999999999999999", "1e9", "", "10; DROP TABLE x"]:
            hostile("N7 lineCount=%r" % lc, qdef(STG, "select", ["@id"], lineCount=lc), "QRY-200002", ["lineCount"])
        hostile("N7 startLine=\"-1\"", qdef(STG, "select", ["@id"], startLine="-1"), "QRY-200002", ["startLine"])
        for op in ["update", "delete", "insert", "Select", ""]:
            hostile("N7 operation=%r" % op, qdef(STG, op), "QRY-200002", ["operation"])
        hostile("N7 no operation", '<queryDef schema="%s"/>' % STG, "QRY-200002", ["operation"])
        hostile("N7 no schema", '<queryDef operation="count"/>', "QRY-200002", ["schema"])
        hostile("N7 sortDesc=\"true; drop\"", qdef(STG, "select", ["@id"], order=[node("@id", sortDesc="true; drop")]),
                "QRY-200002", ["sortDesc"])
        hostile("N7 distinct=\"maybe\"", qdef(STG, "select", ["@id"], distinct="maybe"), "QRY-200002", ["distinct"])
        hostile("N7 a node without expr", qdef(STG, "select", ["<node alias=\"@a\"/>"]), "QRY-200002")
        # type mismatches and aggregate misuse
        hostile("@testcol1 = 12 (string against number)", W("@testcol1 = 12"), "QRY-200007", ["@testcol1"])
        hostile("LIKE on a number", W("@delete LIKE '1%'"), "QRY-200007")
        hostile("Sum of a string", qdef(STG, "get", [node("Sum(@testcol1)", alias="@s")]), "QRY-200007")
        hostile("an aggregate in a where", W("Count() > 1"), "QRY-200012", ["Count"])
        hostile("a nested aggregate", qdef(STG, "get", [node("Max(Count())", alias="@m")]), "QRY-200012")
        hostile("an ungrouped field beside an aggregate", qdef(STG, "select", ["@testcol1", node("Count()", alias="@n")]),
                "QRY-200012", ["@testcol1"])
        # N8 the row cap
        k.rows("N8 lineCount=\"999999999\" on 60 staged rows → exactly 50 (query_max_rows), R00…R49",
               qdef(STG, "select", ["@id"], lineCount="999999999"), coll(S, *ids(0, 50)))
        k.rows("N8 the same on the cloud, orderBy @id desc → R59…R10",
               qdef(CLOUD, "select", ["@id"], order=["@id desc"], lineCount="999999999"), coll(C, *ids(59, 9, -1)))
        k.rows("N8 startLine 55 lineCount 999999999 → R55…R59", qdef(STG, "select", ["@id"], lineCount="999999999",
                                                                    startLine="55"), coll(S, *ids(55, 60)))
        k.rows("N8 no lineCount → query_default_rows (7)", qdef(STG, "select", ["@id"]), coll(S, *ids(0, 7)))
        k.rows("N8 lineCount=\"0\" → query_default_rows (7)", qdef(STG, "select", ["@id"], lineCount="0"),
               coll(S, *ids(0, 7)))
        k.rows("N8 count is not capped: 60", qdef(STG, "count"), elem(S, {"count": "60"}))
        # N9 sizes
        hostile("N9 10 000 nested parentheses", W("(" * 10000 + "@id = 'R01'" + ")" * 10000), "QRY-200008")
        hostile("N9 4 000 nested parentheses (within 8 KiB)", W("(" * 4000 + "@id = 'R01'" + ")" * 4000), "QRY-200008")
        hostile("N9 a 100 000-item IN list", W("@id IN (%s)" % ",".join("'x%d'" % i for i in range(100000))),
                "QRY-200008")
        hostile("N9 a 1 001-item IN list (within 8 KiB)", W("@id IN (%s)" % ",".join(["'a'"] * 1001)), "QRY-200008")
        hostile("N9 a 1 MiB expr", W("@id = '%s'" % ("x" * (1 << 20))), ["QRY-200008", "HTTP 413"])
        hostile("N9 an 8 193-byte expr", W("@id = '%s'" % ("x" * (8193 - 8))), "QRY-200008")
        hostile("N9 2 048 terms (a balanced tree, within 8 KiB)", W(nested_tree(11, "1")[1:-1] + "=1"), "QRY-200008")
        hostile("N9 501 conditions", qdef(STG, "count", where=["@id != 'x'"] * 501), "QRY-200008")
        hostile("N9 201 select nodes", qdef(STG, "select", [node("@id", alias="@a%d" % i) for i in range(201)]),
                "QRY-200008")
        # The documented limits are the limits: just inside them, an answer (the same on both databases).
        k.rows("limits: an 8 192-byte expr is accepted", qdef(STG, "count", where=["@id = '%s'" % ("x" * (8192 - 8))]),
               elem(S, {"count": "0"}))
        k.rows("limits: 60 nested parentheses", qdef(STG, "count", where=["(" * 60 + "@id = 'R01'" + ")" * 60]),
               elem(S, {"count": "1"}))
        k.rows("limits: a 1 000-item IN list", qdef(STG, "count", where=["@id IN (%s)" % ",".join(
            ["'R05'"] + ["'a'"] * 999)]), elem(S, {"count": "1"}))
        k.rows("limits: 500 conditions", qdef(STG, "count", where=["@id != 'x'"] * 499 + ["@id LIKE 'R0%'"]),
               elem(S, {"count": "10"}))
        k.rows("limits: 200 select nodes", qdef(STG, "get", [node("@id", alias="@a%d" % i) for i in range(200)],
                                                ["@id = 'R01'"]), elem(S, {"a%d" % i: "R01" for i in range(200)}))
        k.rows("limits: a 64-character alias", qdef(STG, "get", [node("@id", alias="@" + "a" * 64)], ["@id = 'R01'"]),
               elem(S, {"a" * 64: "R01"}))
        k.rows("limits: a 200-term OR chain (200 deep, under 256)",
               qdef(STG, "count", where=[" OR ".join(["@id = 'x%d'" % i for i in range(199)] + ["@id = 'R07'"])]),
               elem(S, {"count": "1"}))
        k.rows("limits: a sum of 120 terms", qdef(STG, "count", where=[" + ".join(["1"] * 120) + " = 120"]),
               elem(S, {"count": "60"}))
        k.rows("limits: 50 NOTs (nested 50 levels, under 64)", qdef(STG, "count", where=["NOT " * 50 + "@id = 'R01'"]),
               elem(S, {"count": "1"}))
        k.rows("limits: 20 nested function calls (within the SQL nesting SQLite's parser holds)",
               qdef(STG, "count", where=["Lower(" * 20 + "@id" + ")" * 20 + " = 'r01'"]), elem(S, {"count": "1"}))
        hostile("N9 40 nested function calls (beyond what SQLite's parser holds, refused on both databases)",
                qdef(STG, "count", where=["Lower(" * 40 + "@id" + ")" * 40 + " = 'r01'"]), "QRY-200008")
        # N12 the document
        hostile("N12 a <foo/> root", '<foo schema="%s" operation="count"/>' % STG, "QRY-200002", ["foo"])
        hostile("N12 xtkschema=\"xtk:other\"", qdef(STG, "count", xtkschema="xtk:other"), "QRY-200002", ["xtkschema"])
        hostile("N12 no element in the entity", lambda s, t: soapui_request(s, t, ""), "SOP-330003")
        hostile("N12 text in the entity", lambda s, t: soapui_request(s, t, "select * from x"), "SOP-330003")
        laughs = ('<!DOCTYPE soapenv:Envelope [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                  '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')

        def doctype(s, t):
            path, headers, body = soapui_request(s, t, qdef(STG, "select", ["@id"], ["@id = '&c;'"]).replace(
                "&amp;c;", "&c;"))
            return path, headers, laughs + body

        hostile("N12 a DOCTYPE with entity expansion", doctype, "SOP-330001")
        # N13 across databases
        hostile("N13 [recipient/@email] on nms:subscriptionStg",
                qdef("nms:subscriptionStg", "select", [node("[recipient/@email]", alias="@e")]), "QRY-200006",
                ["recipient/@email"])
        hostile("N13 [recipient/@email] in a where on nms:subscription",
                qdef("nms:subscription", "count", where=["[recipient/@email] = 'a@example.com'"]), "QRY-200006")
        after = (dbs.snapshot(LOCAL_TABLES), dbs.cloud_snapshot(CLOUD_TABLES))
        results.check("%s: at the end, both databases are as before (tables and row counts)" % n, after == before,
                      "%s → %s" % (before, after))
        results.check("%s: the server is still running" % n, server.alive(), server.log_tail())
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 5. timeout

def case_timeout(work, results):
    n = "timeout"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES + ["--query-timeout", "1"])
        rows = 10000
        ok_call(c.ingest(stg_collection([{"testcol1": ("%05d" % i) * 51} for i in range(rows)])), "Ingest 10 000 rows")
        q = Querier(server.port, c.session, c.security)
        # A where costing about a millisecond per row (a 512-leaf concatenation of a 255-character value, 9 deep):
        # ~10 s for 10 000 rows on either database, far past the 1 s timeout.
        slow = qdef(STG, "count", where=["Length(%s) = 7" % nested_tree(9, "@testcol1")])
        out = {}

        def long_query():
            out["start"] = time.time()
            out["reply"] = q.ask(slow)
            out["end"] = time.time()

        t = threading.Thread(target=long_query, daemon=True)
        t.start()
        writer = SoapClient(server.port, c.session, c.security, timeout=30)
        acks = []
        while t.is_alive():
            r = writer.ingest(stg_row(testcol1="during"))
            acks.append((time.time(), r.kind))
        t.join(60)
        writer.close()
        r = out.get("reply")
        results.check("%s: a query past --query-timeout 1 is cancelled with QRY-500001 (Server) after about 1 s" % n,
                      r is not None and fault_ok(r, {"QRY-500001"}, [], 500) and 0.9 <= r.elapsed < 10,
                      "got %s after %.2f s" % (r.describe() if r else None, r.elapsed if r else -1))
        during = [a for a in acks if out["start"] + 0.2 < a[0] < out["end"] - 0.05]
        results.check("%s: Ingest calls during the query are acknowledged (reads block no write)" % n,
                      acks and all(kind == "ok" for _, kind in acks) and during,
                      "%d Ingest calls, %d acknowledged while the query ran: %s" % (
                          len(acks), len(during), [kind for _, kind in acks][:10]))
        k = Checker(results, n, q)
        k.rows("the server answers the next query", qdef(STG, "count"),
               elem("sampleTableStg", {"count": str(rows + len(acks))}))
        cli = dbs.cli(["query", "-", "--format", "xml"], settings={"query_timeout": 1}, stdin=slow)
        results.check("%s: the CLI with query_timeout 1 exits 1 with QRY-500001" % n,
                      cli.returncode == 1 and "QRY-500001" in cli.stderr, "rc %d: %s" % (cli.returncode,
                                                                                         cli.stderr[-400:]))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 6. rights (N10, N11)

def case_rights(work, results):
    n = "rights"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        dbs.prepare(PASSWORD)
        for login, schema in [("amy", "dem:sampleTable"), ("bob", "nms:recipient")]:
            r = dbs.cli(["operator", "add", login, "--schema", schema, "--password-stdin"], stdin=login + "-pw\n")
            if r.returncode != 0:
                raise CaseError("operator add %s: %s" % (login, r.stderr[-300:]))
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        ok_call(c.ingest_ext(stg_row(_key="@id", id="S1", testcol1="synced")), "IngestExt S1")
        ok_call(c.ingest_ext(stg_row("nms:recipientStg", _key="@email", email="r1@example.com")), "IngestExt r1")
        run_sync(results, "%s: workflow run ends done" % n, dbs)
        ok_call(c.ingest_ext(stg_row(_key="@id", id="S2", testcol1="staged")), "IngestExt S2")
        ok_call(c.ingest_ext(stg_row("nms:recipientStg", _key="@email", email="r2@example.com")), "IngestExt r2")
        clients = {}
        for login in ["amy", "bob"]:
            cl = SoapClient(server.port)
            cl.logon(login, login + "-pw")
            clients[login] = Checker(results, "%s: %s" % (n, login), Querier(server.port, cl.session, cl.security))
        amy, bob = clients["amy"], clients["bob"]
        amy.rows("reads dem:sampleTableStg", qdef(STG, "select", ["@id"]), coll("sampleTableStg", {"id": "S2"}))
        amy.rows("reads dem:sampleTable", qdef(CLOUD, "select", ["@id"]), coll("sampleTable", {"id": "S1"}))
        for schema in ["nms:recipient", "nms:recipientStg", "nms:subHisto", "nms:subscription"]:
            amy.fault("may not read %s" % schema, qdef(schema, "count"), "QRY-200010", ["amy", schema])
        bob.rows("reads nms:recipient", qdef("nms:recipient", "select", ["@email"]),
                 coll("recipient", {"email": "r1@example.com"}))
        bob.rows("reads nms:recipientStg", qdef("nms:recipientStg", "select", ["@email"]),
                 coll("recipientStg", {"email": "r2@example.com"}))
        for schema in [CLOUD, STG, "nms:service"]:
            bob.fault("may not read %s" % schema, qdef(schema, "count"), "QRY-200010", ["bob", schema])
        admin = Checker(results, "%s: admin" % n, Querier(server.port, c.session, c.security))
        admin.rows("reads nms:subHisto", qdef("nms:subHisto", "count"), elem("subHisto", {"count": "0"}))
        admin.rows("reads nms:recipient", qdef("nms:recipient", "count"), elem("recipient", {"count": "1"}))
        # N11 sessions
        qd = qdef(STG, "count")
        other = SoapClient(server.port)
        other.logon("amy", "amy-pw")
        for label, session, security in [
                ("no session token and no security token", "", ""),
                ("an unknown session token", "___00000000-0000-4000-8000-000000000000", c.security),
                ("a session token without its security token", c.session, ""),
                ("a wrong security token", c.session, "@wrong"),
                ("another session's security token", c.session, other.security)]:
            r = Querier(server.port, session, security).ask(qd)
            results.check("%s: %s → XSV-350008" % (n, label), fault_ok(r, {"XSV-350008"}, [], 500), r.describe())
        gone = SoapClient(server.port)
        gone.logon("amy", "amy-pw")
        lo = gone.call("xtk:session", "Logoff", "")
        r = Querier(server.port, gone.session, gone.security).ask(qd)
        results.check("%s: a logged-off session → XSV-350008" % n,
                      lo.kind == "ok" and fault_ok(r, {"XSV-350008"}, [], 500), "Logoff %s; %s" % (lo.kind, r.describe()))
        r = Querier(server.port, "___00000000-0000-4000-8000-000000000000", c.security).ask(qd, sdk_request)
        results.check("%s: an unknown session in the acc-js-sdk style → XSV-350008 with HTTP 200" % n,
                      fault_ok(r, {"XSV-350008"}, [], 200), r.describe())
        r = Querier(server.port, c.session, c.security).ask(qd)
        results.check("%s: the server still answers the admin" % n, count_of(r) == "1", r.describe())
        # Discovery (a valid session is enough) and the WSDL.
        a = SoapClient(server.port)
        a.logon("amy", "amy-pw")
        d = a.call("xtk:persist", "GetEntityIfMoreRecent",
                   "<urn:pk>xtk:schema|xtk:queryDef</urn:pk><urn:md5/><urn:mustExist>false</urn:mustExist>")
        methods = {}
        m = re.search(r"(<schema\b.*</schema>)", d.text, re.S)
        try:
            schema = ET.fromstring(m.group(1)) if m else None
        except ET.ParseError:
            schema = None
        if schema is not None:
            for meth in schema.iter("method"):
                methods[meth.get("name")] = (dict(meth.attrib), [dict(p.attrib) for p in meth.iter("param")])
        results.check("%s: GetEntityIfMoreRecent(xtk:schema|xtk:queryDef) as amy: ExecuteQuery const, not static, "
                      "one output param pdomOutput DOMDocument" % n,
                      d.kind == "ok" and schema is not None and schema.get("name") == "queryDef"
                      and methods.get("ExecuteQuery") == ({"name": "ExecuteQuery", "const": "true"},
                                                          [{"name": "pdomOutput", "type": "DOMDocument",
                                                            "inout": "out"}]),
                      "%s; methods %s" % (d.kind, methods))
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/nl/jsp/schemawsdl.jsp?schema=xtk:queryDef")
        resp = conn.getresponse()
        wsdl = resp.read().decode("utf-8", "replace")
        conn.close()
        inputs, actions = None, set()
        try:
            root = ET.fromstring(wsdl)
            xs = "{http://www.w3.org/2001/XMLSchema}"
            for e in root.iter(xs + "element"):
                if e.get("name") == "ExecuteQuery":
                    inputs = [x.get("name") for x in e.find(xs + "complexType").find(xs + "sequence")]
            for op in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}operation"):
                actions.add(op.get("soapAction"))
        except (ET.ParseError, AttributeError):
            pass
        results.check("%s: the WSDL's ExecuteQuery takes sessiontoken then entity, soapAction %s" % (n, ACTION),
                      resp.status == 200 and inputs == ["sessiontoken", "entity"] and ACTION in actions,
                      "HTTP %d, inputs %s, actions %s" % (resp.status, inputs, sorted(actions)))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 7. cli

def case_cli(work, results):
    n = "cli"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    empty = None
    server = None
    try:
        empty = CaseDatabases(BACKEND, os.path.join(work, n + "-empty"))
        r = empty.cli(["query", CLOUD])
        results.check("%s: before `schema apply`: exit 1 with QRY-200013" % n,
                      r.returncode == 1 and "QRY-200013" in r.stderr, "rc %d: %s" % (r.returncode, r.stderr[-300:].strip()))
        dbs.prepare(PASSWORD)
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        u = ingest_fixtures(c)
        q = Querier(server.port, c.session, c.security)

        def soap_pdom(qd):
            r = q.ask(qd)
            if r.pdom is None:
                raise CaseError("SOAP %s: %s" % (short(qd), r.describe()))
            return r

        # The same queryDef through SOAP and `query - --format xml`.
        docs = [qdef(STG, "count"), qdef(CLOUD, "count"), qdef(STG, "select", order=["@testcol2"]),
                qdef(STG, "select", ["@id"], ["@id IN ('T1','T2','T3','T4')"], ["@id"], lineCount=2, startLine=2),
                qdef(STG, "select", ["@id"], ["@testcol1 LIKE 'b%'"]),
                qdef(STG, "get", ["@id", "@testcol1", "@testcol2", "@delete", "@lastModified"], ["@id='T1'"]),
                qdef(STG, "getIfExists", where=["@id = 'T4'"]), qdef(CLOUD, "getIfExists", where=["@id='T1'"]),
                qdef(STG, "select", ["@id", node("@testcol1", alias="@label")], ["@testcol1 = 'O\\'Brien; drop table x'"]),
                qdef(STG, "select", [node("@delete", groupBy="true"), node("Count()", alias="@n")]),
                qdef(STG, "select", ["@id", node("Upper(@testcol1) + '-' + Coalesce(@testcol2, 'none')", alias="@x")],
                     ["@id LIKE 'T%'"], ["@id desc"]),
                '<queryDef xmlns="urn:xtk:queryDef" schema="dem:sampleTableStg" operation="count" '
                'xtkschema="xtk:queryDef"/>']
        for i, qd in enumerate(docs):
            s = soap_pdom(qd)
            r = dbs.cli(["query", "-", "--format", "xml"], stdin=qd)
            results.check("%s: `query - --format xml` = the SOAP pdomOutput (queryDef %d)" % (n, i + 1),
                          r.returncode == 0 and r.stdout.rstrip("\n") == s.pdom,
                          "queryDef %s; SOAP %s; CLI rc %d %r %s" % (short(qd), s.pdom[:300], r.returncode,
                                                                      r.stdout[:300], r.stderr[-300:]))
        path = os.path.join(dbs.work, "querydef.xml")
        with open(path, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + docs[2] + "\n")
        r = dbs.cli(["query", path, "--format", "xml"])
        results.check("%s: `query FILE.xml --format xml` = the SOAP pdomOutput" % n,
                      r.returncode == 0 and r.stdout.rstrip("\n") == soap_pdom(docs[2]).pdom,
                      "rc %d %r %s" % (r.returncode, r.stdout[:300], r.stderr[-300:]))

        # The shorthand flags = the queryDef they stand for.
        flags = [
            ([STG, "--select", "@id,@testcol1", "--where", "@testcol1 LIKE 'a%'", "--order", "@id desc", "--limit", "20"],
             qdef(STG, "select", ["@id", "@testcol1"], ["@testcol1 LIKE 'a%'"], ["@id desc"], lineCount=20)),
            ([STG, "--count"], qdef(STG, "count")),
            ([STG, "--count", "--where", "@testcol2 IS NULL"], qdef(STG, "count", where=["@testcol2 IS NULL"])),
            ([STG, "--select", "@id", "--where", "@id LIKE 'T%'", "--where", "@testcol2 IS NOT NULL", "--order", "@id",
              "--start", "1", "--limit", "2"],
             qdef(STG, "select", ["@id"], ["@id LIKE 'T%'", "@testcol2 IS NOT NULL"], ["@id"], lineCount=2, startLine=1)),
            ([STG, "--operation", "get", "--where", "@id = 'T3'"], qdef(STG, "get", where=["@id = 'T3'"])),
            ([STG, "--operation", "getIfExists", "--where", "@id = 'T9'"], qdef(STG, "getIfExists", where=["@id = 'T9'"])),
            ([STG, "--select", "@delete", "--distinct"], qdef(STG, "select", ["@delete"], distinct="true")),
            ([STG, "--select", "@delete", "--group", "@delete"],
             qdef(STG, "select", ["@delete"], children='<groupBy><node expr="@delete"/></groupBy>')),
            ([STG, "--select", "@id,@testcol2", "--order", "@testcol2 desc,@id"],
             qdef(STG, "select", ["@id", "@testcol2"], order=["@testcol2 desc", "@id"])),
            ([CLOUD, "--count"], qdef(CLOUD, "count"))]
        for args, qd in flags:
            s = soap_pdom(qd)
            r = dbs.cli(["query"] + args + ["--format", "xml"])
            results.check("%s: `query %s --format xml` = the SOAP pdomOutput" % (n, " ".join(args)),
                          r.returncode == 0 and r.stdout.rstrip("\n") == s.pdom,
                          "SOAP %s; CLI rc %d %r %s" % (s.pdom[:300], r.returncode, r.stdout[:300], r.stderr[-300:]))

        # json
        sel = qdef(STG, "select", where=["@id LIKE 'T%'"], order=["@id"])
        want = soap_pdom(sel).rows
        r = dbs.cli(["query", STG, "--where", "@id LIKE 'T%'", "--order", "@id", "--format", "json"])
        try:
            got = json.loads(r.stdout)
        except ValueError:
            got = r.stdout
        # docs/query.md leaves a NULL's JSON form open: "" as in the XML, or null.
        if isinstance(got, list):
            got = [{k2: ("" if v is None else v) for k2, v in x.items()} if isinstance(x, dict) else x for x in got]
        results.check("%s: --format json of a select: an array of the rows' attributes (values as in SOAP, a NULL "
                      "\"\" or null)" % n, r.returncode == 0 and got == want and len(want) == 4, "rc %d: %r; want %r" % (r.returncode, got,
                                                                                                   want))
        for args, want, what in [
                (["--operation", "get", "--where", "@id = '%s'" % u, "--select", "@id,@testcol1"],
                 {"id": u, "testcol1": "delta"}, "get: an object"),
                (["--operation", "getIfExists", "--where", "@id = 'T9'"], None, "getIfExists with no row: null"),
                (["--count"], {"count": 5}, "count: {\"count\": 5}"),
                (["--where", "@id = 'T9'"], [], "a select with no row: []")]:
            r = dbs.cli(["query", STG] + args + ["--format", "json"])
            try:
                got = json.loads(r.stdout)
            except ValueError:
                got = "not JSON: %r" % r.stdout
            results.check("%s: --format json, %s" % (n, what), r.returncode == 0 and got == want,
                          "rc %d: %r %s" % (r.returncode, got, r.stderr[-300:]))
        # csv
        r = dbs.cli(["query", STG, "--select", "@id,@testcol1,@testcol2", "--where", "@id LIKE 'T%'", "--order", "@id",
                     "--format", "csv"])
        got = list(csv.reader(io.StringIO(r.stdout)))
        want = [["id", "testcol1", "testcol2"]] + [[x["id"], x["testcol1"], x["testcol2"]] for x in soap_pdom(
            qdef(STG, "select", ["@id", "@testcol1", "@testcol2"], ["@id LIKE 'T%'"], ["@id"])).rows]
        results.check("%s: --format csv: a header and the rows (NULL as an empty field)" % n,
                      r.returncode == 0 and got == want and want[4] == ["T4", "gamma", ""], "rc %d: %r; want %r" % (
                          r.returncode, got, want))
        # the default table
        r = dbs.cli(["query", STG, "--select", "@id,@testcol1", "--where", "@id LIKE 'T%'", "--order", "@id"])
        lines = r.stdout.splitlines()
        body = [l for l in lines[2:] if l.strip() and not l.startswith("(")]
        results.check("%s: the default table: a header, a rule, one aligned line per row in order" % n,
                      r.returncode == 0 and len(lines) > 2 and lines[0].split() == ["id", "testcol1"]
                      and set(lines[1]) <= {"-", " "} and [l.split()[0] for l in body] == ["T1", "T2", "T3", "T4"]
                      and body[2].split(None, 1)[1].strip() == T3
                      and len({l.index(l.split()[1]) for l in body} | {lines[0].index("testcol1")}) == 1,
                      "rc %d: %r" % (r.returncode, r.stdout))
        # errors
        for args, code, what in [
                ([STG, "--where", "@testcol9 = 'a'"], "QRY-200004", "an unknown attribute"),
                ([STG, "--operation", "get", "--where", "@id = 'T9'"], "QRY-200011", "get with no row"),
                (["dem:nope"], "QRY-200001", "an unknown schema"),
                ([STG, "--where", "pg_sleep(1) IS NULL"], "QRY-200005", "an unknown function"),
                (["-"], "QRY-200002", "a queryDef with operation=\"update\" on stdin")]:
            r = dbs.cli(["query"] + args, stdin=qdef(STG, "update") if args == ["-"] else None)
            results.check("%s: %s: exit 1, '%s …' on standard error, nothing on standard output" % (n, what, code),
                          r.returncode == 1 and re.search(r"(^|\s)%s " % code, r.stderr) is not None and r.stdout == "",
                          "rc %d: stdout %r stderr %r" % (r.returncode, r.stdout[:200], r.stderr[-300:]))
        r = dbs.cli(["query", "-", "--format", "xml"], stdin='<queryDef schema="dem:nope" operation="count"/>')
        results.check("%s: a bad queryDef on stdin: exit 1 with QRY-200001" % n,
                      r.returncode == 1 and "QRY-200001" in r.stderr, "rc %d: %s" % (r.returncode, r.stderr[-300:].strip()))
        for args, what in [([STG, "--format", "nope"], "--format nope"), ([], "no target"),
                           ([STG, "--limit", "-1"], "--limit -1"), ([STG, "--operation", "update"], "--operation update")]:
            r = dbs.cli(["query"] + args)
            results.check("%s: %s: exit 2 (usage)" % (n, what), r.returncode == 2,
                          "rc %d: %r" % (r.returncode, r.stderr[-300:]))
        after = q.ask(qdef(STG, "count"))
        results.check("%s: the CLI changed nothing (5 rows staged)" % n, count_of(after) == "5", after.describe())
    finally:
        if server:
            server.stop()
        dbs.drop()
        if empty:
            empty.drop()


# ----------------------------------------------------------------------------- main

CASES = [("semantics", lambda w, r, s: case_semantics(w, r)),
         ("sync", lambda w, r, s: case_sync(w, r)),
         ("recipient", lambda w, r, s: case_recipient(w, r)),
         ("hostile", lambda w, r, s: case_hostile(w, r)),
         ("timeout", lambda w, r, s: case_timeout(w, r)),
         ("rights", lambda w, r, s: case_rights(w, r)),
         ("cli", lambda w, r, s: case_cli(w, r))]


def main():
    return run_cases("query", BACKEND, CASES, "QRY")


if __name__ == "__main__":
    sys.exit(main())
