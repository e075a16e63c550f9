#!/usr/bin/env python3
"""sync_test.py BACKEND — the staging → cloud sync (ffdaReplicateStagingData) end to end.

BACKEND is sqlite or postgres (the local database; the cloud database is on the same
backend, except in the outage case where it is a private PostgreSQL server the test
stops and starts). Every case uses fresh databases, a real `stagebridge serve`, SOAP
calls, and `stagebridge workflow run|history`; each asserts what a user would check:
the cloud rows against the state the test computes from the calls that were
acknowledged, an empty staging table after the last run, and the history's figures.

  1. semantics     insert, partial update, delete, update after delete, delete after
                   update, repeated updates, collections (all-or-nothing), duplicate
                   Ingest rejected (figures, the rejection names the id, row unchanged).
  2. concurrency   writer threads (Ingest / IngestExt / deletes, each on its own keys)
                   while `workflow run`, StartReplicateStagingData and the server's
                   "every 1s" schedule merge; the cloud ends equal to the last
                   acknowledged state of every key; Σinserted − Σdeleted = rows.
  3. crash         for every crash point (STAGEBRIDGE_CRASH_AT), and two double crashes:
                   stage inserts/updates/deletes (batches of 7), run killed by SIGKILL,
                   more writes, run again: exact cloud, staging empty, rejected = 0,
                   the killed run(s) "interrupted" in the history.
  4. outage        cloud PostgreSQL stopped (immediate): the run ends in error naming the
                   cloud, writes are still acknowledged, the next run after the restart
                   converges; the cloud stopped in the middle of a long run: clean error,
                   then convergence, and Σinserted over the runs = rows inserted.
  5. multiprocess  two servers on one local database (schedule "every 1s") and CLI runs:
                   runs never overlap (history intervals, and `--no-wait` refused while a
                   run is seen running before and after), Σinserted = distinct keys,
                   exact cloud.
  6. refused       the cloud refuses the 2nd batch of a run (a trigger raising on one row):
                   run in error, batch 1 kept, batch 2 staged and not counted in the
                   figures; the next run merges it; figures summed = the changes once.
  7. takeover      a run frozen (SIGSTOP) mid-way loses its lease, another run takes over,
                   the frozen one resumes: every row once, Σinserted = rows, no "running".

Prints `sync[BACKEND]: N passed, M failed`; exits 1 when anything failed. Needs
STAGEBRIDGE_BIN (a build with fault injection), STAGEBRIDGE_SOURCE_DIR, and for
postgres STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh). SYNC_CASES=semantics,crash
runs a subset; SYNC_SEED replays the random choices.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import (  # noqa: E402
    BIN, CaseDatabases, CaseError, PgCluster, Server, SoapClient, run_cases, schema_figures,
    wait_for, workflow_json)

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
WF = "ffdaReplicateStagingData"
SCHEMA = "dem:sampleTable"
PASSWORD = "sync-secret"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CRASH_POINTS = ["leftovers", "watermark", "loaded", "merged", "committed", "clearing", "cleared"]


# ----------------------------------------------------------------------------- payloads

def attrs(key=None, c1=None, c2=None, op=None, delete_attr=None):
    out = []
    if op:
        out.append('_operation="%s"' % op)
    if key is not None:
        out.append('_key="@id" id="%s"' % key)
    if delete_attr:
        out.append('delete="%s"' % delete_attr)
    if c1 is not None:
        out.append('testcol1="%s"' % c1)
    if c2 is not None:
        out.append('testcol2="%s"' % c2)
    return " ".join(out)


def record(**kw):
    return '<sampleTableStg %s xtkschema="dem:sampleTableStg"/>' % attrs(**kw)


def collection(members):
    """members: list of attrs(...) strings (or raw attribute text)."""
    return ('<sampleTableStg-collection xtkschema="dem:sampleTableStg">%s</sampleTableStg-collection>'
            % "".join("<sampleTableStg %s/>" % m for m in members))


# ----------------------------------------------------------------------------- expected state

class Model:
    """The cloud rows the acknowledged calls ask for, applied in order: id → (testcol1, testcol2)."""

    def __init__(self):
        self.rows = {}
        self.unknown = set()  # keys with a call that got no answer: their state is not asserted
        self.unknown_values = set()  # testcol1 of generated-id Ingests that got no answer
        self.lock = threading.Lock()

    def insert(self, key, c1, c2):
        with self.lock:
            self.rows[key] = (c1, c2)

    def upsert(self, key, c1=None, c2=None):
        with self.lock:
            old = self.rows.get(key, (None, None))
            self.rows[key] = (old[0] if c1 is None else c1, old[1] if c2 is None else c2)

    def delete(self, key):
        with self.lock:
            self.rows.pop(key, None)

    def taint(self, key):
        with self.lock:
            self.unknown.add(key)

    def present(self, key):
        with self.lock:
            return key in self.rows


def cloud_rows(dbs):
    rows = dbs.cloud_query("SELECT uSampleTableId, sTestcol1, sTestcol2 FROM DemSampleTable")
    out = {}
    dups = []
    for ident, c1, c2 in rows:
        if ident in out:
            dups.append(ident)
        out[ident] = (c1, c2)
    return out, dups


def staged_count(dbs):
    return int(dbs.query("SELECT COUNT(*) FROM DemSampleTableStg")[0][0])


def compare_cloud(dbs, model):
    """(ok, detail): the cloud table equals the model, unknown keys aside."""
    cloud, dups = cloud_rows(dbs)
    with model.lock:
        expected = {k: v for k, v in model.rows.items() if k not in model.unknown}
        unknown = set(model.unknown)
        unknown_values = set(model.unknown_values)
    actual = {k: v for k, v in cloud.items() if k not in unknown and v[0] not in unknown_values}
    missing = sorted(k for k in expected if k not in actual)
    extra = sorted(k for k in actual if k not in expected)
    wrong = sorted(k for k in expected if k in actual and actual[k] != expected[k])
    ok = not missing and not extra and not wrong and not dups
    detail = "%d expected row(s), %d in the cloud" % (len(expected), len(cloud))
    if unknown:
        detail += ", %d key(s) with an unanswered call not asserted" % len(unknown)
    if not ok:
        detail += "; missing %d %s; extra (lost delete or unacknowledged) %d %s; wrong %d %s; duplicate ids %s" % (
            len(missing), missing[:5], len(extra), extra[:5], len(wrong),
            ["%s: expected %s, got %s" % (k, expected[k], actual[k]) for k in wrong[:5]], dups[:5])
    return ok, detail


# ----------------------------------------------------------------------------- workflow CLI

def run_workflow(dbs, settings=None, extra=None, schema=SCHEMA):
    """`workflow run ffdaReplicateStagingData [--schema S] --json`: (returncode, run dict or None, stderr)."""
    args = ["workflow", "run", WF, "--json"] + (["--schema", schema] if schema else []) + (extra or [])
    return workflow_json(dbs, args, settings)


def figures(run, schema=SCHEMA):
    return schema_figures(run, schema)


def short(r):
    """One line for a SoapCall in a report."""
    if r.kind == "fault":
        return "fault %s" % r.fault_code
    if r.kind == "ok":
        return "ok" + (" %s" % r.ids if r.ids else "")
    return repr(r)


def fig_text(f):
    return "staged %d, inserted %d, updated %d, deleted %d, rejected %d, batches %d" % (
        f["staged"], f["inserted"], f["updated"], f["deleted"], f["rejected"], f["batches"])


def expect_done(results, name, rc, run, stderr, dbs=None):
    ok = rc == 0 and run is not None and run.get("status") == "done"
    results.check(name, ok, ("" if ok else "rc %s, run %s, stderr: %s" % (rc, run, stderr[-1500:])))
    if not ok:
        raise CaseError(name)
    return figures(run)


class Stager:
    """SOAP writes that must be acknowledged, applied to the model when they are."""

    def __init__(self, client, model):
        self.c = client
        self.m = model

    def _ok(self, r, what):
        if r.kind != "ok":
            raise CaseError("%s was not acknowledged: %r" % (what, r))
        return r

    def ingest(self, key=None, c1=None, c2=None):
        r = self._ok(self.c.ingest(record(key=key, c1=c1, c2=c2)), "Ingest %s" % key)
        ident = key if key is not None else r.ids[0]
        if key is None and not UUID_RE.match(ident):
            raise CaseError("Ingest returned %r, not a uuid" % r.ids)
        self.m.insert(ident, c1, c2)
        return ident

    def upsert(self, key, c1=None, c2=None):
        self._ok(self.c.ingest_ext(record(key=key, c1=c1, c2=c2)), "IngestExt %s" % key)
        self.m.upsert(key, c1, c2)

    def delete(self, key, style="op"):
        dom = record(key=key, op="delete") if style == "op" else record(key=key, delete_attr=style)
        self._ok(self.c.ingest_ext(dom), "delete %s" % key)
        self.m.delete(key)


def start_server(dbs, name, args):
    server = Server(dbs, dbs.work, name, args)
    server.start()
    client = SoapClient(server.port)
    client.logon("admin", PASSWORD)
    return server, client


# ----------------------------------------------------------------------------- 1. semantics

def case_semantics(work, results):
    dbs = CaseDatabases(BACKEND, os.path.join(work, "semantics"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "off"])
        model = Model()
        s = Stager(client, model)
        n = "semantics"

        # Round 1: inserts of every shape.
        gen = s.ingest(None, "gen-1", "gen-1b")
        keys = ["k-ins", "k-upd", "k-del", "k-upd-after-del", "k-del-after-upd", "k-rep", "k-dup", "k-dup2",
                "k-coll-upd", "k-coll-del"]
        for k in keys:
            s.ingest(k, k + "-v1", k + "-w1")
        r = client.ingest(collection([attrs(c1="coll-g%d" % i, c2="coll-g%db" % i) for i in range(3)]))
        ok = r.kind == "ok" and len(r.ids) == 3 and all(UUID_RE.match(i) for i in r.ids)
        results.check("%s: an Ingest collection of 3 returns 3 generated uuids" % n, ok, repr(r.ids or r))
        if ok:
            for i, ident in enumerate(r.ids):
                model.insert(ident, "coll-g%d" % i, "coll-g%db" % i)
        r = client.ingest(collection([attrs(key="k-ci%d" % i, c1="ci%d" % i) for i in range(2)]))
        ok = r.kind == "ok" and r.ids == ["", ""]
        results.check("%s: a caller-keyed Ingest collection returns empty slots" % n, ok, repr(r.ids or r))
        if ok:
            for i in range(2):
                model.insert("k-ci%d" % i, "ci%d" % i, None)
        s.upsert("k-ext-new", c1="ext-new")  # IngestExt of an unknown key inserts the named column only
        r = client.ingest(record(key="k-ins", c1="again"))
        results.check("%s: Ingest of an id already pending is a fault (STG-200006)" % n,
                      r.kind == "fault" and r.fault_code == "STG-200006", short(r))

        rc, run, err = run_workflow(dbs)
        f = expect_done(results, "%s: run 1 ends done" % n, rc, run, err)
        total = len(model.rows)
        results.check("%s: run 1 figures: every staged row inserted" % n,
                      (f["staged"], f["inserted"], f["updated"], f["deleted"], f["rejected"]) == (total, total, 0, 0, 0),
                      fig_text(f) + "; expected %d inserted" % total)
        results.check("%s: run 1: cloud = what was acknowledged" % n, *compare_cloud(dbs, model))
        results.check("%s: run 1: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))

        # Round 2: every kind of change to merged keys, and changes to pending keys.
        dup_before = cloud_rows(dbs)[0].get("k-dup")
        s.upsert("k-upd", c1="upd-v2")                       # partial update keeps testcol2
        s.delete("k-del")                                    # _operation="delete"
        s.delete("k-upd-after-del", style="1")               # delete="1", then a write: only what it names
        s.upsert("k-upd-after-del", c1="reborn")
        s.upsert("k-del-after-upd", c2="doomed")
        s.delete("k-del-after-upd", style="true")
        s.upsert("k-rep", c1="r1")
        s.upsert("k-rep", c1="r2", c2="s2")
        s.upsert("k-rep", c1="r3")
        r = client.ingest(record(key="k-dup", c1="DUPLICATE", c2="DUPLICATE"))  # already in the cloud
        results.check("%s: Ingest of an id already in the cloud is acknowledged (the sync rejects it)" % n,
                      r.kind == "ok" and r.ids == [""], short(r))
        s.delete("k-ghost")                                   # a key that never existed
        r = client.ingest_ext(collection([attrs(key="k-coll-upd", c2="coll-upd"),
                                          attrs(key="k-coll-del", delete_attr="true"),
                                          attrs(key="k-coll-new", c1="coll-new", c2="coll-new2")]))
        results.check("%s: an IngestExt collection (update, delete, insert) is acknowledged" % n, r.kind == "ok",
                      short(r))
        if r.kind == "ok":
            model.upsert("k-coll-upd", c2="coll-upd")
            model.delete("k-coll-del")
            model.upsert("k-coll-new", "coll-new", "coll-new2")
        r = client.ingest_ext(collection([attrs(key="k-ins", c1="MUST-NOT-APPEAR"),
                                          attrs(key="k-bad-1", c1="x") + ' testcol9="x"']))
        results.check("%s: an IngestExt collection with a bad record is a fault" % n, r.kind == "fault", short(r))
        r = client.ingest(collection([attrs(key="k-bad-2", c1="x"), attrs(c1="y") + ' testcol9="y"']))
        results.check("%s: an Ingest collection with a bad record is a fault" % n, r.kind == "fault", short(r))
        s.ingest("k-pend", "pend-a", "pend-b")                # pending insert, updated before the merge
        s.upsert("k-pend", c2="pend-c")
        s.ingest("k-pend-del", "pd", "pd")                    # pending insert deleted before the merge
        s.delete("k-pend-del")

        rc, run, err = run_workflow(dbs)
        f = expect_done(results, "%s: run 2 ends done (a rejected duplicate does not fail the run)" % n, rc, run, err)
        want = (12, 2, 4, 3, 1)
        got = (f["staged"], f["inserted"], f["updated"], f["deleted"], f["rejected"])
        results.check("%s: run 2 figures (staged, inserted, updated, deleted, rejected) = %s" % (n, want),
                      got == want, fig_text(f))
        rej = f.get("rejections", [])
        results.check("%s: the rejection names the duplicate id" % n,
                      len(rej) == 1 and "id=k-dup" in rej[0] and "duplicate" in rej[0], repr(rej))
        results.check("%s: the duplicate's cloud row is unchanged" % n,
                      cloud_rows(dbs)[0].get("k-dup") == dup_before == ("k-dup-v1", "k-dup-w1"),
                      "before %s, after %s" % (dup_before, cloud_rows(dbs)[0].get("k-dup")))
        results.check("%s: run 2: cloud = last acknowledged state of every key" % n, *compare_cloud(dbs, model))
        results.check("%s: run 2: staging empty (the rejected row too)" % n, staged_count(dbs) == 0,
                      "%d row(s) left" % staged_count(dbs))

        # Round 3: a write after a merged delete; a rejected Ingest followed by an update.
        s.upsert("k-del", c2="after-merged-delete")           # → a new row with testcol2 only
        s.upsert(gen, c1="gen-2")
        # k-dup2 is in the cloud. An IngestExt on a key whose Ingest is still pending
        # turns the staged row into one upsert of every value staged for the key
        # (docs/sync.md: the Ingest may already have been merged by a run that has
        # not cleared it yet, so the merge cannot tell a duplicate from a merged
        # insert): both calls' values reach the cloud row, nothing is rejected.
        r = client.ingest(record(key="k-dup2", c1="DUP2", c2="DUP2"))
        if r.kind != "ok":
            raise CaseError("Ingest k-dup2: %r" % r)
        s.upsert("k-dup2", c1="dup2-updated")
        model.rows["k-dup2"] = ("dup2-updated", "DUP2")
        s.upsert("k-dup", c1="dup-updated")                   # the same, with a run between the two calls
        rc, run, err = run_workflow(dbs, schema=None)          # every staged schema this time
        f = expect_done(results, "%s: run 3 (all schemas) ends done" % n, rc, run, err)
        exp_dup2 = model.rows["k-dup2"]
        got_dup2 = cloud_rows(dbs)[0].get("k-dup2")
        results.check("%s: a pending Ingest later updated by IngestExt is merged as one upsert" % n,
                      got_dup2 == exp_dup2,
                      "k-dup2 (Ingest then IngestExt, one run): expected %s, got %s, run figures: %s, rejections %s; "
                      "k-dup (a run between the two calls): %s" % (
                          exp_dup2, got_dup2, fig_text(f), f.get("rejections"), cloud_rows(dbs)[0].get("k-dup")))
        if got_dup2 != exp_dup2:
            model.rows["k-dup2"] = got_dup2  # reported above; keep the other comparisons meaningful
        results.check("%s: run 3: cloud = last acknowledged state of every key" % n, *compare_cloud(dbs, model))

        hist = dbs.history()
        ok = [h["status"] for h in hist] == ["done"] * 3 and [h["id"] for h in hist] == sorted(
            [h["id"] for h in hist], reverse=True)
        results.check("%s: history lists the 3 runs, newest first, done" % n, ok,
                      repr([(h["id"], h["status"]) for h in hist]))
        h2 = [h for h in hist if h["id"] == run["id"]]
        results.check("%s: history figures equal those the run printed" % n,
                      bool(h2) and figures(h2[0]) == figures(run), "%s vs %s" % (h2 and figures(h2[0]), figures(run)))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 2. concurrency

class Writers:
    """Threads each owning their keys, sending unitary Ingest / IngestExt / delete calls until stopped."""

    def __init__(self, port, session, security, model, count, keys_per_thread, seed, tag, deletes=True,
                 ports=None):
        self.model = model
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = 0
        self.expected_faults = 0
        self.faults = []
        self.unanswered = 0
        self.deletes = deletes
        self.threads = []
        for i in range(count):
            port_i = (ports or [port])[i % len(ports or [port])]
            self.threads.append(threading.Thread(
                target=self.run, args=(port_i, session, security, i, keys_per_thread, seed + i, tag), daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout=60):
        self.stop.set()
        deadline = time.time() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.time()))
        return all(not t.is_alive() for t in self.threads)

    def run(self, port, session, security, index, nkeys, seed, tag):
        client = SoapClient(port, session, security)
        rng = random.Random(seed)
        keys = ["%s-w%d-k%02d" % (tag, index, k) for k in range(nkeys)]
        m = self.model
        n = 0
        try:
            while not self.stop.is_set():
                n += 1
                v = "%s-w%d-n%d" % (tag, index, n)
                roll = rng.random()
                if roll < 0.08:  # a new row with a generated id
                    r = client.ingest(record(c1=v, c2=v + "b"))
                    if r.kind == "ok":
                        m.insert(r.ids[0], v, v + "b")
                        self._ack(None)
                    else:
                        self._bad(r, None, v)
                    continue
                key = rng.choice(keys)
                with m.lock:
                    if key in m.unknown:
                        continue
                present = m.present(key)
                roll = rng.random()
                if not present and roll < 0.5:
                    c1, c2 = v, (v + "b" if rng.random() < 0.7 else None)
                    r = client.ingest(record(key=key, c1=c1, c2=c2))
                    if r.kind == "ok":
                        m.insert(key, c1, c2)
                        self._ack(key)
                    elif r.kind == "fault" and r.fault_code == "STG-200006":
                        with self.lock:  # its delete is still pending: the Ingest is refused, nothing written
                            self.expected_faults += 1
                    else:
                        self._bad(r, key)
                elif self.deletes and roll >= 0.8:
                    r = client.ingest_ext(record(key=key, op="delete"))
                    if r.kind == "ok":
                        m.delete(key)
                        self._ack(None)
                    else:
                        self._bad(r, key)
                elif present or self.deletes:  # an update, or (deletes allowed) an insert through IngestExt
                    which = rng.random()
                    c1 = v if which < 0.7 else None
                    c2 = v + "x" if which >= 0.4 else None
                    r = client.ingest_ext(record(key=key, c1=c1, c2=c2))
                    if r.kind == "ok":
                        m.upsert(key, c1, c2)
                        self._ack(key)
                    else:
                        self._bad(r, key)
        finally:
            client.close()

    def _ack(self, key):
        with self.lock:
            self.acked += 1

    def _bad(self, r, key, value=None):
        with self.lock:
            if r.kind == "unknown":
                self.unanswered += 1
            else:
                self.faults.append(r)
        if key is not None:
            self.model.taint(key)
        elif value is not None:
            with self.model.lock:
                self.model.unknown_values.add(value)


def sample_sums(history, schema=SCHEMA):
    sums = {"staged": 0, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 0, "batches": 0}
    for h in history:
        f = figures(h, schema)
        for k in sums:
            sums[k] += f[k]
    return sums


def case_concurrency(work, results, seed):
    dbs = CaseDatabases(BACKEND, os.path.join(work, "concurrency"))
    server = None
    writers = None
    n = "concurrency"
    settings = {"batch_rows": 25}
    try:
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "every 1s", "--batch-rows", "25"])
        model = Model()
        writers = Writers(server.port, client.session, client.security, model, 6, 25, seed, "cc")
        writers.start()
        started = time.time()
        cli_runs = []
        soap_calls = []
        cleanup_runs = []
        i = 0
        while time.time() - started < 10:
            i += 1
            if i % 3 == 0:
                soap_calls.append(client.start_replicate())
            if i % 4 == 0:  # the cleanup workflow clears merged leftovers: it must never take a pending row
                r = dbs.cli(["workflow", "run", "cleanup"], settings)
                cleanup_runs.append((r.returncode, r.stderr[-300:]))
            cli_runs.append(run_workflow(dbs, settings, schema=SCHEMA if i % 2 else None))
        joined = writers.join()
        results.check("%s: writer threads end" % n, joined)
        bad = [(rc, run and run.get("status"), err[-300:]) for rc, run, err in cli_runs
               if rc != 0 or not run or run["status"] != "done"]
        results.check("%s: %d `workflow run` during the load all end done" % (n, len(cli_runs)), not bad, repr(bad[:3]))
        bad = [c for c in cleanup_runs if c[0] != 0]
        results.check("%s: %d `workflow run cleanup` during the load end done" % (n, len(cleanup_runs)), not bad,
                      repr(bad[:2]))
        bad = [c for c in soap_calls if c.kind != "ok"]
        results.check("%s: %d StartReplicateStagingData calls acknowledged" % (n, len(soap_calls)), not bad,
                      repr(bad[:2]))
        results.check("%s: writes acknowledged during the merges" % n, writers.acked >= 200,
                      "%d acknowledged, %d refused Ingest of a key whose delete was pending (expected)" % (
                          writers.acked, writers.expected_faults))
        results.check("%s: no unexpected fault, no unanswered call" % n,
                      not writers.faults and writers.unanswered == 0,
                      "%d fault(s) %r, %d unanswered" % (len(writers.faults), writers.faults[:2], writers.unanswered))
        rc, run, err = run_workflow(dbs, settings)
        expect_done(results, "%s: the last run ends done" % n, rc, run, err)
        results.check("%s: cloud = last acknowledged state of every key" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))
        server.stop()
        server = None
        hist = dbs.history()
        statuses = {}
        for h in hist:  # a scheduled run the shutdown stopped between batches is not a failure
            key = h["status"] if h["status"] != "error" or "shutting down" not in h["error"] else "stopped"
            statuses[key] = statuses.get(key, 0) + 1
        triggers = {}
        for h in hist:
            triggers[h["trigger"]] = triggers.get(h["trigger"], 0) + 1
        errors = [(h["id"], h["trigger"], h["status"], h["error"][:300]) for h in hist if h["status"] != "done"]
        results.check("%s: every run in the history ended done (or stopped by the shutdown)" % n,
                      set(statuses) <= {"done", "stopped"},
                      "statuses %s, triggers %s, not done: %r" % (statuses, triggers, errors))
        results.check("%s: runs came from the CLI, the schedule and SOAP" % n,
                      all(triggers.get(t, 0) > 0 for t in ("cli", "schedule", "soap")), repr(triggers))
        sums = sample_sums(hist)
        rows = len(cloud_rows(dbs)[0])
        results.check("%s: Σinserted − Σdeleted over all runs = cloud rows, Σrejected = 0 (no batch applied twice)"
                      % n, sums["inserted"] - sums["deleted"] == rows and sums["rejected"] == 0,
                      "sums %s, %d cloud rows" % (sums, rows))
    finally:
        if writers:
            writers.join(5)
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 3. crash

def history_by_id(dbs):
    return {h["id"]: h for h in dbs.history()}


def case_crash(work, results):
    dbs = CaseDatabases(BACKEND, os.path.join(work, "crash"))
    server = None
    # A killed run's lease expires after lease_seconds: the next run waits for it.
    settings = {"batch_rows": 7, "lease_seconds": 1}
    scenarios = [[p] for p in CRASH_POINTS] + [["committed", "clearing"], ["cleared", "merged"]]
    try:
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "off"])
        model = Model()
        s = Stager(client, model)
        for number, points in enumerate(scenarios):
            n = "crash %s" % "+".join(points)
            p = "s%d" % number
            try:
                for i in range(8):
                    s.ingest("%s-b%d" % (p, i), "b%d" % i, "w%d" % i)
                rc, run, err = run_workflow(dbs, settings)
                if rc != 0:
                    raise CaseError("setup run: rc %d %s" % (rc, err[-500:]))
                # The staged set, in sequence order (batches of 7): inserts, updates of merged
                # keys, deletes, a replace, a pending insert deleted, repeated updates.
                for i in range(6):
                    s.ingest("%s-n%d" % (p, i), "n%d" % i, "nw%d" % i)
                s.upsert("%s-b0" % p, c1="b0-upd")
                s.upsert("%s-b1" % p, c2="w1-upd")
                s.upsert("%s-b2" % p, c1="b2-upd", c2="w2-upd")
                s.delete("%s-b3" % p)
                s.delete("%s-b4" % p)
                for i in range(6, 10):
                    s.ingest("%s-n%d" % (p, i), "n%d" % i, "nw%d" % i)
                s.delete("%s-b5" % p)
                s.upsert("%s-b5" % p, c1="b5-replaced")
                s.upsert("%s-x0" % p, c2="x0")
                for i in range(3):
                    s.ingest(None, "%s-g%d" % (p, i), "g")
                s.delete("%s-n2" % p)
                s.upsert("%s-b6" % p, c1="b6-r1")
                s.upsert("%s-b6" % p, c2="w6-r2")
                staged = staged_count(dbs)

                killed = []
                for point in points:
                    rc, run, err = run_workflow(dbs, dict(settings, crash_at=point))
                    died = rc in (-9, 137)
                    results.check("%s: the run dies by SIGKILL at '%s'" % (n, point), died, "rc %s%s" % (
                        rc, "" if died else ", status %s, stderr %s" % (run and run.get("status"), err[-400:])))
                    newest = dbs.history(limit=1)[0]
                    killed.append(newest["id"])
                    results.check("%s: the killed run shows as running before the next run" % n,
                                  newest["status"] == "running",
                                  "run %s: %s" % (newest["id"], newest["status"]))
                # More writes after the crash, on keys of the first batch and beyond.
                s.upsert("%s-n0" % p, c2="after-crash")
                s.upsert("%s-b3" % p, c1="b3-after-delete")
                s.delete("%s-n7" % p)
                s.ingest("%s-a0" % p, "a0", "aw0")
                rc, run, err = run_workflow(dbs, settings)
                f = expect_done(results, "%s: the next run ends done" % n, rc, run, err)
                results.check("%s: nothing merged twice (no insert rejected as duplicate)" % n, f["rejected"] == 0,
                              fig_text(f) + " (%d staged before the crash)" % staged)
                results.check("%s: cloud = exactly the acknowledged state (no loss, no duplicate, no resurrected "
                              "delete)" % n, *compare_cloud(dbs, model))
                left = staged_count(dbs)
                results.check("%s: staging empty" % n, left == 0, "%d row(s) left" % left)
                runs = history_by_id(dbs)
                st = [(k, runs.get(k, {}).get("status")) for k in killed]
                results.check("%s: the killed run(s) are 'interrupted' in the history" % n,
                              all(x == "interrupted" for _, x in st), repr(st))
            except CaseError as e:
                results.check("%s: scenario ran to its end" % n, False, str(e))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 4. cloud outage

def case_outage(work, results, seed):
    n = "outage"
    cluster = PgCluster()
    dbs = None
    server = None
    try:
        cluster.start()
        dbs = CaseDatabases(BACKEND, os.path.join(work, "outage"), cloud_base=cluster.url)
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "off"])
        model = Model()
        s = Stager(client, model)
        settings = {"batch_rows": 50}
        for i in range(20):
            s.ingest(None, "o-g%d" % i, "og")
        for i in range(10):
            s.ingest("o-k%d" % i, "k%d" % i, "kw%d" % i)
        rc, run, err = run_workflow(dbs, settings)
        expect_done(results, "%s: first run (cloud up) ends done" % n, rc, run, err)
        s.upsert("o-k0", c1="k0-upd")
        s.delete("o-k1")
        s.ingest("o-k10", "k10", None)

        cluster.stop("immediate")
        rc, run, err = run_workflow(dbs, settings)
        results.check("%s: a run while the cloud is down exits 1 with status error" % n,
                      rc == 1 and run is not None and run["status"] == "error",
                      "rc %s, run %s, stderr %s" % (rc, run, err[-500:]))
        results.check("%s: its error names the cloud database" % n,
                      run is not None and "cloud" in run["error"].lower(), repr(run and run["error"]))
        newest = dbs.history(limit=1)[0]
        results.check("%s: the history records it in error" % n,
                      newest["status"] == "error" and "cloud" in newest["error"].lower(),
                      "%s: %s" % (newest["status"], newest["error"][:200]))
        # Ingestion keeps being acknowledged while the cloud is down.
        for i in range(10):
            s.ingest(None, "o-down-g%d" % i, "down")
        s.upsert("o-k2", c2="k2-down")
        s.delete("o-k3")
        s.upsert("o-k1", c1="k1-back")
        results.check("%s: writes acknowledged while the cloud is down" % n, True)
        before = max(h["id"] for h in dbs.history(limit=1))
        r = client.start_replicate()
        results.check("%s: StartReplicateStagingData is acknowledged while the cloud is down" % n, r.kind == "ok",
                      repr(r))
        soap_run = wait_for(lambda: [h for h in dbs.history(limit=5) if h["id"] > before and h["trigger"] == "soap"
                                     and h["status"] != "running"], 60, 0.2)
        results.check("%s: the SOAP-triggered run ends in error too" % n,
                      bool(soap_run) and soap_run[0]["status"] == "error", repr(soap_run and soap_run[0]["status"]))
        results.check("%s: nothing left staging while the cloud is down" % n, staged_count(dbs) >= 15,
                      "%d staged" % staged_count(dbs))

        cluster.start()
        rc, run, err = run_workflow(dbs, settings)
        expect_done(results, "%s: the run after the cloud is back ends done" % n, rc, run, err)
        results.check("%s: cloud = every acknowledged write" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))

        # The cloud stops in the middle of a long run.
        total = 12000
        per_call = 600
        for c in range(total // per_call):
            recs = [attrs(key="o-m%05d" % (c * per_call + i), c1="m%d" % (c * per_call + i), c2="long")
                    for i in range(per_call)]
            r = client.ingest(collection(recs))
            if r.kind != "ok":
                raise CaseError("bulk Ingest: %r" % r)
            for i in range(per_call):
                model.insert("o-m%05d" % (c * per_call + i), "m%d" % (c * per_call + i), "long")
        base_rows = len(cloud_rows(dbs)[0])
        proc = subprocess.Popen([BIN, "workflow", "run", WF, "--schema", SCHEMA, "--json"],
                                env=dbs.env(batch_rows=40), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rng = random.Random(seed)
        # Stop the cloud once some batches are committed: somewhere between 5% and 60% of the rows.
        target = base_rows + int(total * rng.uniform(0.05, 0.6))
        mid = wait_for(lambda: proc.poll() is None and int(dbs.cloud_query(
            "SELECT COUNT(*) FROM DemSampleTable")[0][0]) >= target, 120, 0.02)
        if mid:
            cluster.stop("immediate")
        out, err = proc.communicate(timeout=180)
        results.check("%s: the cloud stopped in the middle of the run (%d of %d rows merged)" % (
            n, target - base_rows, total), bool(mid),
            "" if mid else "the run ended first (rc %s): raise the row count" % proc.returncode)
        run = None
        try:
            run = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
        results.check("%s: that run exits 1 with status error" % n,
                      proc.returncode == 1 and run is not None and run["status"] == "error",
                      "rc %s, run %s, stderr %s" % (proc.returncode, run and run["status"], err[-500:]))
        first = figures(run)
        left = staged_count(dbs)
        results.check("%s: the unmerged rows stay staged" % n, left > 0,
                      "%d staged after the failed run (%s)" % (left, fig_text(first)))
        if not cluster.running:
            cluster.start()
        rc, run, err = run_workflow(dbs, {"batch_rows": 400})
        second = expect_done(results, "%s: the next run ends done" % n, rc, run, err)
        results.check("%s: cloud = every acknowledged write after the mid-run outage" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))
        results.check("%s: inserted figures of the failed run + the next run = %d rows" % (n, total),
                      first["inserted"] + second["inserted"] == total,
                      "failed run: %s; next run: %s" % (fig_text(first), fig_text(second)))
    finally:
        if server:
            server.stop()
        if dbs:
            dbs.drop()
        cluster.close()


# ----------------------------------------------------------------------------- 5. multi-process

def case_multiprocess(work, results, seed):
    n = "multiprocess"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "multiprocess"))
    servers = []
    writers = None
    try:
        dbs.prepare(PASSWORD)
        args = ["--replicate-schedule", "every 1s", "--batch-rows", "20"]
        a, client = start_server(dbs, "server-a", args)
        servers.append(a)
        b = Server(dbs, dbs.work, "server-b", args)
        b.start()
        servers.append(b)
        model = Model()
        # Inserts and updates only: each key is inserted into the cloud exactly once.
        writers = Writers(a.port, client.session, client.security, model, 6, 30, seed, "mp", deletes=False,
                          ports=[a.port, b.port])
        writers.start()
        started = time.time()
        outcomes = []
        while time.time() - started < 8:
            no_wait = len(outcomes) % 2 == 1
            rc, run, err = run_workflow(dbs, {"batch_rows": 20}, extra=["--no-wait"] if no_wait else [])
            outcomes.append((no_wait, rc, run and run.get("status"), err))
        results.check("%s: writer threads end" % n, writers.join())
        bad = [(nw, rc, st, err[-300:]) for nw, rc, st, err in outcomes
               if not (rc == 0 and st == "done") and not (nw and rc == 1 and "already in progress" in err)]
        refused = len([o for o in outcomes if o[0] and o[1] == 1])
        results.check("%s: %d CLI runs: done, or (--no-wait) refused with 'already in progress'" % (n, len(outcomes)),
                      not bad, "%d refused; unexpected: %r" % (refused, bad[:3]))
        results.check("%s: no unexpected fault, no unanswered call" % n,
                      not writers.faults and writers.unanswered == 0 and writers.acked >= 100,
                      "%d acknowledged, %d fault(s) %r, %d unanswered" % (
                          writers.acked, len(writers.faults), writers.faults[:2], writers.unanswered))

        # The lease seen from outside: while a run stays "running" across a --no-wait call, the call is refused.
        def running_ids():
            return [r[0] for r in dbs.query("SELECT iRunId FROM SbWorkflowRun WHERE sWorkflow = '%s' AND "
                                            "sStatus = 'running'" % WF)]

        conclusive = 0
        wrong = []
        deadline = time.time() + 30
        bulk = 0
        while conclusive < 1 and time.time() < deadline:
            # Enough staged rows for a run of a few seconds (batches of 20), taken by whichever process runs first.
            for c in range(6):
                bulk += 1
                keys = ["mp-long-%d-%d" % (bulk, i) for i in range(500)]
                r = client.ingest(collection([attrs(key=k, c1="l", c2=k) for k in keys]))
                if r.kind != "ok":
                    raise CaseError("bulk Ingest: %r" % r)
                for k in keys:
                    model.insert(k, "l", k)
            running = wait_for(running_ids, 10, 0.02)
            if not running:
                continue
            r = dbs.cli(["workflow", "run", WF, "--no-wait", "--json"], {"batch_rows": 20})
            if running[0] not in running_ids():
                continue  # the run ended meanwhile: inconclusive, look again
            conclusive += 1
            if not (r.returncode == 1 and "already in progress" in r.stderr):
                wrong.append((running[0], r.returncode, r.stdout[-200:], r.stderr[-300:]))
        results.check("%s: `workflow run --no-wait` is refused ('already in progress') while another process's run "
                      "is running" % n, conclusive > 0 and not wrong,
                      "%d conclusive observation(s); wrong: %r" % (conclusive, wrong[:2]))

        rc, run, err = run_workflow(dbs, {"batch_rows": 200})
        expect_done(results, "%s: the last run ends done" % n, rc, run, err)
        server_pids = [srv.proc.pid for srv in servers]
        for srv in servers:
            srv.stop()
        servers = []
        hist = sorted(dbs.history(), key=lambda h: h["id"])
        holders = set(h["holder"] for h in hist)
        statuses = {}
        for h in hist:
            key = h["status"] if h["status"] != "error" or "shutting down" not in h["error"] else "stopped"
            statuses[key] = statuses.get(key, 0) + 1
        results.check("%s: every run ended done (or stopped by the shutdown)" % n,
                      set(statuses) <= {"done", "stopped"}, repr(statuses))
        overlaps = []
        for i, h in enumerate(hist):
            for g in hist[i + 1:]:
                if g["start"] < h["end"]:
                    overlaps.append((h["id"], h["holder"], h["start"], h["end"], g["id"], g["holder"], g["start"]))
        scheduled_pids = set(int(h["holder"].split(":")[1]) for h in hist if h["trigger"] == "schedule")
        results.check("%s: both servers ran scheduled runs" % n, set(server_pids) <= scheduled_pids,
                      "server pids %s, scheduled runs by pids %s" % (server_pids, sorted(scheduled_pids)))
        results.check("%s: no two runs overlap in time (%d runs, %d holders)" % (n, len(hist), len(holders)),
                      not overlaps, "overlaps (id, holder, start, end, id, holder, start) %r" % overlaps[:3])
        sums = sample_sums(hist)
        keys = len(model.rows)
        results.check("%s: Σinserted over all runs = distinct keys inserted, Σrejected = Σdeleted = 0" % n,
                      sums["inserted"] == keys and sums["rejected"] == 0 and sums["deleted"] == 0,
                      "sums %s, %d keys" % (sums, keys))
        results.check("%s: cloud = last acknowledged state of every key" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))
    finally:
        if writers:
            writers.join(5)
        for srv in servers:
            srv.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 6. a batch the cloud refuses

POISON_SQLITE = ("CREATE TRIGGER SbTestPoison BEFORE INSERT ON DemSampleTable WHEN NEW.sTestcol1 = 'poison' "
                 "BEGIN SELECT RAISE(ABORT, 'poisoned row refused by the cloud'); END")
POISON_PG = ("CREATE FUNCTION sbtest_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "IF NEW.sTestcol1 = 'poison' THEN RAISE EXCEPTION 'poisoned row refused by the cloud'; END IF; "
             "RETURN NEW; END $$; CREATE TRIGGER sbtest_poison BEFORE INSERT ON DemSampleTable "
             "FOR EACH ROW EXECUTE FUNCTION sbtest_poison()")


def case_refused(work, results):
    """The cloud refuses the second batch of a run (a trigger stands for any cloud-side error in the middle
    of a batch): the run ends in error, the refused batch stays staged and is not counted, and once the
    cloud accepts it again the next run merges it."""
    n = "refused"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "refused"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "off"])
        model = Model()
        s = Stager(client, model)
        for i in range(6):
            s.ingest("r-k%d" % i, "k%d" % i, "w%d" % i)
        rc, run, err = run_workflow(dbs)
        expect_done(results, "%s: setup run ends done" % n, rc, run, err)
        # Batch 1 (3 rows): accepted. Batch 2 (3 rows): a delete, an update, then an insert the cloud refuses.
        s.delete("r-k0")
        s.upsert("r-k1", c1="k1-upd")
        s.upsert("r-k4", c2="w4-upd")
        s.delete("r-k2")
        s.upsert("r-k3", c1="k3-upd")
        s.ingest("r-poison", "poison", "p")
        if BACKEND == "sqlite":
            dbs.cloud_query(POISON_SQLITE)
        else:
            dbs.cloud_query(POISON_PG)
        rc, run, err = run_workflow(dbs, {"batch_rows": 3})
        results.check("%s: the run ends in error (exit 1)" % n, rc == 1 and run is not None and run["status"] == "error",
                      "rc %s, run %s, stderr %s" % (rc, run and run.get("status"), err[-400:]))
        failed = figures(run)
        cloud, _ = cloud_rows(dbs)
        batch1_only = ("r-k0" not in cloud and cloud.get("r-k1") == ("k1-upd", "w1")
                       and cloud.get("r-k4") == ("k4", "w4-upd") and cloud.get("r-k2") == ("k2", "w2")
                       and cloud.get("r-k3") == ("k3", "w3") and "r-poison" not in cloud)
        results.check("%s: the cloud holds batch 1 and nothing of the refused batch 2" % n, batch1_only,
                      repr(sorted(cloud.items())))
        left = staged_count(dbs)
        results.check("%s: the refused batch stays staged (3 rows)" % n, left == 3, "%d staged" % left)
        want = (3, 0, 2, 1, 0, 1)
        got = (failed["staged"], failed["inserted"], failed["updated"], failed["deleted"], failed["rejected"],
               failed["batches"])
        results.check("%s: the failed run's figures count only what was committed (staged, inserted, updated, "
                      "deleted, rejected, batches) = %s" % (n, want), got == want, fig_text(failed))
        hist = dbs.history(limit=1)[0]
        results.check("%s: the history shows the run in error with the cloud's reason" % n,
                      hist["status"] == "error" and "poison" in hist["error"],
                      "%s: %s" % (hist["status"], hist["error"][:300]))
        if BACKEND == "sqlite":
            dbs.cloud_query("DROP TRIGGER SbTestPoison")
        else:
            dbs.cloud_query("DROP TRIGGER sbtest_poison ON DemSampleTable")
        rc, run, err = run_workflow(dbs, {"batch_rows": 3})
        second = expect_done(results, "%s: the next run ends done" % n, rc, run, err)
        results.check("%s: cloud = every acknowledged write" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))
        sums = {k: failed[k] + second[k] for k in ("inserted", "updated", "deleted")}
        results.check("%s: figures summed over the failed and the next run = the changes made once "
                      "(inserted 1, updated 3, deleted 2)" % n,
                      sums == {"inserted": 1, "updated": 3, "deleted": 2}, repr(sums))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 7. stalled holder

def lease_free(dbs):
    """True when nobody holds the replicate lease (read in the lease table: `workflow list` may wait for a
    frozen writer on SQLite, see the check below)."""
    rows = dbs.query("SELECT sHolder, iExpires FROM SbWorkflowLease WHERE sWorkflow = '%s'" % WF)
    return not rows or rows[0][0] == "" or int(rows[0][1]) < int(time.time())


def check_history_under_write_lock(dbs, results, n):
    """SQLite: `workflow history` only reads, so it must answer while another process holds the local
    database's write lock (WAL readers do not wait for writers); `workflow list` is in the same case."""
    import sqlite3
    con = sqlite3.connect(dbs.local_url[len("sqlite:"):], isolation_level=None, timeout=30)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE SbWorkflowLease SET iExpires = iExpires")
        t0 = time.time()
        r = dbs.cli(["workflow", "history", WF, "--limit", "1", "--json"])
        took = time.time() - t0
    finally:
        con.execute("ROLLBACK")
        con.close()
    results.check("%s: `workflow history` (read only) answers while another process holds the SQLite write lock"
                  % n, r.returncode == 0, "rc %d after %.1f s: %s" % (r.returncode, took, r.stderr.strip()[-160:]))


def case_takeover(work, results):
    """A run frozen (SIGSTOP) in the middle of its batches loses its lease; another run takes over; the frozen
    one resumes: whatever each of them then does, the cloud gets every row exactly once."""
    n = "takeover"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "takeover"))
    server = None
    procs = []
    try:
        dbs.prepare(PASSWORD)
        server, client = start_server(dbs, "server", ["--replicate-schedule", "off"])
        model = Model()
        total = 4000
        for c in range(total // 500):
            keys = ["t-%d-%d" % (c, i) for i in range(500)]
            r = client.ingest(collection([attrs(key=k, c1=k, c2="t") for k in keys]))
            if r.kind != "ok":
                raise CaseError("bulk Ingest: %r" % r)
            for k in keys:
                model.insert(k, k, "t")
        settings = {"batch_rows": 20, "lease_seconds": 2}

        def start_run():
            p = subprocess.Popen([BIN, "workflow", "run", WF, "--json"], env=dbs.env(**settings),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            return p

        def cloud_count():
            return int(dbs.cloud_query("SELECT COUNT(*) FROM DemSampleTable")[0][0])

        p1 = start_run()
        mid = wait_for(lambda: p1.poll() is None and cloud_count() >= 200, 60, 0.02)
        if not mid:
            raise CaseError("the first run ended before it could be frozen (rc %s)" % p1.poll())
        os.kill(p1.pid, signal.SIGSTOP)
        frozen_at = cloud_count()
        freed = wait_for(lambda: lease_free(dbs), 15, 0.1)
        results.check("%s: the frozen run's lease expires" % n, bool(freed),
                      repr(dbs.query("SELECT sHolder, iExpires FROM SbWorkflowLease")))
        p2 = start_run()
        # p2 either merges everything, or waits for what the frozen run holds (its open cloud
        # transaction): give it until its progress stalls for 3 s.
        last = [cloud_count(), time.time()]

        def settled():
            if p2.poll() is not None:
                return True
            c = cloud_count()
            if c != last[0]:
                last[0], last[1] = c, time.time()
            return time.time() - last[1] > 3

        wait_for(settled, 120, 0.1)
        p2_finished_alone = p2.poll() is not None
        os.kill(p1.pid, signal.SIGCONT)
        out1, err1 = p1.communicate(timeout=120)
        out2, err2 = p2.communicate(timeout=120)
        print("     takeover: frozen after %d rows; run 1 rc %s, run 2 rc %s (%s)" % (
            frozen_at, p1.returncode, p2.returncode,
            "finished while run 1 was frozen" if p2_finished_alone else "waited for run 1"))
        results.check("%s: both runs end once the frozen one resumes (rc 0 or 1)" % n,
                      p1.returncode in (0, 1) and p2.returncode in (0, 1),
                      "rc %s / %s; %s / %s" % (p1.returncode, p2.returncode, err1[-300:], err2[-300:]))
        rc, run, err = run_workflow(dbs, settings)
        expect_done(results, "%s: a further run ends done" % n, rc, run, err)
        results.check("%s: cloud = every row once" % n, *compare_cloud(dbs, model))
        results.check("%s: staging empty" % n, staged_count(dbs) == 0, "%d row(s) left" % staged_count(dbs))
        hist = dbs.history()
        sums = sample_sums(hist)
        results.check("%s: Σinserted over the runs = %d, Σrejected = 0 (no batch applied twice)" % (n, total),
                      sums["inserted"] == total and sums["rejected"] == 0,
                      "sums %s; runs %s" % (sums, [(h["id"], h["status"], figures(h)["inserted"], h["error"][:120])
                                                 for h in hist]))
        results.check("%s: no run left 'running' in the history" % n, all(h["status"] != "running" for h in hist),
                      repr([(h["id"], h["status"]) for h in hist]))
        if BACKEND == "sqlite":
            check_history_under_write_lock(dbs, results, n)
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                except OSError:
                    pass
                p.wait()
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- main

CASES = [("semantics", lambda w, r, s: case_semantics(w, r)),
         ("concurrency", case_concurrency),
         ("crash", lambda w, r, s: case_crash(w, r)),
         ("outage", case_outage),
         ("multiprocess", case_multiprocess),
         ("refused", lambda w, r, s: case_refused(w, r)),
         ("takeover", lambda w, r, s: case_takeover(w, r))]


def main():
    return run_cases("sync", BACKEND, CASES, "SYNC")


if __name__ == "__main__":
    sys.exit(main())
