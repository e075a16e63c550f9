#!/usr/bin/env python3
"""tls_test.py BACKEND — HTTPS end to end, against the real binary (docs/security.md §TLS).

Every case makes its own throwaway CA and server certificates with the openssl CLI (no
network), starts a real `stagebridge serve` with --tls-cert/--tls-key on fresh databases of
BACKEND, and talks to it with curl and Python's ssl module, checking what a user would:

  1. config      start-up errors name the file: missing certificate, a key that is not the
                 certificate's, a certificate file that is not PEM, a key without a
                 certificate, a bad tls_min_version, listen_http without TLS — each exits 1
                 or 2 with the message, no listener.
  2. https       curl --cacert: ping, Logon + Ingest over HTTPS (the row is staged), the WSDL
                 advertises https://, keep-alive (several calls on one TLS connection),
                 Expect: 100-continue and 413 over TLS, the plain listener (--listen-http).
  3. refused     a client that does not trust the CA fails verification and nothing is staged;
                 plain HTTP to the HTTPS port gets no HTTP answer; TLS 1.2 against
                 --tls-min-version 1.3 fails, 1.3 passes; garbage bytes as a ClientHello; the
                 server serves after each, and /metrics counts the failed handshakes.
  4. floods      with --max-connections 20: 20 connections that never send a ClientHello hold
                 no thread (an HTTPS call is answered while they are open), the 21st connection
                 is closed at once, 200 connections that send garbage or hang up mid-handshake
                 leave the server serving; the stalled ones are dropped (they see EOF) after the
                 handshake timeout.
  5. budget      the in-flight body budget over TLS: with a stalled 1 MB body held, another
                 gets 503 unread, a small one and a ping pass, and once the stalled one is
                 dropped a 1 MB body is read again.
  6. reload      SIGHUP with new files: new connections get the new certificate, a keep-alive
                 connection opened before goes on with the old one; SIGHUP with broken files
                 keeps the previous certificate in use and says so in the log.

Prints ok/FAIL per check and `tls[BACKEND]: N passed, M failed`; exits 1 when anything
failed. Needs STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR, openssl and curl; for postgres
STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh). TLS_CASES=https,reload runs a subset.
"""

import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import BIN, CaseDatabases, CaseError, Server, SoapClient, run_cases, wait_for  # noqa: E402

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
PASSWORD = "tls-secret"
STAGED = "SELECT count(*) FROM DemSampleTableStg"


# ----------------------------------------------------------------------------- certificates

def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise CaseError("openssl %s: %s" % (" ".join(args[:2]), r.stderr[-500:]))


class Pki:
    """A CA and server certificates it signs, for 127.0.0.1 / localhost, in `dir`."""

    def __init__(self, directory, name="ca"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca = os.path.join(directory, name + ".pem")
        self.ca_key = os.path.join(directory, name + ".key")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca,
                "-days", "2", "-subj", "/CN=stagebridge test %s" % name, cwd=directory)
        with open(os.path.join(directory, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self.count = 0

    def server_cert(self, name):
        """(certificate file — the leaf then the CA, a chain —, key file, serial as hex)."""
        self.count += 1
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        leaf = os.path.join(self.dir, name + ".leaf.pem")
        chain = os.path.join(self.dir, name + ".pem")
        serial = "%x" % (0x5B00 + self.count)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost",
                cwd=self.dir)
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-set_serial", "0x" + serial,
                "-out", leaf, "-days", "2", "-extfile", "san.ext", cwd=self.dir)
        with open(chain, "w") as out:
            out.write(open(leaf).read() + open(self.ca).read())
        return chain, key, serial


def client_context(ca=None, max_version=None):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def peer_serial(port, ca):
    """The serial (hex, lower case) of the certificate a new TLS connection is shown."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            der = tls.getpeercert(binary_form=True)
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der, capture_output=True)
    return r.stdout.decode().strip().split("=")[-1].lower().lstrip("0")


# ----------------------------------------------------------------------------- clients

class HttpsSoapClient(SoapClient):
    """SoapClient over one keep-alive HTTPS connection trusting `ca`."""

    def __init__(self, port, ca, **kw):
        super().__init__(port, **kw)
        self.ctx = client_context(ca)

    def post(self, action, body):
        if self.conn is None:
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=self.timeout, context=self.ctx)
        return super().post(action, body)


def curl(*args):
    """(exit code, HTTP body, stderr) of curl with ARGS."""
    r = subprocess.run(["curl", "-s", "-S", "-m", "20"] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def record(i):
    return '<sampleTableStg testcol1="tls %d" testcol2="over https" xtkschema="dem:sampleTableStg"/>' % i


def metrics_refused(port, ca, reason):
    code, body, _ = curl("--cacert", ca, "https://127.0.0.1:%d/metrics" % port)
    m = re.search(r'stagebridge_http_refused_total\{reason="%s"\} (\d+)' % reason, body)
    return int(m.group(1)) if code == 0 and m else None


def serving(port, ca):
    code, body, _ = curl("--cacert", ca, "https://127.0.0.1:%d/nl/jsp/ping.jsp" % port)
    return code == 0 and body.startswith("OK")


def new_case(work, name):
    dbs = CaseDatabases(BACKEND, os.path.join(work, name))
    dbs.prepare(PASSWORD)
    pki = Pki(os.path.join(work, name, "pki"))
    return dbs, pki


def start(dbs, name, cert, key, extra=()):
    server = Server(dbs, dbs.work, name, ["--tls-cert", cert, "--tls-key", key] + list(extra))
    server.start()
    return server


# ----------------------------------------------------------------------------- cases

def case_config(work, results, seed):
    dbs, pki = new_case(work, "config")
    cert, key, _ = pki.server_cert("server")
    other_cert, other_key, _ = pki.server_cert("other")
    try:
        def serve(args):
            return dbs.cli(["--listen", "127.0.0.1:0"] + args + ["serve"], timeout=60)

        missing = os.path.join(dbs.work, "nope.pem")
        for title, args, code, pattern in [
            ("a missing certificate file", ["--tls-cert", missing, "--tls-key", key], 1,
             r"tls_cert %s: cannot be read \(No such file or directory\)" % re.escape(missing)),
            ("a key that is not the certificate's", ["--tls-cert", cert, "--tls-key", other_key], 1,
             r"tls_key %s does not match the certificate in tls_cert %s" % (re.escape(other_key), re.escape(cert))),
            ("a certificate file that is not PEM", ["--tls-cert", key, "--tls-key", key], 1,
             r"tls_cert %s: not a PEM certificate" % re.escape(key)),
            ("a key file that is not a key", ["--tls-cert", cert, "--tls-key", pki.ca], 1,
             r"tls_key %s: not a PEM private key" % re.escape(pki.ca)),
            ("a key without a certificate", ["--tls-key", key], 2, r"tls_key \(flag --tls-key\) is set but tls_cert"),
            ("tls_min_version 1.1", ["--tls-cert", cert, "--tls-key", key, "--tls-min-version", "1.1"], 2,
             r"tls_min_version \(flag --tls-min-version\): '1.1' is not 1.2 or 1.3"),
            ("listen_http without TLS", ["--listen-http", "127.0.0.1:0"], 2,
             r"listen_http \(flag --listen-http\): a second, plain listener needs HTTPS"),
        ]:
            r = serve(args)
            results.check("config: %s exits %d naming it" % (title, code),
                          r.returncode == code and re.search(pattern, r.stderr) is not None
                          and "listening on" not in r.stdout,
                          "exit %d, stderr %r" % (r.returncode, r.stderr[-300:]))
        del other_cert
    finally:
        dbs.drop()


def case_https(work, results, seed):
    dbs, pki = new_case(work, "https")
    cert, key, _ = pki.server_cert("server")
    server = start(dbs, "https", cert, key, ["--listen-http", "127.0.0.1:0"])
    try:
        port = server.port
        code, body, err = curl("--cacert", pki.ca, "https://127.0.0.1:%d/nl/jsp/ping.jsp" % port)
        results.check("https: ping over HTTPS with the test CA", code == 0 and body.startswith("OK"), err)
        code, body, err = curl("--cacert", pki.ca, "https://localhost:%d/nl/jsp/ping.jsp" % port)
        results.check("https: the certificate's DNS name works too", code == 0 and body.startswith("OK"), err)

        client = HttpsSoapClient(port, pki.ca)
        client.logon("admin", PASSWORD)
        ids = []
        for i in range(5):
            r = client.ingest(record(i))
            if r.kind == "ok":
                ids += r.ids
        results.check("https: Logon then 5 Ingests on one keep-alive TLS connection", len(ids) == 5, repr(ids))
        staged = dbs.query("SELECT uSampleTableId FROM DemSampleTableStg WHERE sTestcol2 = 'over https'")
        results.check("https: every acknowledged uuid is staged", sorted(r[0] for r in staged) == sorted(ids),
                      "%d staged" % len(staged))
        client.close()

        code, body, err = curl("--cacert", pki.ca, "https://127.0.0.1:%d/nl/jsp/schemawsdl.jsp?schema=xtk:session" % port)
        results.check("https: the WSDL served over HTTPS advertises an https:// address",
                      code == 0 and ('location="https://127.0.0.1:%d/nl/jsp/soaprouter.jsp"' % port) in body,
                      body[-300:])

        # Expect: 100-continue over TLS: curl sends it above 1 MiB and waits for the 100.
        big = os.path.join(dbs.work, "big.xml")
        with open(big, "w") as f:
            f.write("<x>" + "a" * (2 << 20) + "</x>")
        code, body, err = curl("-v", "--cacert", pki.ca, "-H", "SOAPAction: xtk:session#Ingest", "-H",
                               "Content-Type: text/xml", "--data-binary", "@" + big,
                               "https://127.0.0.1:%d/nl/jsp/soaprouter.jsp" % port)
        results.check("https: a 2 MB POST gets 100 Continue, then its fault", "HTTP/1.1 100 Continue" in err
                      and "SOP-330001" in body, err[-400:])
        huge = os.path.join(dbs.work, "huge.xml")
        with open(huge, "w") as f:
            f.write("a" * (33 << 20))
        code, body, err = curl("-v", "--cacert", pki.ca, "--data-binary", "@" + huge,
                               "https://127.0.0.1:%d/nl/jsp/soaprouter.jsp" % port)
        results.check("https: a 33 MB POST gets 413 over TLS", "HTTP/1.1 413" in err, err[-300:])

        log = open(server.log_path, encoding="utf-8", errors="replace").read()
        m = re.search(r"also listening on http://127\.0\.0\.1:(\d+) \(plain HTTP\)", log)
        results.check("https: the plain listener is logged", m is not None, log[-300:])
        if m:
            code, body, err = curl("http://127.0.0.1:%s/nl/jsp/ping.jsp" % m.group(1))
            results.check("https: --listen-http serves plain HTTP", code == 0 and body.startswith("OK"), err)
            code, body, err = curl("http://127.0.0.1:%s/nl/jsp/schemawsdl.jsp?schema=xtk:session" % m.group(1))
            results.check("https: the plain listener's WSDL advertises http://",
                          code == 0 and 'location="http://127.0.0.1:%s/' % m.group(1) in body, body[-200:])
        results.check("https: TLS is logged with its minimum version and certificate",
                      re.search(r"TLS 1\.2 or later, certificate %s" % re.escape(cert), log) is not None)
    finally:
        rc = server.stop()
        results.check("https: the server stops cleanly on SIGTERM", rc == 0, "exit %r\n%s" % (rc, server.log_tail()))
        dbs.drop()


def case_refused(work, results, seed):
    dbs, pki = new_case(work, "refused")
    stranger = Pki(os.path.join(work, "refused", "stranger"), "stranger")
    cert, key, _ = pki.server_cert("server")
    server = start(dbs, "refused", cert, key)
    try:
        port = server.port
        before = metrics_refused(port, pki.ca, "tls_handshake")
        client = HttpsSoapClient(port, stranger.ca)
        try:
            client.logon("admin", PASSWORD)
            refused = False
        except ssl.SSLCertVerificationError:
            refused = True
        except Exception as e:  # noqa: BLE001
            refused = "CERTIFICATE_VERIFY_FAILED" in str(e)
        results.check("refused: a client trusting another CA fails verification", refused)
        code, _, err = curl("--cacert", stranger.ca, "-H", "SOAPAction: xtk:session#Ingest",
                            "--data", "<x/>", "https://127.0.0.1:%d/nl/jsp/soaprouter.jsp" % port)
        results.check("refused: curl with the wrong CA: exit 60 (certificate problem)", code == 60, err)
        code, _, err = curl("https://127.0.0.1:%d/nl/jsp/ping.jsp" % port)
        results.check("refused: curl with the system CAs only: exit 60", code == 60, err)
        results.check("refused: nothing staged", dbs.query(STAGED) == [["0"]])
        results.check("refused: the server serves a trusting client", serving(port, pki.ca))

        code, body, err = curl("http://127.0.0.1:%d/nl/jsp/ping.jsp" % port)
        results.check("refused: plain HTTP to the HTTPS port gets no HTTP answer",
                      code in (52, 56) and not body.startswith("OK"), "exit %d %s" % (code, err))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00\x05garbage-not-a-client-hello" * 4)
            s.settimeout(10)
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
        results.check("refused: garbage instead of a ClientHello gets no HTTP answer", b"HTTP/" not in data,
                      repr(data[:80]))
        results.check("refused: the server serves after both", serving(port, pki.ca))
        after = wait_for(lambda: (metrics_refused(port, pki.ca, "tls_handshake") or 0) >= (before or 0) + 4, 10)
        results.check("refused: /metrics counts the failed handshakes (reason=\"tls_handshake\")",
                      before is not None and after, "before %r, now %r" % (
                          before, metrics_refused(port, pki.ca, "tls_handshake")))
    finally:
        server.stop()

    # The minimum version.
    server = start(dbs, "tls13", cert, key, ["--tls-min-version", "1.3"])
    try:
        port = server.port
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with client_context(pki.ca, ssl.TLSVersion.TLSv1_2).wrap_socket(raw, server_hostname="127.0.0.1"):
                    old_ok = True
        except ssl.SSLError:
            old_ok = False
        results.check("refused: a TLS 1.2 client against --tls-min-version 1.3 fails", not old_ok)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client_context(pki.ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                version = tls.version()
        results.check("refused: a default client negotiates TLS 1.3", version == "TLSv1.3", version)
        code, _, err = curl("--tlsv1.2", "--tls-max", "1.2", "--cacert", pki.ca,
                            "https://127.0.0.1:%d/nl/jsp/ping.jsp" % port)
        results.check("refused: curl limited to TLS 1.2 fails against 1.3 (exit 35)", code == 35, err)
        results.check("refused: a TLS 1.3 client is served", serving(port, pki.ca))
    finally:
        server.stop()
        dbs.drop()


def case_floods(work, results, seed):
    dbs, pki = new_case(work, "floods")
    cert, key, _ = pki.server_cert("server")
    server = start(dbs, "floods", cert, key, ["--max-connections", "20", "--threads", "1"])
    try:
        port = server.port
        stalled = []
        for _ in range(19):
            stalled.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        # 19 silent connections (no ClientHello) and one real client on a single I/O thread.
        client = HttpsSoapClient(port, pki.ca)
        t0 = time.time()
        client.logon("admin", PASSWORD)
        r = client.ingest(record(1))
        results.check("floods: with 19 stalled handshakes open, Logon + Ingest over HTTPS are answered",
                      r.kind == "ok" and len(r.ids) == 1, "%r in %.2f s" % (r, time.time() - t0))
        # The 21st connection (19 + the client) is over the limit: closed at once, no handshake.
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra.settimeout(10)
        try:
            data = extra.recv(100)
            closed = data == b""
        except ConnectionResetError:
            closed = True
        except OSError:
            closed = False
        extra.close()
        results.check("floods: a connection over max_connections is closed at once", closed)
        refused = wait_for(lambda: (metrics_refused_via(client) or 0) >= 1, 10)
        results.check("floods: /metrics counts it (reason=\"connections\")", refused is not None)
        client.close()

        # The stalled connections are dropped after the handshake timeout: each sees EOF.
        def sees_eof(s):
            s.settimeout(30)
            try:
                return s.recv(100) == b""
            except OSError:
                return True

        eofs = [sees_eof(s) for s in stalled]
        results.check("floods: every stalled handshake is dropped by the server (EOF)", all(eofs),
                      "%d of %d" % (eofs.count(True), len(eofs)))
        for s in stalled:
            s.close()

        # 200 connections that send garbage or hang up mid-handshake, from 8 threads.
        def abuse(n):
            for i in range(25):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                        if (n + i) % 3 == 0:
                            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello cut short
                        elif (n + i) % 3 == 1:
                            s.sendall(os.urandom(512))
                        # else: connect and hang up at once
                except OSError:
                    pass

        threads = [threading.Thread(target=abuse, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = wait_for(lambda: serving(port, pki.ca), 20)
        results.check("floods: after 200 aborted handshakes the server serves", ok is not None)
        client = HttpsSoapClient(port, pki.ca)
        client.logon("admin", PASSWORD)
        r = client.ingest(record(2))
        results.check("floods: and stages", r.kind == "ok", repr(r))
        client.close()
        results.check("floods: the server is alive", server.alive(), server.log_tail())
        results.check("floods: exactly the two acknowledged rows are staged", dbs.query(STAGED) == [["2"]])
    finally:
        server.stop()
        dbs.drop()


def case_budget(work, results, seed):
    """The in-flight body budget over TLS, as over HTTP: a stalled body holds its bytes."""
    dbs, pki = new_case(work, "budget")
    cert, key, _ = pki.server_cert("server")
    server = start(dbs, "budget", cert, key, ["--max-body-bytes", "1048576", "--max-inflight-body-bytes", "1572864"])
    ctx = client_context(pki.ca)

    def tls_conn():
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def head(length, expect=False):
        return ("POST /nl/jsp/soaprouter.jsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                "SOAPAction: xtk:session#Ingest\r\nContent-Length: %d\r\n%s\r\n"
                % (length, "Expect: 100-continue\r\n" if expect else "")).encode()

    def status_of(conn):
        data = b""
        while b"\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        m = re.match(rb"HTTP/1\.1 (\d+)", data)
        return int(m.group(1)) if m else None

    try:
        # A 1 MB body announced with Expect: 100-continue: the 100 comes once the server
        # has taken the body's bytes from the budget; then 1 KB of it, and a stall.
        stalled = tls_conn()
        stalled.sendall(head(1000000, expect=True))
        results.check("budget: the stalled request got its 100 Continue", status_of(stalled) == 100)
        stalled.sendall(b"<x>" + b"a" * 1000)
        second = tls_conn()
        second.sendall(head(1000000))
        results.check("budget: over TLS, a body beyond the in-flight budget gets 503 unread", status_of(second) == 503)
        second.close()
        small = tls_conn()
        body = b"<x/>"
        small.sendall(head(len(body)) + body)
        results.check("budget: a body that fits is still read (its fault: not an envelope)", status_of(small) == 500)
        small.close()
        results.check("budget: a ping passes meanwhile", serving(server.port, pki.ca))
        stalled.close()
        def fits():
            c = tls_conn()
            try:
                c.sendall(head(1000000) + b"a" * 1000000)
                return status_of(c) == 500
            finally:
                c.close()
        results.check("budget: once the stalled body is dropped, a 1 MB body is read again",
                      wait_for(fits, 10) is not None)
        results.check("budget: the server is alive", server.alive(), server.log_tail())
    finally:
        server.stop()
        dbs.drop()


def metrics_refused_via(client):
    conn = http.client.HTTPSConnection("127.0.0.1", client.port, timeout=10, context=client.ctx)
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
    except OSError:
        return None
    finally:
        conn.close()
    m = re.search(r'stagebridge_http_refused_total\{reason="connections"\} (\d+)', body)
    return int(m.group(1)) if m else None


def case_reload(work, results, seed):
    dbs, pki = new_case(work, "reload")
    cert, key, serial1 = pki.server_cert("server")
    live_cert = os.path.join(dbs.work, "live.pem")
    live_key = os.path.join(dbs.work, "live.key")
    for src, dst in ((cert, live_cert), (key, live_key)):
        with open(dst, "w") as out:
            out.write(open(src).read())
    server = start(dbs, "reload", live_cert, live_key)
    try:
        port = server.port
        results.check("reload: the first certificate is served", peer_serial(port, pki.ca) == serial1,
                      "%s vs %s" % (peer_serial(port, pki.ca), serial1))
        old = HttpsSoapClient(port, pki.ca)
        old.logon("admin", PASSWORD)

        cert2, key2, serial2 = pki.server_cert("renewed")
        for src, dst in ((cert2, live_cert), (key2, live_key)):
            with open(dst, "w") as out:
                out.write(open(src).read())
        os.kill(server.proc.pid, signal.SIGHUP)
        switched = wait_for(lambda: peer_serial(port, pki.ca) == serial2, 10)
        results.check("reload: after SIGHUP new connections get the renewed certificate", switched is not None,
                      "serial now %s, want %s" % (peer_serial(port, pki.ca), serial2))
        r = old.ingest(record(1))
        results.check("reload: a keep-alive connection opened before goes on", r.kind == "ok", repr(r))
        old_peer = old.conn.sock.getpeercert(binary_form=True) if old.conn and old.conn.sock else None
        results.check("reload: it still holds the first certificate", old_peer is not None and
                      subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=old_peer,
                                     capture_output=True).stdout.decode().strip().split("=")[-1].lower()
                      .lstrip("0") == serial1)
        old.close()
        log = open(server.log_path, encoding="utf-8", errors="replace").read()
        results.check("reload: the log says so", "SIGHUP: TLS certificate and key reloaded" in log, log[-300:])

        with open(live_key, "w") as out:
            out.write("not a key\n")
        os.kill(server.proc.pid, signal.SIGHUP)
        said = wait_for(lambda: "SIGHUP: TLS files not reloaded, the previous ones stay in use" in
                        open(server.log_path, encoding="utf-8", errors="replace").read(), 10)
        results.check("reload: broken files on SIGHUP are logged and refused", said is not None, server.log_tail())
        results.check("reload: the renewed certificate stays in use", peer_serial(port, pki.ca) == serial2)
        client = HttpsSoapClient(port, pki.ca)
        client.logon("admin", PASSWORD)
        r = client.ingest(record(2))
        results.check("reload: the server serves and stages", r.kind == "ok", repr(r))
        client.close()
        results.check("reload: the server is alive", server.alive(), server.log_tail())
    finally:
        rc = server.stop()
        results.check("reload: the server stops cleanly", rc == 0, "exit %r" % rc)
        dbs.drop()


CASES = [("config", case_config), ("https", case_https), ("refused", case_refused), ("floods", case_floods),
         ("budget", case_budget), ("reload", case_reload)]

if __name__ == "__main__":
    if not BIN:
        print("STAGEBRIDGE_BIN is not set", file=sys.stderr)
    sys.exit(run_cases("tls", BACKEND, CASES, "TLS"))
