#!/usr/bin/env python3
"""hostile_test.py BACKEND — hostile input against a real stagebridge server.

BACKEND is sqlite or postgres. Starts `stagebridge serve` on fresh databases
(schema apply with examples/schemas, operator admin/secret) with
--max-body-bytes 1048576, logs on, then sends one hostile request after the
other: malformed XML, entity expansion, external entities, depth and attribute
bombs, invalid UTF-8 and illegal character references, huge values and bodies,
SQL smuggled into attribute names, _key and xtkschema, unknown methods and
services, a SOAPAction that disagrees with the body, missing or forged tokens,
malformed HTTP, stalled and truncated requests, garbage bytes.

For every case it asserts:
  * the expected HTTP status, and for SOAP faults the faultcode and the fault
    code (`CODE-NNNNNN` at the head of the faultstring);
  * a SOAP response is well-formed XML (a strict parser reads it);
  * the fault text leaks no SQL, no stack trace, no password, no file content,
    no internal path (text the request itself carried and the fault merely
    echoes is not a leak);
  * nothing was written: the row count of every staging table is unchanged and
    every table of the local database still exists;
  * the server still serves: it is alive, ping answers, a valid Ingest succeeds.

Then values that merely look like SQL (quotes, comments, DROP TABLE), unicode,
255 multibyte characters, markup, whitespace are ingested and read back from the
database byte for byte.

Prints `hostile[BACKEND]: N passed, M failed`; exits 1 when anything failed.
Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, and for postgres
STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh sets it). Python 3 standard
library only; psql for postgres.
"""

import html
import http.client
import os
import re
import resource
import select
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
BIN = os.environ.get("STAGEBRIDGE_BIN", "")
SRC = os.environ.get("STAGEBRIDGE_SOURCE_DIR", "")
PASSWORD = "s3cr3t-Pa55word"
MAX_BODY = 1048576
MAX_INFLIGHT = 4 * MAX_BODY  # request bodies the main server holds at once
VERBOSE = os.environ.get("HOSTILE_VERBOSE") == "1"

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ROUTER = "/nl/jsp/soaprouter.jsp"


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import Databases, Server  # noqa: E402  (shared with the durability test)

# ----------------------------------------------------------------------------- databases

class Reply:
    def __init__(self, status, body, error=None):
        self.status = status  # None when no HTTP response came
        self.body = body or b""
        self.error = error
        self.text = self.body.decode("utf-8", "replace")
        self.faultcode = self.code = self.faultstring = self.detail = None
        m = re.search(r"<faultstring[^>]*>(.*?)</faultstring>", self.text, re.S)
        if m:
            self.faultstring = html.unescape(m.group(1))
            self.code = self.faultstring.split(" ", 1)[0]
        m = re.search(r"<faultcode>(.*?)</faultcode>", self.text, re.S)
        if m:
            self.faultcode = m.group(1)
        m = re.search(r"<detail[^>]*>(.*?)</detail>", self.text, re.S)
        if m:
            self.detail = html.unescape(m.group(1))

    def __repr__(self):
        if self.faultstring is not None:
            what = "%s %s" % (self.faultcode, self.faultstring[:300])
        else:
            m = re.search(r"<pstrSUuids[^>]*>([^<]*)<", self.text)
            what = "pstrSUuids=%s" % m.group(1) if m else " ".join(self.text.split())[:200]
        return "HTTP %s %s%s" % (self.status, what, " (%s)" % self.error if self.error else "")


def http_request(port, method, path, body=b"", headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.read())
    except (OSError, http.client.HTTPException) as e:
        return Reply(None, b"", "%s: %s" % (type(e).__name__, e))
    finally:
        conn.close()


def raw_exchange(port, data, timeout=10, half_close=False, sender_thread=False):
    """Sends raw bytes, returns (status or None, whole reply bytes). With
    sender_thread the bytes are sent by a thread while the reply is read, so a
    server answering early (413) is heard even if it stops reading."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    err = []

    def send():
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = None
    if sender_thread:
        t = threading.Thread(target=send, daemon=True)
        t.start()
    else:
        send()
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            # One response is enough: stop at the end of its declared body.
            m = re.match(rb"HTTP/1\.[01] (\d{3})[^\r]*\r\n(.*?)\r\n\r\n", out, re.S)
            if m:
                cl = re.search(rb"(?im)^content-length:\s*(\d+)", m.group(2))
                if cl and len(out) >= m.end() + int(cl.group(1)):
                    break
    except OSError as e:
        err.append(e)
    finally:
        s.close()
    if t:
        t.join(timeout)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    status = int(m.group(1)) if m else None
    body = out.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in out else b""
    return Reply(status, body, "; ".join(str(e) for e in err) or None)


def parse_metrics(reply, problems):
    """{'name{labels}': value} from a Prometheus text response; every line must parse."""
    out = {}
    if reply.status != 200:
        problems.append("/metrics: %r" % reply)
    for line in reply.text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|\+Inf|NaN)$', line)
        if not m:
            problems.append("/metrics line does not parse: %r" % line)
            continue
        out[m.group(1)] = float(m.group(2))
    return out


def expect_metrics(metrics, want, problems):
    for name, value in want.items():
        if metrics.get(name) != value:
            problems.append("/metrics %s = %s, expected %s" % (name, metrics.get(name), value))


# ----------------------------------------------------------------------------- SOAP

def envelope(method, params, ns="urn:xtk:session"):
    return ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="%s"><soapenv:Body><urn:%s>%s</urn:%s>'
            '</soapenv:Body></soapenv:Envelope>' % (ENV_NS, ns, method, params, method))


def ingest_body(token, dom, method="Ingest"):
    return envelope(method, "<urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc>%s</urn:domDoc>" % (token, dom))


def attr(value):
    """Escapes `value` for a double-quoted XML attribute, keeping whitespace characters."""
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return out.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def record(testcol1="a", testcol2="b", extra=""):
    return '<sampleTableStg testcol1="%s" testcol2="%s" xtkschema="dem:sampleTableStg"%s/>' % (
        attr(testcol1), attr(testcol2), extra)


class Client:
    def __init__(self, port):
        self.port = port
        self.session = self.security = ""

    def post(self, body, action="xtk:session#Ingest", headers=None, path=ROUTER, security=True):
        h = {"Content-Type": "text/xml; charset=utf-8"}
        if action is not None:
            h["SOAPAction"] = action
        if security and self.security:
            h["X-Security-Token"] = self.security
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        return http_request(self.port, "POST", path, body, h)

    def logon(self, login="admin", password=PASSWORD):
        body = envelope("Logon", "<urn:sessiontoken/><urn:strLogin>%s</urn:strLogin><urn:strPassword>%s"
                        "</urn:strPassword><urn:elemParameters/>" % (attr(login), attr(password)))
        r = self.post(body, "xtk:session#Logon", security=False)
        m1 = re.search(r"<pstrSessionToken[^>]*>([^<]*)<", r.text)
        m2 = re.search(r"<pstrSecurityToken[^>]*>([^<]*)<", r.text)
        if r.status != 200 or not m1 or not m2:
            raise RuntimeError("logon failed: %r" % r)
        self.session, self.security = m1.group(1), m2.group(1)

    def ingest(self, dom, **kw):
        return self.post(ingest_body(self.session, dom), **kw)


def returned_uuid(reply):
    m = re.search(r"<pstrSUuids xsi:type='xsd:string'>([^<]*)</pstrSUuids>", reply.text)
    return m.group(1) if reply.status == 200 and m else None


# ----------------------------------------------------------------------------- checks

# Things a fault must never reveal. A match that the request itself carried (the
# fault echoing the culprit) is not a leak.
LEAK_PATTERNS = [
    r"\bINSERT\s+INTO\b", r"\bSELECT\b[^.]{0,200}\bFROM\b", r"\bCREATE\s+(TABLE|INDEX|SEQUENCE)\b",
    r"\bDROP\s+TABLE\b", r"\bON\s+CONFLICT\b", r"\bVALUES\s*\(", r"\bUPDATE\s+\w+\s+SET\b", r"\bDELETE\s+FROM\b",
    r"\bnextval\b", r"SQLSTATE", r"\bsqlite", r"libpq", r"\bpsql\b", r"syntax error", r"\bERROR:\s",
    r"duplicate key value", r"UNIQUE constraint", r"\bviolates\b", r"\bpg_\w+", r"DemSampleTableStg",
    r"\bsTestcol\d\b", r"\buSampleTableId\b", r"\biStg(Seq|Run|Op)\b", r"\biDelete\b", r"SbStgSeq",
    r"std::", r"terminate called", r"Traceback", r"\b\w+\.(cc|cpp|h|hpp):\d+", r"0x[0-9a-fA-F]{8,}",
    r"AddressSanitizer", r"runtime error", r"what\(\)", r"\bSegmentation\b", r"postgres(ql)?://",
    re.escape(PASSWORD), r"argon2", r"\$argon", r"pwhash",
]
PASSWD_MARKERS = []
try:
    with open("/etc/passwd", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.strip().split(":")
            if len(parts) >= 4:
                PASSWD_MARKERS.append(":".join(parts[:4]))
except OSError:
    pass
PASSWD_MARKERS.append("root:x:0:0")


def leaks(text, request):
    """Leak descriptions found in `text` that `request` did not carry."""
    found = []
    req = request.decode("latin-1").lower() if isinstance(request, bytes) else request.lower()
    for pattern in LEAK_PATTERNS:
        for m in re.finditer(pattern, text, re.I):
            if m.group(0).lower() not in req:
                found.append(m.group(0))
    for marker in PASSWD_MARKERS:
        if marker in text:
            found.append("/etc/passwd content %r" % marker)
    return found


class Suite:
    def __init__(self, dbs, server, client, work):
        self.dbs = dbs
        self.server = server
        self.client = client
        self.work = work
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.tables = dbs.tables()
        self.staging = [t for t in self.tables if t.endswith("stg")]
        self.counts = dbs.snapshot(self.staging)[1]

    def report(self, name, problems):
        if problems:
            self.failed += 1
            self.failures.append(name)
            print("FAIL %s" % name)
            for p in problems:
                print("     - %s" % p)
            sys.stdout.flush()
        else:
            self.passed += 1
            print("ok   %s" % name)

    def still_serves(self, problems, label="server"):
        srv = self.server
        if not srv.alive():
            problems.append("%s died (exit %s); log:\n%s" % (label, srv.proc.returncode, srv.log_tail()))
            return False
        ping = http_request(srv.port, "GET", "/nl/jsp/ping.jsp", timeout=30)
        if ping.status != 200 or not ping.text.startswith("OK"):
            problems.append("ping after the case: %r" % ping)
        r = self.client.ingest(record("after-hostile", "ok"))
        uuid = returned_uuid(r)
        if not uuid:
            problems.append("a valid Ingest after the case failed: %r" % r)
        elif self.dbs.value_hex("sTestcol1", uuid) != "after-hostile".encode().hex():
            problems.append("the valid Ingest after the case is not in DemSampleTableStg")
        else:
            self.counts["demsampletablestg"] = self.counts.get("demsampletablestg", 0) + 1
        return True

    def nothing_written(self, problems):
        """Compares the staging row counts and the table list with the baseline, then takes them as the new one."""
        try:
            tables, counts = self.dbs.snapshot(self.staging)
        except Exception as e:  # noqa: BLE001 — a dropped table makes the query fail
            problems.append("cannot count the staging tables (dropped?): %s" % e)
            try:
                tables, counts = self.dbs.tables(), {}
            except Exception as e2:  # noqa: BLE001
                problems.append("cannot read the local database: %s" % e2)
                return
        missing = sorted(set(self.tables) - set(tables))
        if missing:
            problems.append("tables disappeared: %s" % missing)
        for t, n in counts.items():
            if n != self.counts.get(t, 0):
                problems.append("staging table %s went from %d to %d rows" % (t, self.counts.get(t, 0), n))
        self.counts = counts
        self.tables = tables

    def written(self, problems, n):
        """Like nothing_written, but DemSampleTableStg gained exactly `n` rows."""
        self.counts["demsampletablestg"] = self.counts.get("demsampletablestg", 0) + n
        self.nothing_written(problems)

    def case(self, name, send, status=500, code=None, faultcode="SOAP-ENV:Client", request=b"", check=None,
             writes=False):
        """Runs one hostile request. `send` returns a Reply; `request` is what it sent (for leak checks).
        `status` may be an int, a tuple of ints, or None (no HTTP response expected)."""
        problems = []
        try:
            reply = send()
        except Exception as e:  # noqa: BLE001
            reply = Reply(None, b"", "%s: %s" % (type(e).__name__, e))
        expected = status if isinstance(status, tuple) else (status,)
        codes = code if isinstance(code, tuple) else (code,)
        want = "HTTP %s" % "/".join(str(s) for s in expected)
        if code is not None:
            want += " fault %s" % " or ".join(codes)
        if reply.status not in expected or (code is not None and reply.code not in codes):
            problems.append("expected %s, got %r" % (want, reply))
        elif code is not None:
            if faultcode and reply.faultcode != faultcode:
                problems.append("expected faultcode %s, got %s" % (faultcode, reply.faultcode))
        if reply.text.lstrip().startswith("<?xml") or reply.text.lstrip().startswith("<SOAP-ENV"):
            try:
                ET.fromstring(reply.body)
            except ET.ParseError as e:
                line, col = e.position
                bad = reply.body.split(b"\n")[line - 1] if line - 1 < len(reply.body.split(b"\n")) else b""
                problems.append("the response is not well-formed XML (%s): %r" % (e, bad[max(0, col - 80):col + 40]))
        found = leaks(reply.text, request)
        if found:
            problems.append("the response leaks %s: %r" % (found, reply.text[:400]))
        if reply.faultstring is not None and len(reply.faultstring) > 4096:
            problems.append("the faultstring is %d characters long (echoes the whole input?)" % len(reply.faultstring))
        if check:
            check(reply, problems)
        if writes:  # the case itself writes: only check the tables, then take the counts as they are
            found = []
            self.nothing_written(found)
            problems += [p for p in found if not p.startswith("staging table")]
        else:
            self.nothing_written(problems)
        self.still_serves(problems)
        if VERBOSE:
            print("     %r" % reply)
        self.report(name, problems)
        return reply

    def soap(self, name, body, code, action="xtk:session#Ingest", headers=None, faultcode="SOAP-ENV:Client",
             status=500, check=None, security=True):
        data = body.encode("utf-8") if isinstance(body, str) else body
        sent = data + (action or "").encode() + "".join((headers or {}).values()).encode()
        return self.case(name, lambda: self.client.post(data, action, headers, security=security), status, code,
                         faultcode, sent, check)

    def ingest(self, name, dom, code, **kw):
        return self.soap(name, ingest_body(self.client.session, dom), code, **kw)


# ----------------------------------------------------------------------------- cases

def hostile_cases(s, c):
    tok = c.session
    good = record("x", "y")

    # --- malformed XML
    s.soap("malformed: truncated envelope", ingest_body(tok, good)[:-40], "SOP-330001")
    s.soap("malformed: mismatched tags", ingest_body(tok, good).replace("</urn:domDoc>", "</urn:domDocX>"),
           "SOP-330001")
    s.soap("malformed: not XML at all", "this is not xml; drop table DemSampleTableStg", "SOP-330001")
    s.soap("malformed: two root elements", ingest_body(tok, good) + "<again/>", "SOP-330001")
    s.soap("malformed: XML but not a SOAP envelope", "<Envelope><Body><Ingest/></Body></Envelope>", "SOP-330001")
    s.ingest("malformed: duplicate attribute", '<sampleTableStg testcol1="a" testcol1="b" '
             'xtkschema="dem:sampleTableStg"/>', "SOP-330001")
    s.ingest("malformed: raw '<' in an attribute value", '<sampleTableStg testcol1="a<b" '
             'xtkschema="dem:sampleTableStg"/>', "SOP-330001")
    s.ingest("malformed: undeclared entity reference", '<sampleTableStg testcol1="&xxe;" '
             'xtkschema="dem:sampleTableStg"/>', "SOP-330001")
    s.ingest("malformed: attribute without a value", '<sampleTableStg testcol1 xtkschema="dem:sampleTableStg"/>',
             "SOP-330001")

    # --- entity expansion and external entities
    laughs = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
              + "".join(' <!ENTITY lol%d "%s">\n' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10)
                        for i in range(1, 10))
              + "]>\n")
    s.soap("billion laughs (DOCTYPE with nested entities)",
           laughs + ingest_body(tok, record("&lol9;", "b").replace("&amp;lol9;", "&lol9;")), "SOP-330001")
    s.soap("billion laughs in element text",
           laughs + envelope("Ingest", "<urn:sessiontoken>&lol9;</urn:sessiontoken><urn:domDoc>%s</urn:domDoc>"
                             % good), "SOP-330001")
    xxe = '<?xml version="1.0"?>\n<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
    s.soap("external entity file:///etc/passwd in element text",
           xxe + envelope("Ingest", "<urn:sessiontoken>&xxe;</urn:sessiontoken><urn:domDoc>%s</urn:domDoc>" % good),
           "SOP-330001")
    s.soap("external entity file:///etc/passwd in an attribute",
           xxe + ingest_body(tok, '<sampleTableStg testcol1="&xxe;" xtkschema="dem:sampleTableStg"/>'),
           "SOP-330001")
    s.soap("external parameter entity",
           '<?xml version="1.0"?>\n<!DOCTYPE foo [ <!ENTITY % p SYSTEM "file:///etc/passwd"> %p; ]>\n'
           + ingest_body(tok, good), "SOP-330001")
    s.soap("DOCTYPE with an external DTD (SSRF)",
           '<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">' + ingest_body(tok, good), "SOP-330001")
    s.soap("lower-case doctype after a comment",
           '<!-- hi --><!doctype foo [<!entity x "y">]>' + ingest_body(tok, good), "SOP-330001")
    s.ingest("XInclude of /etc/passwd is not processed",
             '<sampleTableStg xmlns:xi="http://www.w3.org/2001/XInclude" testcol1="a" '
             'xtkschema="dem:sampleTableStg"><xi:include href="file:///etc/passwd" parse="text"/></sampleTableStg>',
             "STG-200008")

    # --- shape bombs
    depth = 10000
    s.ingest("depth bomb: 10 000 nested elements", "<a>" * depth + "</a>" * depth, "SOP-330001")
    s.ingest("depth bomb: 10 000 unclosed elements", "<a>" * depth, "SOP-330001")
    attrs = " ".join('a%d="%d"' % (i, i) for i in range(10000))
    s.ingest("attribute-count bomb: 10 000 attributes", '<sampleTableStg %s xtkschema="dem:sampleTableStg"/>' % attrs,
             "SOP-330001")
    s.ingest("attribute name of 500 000 characters",
             '<sampleTableStg %s="1" xtkschema="dem:sampleTableStg"/>' % ("n" * 500000), "STG-200003")
    s.ingest("record-count bomb: 100 001 records in one collection",
             '<sampleTableStg-collection xtkschema="dem:sampleTableStg">' + "<r/>" * 100001
             + "</sampleTableStg-collection>", "STG-200008")

    # --- encodings
    body = ingest_body(tok, good).encode()
    for label, bad in [("a 0xFF byte", b"\xff"), ("a lone continuation byte", b"\x80"),
                       ("an overlong '/' (C0 AF)", b"\xc0\xaf"), ("a UTF-16 surrogate (ED A0 80)", b"\xed\xa0\x80"),
                       ("a code point above U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"),
                       ("a truncated sequence (E2 82)", b"\xe2\x82")]:
        s.soap("invalid UTF-8: %s in a value" % label, body.replace(b'testcol1="x"', b'testcol1="x' + bad + b'"'),
               "SOP-330001")
    s.soap("invalid UTF-8: in an element name",
           body.replace(b"<sampleTableStg ", b"<sample\xffTableStg "), "SOP-330001")
    s.soap("declared encoding UTF-16 on UTF-8 bytes", b'<?xml version="1.0" encoding="UTF-16"?>' + body, "SOP-330001")
    s.soap("declared encoding EBCDIC", b'<?xml version="1.0" encoding="IBM037"?>' + body, "SOP-330001")
    s.soap("declared encoding name of invalid UTF-8 and control bytes (echoed in the fault)",
           b'<?xml version="1.0" encoding="\xff\x01\xfe"?>' + body, "SOP-330001")
    s.soap("SOAPAction with a non-UTF-8 byte (echoed in the fault)", body, "SOP-330002",
           action="xtk:session#Ingest\xff")
    for label, ref in [("&#0; (NUL)", "&#0;"), ("&#x0; (NUL, hex)", "&#x0;"), ("&#xD800; (surrogate)", "&#xD800;"),
                       ("&#x110000; (beyond Unicode)", "&#x110000;"), ("&#99999999999; (overflow)", "&#99999999999;"),
                       ("&#xFFFF; (noncharacter)", "&#xFFFF;")]:
        s.ingest("illegal character reference %s" % label,
                 '<sampleTableStg testcol1="a%sb" xtkschema="dem:sampleTableStg"/>' % ref, "SOP-330001")
    s.ingest("control character reference &#1; (refused, response stays well-formed)",
             '<sampleTableStg testcol1="a&#1;b" xtkschema="dem:sampleTableStg"/>', ("SOP-330001", "STG-200004"))
    s.soap("raw control character 0x01 in a value (refused, response stays well-formed)",
           body.replace(b'testcol1="x"', b'testcol1="x\x01y"'), ("SOP-330001", "STG-200004"))
    s.ingest("control character reference in _key (echoed in the fault)",
             '<sampleTableStg _key="@id&#7;" id="k" xtkschema="dem:sampleTableStg"/>', ("SOP-330001", "STG-200005"))
    s.ingest("control character reference in xtkschema (echoed in the fault)",
             '<sampleTableStg testcol1="a" xtkschema="dem:&#27;[31m"/>', ("SOP-330001", "STG-200001"))

    # --- sizes
    big = MAX_BODY + 1

    def too_large_with_length():
        data = ingest_body(tok, record("v" * big)).encode()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nSOAPAction: xtk:session#Ingest\r\n"
                "X-Security-Token: %s\r\nContent-Length: %d\r\n\r\n" % (ROUTER, c.security, len(data))).encode()
        return raw_exchange(c.port, head + data, timeout=30, sender_thread=True)

    def too_large_chunked():
        data = ingest_body(tok, record("v" * big)).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 65536]), data[i:i + 65536])
                          for i in range(0, len(data), 65536)) + b"0\r\n\r\n"
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nSOAPAction: xtk:session#Ingest\r\n"
                "X-Security-Token: %s\r\nTransfer-Encoding: chunked\r\n\r\n" % (ROUTER, c.security)).encode()
        return raw_exchange(c.port, head + chunks, timeout=30, sender_thread=True)

    def ten_mb_value():
        data = ingest_body(tok, record("v" * (10 << 20))).encode()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nSOAPAction: xtk:session#Ingest\r\n"
                "X-Security-Token: %s\r\nContent-Length: %d\r\n\r\n" % (ROUTER, c.security, len(data))).encode()
        return raw_exchange(c.port, head + data, timeout=30, sender_thread=True)

    s.case("body over max_body_bytes (Content-Length) -> 413", too_large_with_length, 413, None, None)
    s.case("body over max_body_bytes (chunked) -> 413", too_large_chunked, 413, None, None)
    s.case("10 MB attribute value over the body limit -> 413", ten_mb_value, 413, None, None)
    s.ingest("900 000-character attribute value under the body limit", record("w" * 900000), "STG-200004",
             check=lambda r, p: "testcol1" in (r.faultstring or "") or p.append("the fault does not name testcol1"))

    # --- SQL smuggled into names, keys and schema references
    s.ingest("SQL in an attribute name: 'testcol1;drop table x' (not XML)",
             '<sampleTableStg testcol1;drop table x="1" xtkschema="dem:sampleTableStg"/>', "SOP-330001")
    s.ingest("attribute-name breakout: a\" onerror=\"", '<sampleTableStg a" onerror="x" '
             'xtkschema="dem:sampleTableStg"/>', "SOP-330001")
    for name in ["sTestcol1", "uSampleTableId", "testcol1--", "iStgSeq", "iStgKey", "iStgOp", "iDelete",
                 "tsLastModified", "lastModified", "stgSeq", "TESTCOL1", "testcol1_", "x-testcol1", "ns:testcol1"]:
        s.ingest("SQL column / internal name as attribute: %s" % name,
                 '<sampleTableStg %s="1" xtkschema="dem:sampleTableStg" xmlns:ns="urn:x"/>' % name, "STG-200003")
    for key in ["@id; DROP TABLE DemSampleTableStg", "@id) DO NOTHING; --", "@testcol1", "@uSampleTableId",
                "@id,@id; --", "id' OR '1'='1"]:
        s.ingest("SQL in _key: %s" % key, '<sampleTableStg _key="%s" id="k1" testcol1="a" '
                 'xtkschema="dem:sampleTableStg"/>' % attr(key), "STG-200005")
    for schema in ["dem:sampleTableStg; DROP TABLE x", "dem:sampleTableStg'--", "../../etc", "../../etc/passwd",
                   "DemSampleTableStg", "dem:sampleTableStg\u0000", "xtk:operator", "xtk:session", "nms:unknown",
                   "dem:", ":sampleTableStg", "dem:sampleTableStg:extra", "sqlite_master", "pg_catalog:pg_user"]:
        shown = schema.replace("\u0000", "\\0")
        if "\u0000" in schema:
            value = attr(schema.replace("\u0000", "")) + "&#0;"
        else:
            value = attr(schema)
        code = "SOP-330001" if "\u0000" in schema else "STG-200001"
        s.ingest("xtkschema %r" % shown, '<sampleTableStg testcol1="a" xtkschema="%s"/>' % value, code)
    forged = "[2020-01-01 00:00:00.000] [stagebridge] [error] FORGED-LOG-LINE"

    def no_forged_log_line(reply, problems):
        with open(s.server.log_path, "rb") as f:
            if any(line.startswith(forged[:26].encode()) for line in f):
                problems.append("the server log holds a line forged by the request (newline echoed into the log)")

    s.ingest("log injection: a newline and a forged log line in _key",
             '<sampleTableStg _key="@id&#10;%s" id="k" xtkschema="dem:sampleTableStg"/>' % forged,
             "STG-200005", check=no_forged_log_line)
    s.ingest("missing xtkschema", '<sampleTableStg testcol1="a"/>', "STG-200008")
    s.ingest("empty xtkschema", '<sampleTableStg testcol1="a" xtkschema=""/>', "STG-200008")
    s.ingest("collection record with a foreign xtkschema (all-or-nothing)",
             '<sampleTableStg-collection xtkschema="dem:sampleTableStg"><sampleTableStg testcol1="ok"/>'
             '<sampleTableStg testcol1="x" xtkschema="xtk:operator"/></sampleTableStg-collection>', "STG-200001")
    s.ingest("_operation=delete on Ingest", '<sampleTableStg _operation="delete" _key="@id" id="z" '
             'xtkschema="dem:sampleTableStg"/>', "STG-200007")
    s.ingest("delete=\"1; DROP TABLE x\"", '<sampleTableStg delete="1; DROP TABLE x" testcol1="a" '
             'xtkschema="dem:sampleTableStg"/>', "STG-200007")
    s.ingest("id with a control character", '<sampleTableStg _key="@id" id="a&#9;&#1;b" '
             'xtkschema="dem:sampleTableStg"/>', ("SOP-330001", "STG-200004"))
    s.ingest("id of 256 characters", '<sampleTableStg _key="@id" id="%s" xtkschema="dem:sampleTableStg"/>'
             % ("i" * 256), "STG-200004")

    # --- values that do not fit
    names_testcol1 = (lambda r, p: "testcol1" in (r.faultstring or "")
                      or p.append("the fault does not name testcol1: %r" % r.faultstring))
    s.ingest("testcol1 of 256 characters", record("x" * 256), "STG-200004", check=names_testcol1)
    s.ingest("testcol1 of 256 multibyte characters", record("\u00e9" * 256), "STG-200004", check=names_testcol1)
    s.ingest("testcol1 of 256 four-byte characters", record("\U0001F600" * 256), "STG-200004", check=names_testcol1)
    s.ingest("collection: third record too long (all-or-nothing)",
             '<sampleTableStg-collection xtkschema="dem:sampleTableStg">%s%s%s</sampleTableStg-collection>'
             % (record("one"), record("two"), record("t" * 300)), "STG-200004", check=names_testcol1)

    # --- methods, actions and sessions
    s.soap("unknown method", envelope("DropAllTables", "<urn:sessiontoken>%s</urn:sessiontoken>" % tok),
           "SOP-330006", action="xtk:session#DropAllTables")
    s.soap("unknown method without SOAPAction", envelope("DropAllTables", ""), "SOP-330006", action=None)
    s.soap("unknown service", envelope("Execute", "<urn:sessiontoken>%s</urn:sessiontoken>" % tok, "urn:xtk:sql"),
           "SOP-330006", action="xtk:sql#Execute")
    s.soap("method name in the wrong case (ingest)", ingest_body(tok, good, "ingest"), "SOP-330006",
           action="xtk:session#ingest")
    for action in ["xtk:session#IngestExt", "xtk:session#Logon", "xtk:persist#Ingest",
                   "xtk:session#Ingest; DROP TABLE x", '"xtk:session#Ingest" extra', "not an action"]:
        s.soap("SOAPAction %r disagrees with the body <Ingest>" % action, ingest_body(tok, good), "SOP-330002",
               action=action)
    s.case("soapAction in the query disagrees with the body",
           lambda: c.post(ingest_body(tok, good), None, path=ROUTER + "?soapAction=xtk%3Asession%23IngestExt"),
           500, "SOP-330002", "SOAP-ENV:Client", b"IngestExt")
    for label, query in [("%00", "xtk%3Asession%23Ingest%00"), ("%FF", "xtk%3Asession%23Ingest%FF"),
                         ("%1B", "xtk%3Asession%23Ingest%1B%5B2J")]:
        s.case("soapAction query with %s (echoed in the fault)" % label,
               lambda q=query: c.post(ingest_body(tok, good), None, path=ROUTER + "?soapAction=" + q),
               500, "SOP-330002", "SOAP-ENV:Client", b"xtk:session#Ingest")
    s.soap("no session at all", ingest_body("", good), "XSV-350008", security=False)
    s.soap("session token without the security token", ingest_body(tok, good), "XSV-350008", security=False)
    s.soap("wrong security token", ingest_body(tok, good), "XSV-350008",
           headers={"X-Security-Token": "@" + "A" * 40})
    s.soap("security token of another shape (SQL)", ingest_body(tok, good), "XSV-350008",
           headers={"X-Security-Token": "' OR '1'='1"})
    s.soap("forged session token", ingest_body("___00000000-0000-4000-8000-000000000000", good), "XSV-350008")
    s.soap("session token with SQL", ingest_body("' OR 1=1; --", good), "XSV-350008")
    s.soap("session token of 100 000 characters", ingest_body("_" * 100000, good), "XSV-350008")
    s.soap("IngestExt without a session", ingest_body("", good, "IngestExt"), "XSV-350008",
           action="xtk:session#IngestExt", security=False)
    s.soap("GetUserInfo without a session", envelope("GetUserInfo", "<urn:sessiontoken/>"), "XSV-350008",
           action="xtk:session#GetUserInfo", security=False)
    s.soap("Logon with SQL in the login",
           envelope("Logon", "<urn:sessiontoken/><urn:strLogin>admin' OR '1'='1' --</urn:strLogin>"
                    "<urn:strPassword>%s</urn:strPassword><urn:elemParameters/>" % PASSWORD),
           "XSV-350012", action="xtk:session#Logon", security=False,
           check=lambda r, p: PASSWORD not in r.text or p.append("the fault repeats the password"))

    # --- HTTP level
    s.case("empty body", lambda: c.post(b""), 500, "SOP-330001", "SOAP-ENV:Client")
    s.case("whitespace-only body", lambda: c.post(b"  \r\n\t "), 500, "SOP-330001", "SOAP-ENV:Client")
    s.case("GET on the SOAP router -> 405",
           lambda: http_request(c.port, "GET", ROUTER + "?soapAction=xtk%3Asession%23Ingest"), 405, None, None)
    for method in ["PUT", "DELETE", "PATCH"]:
        s.case("%s on the SOAP router -> 405" % method,
               lambda m=method: http_request(c.port, m, ROUTER, ingest_body(tok, good).encode(),
                                             {"SOAPAction": "xtk:session#Ingest", "X-Security-Token": c.security}),
               405, None, None)
    s.case("GET of an unknown path -> 404", lambda: http_request(c.port, "GET", "/../../etc/passwd"), 404, None, None)
    s.case("WSDL of a hostile schema name -> 404",
           lambda: http_request(c.port, "GET", "/nl/jsp/schemawsdl.jsp?schema=%3Cscript%3E%27%3B%20DROP%20TABLE%20x"),
           404, None, None, b"<script>'; DROP TABLE x")

    def no_injection(reply, problems):
        try:
            root = ET.fromstring(reply.body)
        except ET.ParseError as e:
            problems.append("the WSDL is not well-formed: %s" % e)
            return
        if any(el.tag.endswith("evil") for el in root.iter()):
            problems.append("the Host header injected an element into the WSDL")

    s.case("WSDL with a hostile Host header (escaped, no injection)",
           lambda: http_request(c.port, "GET", "/nl/jsp/schemawsdl.jsp?schema=xtk:session",
                                headers={"Host": "x'\"><evil/><x a='"}),
           200, None, None, b"x'\"><evil/><x a='", check=no_injection)

    def half_header_close():
        s_ = socket.create_connection(("127.0.0.1", c.port), timeout=10)
        s_.sendall(b"POST /nl/jsp/soaprouter.jsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        s_.close()
        return Reply(None, b"")

    def truncated_body_close():
        data = ingest_body(tok, record("truncated")).encode()
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nSOAPAction: xtk:session#Ingest\r\nX-Security-Token: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (ROUTER, c.security, len(data))).encode()
        s_ = socket.create_connection(("127.0.0.1", c.port), timeout=10)
        s_.sendall(head + data[: len(data) // 2])
        s_.close()
        time.sleep(0.3)
        return Reply(None, b"")

    def stalled_connections():
        # 50 connections each stalled in the middle of a header: others are still served.
        socks = []
        try:
            for _ in range(50):
                s_ = socket.create_connection(("127.0.0.1", c.port), timeout=10)
                s_.sendall(b"POST /nl/jsp/soaprouter.jsp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                socks.append(s_)
            start = time.time()
            r = c.ingest(record("during-slowloris"))
            if time.time() - start > 5:
                return Reply(None, b"", "the Ingest took %.1f s while connections were stalled" % (time.time() - start))
            return r
        finally:
            for s_ in socks:
                s_.close()

    def junk_post():  # a body that is refused (SOP-330001) if read: it never writes
        return raw_exchange(c.port, ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
                                     % ROUTER).encode() + b"x" * 100)

    def inflight_budget():
        # Stalled bodies announcing MAX_BODY bytes each hold the whole in-flight
        # budget: a request with a body is then answered 503 unread.
        socks = []
        try:
            for _ in range(MAX_INFLIGHT // MAX_BODY):
                s_ = socket.create_connection(("127.0.0.1", c.port), timeout=10)
                s_.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n<"
                            % (ROUTER, MAX_BODY)).encode())
                socks.append(s_)
            deadline = time.time() + 10  # the server reads those headers on its own time
            while junk_post().status != 503 and time.time() < deadline:
                time.sleep(0.05)
            refused = c.ingest(record("beyond-the-budget"))
            ping = http_request(c.port, "GET", "/nl/jsp/ping.jsp")
            if ping.status != 200:
                return Reply(None, b"", "a GET without a body got %r while the budget was full" % ping)
            return refused
        finally:
            for s_ in socks:
                s_.close()
            deadline = time.time() + 10  # the closes give the budget back
            while junk_post().status == 503 and time.time() < deadline:
                time.sleep(0.05)

    s.case("bodies beyond the in-flight budget -> 503, nothing written", inflight_budget, 503, None, None,
           check=lambda r, p: "too many request bytes" in r.text or p.append("503 body: %r" % r.text))
    s.case("slowloris: half a header, then close", half_header_close, None, None, None)
    s.case("half a body, then close", truncated_body_close, None, None, None)
    s.case("slowloris: 50 stalled headers do not block a valid Ingest", stalled_connections, 200, None, None,
           writes=True)
    s.case("garbage bytes on a raw socket -> 400",
           lambda: raw_exchange(c.port, bytes(range(256)) * 16 + b"\r\n\r\n", half_close=True), 400, None, None)
    s.case("binary zeros on a raw socket -> 400",
           lambda: raw_exchange(c.port, b"\x00" * 4096 + b"\r\n\r\n", half_close=True), 400, None, None)
    s.case("TLS ClientHello on the plain-HTTP port -> 400 or close",
           lambda: raw_exchange(c.port, bytes.fromhex("16030100a5010000a10303") + b"\x00" * 160, half_close=True),
           (400, None), None, None)
    s.case("header over 16 KB -> 431",
           lambda: raw_exchange(c.port, b"GET /nl/jsp/ping.jsp HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
                                + b"\r\n\r\n"), (431, 400), None, None)
    s.case("negative Content-Length -> 400",
           lambda: raw_exchange(c.port, b"POST " + ROUTER.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                b"Content-Length: -5\r\n\r\n"), 400, None, None)
    s.case("Content-Length and Transfer-Encoding together (smuggling) -> 400",
           lambda: raw_exchange(c.port, b"POST " + ROUTER.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /nl/jsp/ping.jsp HTTP/1.1\r\n"
                                b"Host: x\r\n\r\n"), 400, None, None)
    s.case("bad chunk size -> 400",
           lambda: raw_exchange(c.port, b"POST " + ROUTER.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"), 400, None, None)


# ----------------------------------------------------------------------------- data that looks like SQL

SQLISH_VALUES = [
    "O'Brien; drop table x",
    "'); DROP TABLE DemSampleTableStg; --",
    "\"; DELETE FROM DemSampleTableStg WHERE 1=1; --",
    "Robert'); DROP TABLE Students;--",
    "1' OR '1'='1",
    "1 OR 1=1 /* comment */ -- trailing",
    "$1 $2 ? ?1 :name @p0 %s %d %n {} {0} {:>10}",
    "back\\slash \\' \\\" \\x00 \\n",
    "''", "'", "\"", ";", "--", "null", "NULL",
    "caf\u00e9 \u00fcn\u00efc\u00f8d\u00e9 \u2713 \u4e2d\u6587 \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4 "
    "\u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \U0001F600\U0001F389",
    "\u202eRTL override\u202c zero\u200bwidth \ufeffbom",
    "\uff24\uff32\uff2f\uff30\u3000\uff34\uff21\uff22\uff2c\uff25",  # full-width DROP TABLE
    "\u00e9" * 255,
    "\U0001F600" * 255,
    "\u4e2d" * 255,
    "x" * 255,
    "<script>alert(1)</script> & &amp; &lt; ]]> <![CDATA[x]]>",
    "line1\nline2\ttab\r\nCRLF",
    "  leading and trailing spaces  ",
]


def data_cases(s, c):
    # One record per call, generated uuid, read back by uuid.
    for value in SQLISH_VALUES:
        label = value if len(value) <= 40 else value[:37] + "..."
        problems = []
        r = c.ingest(record(value, "t2:" + value[:200]))
        uuid = returned_uuid(r)
        if not uuid:
            problems.append("Ingest refused the value: %r" % r)
        else:
            got = s.dbs.value_hex("sTestcol1", uuid)
            if got != value.encode("utf-8").hex():
                problems.append("stored %r, sent %r" % (bytes.fromhex(got).decode("utf-8", "replace")
                                                        if got else got, value))
            got2 = s.dbs.value_hex("sTestcol2", uuid)
            if got2 != ("t2:" + value[:200]).encode("utf-8").hex():
                problems.append("testcol2 stored differently")
        s.written(problems, 1 if uuid else 0)
        s.report("stored exactly: %r" % label, problems)

    # Caller-supplied ids that look like SQL, read back by id.
    for cid in ["x'); DROP TABLE DemSampleTableStg; --", "O'Brien", "1 OR 1=1", "\u00e9\U0001F600"]:
        problems = []
        r = c.ingest('<sampleTableStg _key="@id" id="%s" testcol1="by-id" xtkschema="dem:sampleTableStg"/>'
                     % attr(cid))
        if r.status != 200:
            problems.append("Ingest with the caller's id refused: %r" % r)
        elif s.dbs.value_hex("sTestcol1", cid) != b"by-id".hex():
            problems.append("no row with id %r" % cid)
        s.written(problems, 1 if r.status == 200 else 0)
        s.report("caller id stored exactly: %r" % cid, problems)

    # A collection: every value stored, ids in document order.
    problems = []
    values = ["O'Brien", "'); DROP TABLE x; --", "\u00e9\u00e8"]
    r = c.ingest('<sampleTableStg-collection xtkschema="dem:sampleTableStg">%s</sampleTableStg-collection>'
                 % "".join('<sampleTableStg testcol1="%s"/>' % attr(v) for v in values))
    m = re.search(r"<pstrSUuids xsi:type='xsd:string'>([^<]*)<", r.text)
    ids = m.group(1).split(",") if m and r.status == 200 else []
    if len(ids) != len(values):
        problems.append("collection refused or ids missing: %r" % r)
    for uuid, v in zip(ids, values):
        if s.dbs.value_hex("sTestcol1", uuid) != v.encode().hex():
            problems.append("collection value %r not stored exactly" % v)
    s.written(problems, len(ids))
    s.report("collection of SQL-looking values stored exactly", problems)

    # ISO-8859-1 body: stored as the same characters in UTF-8.
    problems = []
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + ingest_body(c.session, record("caf\u00e9 O'Brien"))
            ).encode("latin-1")
    r = c.post(body)
    uuid = returned_uuid(r)
    if not uuid:
        problems.append("ISO-8859-1 Ingest refused: %r" % r)
    elif s.dbs.value_hex("sTestcol1", uuid) != "caf\u00e9 O'Brien".encode().hex():
        problems.append("ISO-8859-1 value not stored as UTF-8")
    s.written(problems, 1 if uuid else 0)
    s.report("ISO-8859-1 body stored exactly", problems)


# ----------------------------------------------------------------------------- main

def main():
    if not BIN or not SRC:
        print("STAGEBRIDGE_BIN and STAGEBRIDGE_SOURCE_DIR must be set", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="sb-hostile-")
    dbs = Databases(BACKEND, work)
    servers = []
    suite = None
    try:
        base = [BIN, "--local-db", dbs.local_url, "--cloud-db", dbs.cloud_url,
                "--schemas-dir", os.path.join(SRC, "examples", "schemas")]
        subprocess.run(base + ["schema", "apply"], check=True, capture_output=True, timeout=120)
        subprocess.run(base + ["operator", "add", "admin", "--admin", "--password-stdin"], input=PASSWORD.encode(),
                       check=True, capture_output=True, timeout=60)
        server = Server(dbs, work, "server", ["--max-body-bytes", str(MAX_BODY),
                                              "--max-inflight-body-bytes", str(MAX_INFLIGHT)])
        servers.append(server)
        server.start()
        client = Client(server.port)
        client.logon()
        suite = Suite(dbs, server, client, work)
        hostile_cases(suite, client)

        # A 10 MB value under the body limit (a server with the default 32 MiB limit).
        big = Server(dbs, work, "server-32m", [])
        servers.append(big)
        big.start()
        big_client = Client(big.port)
        big_client.logon()
        big_suite = Suite(dbs, big, big_client, work)
        big_suite.ingest("10 MB attribute value under the body limit", record("v" * (10 << 20)), "STG-200004",
                         check=lambda r, p: "testcol1" in (r.faultstring or "") or p.append("fault does not name "
                                                                                             "testcol1"))
        big_suite.ingest("10 MB attribute name under the body limit",
                         '<sampleTableStg %s="1" xtkschema="dem:sampleTableStg"/>' % ("n" * (10 << 20)), "STG-200003")
        rc = big.stop()
        big_suite.report("the 32 MiB server stops cleanly on SIGTERM", [] if rc == 0 else ["exit status %s" % rc])
        suite.passed += big_suite.passed
        suite.failed += big_suite.failed
        suite.failures += big_suite.failures
        suite.counts = dbs.snapshot(suite.staging)[1]

        # Connections beyond the file-descriptor limit: the server caps client
        # connections below it (the open-file limit minus 128 kept for databases
        # and workflows), answers those over the cap 503 and closes them, without
        # spinning or flooding its log; workflow runs meanwhile still open their
        # databases (cleanup every second opens the cloud one); it serves once
        # the flood is gone.
        fd = Server(dbs, work, "server-fd256", ["--cleanup-schedule", "every 1s"], max_files=256)
        servers.append(fd)
        fd.start()
        fd_client = Client(fd.port)
        fd_client.logon()
        fd_suite = Suite(dbs, fd, fd_client, work)
        flood_size = 400
        flood_seen = {}

        def flood():
            socks = []
            log_from = os.path.getsize(fd.log_path)
            try:
                for _ in range(flood_size):
                    socks.append(socket.create_connection(("127.0.0.1", fd.port), timeout=5))
                busy = raw_exchange(fd.port, b"GET /nl/jsp/ping.jsp HTTP/1.1\r\nHost: x\r\n\r\n")  # one more
                flood_seen["busy"] = busy
                refused = 0
                others = []
                for sock in socks:
                    sock.setblocking(False)
                    try:
                        data = sock.recv(4096)
                    except BlockingIOError:
                        continue  # accepted and waiting for a request: still open
                    if data.startswith(b"HTTP/1.1 503"):
                        refused += 1
                    else:
                        others.append(data[:60])
                flood_seen["refused"] = refused
                flood_seen["others"] = others
                # Two cleanup runs at least while the flood holds its connections.
                deadline = time.time() + 15
                while time.time() < deadline:
                    with open(fd.log_path, "rb") as f:
                        f.seek(log_from)
                        if len(re.findall(rb"workflow cleanup run \d+ done", f.read())) >= 2:
                            break
                    time.sleep(0.2)
            finally:
                for sock in socks:
                    sock.close()
                with open(fd.log_path, "rb") as f:
                    f.seek(log_from)
                    flood_seen["log"] = f.read()
            return Reply(None, b"")

        def flood_outcome(reply, problems):
            log = flood_seen.get("log", b"")
            m = re.search(rb"at most (\d+) connections; open-file limit 256", open(fd.log_path, "rb").read())
            if not m:
                problems.append("the server did not log its connection limit under a 256-file limit")
                return
            cap = int(m.group(1))
            if not 0 < cap <= 256 - 64:
                problems.append("connection limit %d leaves too few descriptors under a 256-file limit" % cap)
            # Every connection over the cap is refused; one the server has not yet
            # seen closed (the logon's) may still hold a slot: a refusal or two more.
            want = flood_size - cap
            if not want <= flood_seen.get("refused", 0) <= want + 2:
                problems.append("%s connections answered 503, expected about %d (%d over the cap of %d)" %
                                (flood_seen.get("refused"), want, want, cap))
            if flood_seen.get("others"):
                problems.append("unexpected data on flood connections: %r" % flood_seen["others"][:3])
            busy = flood_seen.get("busy")
            if busy is None or busy.status != 503:
                problems.append("a connection over the cap got %r, expected HTTP 503" % (busy,))
            if log.count(b"accept failed") + log.count(b"connection limit reached") > 20:
                problems.append("the log repeats itself during the flood: %d lines" % log.count(b"\n"))
            if b"unable to open" in log or b"unavailable" in log:
                problems.append("a workflow run could not open its database during the flood: %r" %
                                re.findall(rb".*unavailable.*|.*unable to open.*", log)[:2])
            if len(re.findall(rb"workflow cleanup run \d+ done", log)) < 2:
                problems.append("cleanup did not run twice during the flood (every 1s)")
            if b"runtime error" in log or b"ERROR: AddressSanitizer" in log:
                problems.append("sanitizer report during the flood")

        fd_suite.case("%d connections against a 256 file-descriptor limit: 503 over the cap" % flood_size, flood,
                      None, None, None, check=flood_outcome)

        def fd_metrics(reply, problems):
            m = parse_metrics(reply, problems)
            cap = re.search(rb"at most (\d+) connections", open(fd.log_path, "rb").read())
            want = {'stagebridge_http_connections{kind="limit"}': float(cap.group(1)) if cap else -1}
            expect_metrics(m, want, problems)
            refused = m.get('stagebridge_http_refused_total{reason="connections"}', 0)
            if refused < flood_seen.get("refused", 0):
                problems.append("/metrics counts %s refused connections, the flood saw %s" %
                                (refused, flood_seen.get("refused")))
        fd_suite.case("/metrics counts the connections refused", lambda: http_request(fd.port, "GET", "/metrics"),
                      200, None, None, check=fd_metrics)
        rc = fd.stop()
        fd_suite.report("the fd-limited server stops cleanly on SIGTERM", [] if rc == 0 else ["exit status %s" % rc])
        suite.passed += fd_suite.passed
        suite.failed += fd_suite.failed
        suite.failures += fd_suite.failures
        suite.counts = dbs.snapshot(suite.staging)[1]

        data_cases(suite, client)

        def main_metrics(reply, problems):
            m = parse_metrics(reply, problems)
            counts = dbs.snapshot(suite.staging)[1]
            expect_metrics(m, {
                'stagebridge_http_inflight_body_bytes{kind="held"}': 0,
                'stagebridge_http_inflight_body_bytes{kind="limit"}': MAX_INFLIGHT,
                'stagebridge_staging_pending_rows{schema="dem:sampleTable"}': counts["demsampletablestg"],
            }, problems)
            for name in ('stagebridge_http_refused_total{reason="body_bytes"}',
                         'stagebridge_soap_requests_total{method="xtk:session#Ingest"}',
                         'stagebridge_soap_faults_total{method="xtk:session#Ingest"}',
                         'stagebridge_soap_faults_total{method="unknown"}',
                         'stagebridge_soap_request_duration_seconds_count', 'stagebridge_staged_records_total'):
                if m.get(name, 0) < 1:
                    problems.append("%s is %s after the hostile run" % (name, m.get(name)))
            if m.get('stagebridge_soap_faults_total{method="xtk:session#Ingest"}', 0) >= \
                    m.get('stagebridge_soap_requests_total{method="xtk:session#Ingest"}', 0):
                problems.append("every Ingest counted as a fault")
        suite.case("/metrics after the hostile run: calls, faults, refusals, pending rows",
                   lambda: http_request(server.port, "GET", "/metrics"), 200, None, None, check=main_metrics)

        def no_secret_in_logs(reply, problems):
            # Every request above carried the tokens; logons carried the password.
            secrets = {"the password": PASSWORD}
            for n, c_ in enumerate((client, big_client, fd_client)):
                secrets["session token %d" % n] = c_.session
                secrets["security token %d" % n] = c_.security
            for srv in (server, big, fd):
                with open(srv.log_path, "rb") as f:
                    log = f.read()
                if len(log) < 1000:
                    problems.append("%s: the log is nearly empty (%d bytes): nothing to check" %
                                    (srv.log_path, len(log)))
                for what, secret in secrets.items():
                    if secret and secret.encode() in log:
                        problems.append("%s holds %s" % (os.path.basename(srv.log_path), what))
        suite.case("no password or token in the server logs", lambda: Reply(None, b""), None, None, None,
                   check=no_secret_in_logs)

        rc = server.stop()
        suite.report("the server stops cleanly on SIGTERM", [] if rc == 0 else
                     ["exit status %s; log:\n%s" % (rc, server.log_tail())])
    except Exception as e:  # noqa: BLE001
        print("ERROR: %s: %s" % (type(e).__name__, e))
        for srv in servers:
            print(srv.log_tail())
        if suite is None:
            suite = type("S", (), {"passed": 0, "failed": 1, "failures": ["setup"]})()
        else:
            suite.failed += 1
    finally:
        for srv in servers:
            srv.stop()
        dbs.drop()
        if suite and suite.failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work directory kept: %s" % work)
    if suite.failures:
        print("failed cases:")
        for name in suite.failures:
            print("  - %s" % name)
    print("hostile[%s]: %d passed, %d failed" % (BACKEND, suite.passed, suite.failed))
    return 0 if suite.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
