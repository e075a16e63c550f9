"""sbtest — shared harness of the Python end-to-end tests (hostile, durability).

`Databases`: fresh local and cloud databases on a backend (SQLite files, or
`CREATE DATABASE` on $STAGEBRIDGE_TEST_PG_URL), and SQL on the local one.
`Results`, `CaseError` and `run_cases`: the checks of a case-based test, printed one
per line, and its main loop (case selection from the environment, a seed to replay,
the work directory kept when something failed).
`Server`: a real `stagebridge serve` on 127.0.0.1 port 0, started when it printed
"listening on HOST:PORT" (no sleeps), stopped with SIGTERM or killed with SIGKILL.
Needs STAGEBRIDGE_BIN and STAGEBRIDGE_SOURCE_DIR. Python 3 standard library only.
"""

import json
import os
import re
import resource
import select
import signal
import sqlite3
import subprocess
import shutil
import sys
import tempfile
import threading
import time
import traceback

BIN = os.environ.get("STAGEBRIDGE_BIN", "")
SRC = os.environ.get("STAGEBRIDGE_SOURCE_DIR", "")
# Names the test databases after the test script ("hostile", "durability").
SCRIPT = os.path.basename(sys.argv[0]).split("_")[0].split(".")[0]


class Databases:
    """Fresh local and cloud databases on the backend, and SQL on the local one."""

    def __init__(self, backend, work):
        self.backend = backend
        self.work = work
        self.pg_dbs = []
        if backend == "sqlite":
            self.local_url = "sqlite:" + os.path.join(work, "local.db")
            self.cloud_url = "sqlite:" + os.path.join(work, "cloud.db")
        elif backend == "postgres":
            base = os.environ.get("STAGEBRIDGE_TEST_PG_URL")
            if not base:
                raise SystemExit("STAGEBRIDGE_TEST_PG_URL is not set: run through scripts/with-postgres.sh")
            self.pg_base = base
            tag = "sb%s_%d_%d" % (SCRIPT, os.getpid(), int(time.time()) % 100000)
            self.local_url = self._create_pg(tag + "_local")
            self.cloud_url = self._create_pg(tag + "_cloud")
        else:
            raise SystemExit("usage: %s sqlite|postgres" % os.path.basename(sys.argv[0]))

    def _psql(self, url, sql):
        env = dict(os.environ, PGCLIENTENCODING="UTF8")
        out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e", url, "-c", sql],
                             capture_output=True, env=env, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql: %s" % out.stderr.decode("utf-8", "replace").strip())
        text = out.stdout.decode("utf-8")
        if text.endswith("\n"):
            text = text[:-1]
        return [r.split("\x1f") for r in text.split("\x1e") if r != ""]

    def _create_pg(self, name):
        self._psql(self.pg_base, "CREATE DATABASE %s" % name)
        self.pg_dbs.append(name)
        return self.pg_base.rsplit("/", 1)[0] + "/" + name

    def drop(self):
        for name in self.pg_dbs:
            try:
                self._psql(self.pg_base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            except Exception as e:  # noqa: BLE001 — cleanup must not hide the result
                print("warning: could not drop %s: %s" % (name, e), file=sys.stderr)

    def query(self, sql):
        """Rows of `sql` on the local database, every value as text."""
        if self.backend == "sqlite":
            con = sqlite3.connect(self.local_url[len("sqlite:"):], timeout=30)
            try:
                return [[None if v is None else str(v) for v in row] for row in con.execute(sql).fetchall()]
            finally:
                con.close()
        return self._psql(self.local_url, sql)

    def tables(self):
        """Names of every table of the local database, lower-cased, sorted."""
        if self.backend == "sqlite":
            rows = self.query("SELECT lower(name) FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        else:
            rows = self.query("SELECT lower(table_name) FROM information_schema.tables "
                              "WHERE table_schema = 'public' ORDER BY 1")
        return [r[0] for r in rows]

    def snapshot(self, staging_tables):
        """(every table name, {staging table: row count}) in one round trip."""
        if self.backend == "sqlite":
            names = "SELECT group_concat(n, ',') FROM (SELECT lower(name) AS n FROM sqlite_master " \
                    "WHERE type = 'table' ORDER BY 1)"
        else:
            names = "SELECT string_agg(lower(table_name), ',' ORDER BY 1) FROM information_schema.tables " \
                    "WHERE table_schema = 'public'"
        parts = ["SELECT '*', (%s)" % names]
        parts += ["SELECT '%s', CAST(COUNT(*) AS TEXT) FROM %s" % (t, t) for t in staging_tables]
        rows = self.query(" UNION ALL ".join(parts))
        tables = []
        counts = {}
        for key, value in rows:
            if key == "*":
                tables = (value or "").split(",")
            else:
                counts[key] = int(value)
        return tables, counts

    def value_hex(self, column, uuid):
        """Hex of the UTF-8 bytes of `column` in DemSampleTableStg for the row `uuid`; None when absent."""
        if self.backend == "sqlite":
            rows = self.query("SELECT hex(%s) FROM DemSampleTableStg WHERE uSampleTableId = '%s'"
                              % (column, uuid.replace("'", "''")))
        else:
            rows = self.query("SELECT encode(convert_to(%s, 'UTF8'), 'hex') FROM DemSampleTableStg "
                              "WHERE uSampleTableId = '%s'" % (column, uuid.replace("'", "''")))
        if not rows:
            return None
        return (rows[0][0] or "").lower()


# ----------------------------------------------------------------------------- server

class Server:
    def __init__(self, dbs, work, name, extra_args, max_files=None):
        self.dbs = dbs
        self.max_files = max_files
        self.log_path = os.path.join(work, name + ".log")
        self.args = [BIN, "--local-db", dbs.local_url, "--cloud-db", dbs.cloud_url,
                     "--schemas-dir", os.path.join(SRC, "examples", "schemas"), "--listen", "127.0.0.1:0"] + extra_args
        self.proc = None
        self.port = None

    def start(self):
        log = open(self.log_path, "ab")
        preexec = None
        if self.max_files:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_files, self.max_files))
        self.proc = subprocess.Popen(self.args + ["serve"], stdout=subprocess.PIPE, stderr=log, preexec_fn=preexec)
        log.close()
        deadline = time.time() + 60
        line = b""
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 1)
            if r:
                line = self.proc.stdout.readline()
                m = re.match(rb"listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    return
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        raise RuntimeError("server did not start (%r); log:\n%s" % (line, self.log_tail()))

    def kill9(self):
        """SIGKILL, as a crash would: no shutdown, no flush."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


# ----------------------------------------------------------------------------- sync helpers
# Added for tests/sync (append only: everything above keeps its behaviour).

import http.client  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402

_case_numbers = itertools.count(1)
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def wait_for(condition, timeout, interval=0.05):
    """Polls `condition()` until it returns a true value (returned) or `timeout` s pass (returns None)."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() >= deadline:
            return None
        time.sleep(interval)


def url_query(url, sql):
    """Rows of `sql` on the database at `url` (sqlite:PATH or postgresql://…), every value as text or None."""
    if url.startswith("sqlite:"):
        con = sqlite3.connect(url[len("sqlite:"):], timeout=30)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(sql).fetchall()]
        finally:
            con.close()
    # NULL must stay distinguishable from '': psql prints it as the \N marker below.
    env = dict(os.environ, PGCLIENTENCODING="UTF8")
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e", "-P", "null=\\N",
                          url, "-c", sql], capture_output=True, env=env, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql: %s" % out.stderr.decode("utf-8", "replace").strip())
    text = out.stdout.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    return [[None if v == "\\N" else v for v in r.split("\x1f")] for r in text.split("\x1e") if r != ""]


class CaseDatabases(Databases):
    """Like Databases, but several sets per process (a counter in the database names), and the cloud
    database optionally on another PostgreSQL server (`cloud_base`, a postgresql:// URL of its
    maintenance database), e.g. a PgCluster the test can stop."""

    def __init__(self, backend, work, cloud_base=None):  # noqa: super().__init__ is not called on purpose
        os.makedirs(work, exist_ok=True)
        self.backend = backend
        self.work = work
        self.pg_dbs = []
        self.created = []  # (server base URL, database name)
        tag = "sb%s_%d_%d_%d" % (SCRIPT, os.getpid(), int(time.time()) % 100000, next(_case_numbers))
        if backend == "sqlite":
            self.local_url = "sqlite:" + os.path.join(work, "local.db")
        elif backend == "postgres":
            base = os.environ.get("STAGEBRIDGE_TEST_PG_URL")
            if not base:
                raise SystemExit("STAGEBRIDGE_TEST_PG_URL is not set: run through scripts/with-postgres.sh")
            self.pg_base = base
            self.local_url = self._create_on(base, tag + "_local")
        else:
            raise SystemExit("usage: %s sqlite|postgres" % os.path.basename(sys.argv[0]))
        if cloud_base:
            self.cloud_url = self._create_on(cloud_base, tag + "_cloud")
        elif backend == "sqlite":
            self.cloud_url = "sqlite:" + os.path.join(work, "cloud.db")
        else:
            self.cloud_url = self._create_on(self.pg_base, tag + "_cloud")

    def _create_on(self, base, name):
        url_query(base, "CREATE DATABASE %s" % name)
        self.created.append((base, name))
        return base.rsplit("/", 1)[0] + "/" + name

    def drop(self):
        for base, name in self.created:
            try:
                url_query(base, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            except Exception as e:  # noqa: BLE001 — cleanup must not hide the result
                print("warning: could not drop %s: %s" % (name, e), file=sys.stderr)

    def query(self, sql):
        return url_query(self.local_url, sql)

    def cloud_query(self, sql):
        return url_query(self.cloud_url, sql)

    def env(self, **settings):
        """Environment for a stagebridge command on these databases; settings become STAGEBRIDGE_<KEY>."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STAGEBRIDGE_") or k in
               ("STAGEBRIDGE_BIN", "STAGEBRIDGE_SOURCE_DIR", "STAGEBRIDGE_TEST_PG_URL")}
        env["STAGEBRIDGE_LOCAL_DB"] = self.local_url
        env["STAGEBRIDGE_CLOUD_DB"] = self.cloud_url
        env["STAGEBRIDGE_SCHEMAS_DIR"] = os.path.join(SRC, "examples", "schemas")
        for key, value in settings.items():
            env["STAGEBRIDGE_" + key.upper()] = str(value)
        return env

    def cli(self, args, settings=None, stdin=None, timeout=300):
        """Runs `stagebridge ARGS` on these databases (config through the environment): CompletedProcess
        with text stdout/stderr; returncode is -9 when the process was SIGKILLed."""
        return subprocess.run([BIN] + list(args), env=self.env(**(settings or {})), input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    def prepare(self, password):
        """schema apply + operator admin with `password`."""
        r = self.cli(["schema", "apply"])
        if r.returncode != 0:
            raise RuntimeError("schema apply failed: %s" % r.stderr[-2000:])
        r = self.cli(["operator", "add", "admin", "--admin", "--password-stdin"], stdin=password + "\n")
        if r.returncode != 0:
            raise RuntimeError("operator add failed: %s" % r.stderr[-2000:])

    def history(self, workflow="ffdaReplicateStagingData", limit=100000):
        """`workflow history --json`: the runs, newest first."""
        r = self.cli(["workflow", "history", workflow, "--limit", str(limit), "--json"])
        if r.returncode != 0:
            raise RuntimeError("workflow history failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
        return json.loads(r.stdout)

    def cloud_snapshot(self, cloud_tables):
        """Databases.snapshot on the cloud database: (every table name, {cloud table: row count})."""
        return Databases.snapshot(_OneDatabase(self.backend, self.cloud_url), cloud_tables)


class _OneDatabase:
    """What Databases.snapshot needs (backend, query) for one database URL."""

    def __init__(self, backend, url):
        self.backend = backend
        self.url = url

    def query(self, sql):
        return url_query(self.url, sql)


class SoapCall:
    """Outcome of one SOAP call: kind 'ok' (HTTP 200, no fault), 'fault' (a SOAP fault: nothing was
    written) or 'unknown' (no complete answer); `ids` the pstrSUuids of an Ingest; `text` the body."""

    def __init__(self, kind, status=None, text="", ids=None):
        self.kind = kind
        self.status = status
        self.text = text
        self.ids = ids or []

    @property
    def fault_code(self):
        m = re.search(r"<faultstring[^>]*>([A-Z]{3}-\d{6})", self.text)
        return m.group(1) if m else None

    def __repr__(self):
        return "SoapCall(%s, %s, %r)" % (self.kind, self.status, self.text[-300:])


class SoapClient:
    """One keep-alive connection to a server's SOAP router (one per thread); reconnects after a transport error."""

    def __init__(self, port, session=None, security=None, timeout=60):
        self.port = port
        self.session = session
        self.security = security
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def post(self, action, body):
        """(HTTP status, text); raises OSError / http.client.HTTPException on a transport error."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
        if self.security:
            headers["X-Security-Token"] = self.security
        try:
            self.conn.request("POST", "/nl/jsp/soaprouter.jsp", body.encode("utf-8"), headers)
            resp = self.conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    @staticmethod
    def envelope(namespace, method, params):
        return ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="%s"><soapenv:Body><urn:%s>%s</urn:%s>'
                '</soapenv:Body></soapenv:Envelope>' % (SOAP_ENV_NS, namespace, method, params, method))

    def logon(self, login, password):
        status, text = self.post("xtk:session#Logon", self.envelope(
            "urn:xtk:session", "Logon", "<urn:sessiontoken/><urn:strLogin>%s</urn:strLogin><urn:strPassword>%s"
            "</urn:strPassword><urn:elemParameters/>" % (login, password)))
        m1 = re.search(r"<pstrSessionToken[^>]*>([^<]*)<", text)
        m2 = re.search(r"<pstrSecurityToken[^>]*>([^<]*)<", text)
        if status != 200 or not m1 or not m2:
            raise RuntimeError("logon failed: HTTP %d %s" % (status, text[-500:]))
        self.session, self.security = m1.group(1), m2.group(1)
        return self.session, self.security

    def call(self, service, method, params_xml):
        """A method of `service` ("xtk:session") with the session token first, then `params_xml`."""
        body = self.envelope("urn:" + service, method,
                             "<urn:sessiontoken>%s</urn:sessiontoken>%s" % (self.session, params_xml))
        try:
            status, text = self.post("%s#%s" % (service, method), body)
        except (OSError, http.client.HTTPException) as e:
            return SoapCall("unknown", None, "%s: %s" % (type(e).__name__, e))
        if "<SOAP-ENV:Fault>" in text:
            return SoapCall("fault", status, text)
        if status != 200:
            return SoapCall("unknown", status, text)
        return SoapCall("ok", status, text)

    def ingest(self, dom):
        """xtk:session#Ingest of `dom` (a record or a collection, as XML text); ids parsed from pstrSUuids."""
        r = self.call("xtk:session", "Ingest", "<urn:domDoc>%s</urn:domDoc>" % dom)
        if r.kind == "ok":
            m = re.search(r"<pstrSUuids[^>]*?(?:/>|>([^<]*)</pstrSUuids>)", r.text)
            if not m:
                return SoapCall("unknown", r.status, "200 without pstrSUuids: " + r.text[-300:])
            r.ids = (m.group(1) or "").split(",")
        return r

    def ingest_ext(self, dom):
        return self.call("xtk:session", "IngestExt", "<urn:domDoc>%s</urn:domDoc>" % dom)

    def start_replicate(self, schema="dem:sampleTable"):
        return self.call("nms:replicationStrategy", "StartReplicateStagingData", "<urn:schema>%s</urn:schema>" % schema)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgCluster:
    """A private PostgreSQL server (initdb in a temp dir, trust auth, 127.0.0.1 on a free port), which a test
    may stop and start again, e.g. as the cloud database of an outage test. As root it runs as `postgres`."""

    def __init__(self):
        bindir = ""
        try:
            bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        except OSError:
            pass
        if not bindir or not os.path.exists(os.path.join(bindir, "initdb")):
            bindir = "/usr/lib/postgresql/15/bin"
        self.bindir = bindir
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        self.workdir = tempfile.mkdtemp(prefix="sb-cloudpg-")
        self.datadir = os.path.join(self.workdir, "data")
        self.sockdir = os.path.join(self.workdir, "sock")
        os.makedirs(self.sockdir)
        if self.as_owner:
            subprocess.run(["chown", "-R", "postgres:", self.workdir], check=True)
        self._pg(["initdb", "-D", self.datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"])
        self.port = None
        self.running = False

    def _pg(self, args, check=True):
        out = subprocess.run(self.as_owner + [os.path.join(self.bindir, args[0])] + args[1:], cwd=self.workdir,
                             capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise RuntimeError("%s failed: %s%s" % (args[0], out.stdout[-1000:], out.stderr[-1000:]))
        return out

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def start(self):
        """Starts the server (on the same port as before when restarted) and waits until it accepts connections."""
        ports = [self.port] if self.port else [free_port() for _ in range(3)]
        for port in ports:
            out = self._pg(["pg_ctl", "-D", self.datadir, "-l", os.path.join(self.workdir, "server.log"), "-w",
                            "-t", "60", "-o", "-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='%s' "
                            "-c fsync=off -c max_connections=100" % (port, self.sockdir), "start"], check=False)
            if out.returncode == 0:
                self.port = port
                self.running = True
                ok = wait_for(lambda: subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q", "-h",
                                                      "127.0.0.1", "-p", str(port), "-U", "postgres"]).returncode == 0,
                              30, 0.1)
                if not ok:
                    raise RuntimeError("private PostgreSQL is not ready on port %d" % port)
                return
        raise RuntimeError("private PostgreSQL did not start: %s" % self.log_tail())

    def stop(self, mode="immediate"):
        self._pg(["pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "60", "stop"])
        self.running = False

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.workdir, "server.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        if self.running:
            try:
                self.stop("fast")
            except Exception:  # noqa: BLE001
                self._pg(["pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


class Results:
    """Counts checks and prints each one (thread-safe)."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lock = threading.Lock()

    def check(self, name, ok, detail=""):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
            if ok and len(detail) > 160:  # a passing check's detail is a reminder, not a dump
                detail = " ".join(detail.split())[:160] + "…"
            print("%s %s%s" % ("ok  " if ok else "FAIL", name, (" — " + detail) if detail else ""))
            sys.stdout.flush()
        return ok


class CaseError(Exception):
    """Stops a case: a precondition of what follows did not hold."""


def run_cases(title, backend, cases, env_prefix):
    """Runs `cases` [(name, fn(work, results, seed))] on `backend`; returns the exit code.

    ${env_prefix}_CASES (comma list) picks cases, ${env_prefix}_SEED replays a seed.
    Prints `title[backend]: N passed, M failed`.
    """
    if not BIN or not SRC:
        print("STAGEBRIDGE_BIN and STAGEBRIDGE_SOURCE_DIR must be set", file=sys.stderr)
        return 2
    if backend not in ("sqlite", "postgres"):
        print("usage: %s sqlite|postgres" % os.path.basename(sys.argv[0]), file=sys.stderr)
        return 2
    wanted = [c for c in os.environ.get(env_prefix + "_CASES", "").split(",") if c]
    seed = int(os.environ.get(env_prefix + "_SEED", str(int(time.time()))))
    print("%s[%s]: seed %d (%s_SEED to replay)" % (title, backend, seed, env_prefix))
    work = tempfile.mkdtemp(prefix="sb-%s-" % title)
    results = Results()
    began = time.time()
    for name, case in cases:
        if wanted and name not in wanted:
            continue
        t0 = time.time()
        try:
            case(work, results, seed)
        except CaseError as e:
            results.check("%s: case ran to its end" % name, False, str(e))
        except Exception as e:  # noqa: BLE001
            results.check("%s: no unexpected error" % name, False,
                          "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()[-2000:]))
        print("     %s: %.1f s" % (name, time.time() - t0))
    if results.failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("work directory kept: %s" % work)
    print("%s[%s]: %d passed, %d failed (%.0f s)" % (title, backend, results.passed, results.failed,
                                                    time.time() - began))
    return 0 if results.failed == 0 else 1


def workflow_json(dbs, args, settings=None):
    """Runs the CLI `args` (a `workflow run … --json`) on `dbs`: (returncode, run dict or None, stderr)."""
    r = dbs.cli(args, settings)
    run = None
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            try:
                run = json.loads(line)
            except ValueError:
                pass
    return r.returncode, run, r.stderr


def schema_figures(run, schema):
    """The figures of `schema` in a run dict; zeros when the run did not touch it."""
    for s in (run or {}).get("schemas", []):
        if s["schema"] == schema:
            return s
    return {"staged": 0, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 0, "batches": 0, "rejections": []}


# ----------------------------------------------------------------------------- query helpers
# Added for tests/query (append only).

def timestamp_epoch(ts):
    """Seconds since the epoch of a timestamp as a database or the API prints it ('2026-01-02 03:04:05[.123][Z|+00
    [:00]]', a 'T' accepted, no zone = UTC); None when unreadable."""
    from datetime import datetime, timezone
    m = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d(?::?\d\d)?)?$", (ts or "").strip())
    if not m:
        return None
    t = datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    t += float(m.group(3) or 0)
    z = m.group(4)
    if z and z != "Z":
        sign = -1 if z[0] == "-" else 1
        digits = z[1:].replace(":", "")
        t -= sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    return t


# ----------------------------------------------------------------------------- cluster helpers
# Added for tests/cluster (append only).

def file_tail(path, n=30):
    """The last `n` lines of the file at `path` as text ("" when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
    except OSError:
        return ""
