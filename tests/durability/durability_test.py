#!/usr/bin/env python3
"""durability_test.py BACKEND — every acknowledged write survives `kill -9`.

BACKEND is sqlite or postgres. On fresh databases (schema apply with
examples/schemas, operator admin), three rounds, each with its own timing:

  1. start `stagebridge serve`, log on;
  2. 16 keep-alive connections (http.client, one thread each) send unitary
     calls as fast as the server answers — 12 Ingest letting the server generate
     the uuid, 2 Ingest supplying their own id (`_key="@id"`), 2 IngestExt
     upserts cycling over 5 keys of their own with an increasing counter; a call
     is *acknowledged* when its answer is HTTP 200 with no fault (for generated
     ids: a uuid in pstrSUuids), and the id (or key and counter) is recorded;
  3. after at least MIN_ACKS acknowledgements (a different threshold and a
     random extra delay per round), SIGKILL the server in the middle of the load;
  4. restart it on the same databases, check it serves (ping, an Ingest), and
     read the staging table: every acknowledged id must be there, once, with the
     value that was sent, and every upserted key must hold its last acknowledged
     counter or a later one (a write whose answer was lost may have landed after
     it); on SQLite the file passes PRAGMA integrity_check. Rows present but never
     acknowledged (their answer was lost with the process) are allowed and reported.

Each round is bounded to about 20 s. Prints
`durability[BACKEND]: N passed, M failed`; exits 1 when anything failed.
Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, and for postgres
STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh sets it). Python 3 standard
library only; psql for postgres.
"""

import http.client
import os
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
BIN = os.environ.get("STAGEBRIDGE_BIN", "")
SRC = os.environ.get("STAGEBRIDGE_SOURCE_DIR", "")
PASSWORD = "durability-secret"
CONNECTIONS = 16
CALLER_ID_CONNECTIONS = 2  # of the 16, these supply their own id
UPSERT_CONNECTIONS = 2  # the next ones send IngestExt upserts
UPSERT_KEYS = 5  # keys per upserting connection
ROUND_SECONDS = 20  # hard bound of the load phase of a round
# Per round: (acknowledgements to wait for, extra random delay in seconds before the kill).
ROUNDS = [(300, 0.2), (1500, 0.5), (5000, 0.1)]
MIN_ACKS = 200  # fewer acknowledged calls before the kill makes the round meaningless
ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import Databases, Results, Server  # noqa: E402


def envelope(method, params):
    return ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="urn:xtk:session"><soapenv:Body><urn:%s>%s</urn:%s>'
            '</soapenv:Body></soapenv:Envelope>' % (ENV_NS, method, params, method))


def logon(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/nl/jsp/soaprouter.jsp",
                 envelope("Logon", "<urn:sessiontoken/><urn:strLogin>admin</urn:strLogin><urn:strPassword>%s"
                          "</urn:strPassword><urn:elemParameters/>" % PASSWORD),
                 {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "xtk:session#Logon"})
    text = conn.getresponse().read().decode()
    conn.close()
    return (re.search(r"<pstrSessionToken[^>]*>([^<]*)<", text).group(1),
            re.search(r"<pstrSecurityToken[^>]*>([^<]*)<", text).group(1))


class Load:
    """CONNECTIONS threads sending Ingest calls until the connection fails or stop is set."""

    def __init__(self, port, session, security, tag):
        self.port = port
        self.session = session
        self.security = security
        self.tag = tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}  # id → testcol1 sent
        self.upserted = {}  # key → last acknowledged counter (IngestExt)
        self.faults = []  # (thread, HTTP status, excerpt) of non-200 answers before the kill
        self.errors = 0  # connections that ended with a transport error (the kill)
        self.sent = 0
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(CONNECTIONS)]

    def start(self):
        for t in self.threads:
            t.start()

    def count(self):
        with self.lock:
            return len(self.acked)

    def run(self, index):
        caller_id = index < CALLER_ID_CONNECTIONS
        upsert = CALLER_ID_CONNECTIONS <= index < CALLER_ID_CONNECTIONS + UPSERT_CONNECTIONS
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "text/xml; charset=utf-8",
                   "SOAPAction": "xtk:session#IngestExt" if upsert else "xtk:session#Ingest",
                   "X-Security-Token": self.security}
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                value = "%s-c%02d-n%06d" % (self.tag, index, n)
                if upsert:
                    key = "up-%s-c%02d-k%d" % (self.tag, index, n % UPSERT_KEYS)
                    rec = ('<sampleTableStg _key="@id" id="%s" testcol1="%06d" testcol2="%s-up" '
                           'xtkschema="dem:sampleTableStg"/>' % (key, n, self.tag))
                    body = envelope("IngestExt", "<urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc>%s"
                                    "</urn:domDoc>" % (self.session, rec))
                    with self.lock:
                        self.sent += 1
                    conn.request("POST", "/nl/jsp/soaprouter.jsp", body, headers)
                    resp = conn.getresponse()
                    text = resp.read().decode("utf-8", "replace")
                    with self.lock:
                        if resp.status != 200 or "<SOAP-ENV:Fault>" in text or "IngestExtResponse" not in text:
                            self.faults.append((index, resp.status, text[-300:]))
                        else:
                            self.upserted[key] = n
                    continue
                if caller_id:
                    rec = ('<sampleTableStg _key="@id" id="id-%s" testcol1="%s" testcol2="%s" '
                           'xtkschema="dem:sampleTableStg"/>' % (value, value, self.tag))
                else:
                    rec = '<sampleTableStg testcol1="%s" testcol2="%s" xtkschema="dem:sampleTableStg"/>' % (
                        value, self.tag)
                body = envelope("Ingest", "<urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc>%s</urn:domDoc>"
                                % (self.session, rec))
                with self.lock:
                    self.sent += 1
                conn.request("POST", "/nl/jsp/soaprouter.jsp", body, headers)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                if resp.status != 200 or "<SOAP-ENV:Fault>" in text:
                    with self.lock:
                        self.faults.append((index, resp.status, text[-300:]))
                    continue
                if caller_id:
                    m = re.search(r"<pstrSUuids xsi:type='xsd:string'\s*/>|<pstrSUuids[^>]*></pstrSUuids>", text)
                    ident = "id-" + value if m else None
                else:
                    m = re.search(r"<pstrSUuids xsi:type='xsd:string'>([0-9a-f-]{36})</pstrSUuids>", text)
                    ident = m.group(1) if m else None
                with self.lock:
                    if ident is None:
                        self.faults.append((index, resp.status, "200 without the expected pstrSUuids: " + text[-200:]))
                    else:
                        self.acked[ident] = value
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.errors += 1
        finally:
            conn.close()

    def join(self, timeout):
        deadline = time.time() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.time()))
        return all(not t.is_alive() for t in self.threads)


def ping(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/nl/jsp/ping.jsp")
        r = conn.getresponse()
        ok = r.status == 200 and r.read().startswith(b"OK")
        conn.close()
        return ok
    except OSError:
        return False


def run_round(number, target_acks, extra_delay, dbs, server, results, rng):
    tag = "r%d-%d" % (number, os.getpid())
    name = "round %d" % number
    server.start()
    session, security = logon(server.port)
    load = Load(server.port, session, security, tag)
    started = time.time()
    load.start()
    while load.count() < target_acks and time.time() - started < ROUND_SECONDS - 3:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, extra_delay))
    acked_at_kill = load.count()
    server.kill9()
    killed_after = time.time() - started
    load.stop.set()
    results.check("%s: load threads end after the kill" % name, load.join(15))
    with load.lock:
        acked = dict(load.acked)
        upserted = dict(load.upserted)
        faults = list(load.faults)
        sent = load.sent
    results.check("%s: at least %d calls acknowledged before the kill" % (name, MIN_ACKS), len(acked) >= MIN_ACKS,
                  "%d acknowledged (%d at the kill signal), %d sent, killed after %.2f s, %d connection(s) cut "
                  "mid-request by the kill" % (len(acked), acked_at_kill, sent, killed_after, load.errors))
    results.check("%s: no fault during the load" % name, not faults,
                  "%d fault(s), first: %r" % (len(faults), faults[0]) if faults else "")

    # Restart on the same databases: it must come back and serve.
    try:
        server.start()
        restarted = ping(server.port)
        s2, k2 = logon(server.port)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/nl/jsp/soaprouter.jsp",
                     envelope("Ingest", "<urn:sessiontoken>%s</urn:sessiontoken><urn:domDoc><sampleTableStg "
                              'testcol1="after-restart" testcol2="%s-after" xtkschema="dem:sampleTableStg"/>'
                              "</urn:domDoc>" % (s2, tag)),
                     {"Content-Type": "text/xml", "SOAPAction": "xtk:session#Ingest", "X-Security-Token": k2})
        r = conn.getresponse()
        restarted = restarted and r.status == 200 and b"pstrSUuids" in r.read()
        conn.close()
    except Exception as e:  # noqa: BLE001
        restarted = False
        print("     restart error: %s: %s" % (type(e).__name__, e))
    results.check("%s: the server restarts on the same databases and serves" % name, restarted,
                  "" if restarted else server.log_tail())

    if dbs.backend == "sqlite":
        integrity = dbs.query("PRAGMA integrity_check")
        results.check("%s: the SQLite file passes integrity_check after the kill" % name,
                      integrity == [["ok"]], "" if integrity == [["ok"]] else repr(integrity[:5]))
    rows = dbs.query("SELECT uSampleTableId, sTestcol1 FROM DemSampleTableStg WHERE sTestcol2 = '%s'" % tag)
    stored = {}
    duplicates = 0
    for ident, value in rows:
        if ident in stored:
            duplicates += 1
        stored[ident] = value
    lost = [i for i in acked if i not in stored]
    wrong = [i for i in acked if i in stored and stored[i] != acked[i]]
    unacked = len([i for i in stored if i not in acked])
    results.check("%s: every acknowledged write survived kill -9" % name, not lost,
                  "%d acknowledged, %d lost%s" % (len(acked), len(lost),
                                                  (", e.g. %s" % lost[:5]) if lost else ""))
    results.check("%s: acknowledged rows hold the value sent, once" % name, not wrong and duplicates == 0,
                  "%d with another value, %d duplicate ids" % (len(wrong), duplicates))
    print("     %s: %d row(s) present but never acknowledged (answer lost with the process: allowed)"
          % (name, unacked))
    staged = dict(dbs.query("SELECT uSampleTableId, sTestcol1 FROM DemSampleTableStg WHERE sTestcol2 = '%s-up'"
                            % tag))
    behind = [(k, n, staged.get(k)) for k, n in upserted.items() if staged.get(k) is None or int(staged[k]) < n]
    results.check("%s: every acknowledged IngestExt upsert survived kill -9" % name, upserted and not behind,
                  "%d key(s) upserted and acknowledged, %d behind their last acknowledged value%s"
                  % (len(upserted), len(behind), (", e.g. %s" % behind[:3]) if behind else ""))
    server.stop()


def main():
    if not BIN or not SRC:
        print("STAGEBRIDGE_BIN and STAGEBRIDGE_SOURCE_DIR must be set", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="sb-durability-")
    dbs = Databases(BACKEND, work)
    server = Server(dbs, work, "server", [])
    results = Results()
    seed = int(os.environ.get("DURABILITY_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print("durability[%s]: seed %d (DURABILITY_SEED to replay the timings)" % (BACKEND, seed))
    try:
        base = [BIN, "--local-db", dbs.local_url, "--cloud-db", dbs.cloud_url,
                "--schemas-dir", os.path.join(SRC, "examples", "schemas")]
        subprocess.run(base + ["schema", "apply"], check=True, capture_output=True, timeout=120)
        subprocess.run(base + ["operator", "add", "admin", "--admin", "--password-stdin"], input=PASSWORD.encode(),
                       check=True, capture_output=True, timeout=60)
        for number, (target, delay) in enumerate(ROUNDS, 1):
            run_round(number, target + rng.randint(0, target // 2), delay, dbs, server, results, rng)
    except Exception as e:  # noqa: BLE001
        results.check("no unexpected error", False, "%s: %s\n%s" % (type(e).__name__, e, server.log_tail()))
    finally:
        server.stop()
        dbs.drop()
        if results.failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work directory kept: %s" % work)
    print("durability[%s]: %d passed, %d failed" % (BACKEND, results.passed, results.failed))
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
