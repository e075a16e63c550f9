#!/usr/bin/env python3
"""cluster_test.py — the scale-out deployment of scripts/cluster.sh survives its failures.

scripts/cluster.sh starts 3 `stagebridge serve` nodes sharing one local PostgreSQL
database (a private server this test can stop: sbtest.PgCluster) and one cloud
database (on $STAGEBRIDGE_TEST_PG_URL), with HAProxy in front checking
/nl/jsp/ping.jsp. Every node schedules ffdaReplicateStagingData every second
(lease_seconds 3, batch_rows 50: runs are long and often). In order:

  1. Logon through HAProxy; the session is valid on every node (GetUserInfo on each).
  2. Load through HAProxy (2 threads of unitary Ingest, 2 of unitary IngestExt
     upserts over keys of their own); calls land on every node (/metrics).
  3. kill -9 of a node under that load: HAProxy marks it down and routes around it
     (every call answered during the outage is a right answer; the clients see only
     connection errors or HAProxy's 502/503 for the calls in flight); the node is
     restarted on its port, HAProxy takes it back, calls land on it, the old session
     is valid on it.
  4. 30 000 rows staged with caller ids (one collection): the lease holder is killed in
     the middle of a run (its first batches in the cloud, 5 000 rows or more still to
     merge); another node
     takes over once the lease expired, the killed run is `interrupted`.
  5. pg_terminate_backend of every node's connections: each node reconnects (a few
     calls may get the database-unavailable faults STG-500001 / SOP-330500 meanwhile,
     nothing else).
  6. PostgreSQL (local) stopped: a call to a node is answered with a fault within
     5 s (not a hang); every node's ping.jsp answers 503 "ERROR …"; HAProxy marks
     every node down and answers 503 at once. PostgreSQL started again: the nodes
     come back (ping 200, HAProxy UP), calls succeed.
  7. The end: the load stops, the scheduled runs drain staging; every acknowledged
     Ingest is in the cloud with its value, every IngestExt key holds its last
     acknowledged value (or that of a later call whose answer was lost), the 30 000
     rows are in the cloud exactly (count and checksum; no run rejected a
     duplicate: exactly once); the run history never shows two runs at once (a
     sampler also counted the running runs all along), and several nodes ran them.

Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, STAGEBRIDGE_TEST_PG_URL
(scripts/with-postgres.sh), haproxy, psql, curl. Prints
`cluster[postgres]: N passed, M failed`; exits 1 when anything failed.
"""

import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import (BIN, SRC, CaseError, PgCluster, Results, SoapClient, file_tail, url_query,  # noqa: E402
                    wait_for)

SCHEDULE = {"REPLICATE_SCHEDULE": "every 1s", "UNSUBSCRIBE_SCHEDULE": "off", "CLEANUP_SCHEDULE": "off",
            "LEASE_SECONDS": "3", "BATCH_ROWS": "50"}
BULK_ROWS = 30000
# The faults of a call that found the local database unavailable (nothing written, retry later): the staging
# writer's, and the router's for a session check that could not read the session table.
UNAVAILABLE = ("fault STG-500001", "fault SOP-330500")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def http_get(port, path, timeout=10):
    """(status, body) of a GET on 127.0.0.1:port; (None, error) on a transport error."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, str(e)


class Cluster:
    """scripts/cluster.sh in the background, its CLUSTER_* variables, and its nodes (restartable on their ports)."""

    def __init__(self, work, local_pg, cloud_pg):
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STAGEBRIDGE_")}
        for key, value in SCHEDULE.items():
            self.env["STAGEBRIDGE_" + key] = value
        env_file = os.path.join(work, "cluster.env")
        self.log = open(os.path.join(work, "cluster.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(SRC, "scripts", "cluster.sh"), "--bin", BIN, "--nodes", "3",
                                      "--dir", os.path.join(work, "cluster"), "--pg-url", local_pg,
                                      "--cloud-pg-url", cloud_pg, "--env-file", env_file, "--log-level", "info",
                                      "--keep-databases"],
                                     env=self.env, stdout=self.log, stderr=self.log, start_new_session=True)
        if not wait_for(lambda: os.path.exists(env_file) or self.proc.poll() is not None, 180, 0.1) \
                or not os.path.exists(env_file):
            raise CaseError("cluster.sh did not come up: %s" % self.tail())
        self.vars = {}
        with open(env_file) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                self.vars[key] = shlex.split(value)[0] if value else ""
        self.haproxy = int(self.vars["CLUSTER_URL"].rsplit(":", 1)[1])
        self.ports = [int(p) for p in self.vars["CLUSTER_NODE_PORTS"].split()]
        self.pids = [int(p) for p in self.vars["CLUSTER_NODE_PIDS"].split()]
        self.own = {}  # node index -> Popen of a node this test restarted
        self.node_env = dict(self.env, STAGEBRIDGE_LOCAL_DB=self.vars["CLUSTER_LOCAL_DB"],
                             STAGEBRIDGE_CLOUD_DB=self.vars["CLUSTER_CLOUD_DB"],
                             STAGEBRIDGE_SCHEMAS_DIR=os.path.join(SRC, "examples", "schemas"),
                             STAGEBRIDGE_LOG_LEVEL="info")

    def tail(self, n=30):
        return file_tail(os.path.join(self.work, "cluster.log"), n)

    def node_log(self, i):
        return os.path.join(self.vars["CLUSTER_DIR"], "node%d.log" % (i + 1))

    def kill9(self, i):
        os.kill(self.pids[i], signal.SIGKILL)
        if i in self.own:
            self.own[i].wait()
        else:
            wait_for(lambda: not os.path.exists("/proc/%d" % self.pids[i]) or
                     open("/proc/%d/stat" % self.pids[i]).read().split()[2] == "Z", 10)

    def restart(self, i):
        """Starts node i again on its port (as cluster.sh started it); returns once it prints its address."""
        log = open(self.node_log(i), "ab")
        proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:%d" % self.ports[i], "--instance-name", "node%d" % (i + 1),
                                 "serve"], env=self.node_env, stdout=subprocess.PIPE, stderr=log)
        log.close()
        line = b""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith(b"listening on") or not line:
                break
        if not line.startswith(b"listening on"):
            raise CaseError("node %d did not restart: %r" % (i + 1, line))
        self.own[i] = proc
        self.pids[i] = proc.pid

    def stats(self):
        """{node index: HAProxy status ('UP', 'DOWN', …)}."""
        status, body = http_get(int(self.vars["CLUSTER_STATS_URL"].split(":")[2].split("/")[0]), "/stats;csv")
        out = {}
        for line in (body or "").splitlines() if status == 200 else []:
            f = line.split(",")
            if len(f) > 17 and f[0] == "nodes" and f[1].startswith("node"):
                out[int(f[1][4:]) - 1] = f[17].split()[0]
        return out

    def wait_status(self, i, want, timeout):
        return wait_for(lambda: self.stats().get(i) == want, timeout, 0.1)

    def calls(self, i, method):
        """The node's stagebridge_soap_requests_total for `method` (its /metrics); None when unreachable."""
        status, body = http_get(self.ports[i], "/metrics")
        if status != 200:
            return None
        m = re.search(r'^stagebridge_soap_requests_total\{method="%s"\} (\S+)$' % re.escape(method), body, re.M)
        return float(m.group(1)) if m else 0.0

    @staticmethod
    def gone(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split()[2] == "Z"
        except OSError:
            return True

    def stop(self):
        """SIGTERM to the nodes this test restarted, then to cluster.sh, which stops HAProxy and its own nodes
        (a run in progress ends after its batch and is recorded) and keeps the databases (--keep-databases).
        Returns (cluster.sh's exit status, the restarted nodes' statuses, whether every node and HAProxy are gone)."""
        statuses = {}
        for i, proc in self.own.items():
            if proc.poll() is None:
                proc.terminate()
            try:
                statuses[i] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                statuses[i] = proc.wait()
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait()
        self.log.close()
        pids = self.pids + [int(self.vars["CLUSTER_HAPROXY_PID"])]
        return rc, statuses, bool(wait_for(lambda: all(self.gone(p) for p in pids), 10, 0.1))

    def drop_databases(self):
        for url in (self.vars["CLUSTER_LOCAL_DB"], self.vars["CLUSTER_CLOUD_DB"]):
            base, name = url.rsplit("/", 1)
            try:
                url_query(base + "/postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            except Exception as e:  # noqa: BLE001 — the local server may be stopped already
                print("warning: could not drop %s: %s" % (name, e), file=sys.stderr)


class Load(threading.Thread):
    """Unitary calls through HAProxy as fast as answered; every outcome recorded with its time."""

    def __init__(self, port, session, security, kind, n):
        super().__init__(daemon=True)
        self.client = SoapClient(port, session, security, timeout=30)
        self.kind = kind
        self.n = n
        self.stop = threading.Event()
        self.acked = {}      # Ingest: uuid -> value; IngestExt: key -> [(value, acked)] in call order
        self.outcomes = []   # (time, 'ok' | 'transport' | 'http NNN' | 'fault CODE' | 'wrong …')
        self.counter = 0

    def run(self):
        while not self.stop.is_set():
            self.counter += 1
            value = "%s%d-%d" % (self.kind, self.n, self.counter)
            if self.kind == "ingest":
                r = self.client.ingest('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="%s" '
                                       'testcol2="load"/>' % value)
            else:
                key = "X%d-%d" % (self.n, self.counter % 50)
                r = self.client.ingest_ext('<sampleTableStg xtkschema="dem:sampleTableStg" _key="@id" id="%s" '
                                           'testcol1="%s"/>' % (key, value))
            now = time.time()
            if r.kind == "ok":
                if self.kind == "ingest":
                    if len(r.ids) == 1 and UUID.match(r.ids[0]):
                        self.acked[r.ids[0]] = value
                        self.outcomes.append((now, "ok"))
                    else:
                        self.outcomes.append((now, "wrong: %r" % r.text[-300:]))
                elif "IngestExtResponse" in r.text:
                    self.acked.setdefault(key, []).append((value, True))
                    self.outcomes.append((now, "ok"))
                else:
                    self.outcomes.append((now, "wrong: %r" % r.text[-300:]))
                continue
            if self.kind == "ingestext":
                self.acked.setdefault(key, []).append((value, False))  # may have landed: its answer was lost
            if r.kind == "fault":
                self.outcomes.append((now, "fault %s" % r.fault_code))
            elif r.status is None:
                self.outcomes.append((now, "transport"))
            else:
                self.outcomes.append((now, "http %d" % r.status))
            self.stop.wait(0.05)  # a client's back-off after an error, not a wait for a condition

    def ok_count(self):
        return sum(1 for _, o in self.outcomes if o == "ok")


def outcomes_between(loads, t0, t1):
    counts = {}
    for load in loads:
        for t, o in list(load.outcomes):
            if t0 <= t < t1:
                counts[o] = counts.get(o, 0) + 1
    return counts


def summary(counts):
    return ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


class RunSampler(threading.Thread):
    """Counts the runs of ffdaReplicateStagingData in status 'running' every 50 ms: never more than one."""

    def __init__(self, local_url):
        super().__init__(daemon=True)
        self.local_url = local_url
        self.stop = threading.Event()
        self.max_running = 0
        self.samples = 0

    def run(self):
        while not self.stop.is_set():
            try:
                rows = url_query(self.local_url, "SELECT count(*) FROM SbWorkflowRun WHERE sWorkflow = "
                                 "'ffdaReplicateStagingData' AND sStatus = 'running'")
                self.max_running = max(self.max_running, int(rows[0][0]))
                self.samples += 1
            except Exception:  # noqa: BLE001 — the database is stopped on purpose in step 6
                pass
            self.stop.wait(0.05)


def main():
    if not BIN or not SRC or not os.environ.get("STAGEBRIDGE_TEST_PG_URL"):
        print("needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR and STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh)",
              file=sys.stderr)
        return 2
    began = time.time()
    work = tempfile.mkdtemp(prefix="sb-cluster-test-")
    results = Results()
    check = results.check
    pg = PgCluster()
    cluster = None
    loads = []
    sampler = None
    try:
        pg.start()
        cluster = Cluster(work, pg.url, os.environ["STAGEBRIDGE_TEST_PG_URL"])
        local, cloud = cluster.vars["CLUSTER_LOCAL_DB"], cluster.vars["CLUSTER_CLOUD_DB"]
        sampler = RunSampler(local)
        sampler.start()

        # 1. One session, valid on every node.
        client = SoapClient(cluster.haproxy)
        session, security = client.logon("admin", "admin")
        for i, port in enumerate(cluster.ports):
            r = SoapClient(port, session, security).call("xtk:session", "GetUserInfo", "")
            check("1 the session from the Logon through HAProxy is valid on node %d" % (i + 1), r.kind == "ok", repr(r))

        # 2. Load through HAProxy lands on every node.
        loads = [Load(cluster.haproxy, session, security, kind, n)
                 for n, kind in enumerate(["ingest", "ingest", "ingestext", "ingestext"])]
        t_load = time.time()
        for load in loads:
            load.start()
        landed = wait_for(lambda: all((cluster.calls(i, "xtk:session#Ingest") or 0) >= 5 and
                                      (cluster.calls(i, "xtk:session#IngestExt") or 0) >= 5 for i in range(3)), 60, 0.2)
        check("2 Ingest and IngestExt calls through HAProxy land on every node (/metrics)", landed,
              "; ".join("node%d %s/%s" % (i + 1, cluster.calls(i, "xtk:session#Ingest"),
                                          cluster.calls(i, "xtk:session#IngestExt")) for i in range(3)))
        t_kill = time.time()
        quiet = outcomes_between(loads, t_load, t_kill)
        check("2 before any failure every call is answered right", set(quiet) == {"ok"}, summary(quiet))

        # 3. kill -9 of node 2 under load.
        cluster.kill9(1)
        down = cluster.wait_status(1, "DOWN", 15)
        t_down = time.time()
        check("3 HAProxy marks the killed node down (%.1f s)" % (t_down - t_kill), down, repr(cluster.stats()))
        acks_at_down = sum(load.ok_count() for load in loads)
        more = wait_for(lambda: sum(load.ok_count() for load in loads) >= acks_at_down + 40, 30, 0.1)
        t_restart = time.time()
        check("3 the load goes on through the two other nodes", more)
        during = outcomes_between(loads, t_kill, t_restart)
        bad = {k: v for k, v in during.items() if k not in ("ok", "transport", "http 502", "http 503")}
        check("3 around the kill the clients see answers that are right, or connection errors / HAProxy 502/503",
              not bad, summary(during))
        after_down = outcomes_between(loads, t_down + 1, t_restart)
        check("3 once the node is marked down every call is answered right", set(after_down) <= {"ok"},
              summary(after_down))
        cluster.restart(1)
        check("3 HAProxy takes the restarted node back", cluster.wait_status(1, "UP", 20), repr(cluster.stats()))
        check("3 calls land on the restarted node",
              wait_for(lambda: (cluster.calls(1, "xtk:session#Ingest") or 0) >= 5, 30, 0.2))
        r = SoapClient(cluster.ports[1], session, security).call("xtk:session", "GetUserInfo", "")
        check("3 the session of before the kill is valid on the restarted node", r.kind == "ok", repr(r))

        # 4. The lease holder killed in the middle of a long run; another node takes over.
        # One collection, one commit: the next run claims every row at once (a run merges what was staged
        # when it started), so a run caught half-way still has thousands of them to merge.
        bulk = SoapClient(cluster.haproxy, session, security)
        records = "".join('<sampleTableStg id="B-%06d" testcol1="bulk %d" testcol2="v%d"/>' % (k, k, k * 7)
                          for k in range(BULK_ROWS))
        r = bulk.ingest('<sampleTableStg-collection xtkschema="dem:sampleTableStg" _key="@id">%s'
                        '</sampleTableStg-collection>' % records)
        if r.kind != "ok":
            raise CaseError("the bulk collection was not acknowledged: %r" % r)
        check("4 %d rows staged with caller ids (one collection through HAProxy)" % BULK_ROWS, True)

        def running_with_progress():
            rows = url_query(local, "SELECT iRunId, sHolder FROM SbWorkflowRun WHERE sWorkflow = "
                             "'ffdaReplicateStagingData' AND sStatus = 'running'")
            if not rows:
                return None
            merged = int(url_query(cloud, "SELECT count(*) FROM DemSampleTable WHERE uSampleTableId LIKE 'B-%'")[0][0])
            staged = int(url_query(local, "SELECT count(*) FROM DemSampleTableStg WHERE uSampleTableId LIKE 'B-%'")
                         [0][0])
            # Caught when the run has committed batches and a good part is still to merge.
            return (int(rows[0][0]), rows[0][1], merged, staged) if 0 < merged <= BULK_ROWS - 5000 else None

        caught = wait_for(running_with_progress, 60, 0.05)
        if not caught:
            raise CaseError("no run caught in the middle of the bulk rows")
        run_id, holder, merged, staged = caught
        holder_pid = int(holder.split(":")[-2])  # host:pid:nonce
        if holder_pid not in cluster.pids:
            raise CaseError("the lease holder %s is not a node (%r)" % (holder, cluster.pids))
        victim = cluster.pids.index(holder_pid)
        t_holder_kill = time.time()
        cluster.kill9(victim)
        check("4 the lease holder, node %d, killed in run %d (%d bulk rows merged, %d still staged)"
              % (victim + 1, run_id, merged, staged), True)

        def successor():
            rows = url_query(local, "SELECT iRunId, sHolder, iStart FROM SbWorkflowRun WHERE sWorkflow = "
                             "'ffdaReplicateStagingData' AND iRunId > %d AND sHolder <> '%s' ORDER BY iRunId LIMIT 1"
                             % (run_id, holder))
            return rows[0] if rows else None

        took = wait_for(successor, 30, 0.1)
        t_took = time.time()
        check("4 another node takes over (%.1f s after the kill; lease 3 s)" % (t_took - t_holder_kill), took, repr(took))
        if took:
            check("4 not before the lease expired (the new run started at least 1 s after the kill)",
                  int(took[2]) >= int(t_holder_kill) + 1, "kill at %d, new run at %s" % (t_holder_kill, took[2]))
        status = url_query(local, "SELECT sStatus FROM SbWorkflowRun WHERE iRunId = %d" % run_id)[0][0]
        check("4 the killed run is recorded interrupted", status == "interrupted", status)
        cluster.restart(victim)
        check("4 the killed holder restarts and is taken back", cluster.wait_status(victim, "UP", 20))

        # 5. Every node's PostgreSQL connections dropped: each reconnects.
        t_term = time.time()
        killed = url_query(local, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                           "application_name = 'stagebridge' AND pid <> pg_backend_pid()")[0][0]
        check("5 pg_terminate_backend of every node connection (%s)" % killed, int(killed) >= 3)

        def each_node_serves():
            for i, port in enumerate(cluster.ports):
                r = SoapClient(port, session, security).ingest(
                    '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="after-terminate" testcol2="n%d"/>' % i)
                if r.kind != "ok":
                    return None
            return True

        check("5 every node serves an Ingest again after losing its connections", wait_for(each_node_serves, 30, 0.2))
        t_term_end = time.time()
        around = outcomes_between(loads, t_term, t_term_end)
        bad = {k: v for k, v in around.items() if k not in ("ok", "transport", "http 502", "http 503") + UNAVAILABLE}
        check("5 meanwhile the clients see answers, or the database-unavailable faults", not bad, summary(around))

        # 6. The local PostgreSQL stopped: clear faults and 503, fast; then back.
        t_stop = time.time()
        pg.stop("fast")
        probe = SoapClient(cluster.ports[0], session, security, timeout=30)
        t0 = time.time()
        r = probe.ingest('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="while-down" testcol2="x"/>')
        took_s = time.time() - t0
        check("6 with the database stopped an Ingest gets a fault within 5 s (%.2f s: %s)" % (took_s, r.fault_code),
              r.kind == "fault" and took_s < 5 and r.fault_code is not None, repr(r))
        check("6 the fault says the staging database is unavailable", "SOAP-ENV:Server" in r.text and
              "unavailable" in r.text.lower(), r.text[-400:])

        def pings_down():
            answers = [http_get(p, "/nl/jsp/ping.jsp", 5) for p in cluster.ports]
            return answers if all(s == 503 and b.startswith("ERROR") for s, b in answers) else None

        answers = wait_for(pings_down, 10, 0.1)
        check("6 every node's ping.jsp answers 503 ERROR (%.1f s after the stop)" % (time.time() - t_stop),
              answers, repr(answers[0] if answers else [http_get(p, "/nl/jsp/ping.jsp", 5) for p in cluster.ports]))
        all_down = wait_for(lambda: all(cluster.stats().get(i) == "DOWN" for i in range(3)), 15, 0.1)
        check("6 HAProxy marks every node down (%.1f s after the stop)" % (time.time() - t_stop), all_down,
              repr(cluster.stats()))
        t0 = time.time()
        status, _ = http_get(cluster.haproxy, "/nl/jsp/ping.jsp", 10)
        check("6 HAProxy then answers 503 at once (%.2f s)" % (time.time() - t0), status == 503 and
              time.time() - t0 < 2, str(status))
        t_start = time.time()
        pg.start()

        def pings_up():
            return all(http_get(p, "/nl/jsp/ping.jsp", 5)[0] == 200 for p in cluster.ports)

        check("6 PostgreSQL back: every ping.jsp answers 200 again", wait_for(pings_up, 30, 0.1))
        check("6 HAProxy takes every node back (%.1f s after the start)" % (time.time() - t_start),
              wait_for(lambda: all(cluster.stats().get(i) == "UP" for i in range(3)), 30, 0.1), repr(cluster.stats()))
        check("6 calls succeed again on every node", wait_for(each_node_serves, 30, 0.2))
        acks_back = sum(load.ok_count() for load in loads)
        check("6 the load through HAProxy is answered again",
              wait_for(lambda: sum(load.ok_count() for load in loads) >= acks_back + 40, 30, 0.1))
        t_back = time.time()
        outage = outcomes_between(loads, t_stop, t_back)
        bad = {k: v for k, v in outage.items() if k not in ("ok", "transport", "http 502", "http 503") + UNAVAILABLE}
        check("6 during the outage the clients see right answers, 503s, or the unavailable faults (no wrong answer)",
              not bad, summary(outage))
        wrong_session = sum(v for k, v in outage.items() if k.startswith("fault XSV-3500"))
        check("6 no call was told its session is invalid", wrong_session == 0, summary(outage))

        # 7. Drain, then compare the cloud with every acknowledged write.
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(60)
        everything = outcomes_between(loads, 0, time.time() + 1)
        wrong = {k: v for k, v in everything.items() if k.startswith("wrong")}
        check("7 no call was ever answered wrong (%d calls)" % sum(everything.values()), not wrong, summary(everything))
        drained = wait_for(lambda: int(url_query(local, "SELECT count(*) FROM DemSampleTableStg")[0][0]) == 0, 120, 0.2)
        check("7 the scheduled runs drain staging", drained)
        cloud_rows = {r[0]: r[1] for r in url_query(cloud, "SELECT uSampleTableId, sTestcol1 FROM DemSampleTable")}
        ingested = {}
        for load in loads:
            if load.kind == "ingest":
                ingested.update(load.acked)
        missing = [u for u, v in ingested.items() if cloud_rows.get(u) != v]
        check("7 every acknowledged Ingest (%d) is in the cloud with its value" % len(ingested), not missing,
              repr(missing[:5]))
        keys_bad = []
        nkeys = 0
        for load in loads:
            if load.kind != "ingestext":
                continue
            for key, calls in load.acked.items():
                acked = [i for i, (_, a) in enumerate(calls) if a]
                if not acked:
                    continue
                nkeys += 1
                allowed = {v for v, _ in calls[acked[-1]:]}
                if cloud_rows.get(key) not in allowed:
                    keys_bad.append((key, cloud_rows.get(key), sorted(allowed)))
        check("7 every IngestExt key (%d) holds its last acknowledged value (or a later unanswered one)" % nkeys,
              not keys_bad and nkeys > 0, repr(keys_bad[:5]))
        sums = url_query(cloud, "SELECT count(*), md5(string_agg(uSampleTableId || '|' || sTestcol1 || '|' || sTestcol2,"
                         " ',' ORDER BY uSampleTableId)) FROM DemSampleTable WHERE uSampleTableId LIKE 'B-%'")[0]
        want = ",".join("B-%06d|bulk %d|v%d" % (k, k, k * 7) for k in range(BULK_ROWS))
        check("7 the %d bulk rows are in the cloud exactly (count %s, checksum)" % (BULK_ROWS, sums[0]),
              int(sums[0]) == BULK_ROWS and sums[1] == hashlib.md5(want.encode()).hexdigest(), repr(sums))
        rejected = url_query(local, "SELECT coalesce(sum(s.iRejected), 0) FROM SbWorkflowRunSchema s JOIN SbWorkflowRun r "
                             "USING (iRunId) WHERE r.sWorkflow = 'ffdaReplicateStagingData'")[0][0]
        check("7 exactly once: no run rejected a row as already in the cloud", int(rejected) == 0, rejected)
        rc, statuses, gone = cluster.stop()
        check("7 cluster.sh stops on SIGTERM (exit %d), and with it HAProxy and every node it started" % rc,
              rc in (0, 143) and gone)
        check("7 the restarted nodes stop cleanly on SIGTERM", all(s == 0 for s in statuses.values()), repr(statuses))
        runs = url_query(local, "SELECT iRunId, sHolder, iStart, iEnd, sStatus FROM SbWorkflowRun WHERE sWorkflow = "
                         "'ffdaReplicateStagingData' ORDER BY iStart, iRunId")
        overlaps = [(a, b) for a, b in zip(runs, runs[1:]) if int(a[3] or 0) and int(b[2]) < int(a[3])]
        unfinished = [r for r in runs if r[4] == "running"]
        check("7 the history (%d runs) shows no run starting before the previous one ended" % len(runs),
              not overlaps and len(runs) >= 5, repr(overlaps[:3]))
        check("7 no run is left running once the nodes stopped", not unfinished, repr(unfinished))
        holders = {r[1] for r in runs}
        check("7 the runs were made by several nodes (%d holders)" % len(holders), len(holders) >= 2)
        sampler.stop.set()
        sampler.join(5)
        check("7 never two runs at once (%d samples of the running runs)" % sampler.samples,
              sampler.max_running <= 1 and sampler.samples >= 20, "max %d" % sampler.max_running)
        cluster.drop_databases()
        cluster = None
        logs = ""
        for name in sorted(os.listdir(os.path.join(work, "cluster"))):
            if name.endswith(".log"):
                with open(os.path.join(work, "cluster", name), "rb") as f:
                    logs += f.read().decode("utf-8", "replace")
        check("7 no sanitizer report in the node logs", "Sanitizer" not in logs and "runtime error" not in logs)
    except CaseError as e:
        check("the scenario ran to its end", False, str(e))
    except Exception as e:  # noqa: BLE001
        check("no unexpected error", False, "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()[-2000:]))
    finally:
        for load in loads:
            load.stop.set()
        if sampler:
            sampler.stop.set()
        if cluster is not None:
            print(cluster.tail())
            cluster.stop()
            cluster.drop_databases()
        pg.close()
    if results.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: %s" % work)
    print("cluster[postgres]: %d passed, %d failed (%.0f s)" % (results.passed, results.failed, time.time() - began))
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
