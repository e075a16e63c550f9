#!/usr/bin/env python3
"""ratelimit_test.py BACKEND — per-operator rate limits (rate_limit_calls, rate_limit_burst)
end to end, against the real binary.

BACKEND is sqlite or postgres. Every case uses fresh databases (schema apply, operators
admin, amy and bob, the last two with the right to write dem:sampleTable) and a real
`stagebridge serve`.

  1. burst      a server with --rate-limit-calls 5 --rate-limit-burst 10. amy sends a burst
                of unitary Ingest calls from 6 keep-alive connections while bob sends 10:
                amy gets some 200s and some 429s — every 429 with `Retry-After` (an integer
                >= 1) and a SOP-330429 fault (faultcode SOAP-ENV:Server) naming amy and the
                limit —, no more 200s than the burst plus the rate over the time taken; bob
                gets 200 for every call (his own bucket); every accepted uuid is staged in
                DemSampleTableStg with its value, no refused call's value is, and the rows
                count the accepted calls exactly; a client announcing ACC-SDK-Version over
                the limit gets 429 too (not the 200 its other faults come with); after
                waiting Retry-After, amy's next call passes; /metrics counts amy's and bob's
                refusals in stagebridge_rate_limited_total{operator}.
  2. exempt     --rate-limit-calls 1 --rate-limit-burst 1: over the limit, Logoff and Logon
                still pass; Ingest is refused.
  3. off        the default (no limit): the same burst is accepted whole, every row staged;
                /metrics has no stagebridge_rate_limited_total sample.

Prints ok/FAIL per check and `ratelimit[BACKEND]: N passed, M failed`; exits 1 when anything
failed. Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, and for postgres
STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh). RL_CASES=burst,off runs a subset.
"""

import http.client
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import CaseDatabases, CaseError, Server, SoapClient, run_cases  # noqa: E402

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
PASSWORD = "rl-admin-pw"
OPERATORS = {"amy": "amy-pw", "bob": "bob-pw"}
ROUTER = "/nl/jsp/soaprouter.jsp"
RATE = 5
BURST = 10
CONNECTIONS = 6
CALLS_PER_CONNECTION = 15


# ----------------------------------------------------------------------------- helpers

class Reply:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers  # {lower-case name: [values]}
        self.text = text

    def header(self, name):
        values = self.headers.get(name.lower(), [])
        return values[0] if len(values) == 1 else None

    @property
    def faultstring(self):
        m = re.search(r"<faultstring[^>]*>([^<]*)</faultstring>", self.text)
        return m.group(1) if m else None

    @property
    def faultcode(self):
        m = re.search(r"<faultcode>([^<]*)</faultcode>", self.text)
        return m.group(1) if m else None

    @property
    def uuid(self):
        m = re.search(r"<pstrSUuids[^>]*>([0-9a-f-]{36})</pstrSUuids>", self.text)
        return m.group(1) if m else None

    def __repr__(self):
        return "HTTP %s %s %r" % (self.status, self.headers.get("retry-after"), self.text[-300:])


class Connection:
    """One keep-alive connection; posts SOAP calls with an operator's tokens."""

    def __init__(self, port, session, security, extra_headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.session = session
        self.security = security
        self.extra = extra_headers or {}

    def post(self, action, body):
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action,
                   "X-Security-Token": self.security, **self.extra}
        self.conn.request("POST", ROUTER, body.encode("utf-8"), headers)
        resp = self.conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        headers = {}
        for name, value in resp.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return Reply(resp.status, headers, text)

    def ingest(self, value):
        return self.post("xtk:session#Ingest", SoapClient.envelope(
            "urn:xtk:session", "Ingest", "<urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc><sampleTableStg "
            "xtkschema=\"dem:sampleTableStg\" testcol1=\"%s\"/></urn:domDoc>" % (self.session, value)))

    def logoff(self):
        return self.post("xtk:session#Logoff", SoapClient.envelope(
            "urn:xtk:session", "Logoff", "<urn:sessiontoken>%s</urn:sessiontoken>" % self.session))

    def close(self):
        self.conn.close()


def prepare(dbs):
    dbs.prepare(PASSWORD)
    for login, password in OPERATORS.items():
        r = dbs.cli(["operator", "add", login, "--schema", "dem:sampleTable", "--password-stdin"],
                    stdin=password + "\n")
        if r.returncode != 0:
            raise CaseError("operator add %s: %s" % (login, r.stderr[-300:]))


def logon(server, login):
    c = SoapClient(server.port)
    try:
        return c.logon(login, OPERATORS[login])
    finally:
        c.close()


def get_metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
    finally:
        conn.close()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# "):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|\+Inf|NaN)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return resp.status, out, text


def staged(dbs):
    """{testcol1: uuid} of every row in DemSampleTableStg."""
    return {r[1]: r[0] for r in dbs.query("SELECT uSampleTableId, sTestcol1 FROM DemSampleTableStg")}


def burst(port, login, tokens, tag, calls_per_connection=CALLS_PER_CONNECTION, connections=CONNECTIONS):
    """`connections` threads, each sending `calls_per_connection` Ingests as fast as answered:
    ([(value, Reply)], seconds from the first call sent to the last answer)."""
    results = []
    lock = threading.Lock()
    start = threading.Barrier(connections + 1)

    def worker(t):
        c = Connection(port, *tokens)
        mine = []
        try:
            start.wait()
            for i in range(calls_per_connection):
                value = "%s-%s-%d-%d" % (tag, login, t, i)
                mine.append((value, c.ingest(value)))
        except (OSError, http.client.HTTPException) as e:
            mine.append(("%s-%s-%d-error" % (tag, login, t), Reply(None, {}, "%s: %s" % (type(e).__name__, e))))
        finally:
            c.close()
            with lock:
                results.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(connections)]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.time()
    for th in threads:
        th.join()
    return results, time.time() - t0


# ----------------------------------------------------------------------------- cases

def case_burst(work, results, seed):
    n = "burst"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        prepare(dbs)
        server = Server(dbs, dbs.work, "server", ["--rate-limit-calls", str(RATE), "--rate-limit-burst", str(BURST)])
        server.start()
        amy, bob = logon(server, "amy"), logon(server, "bob")

        bob_results = []
        bob_thread = threading.Thread(target=lambda: bob_results.append(
            burst(server.port, "bob", bob, "b", calls_per_connection=BURST, connections=1)))
        bob_thread.start()
        amy_results, seconds = burst(server.port, "amy", amy, "a")
        bob_thread.join()
        bob_replies = bob_results[0][0]

        accepted = [(v, r) for v, r in amy_results if r.status == 200]
        refused = [(v, r) for v, r in amy_results if r.status == 429]
        other = [(v, r) for v, r in amy_results if r.status not in (200, 429)]
        results.check("%s: amy's burst of %d calls: some 200, some 429, nothing else" % (n, len(amy_results)),
                      accepted and refused and not other,
                      "%d accepted, %d refused, other %r" % (len(accepted), len(refused), other[:3]))
        most = BURST + RATE * seconds + 1
        results.check("%s: amy's accepted calls are within the burst plus the rate over %.2f s" % (n, seconds),
                      BURST <= len(accepted) <= most, "%d accepted, at most %.1f" % (len(accepted), most))
        bad = [r for _, r in accepted if not r.uuid or r.faultstring is not None]
        results.check("%s: every 200 carries its uuid and no fault" % n, not bad, repr(bad[:2]))
        want = ("SOP-330429 Too many calls: operator 'amy' may make %d calls per second (burst %d); retry after "
                % (RATE, BURST))
        bad = []
        for _, r in refused:
            ra = r.header("Retry-After")
            if (ra is None or not re.fullmatch(r"[1-9][0-9]*", ra) or r.faultcode != "SOAP-ENV:Server"
                    or not (r.faultstring or "").startswith(want)
                    or not (r.faultstring or "").endswith(" %s s." % ra)):
                bad.append(r)
        results.check("%s: every 429 has Retry-After >= 1 and the SOP-330429 server fault naming amy" % n,
                      not bad, repr(bad[:2]) if bad else refused[0][1].faultstring)
        results.check("%s: bob, calling meanwhile, is unaffected: %d calls, all 200" % (n, BURST),
                      len(bob_replies) == BURST and all(r.status == 200 and r.uuid for _, r in bob_replies),
                      repr([r for _, r in bob_replies if r.status != 200][:2]))

        rows = staged(dbs)
        want_rows = {v: r.uuid for v, r in accepted + bob_replies if r.status == 200}
        results.check("%s: every accepted uuid is staged with its value" % n,
                      all(rows.get(v) == u for v, u in want_rows.items()),
                      "%d missing" % sum(1 for v, u in want_rows.items() if rows.get(v) != u))
        written = [v for v, _ in refused if v in rows]
        results.check("%s: no refused call wrote anything; rows = accepted calls (%d)" % (n, len(want_rows)),
                      not written and len(rows) == len(want_rows),
                      "%d rows, %d accepted, refused but staged: %r" % (len(rows), len(want_rows), written[:3]))

        # acc-js-sdk gets its faults with HTTP 200, but a refusal with 429.
        sdk = Connection(server.port, *amy, extra_headers={"ACC-SDK-Version": "@adobe/acc-js-sdk 1.2.0"})
        sdk_refused = 0
        try:
            for i in range(BURST + 5):  # more than the bucket holds, whatever refilled meanwhile
                r = sdk.ingest("sdk-%d" % i)
                if r.status == 429:
                    sdk_refused += 1
                    results.check("%s: a client announcing ACC-SDK-Version over the limit gets 429 + Retry-After"
                                  % n, r.header("Retry-After") is not None and
                                  (r.faultstring or "").startswith("SOP-330429 "), repr(r))
                    break
                if r.status != 200:
                    raise CaseError("ACC-SDK-Version Ingest: %r" % r)
            else:
                results.check("%s: a client announcing ACC-SDK-Version over the limit gets 429" % n, False,
                              "never refused")

            # Waiting Retry-After is enough.
            retry = refused[-1][1].header("Retry-After") if refused else "1"
            r = sdk.ingest("sdk-probe")
            if r.status == 429:
                time.sleep(int(r.header("Retry-After")))
                r = sdk.ingest("sdk-after-wait")
                results.check("%s: after waiting Retry-After (%s s) the next call passes" % (n, retry),
                              r.status == 200 and r.uuid, repr(r))
            else:
                results.check("%s: after waiting Retry-After the next call passes" % n, False,
                              "the probe was not refused: %r" % r)
        finally:
            sdk.close()

        status, m, text = get_metrics(server.port)
        amy_refused = len(refused) + sdk_refused + 1  # the burst, the SDK's refusal, the probe
        want = {'stagebridge_rate_limited_total{operator="amy"}': amy_refused,
                'stagebridge_rate_limited_total{operator="bob"}': 0}
        results.check("%s: /metrics counts the refusals per operator" % n,
                      status == 200 and all(m.get(k) == v for k, v in want.items())
                      and "# TYPE stagebridge_rate_limited_total counter" in text,
                      "; ".join("%s = %s (want %s)" % (k, m.get(k), v) for k, v in want.items()))
        faults = m.get('stagebridge_soap_faults_total{method="xtk:session#Ingest"}', 0)
        results.check("%s: the refusals count as Ingest faults" % n, faults == amy_refused,
                      "%s faults, %d refusals" % (faults, amy_refused))
        log = open(server.log_path, encoding="utf-8", errors="replace").read()
        lines = [ln for ln in log.splitlines() if "over its rate limit" in ln]
        results.check("%s: refusals are logged at most once a second per operator, not once per call" % n,
                      0 < len(lines) < amy_refused or amy_refused == 1, "%d log lines for %d refusals: %r"
                      % (len(lines), amy_refused, lines[:2]))
    finally:
        if server:
            server.stop()
        dbs.drop()


def case_exempt(work, results, seed):
    n = "exempt"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        prepare(dbs)
        server = Server(dbs, dbs.work, "server", ["--rate-limit-calls", "1", "--rate-limit-burst", "1"])
        server.start()
        for attempt in range(3):  # each attempt must fit in the second the bucket takes to refill
            c = Connection(server.port, *logon(server, "amy"))
            try:
                t0 = time.time()
                first, second, off = c.ingest("x1-%d" % attempt), c.ingest("x2-%d" % attempt), c.logoff()
                if time.time() - t0 >= 0.9:
                    continue
            finally:
                c.close()
            results.check("%s: over the limit, Ingest is refused" % n, first.status == 200 and second.status == 429,
                          "%r / %r" % (first, second))
            results.check("%s: over the limit, Logoff passes" % n,
                          off.status == 200 and "<LogoffResponse" in off.text, repr(off))
            break
        else:
            raise CaseError("three calls never fitted in 0.9 s")
        session, _ = logon(server, "amy")  # raises unless 200
        results.check("%s: over the limit, Logon passes" % n, session.startswith("___"), session)
    finally:
        if server:
            server.stop()
        dbs.drop()


def case_off(work, results, seed):
    n = "off"
    dbs = CaseDatabases(BACKEND, os.path.join(work, n))
    server = None
    try:
        prepare(dbs)
        server = Server(dbs, dbs.work, "server", [])
        server.start()
        replies, _ = burst(server.port, "amy", logon(server, "amy"), "o")
        accepted = [(v, r) for v, r in replies if r.status == 200 and r.uuid]
        results.check("%s: no limit: all %d calls accepted" % (n, len(replies)),
                      len(accepted) == len(replies) == CONNECTIONS * CALLS_PER_CONNECTION,
                      repr([r for _, r in replies if r.status != 200][:2]))
        rows = staged(dbs)
        results.check("%s: every row staged" % n,
                      len(rows) == len(accepted) and all(rows.get(v) == r.uuid for v, r in accepted),
                      "%d rows for %d accepted" % (len(rows), len(accepted)))
        status, m, text = get_metrics(server.port)
        results.check("%s: /metrics has no rate-limit sample" % n,
                      status == 200 and not any(k.startswith("stagebridge_rate_limited_total") for k in m),
                      [k for k in m if "rate" in k])
    finally:
        if server:
            server.stop()
        dbs.drop()


CASES = [("burst", case_burst), ("exempt", case_exempt), ("off", case_off)]


def main():
    return run_cases("ratelimit", BACKEND, CASES, "RL")


if __name__ == "__main__":
    sys.exit(main())
