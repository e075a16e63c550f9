"""sbtest — shared harness of the Python end-to-end tests (hostile, durability).

`Databases`: fresh local and cloud databases on a backend (SQLite files, or
`CREATE DATABASE` on $STAGEBRIDGE_TEST_PG_URL), and SQL on the local one.
`Server`: a real `stagebridge serve` on 127.0.0.1 port 0, started when it printed
"listening on HOST:PORT" (no sleeps), stopped with SIGTERM or killed with SIGKILL.
Needs STAGEBRIDGE_BIN and STAGEBRIDGE_SOURCE_DIR. Python 3 standard library only.
"""

import os
import re
import resource
import select
import signal
import sqlite3
import subprocess
import sys
import time

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
