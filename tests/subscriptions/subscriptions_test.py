#!/usr/bin/env python3
"""subscriptions_test.py BACKEND — subscriptions (nms:subscription#Subscribe / #Unsubscribe,
`stagebridge service`, the ffdaUnsubscribe workflow) end to end, against the real binary.

BACKEND is sqlite or postgres (local and cloud databases on that backend). Every case uses
fresh databases, a real `stagebridge serve`, SOAP calls over HTTP and `stagebridge workflow
run|history` / `service add|list`; it asserts what a user would see: the faults, the rows
staged in the local table SbSubscriptionRequest, and the cloud tables NmsRecipient,
NmsService, NmsSubscription and NmsSubHisto.

  1. cli          `service add` (labels, channels, duplicate, bad channel, a comma list,
                  before `schema apply`), `service list` (NAME LABEL CHANNEL SUBSCRIBERS).
  2. intake       every fault (SUB-200001/2/3, STG-200003/4, SOP-330003, STG-200010,
                  XSV-350008, a contradicting SOAPAction) stages nothing; every request style
                  (SoapUI prefixed literal, acc-js-sdk RPC with ?soapAction= and/or the
                  header, node-soap document style, no SOAPAction) stages exactly the
                  request; a service staged through IngestExt is known, one staged then
                  deleted is not; method discovery (xtk:persist#GetEntityIfMoreRecent) and
                  the WSDL.
  3. semantics    one run over every rule (subscribe, comma list, create, last request
                  wins, blocklist and its precedence, channel opt-outs set through IngestExt
                  and merged first, unknown recipient, no-ops, _key="@id", a staged
                  service): exact cloud tables, history rows, figures, the nested
                  ffdaReplicateStagingData run; a second round; a third run changes nothing;
                  mobile registrations (nms:appSubscriptionRcpStg) through the sync.
  4. schedule     the server's --unsubscribe-schedule "every 2s" applies an acknowledged
                  request with no CLI run (trigger "schedule").
  5. crash        SIGKILL at each fault-injection point (subscriptions-leftovers, -applied,
                  -committed) and two double crashes; more requests; the next run ends in
                  exactly the state of the acknowledged requests: no lost request, no
                  duplicated history row, no recipient created twice.
  6. concurrency  writer threads send Subscribe/Unsubscribe while `workflow run
                  ffdaUnsubscribe` runs in a loop and the server's schedule runs every 1 s:
                  cloud state and history = the model applying every acknowledged request in
                  acknowledgement order per (recipient, service); the figures add up.
  7. kill9        `kill -9` of the server while Subscribe calls are being acknowledged:
                  after a restart and a run, every acknowledged request is applied, once.

Prints ok/FAIL per check and `subscriptions[BACKEND]: N passed, M failed`; exits 1 when
anything failed. Needs STAGEBRIDGE_BIN (a build with fault injection), STAGEBRIDGE_SOURCE_DIR,
and for postgres STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh).
SUB_CASES=semantics,crash runs a subset; SUB_SEED replays the random choices.
"""

import http.client
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sbtest import (  # noqa: E402
    CaseDatabases, CaseError, PgCluster, Server, SoapCall, SoapClient, run_cases, schema_figures,
    wait_for, workflow_json)

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
WF = "ffdaUnsubscribe"
SUB = "nms:subscription"
URN = "urn:nms:subscription"
ROUTER = "/nl/jsp/soaprouter.jsp"
PASSWORD = "subs-secret"
ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
FLAGS = ["blackList", "blackListEmail", "blackListMobile", "blackListPhone", "blackListPostalMail", "blackListFax"]
CHANNEL_FLAG = {"email": "blackListEmail", "mobile": "blackListMobile", "phone": "blackListPhone",
                "mail": "blackListPostalMail", "fax": "blackListFax"}
CRASH_POINTS = ["subscriptions-leftovers", "subscriptions-applied", "subscriptions-committed"]
NO_SCHEDULES = ["--unsubscribe-schedule", "off", "--replicate-schedule", "off"]


# ----------------------------------------------------------------------------- payloads

def rcp(email=None, key=None, **attrs):
    """A <recipient …/> element: _key first, then email, then the other attributes."""
    parts = []
    if key is not None:
        parts.append("_key=%s" % quoteattr(key))
    if email is not None:
        parts.append("email=%s" % quoteattr(email))
    for k, v in attrs.items():
        parts.append("%s=%s" % (k, quoteattr(str(v))))
    return "<recipient %s/>" % " ".join(parts)


def sub_params(services, recipient, create=None):
    """The parameters after the session token, SoapUI style (urn: prefix)."""
    p = "<urn:serviceName>%s</urn:serviceName><urn:recipient>%s</urn:recipient>" % (escape(services), recipient)
    if create is not None:
        p += "<urn:create>%s</urn:create>" % create
    return p


def subscribe(client, services, recipient, create="true"):
    return client.call(SUB, "Subscribe", sub_params(services, recipient, create))


def unsubscribe(client, services, recipient):
    return client.call(SUB, "Unsubscribe", sub_params(services, recipient))


def short(r):
    if r.kind == "fault":
        return "fault %s: %s" % (r.fault_code, faultstring(r.text)[:200])
    if r.kind == "ok":
        return "ok"
    return repr(r)


def faultstring(text):
    m = re.search(r"<faultstring[^>]*>([^<]*)<", text)
    return m.group(1) if m else ""


def post(port, body, headers, path=ROUTER):
    """(status, text) of one POST on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body.encode("utf-8") if isinstance(body, str) else body, headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def classify(status, text):
    if "<SOAP-ENV:Fault>" in text:
        return SoapCall("fault", status, text)
    if status != 200:
        return SoapCall("unknown", status, text)
    return SoapCall("ok", status, text)


# Request styles. Each returns (path, headers, body) for one call of nms:subscription#METHOD.

def style_soapui(client, method, services, recipient, create=None, action=True):
    """SoapUI from the WSDL: soapenv:/urn: prefixes, indentation, quoted SOAPAction."""
    create_xml = "" if create is None else "\n        <urn:create>%s</urn:create>" % create
    body = ('<soapenv:Envelope xmlns:soapenv="%s" xmlns:urn="%s">\n<soapenv:Header/>\n<soapenv:Body>\n'
            '    <urn:%s>\n        <urn:sessiontoken>%s</urn:sessiontoken>\n'
            '        <urn:serviceName>%s</urn:serviceName>\n        <urn:recipient>\n            %s\n'
            '        </urn:recipient>%s\n    </urn:%s>\n</soapenv:Body>\n</soapenv:Envelope>\n'
            % (ENV_NS, URN, method, client.session, escape(services), recipient, create_xml, method))
    headers = {"Content-Type": "text/xml;charset=UTF-8", "X-Security-Token": client.security}
    if action:
        headers["SOAPAction"] = '"%s#%s"' % (SUB, method)
    return ROUTER, headers, body


def style_sdk(client, method, services, recipient, create=None, header_action=True):
    """acc-js-sdk 1.2.0 (RPC/encoded look, tokens in HTTP headers, SOAP Header and first parameter,
    method in ?soapAction=; the SDK also sends an unquoted SOAPAction header)."""
    sv = ('<serviceName xsi:type="xsd:string">%s</serviceName>' % escape(services)) if services else \
        '<serviceName xsi:type="xsd:string"/>'
    create_xml = "" if create is None else '<create xsi:type="xsd:boolean">%s</create>' % create
    body = ('<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENV="%s" '
            'xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Header><Cookie>__sessiontoken=%s</Cookie>'
            '<X-Security-Token>%s</X-Security-Token></SOAP-ENV:Header><SOAP-ENV:Body>'
            '<m:%s xmlns:m="%s" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
            '<sessiontoken xsi:type="xsd:string">%s</sessiontoken>%s'
            '<recipient xsi:type="ns:Element" SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">'
            '%s</recipient>%s</m:%s></SOAP-ENV:Body></SOAP-ENV:Envelope>'
            % (ENV_NS, client.session, client.security, method, URN, client.session, sv, recipient, create_xml,
               method))
    headers = {"Content-Type": "application/soap+xml;charset=UTF-8", "X-Security-Token": client.security,
               "X-Session-Token": client.session, "Cookie": "__sessiontoken=" + client.session,
               "User-Agent": "@adobe/acc-js-sdk/1.2.0 ACC Javascript SDK",
               "ACC-SDK-Version": "@adobe/acc-js-sdk 1.2.0", "ACC-SDK-Auth": "UserPassword admin",
               "X-Query-Source": "@adobe/acc-js-sdk 1.2.0"}
    if header_action:
        headers["SOAPAction"] = "%s#%s" % (SUB, method)
    return ROUTER + "?soapAction=" + urllib.parse.quote("%s#%s" % (SUB, method), safe=""), headers, body


def style_nodesoap(client, method, services, recipient, create=None):
    """node-soap from the generated WSDL: document/literal, default namespace, quoted SOAPAction."""
    create_xml = "" if create is None else "<create>%s</create>" % create
    body = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:tns="%s"><soap:Body>'
            '<%s xmlns="%s"><sessiontoken>%s</sessiontoken><serviceName>%s</serviceName>'
            '<recipient>%s</recipient>%s</%s></soap:Body></soap:Envelope>'
            % (ENV_NS, URN, method, URN, client.session, escape(services), recipient, create_xml, method))
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s#%s"' % (SUB, method),
               "X-Security-Token": client.security}
    return ROUTER, headers, body


def send(port, request):
    path, headers, body = request
    try:
        status, text = post(port, body, headers, path)
    except (OSError, http.client.HTTPException) as e:
        return SoapCall("unknown", None, "%s: %s" % (type(e).__name__, e))
    return classify(status, text)


# ----------------------------------------------------------------------------- databases

def staged_requests(dbs):
    """The local SbSubscriptionRequest rows, in order: (iAction, sService, sKeyAttr, sKeyValue, iCreate,
    mRecipient, sOrigin)."""
    rows = dbs.query("SELECT iSeq, iAction, sService, sKeyAttr, sKeyValue, iCreate, mRecipient, sOrigin "
                     "FROM SbSubscriptionRequest ORDER BY iSeq")
    return [(int(r[1]), r[2], r[3], r[4], int(r[5]), r[6], r[7]) for r in rows]


def pending(dbs):
    return int(dbs.query("SELECT COUNT(*) FROM SbSubscriptionRequest")[0][0])


def subscriptions(dbs):
    """({(recipient key 'email=…', service name)}, problems): problems lists duplicate pairs and
    subscriptions whose recipient or service does not exist."""
    rows = dbs.cloud_query(
        "SELECT r.sEmail, s.sName FROM NmsSubscription x JOIN NmsRecipient r ON r.uRecipientId = x.uRecipientId "
        "JOIN NmsService s ON s.uServiceId = x.uServiceId")
    total = int(dbs.cloud_query("SELECT COUNT(*) FROM NmsSubscription")[0][0])
    pairs = [("email=%s" % e, s) for e, s in rows]
    problems = []
    if len(set(pairs)) != len(pairs):
        problems.append("duplicate subscriptions %s" % sorted(p for p in set(pairs) if pairs.count(p) > 1)[:5])
    if total != len(rows):
        problems.append("%d subscription(s) with no recipient or service" % (total - len(rows)))
    return set(pairs), problems


def recipients(dbs):
    """'email=…' → {flag: 0/1, 'id', 'firstName', …}; and the emails seen more than once."""
    rows = dbs.cloud_query("SELECT uRecipientId, sEmail, sFirstName, sLastName, iGender, tBirthDate, %s "
                           "FROM NmsRecipient" % ", ".join("i" + f[0].upper() + f[1:] for f in FLAGS))
    out = {}
    dups = []
    for r in rows:
        key = "email=%s" % r[1]
        if key in out:
            dups.append(key)
        d = {"id": r[0], "firstName": r[2], "lastName": r[3], "gender": r[4], "birthDate": r[5]}
        for i, f in enumerate(FLAGS):
            d[f] = int(r[6 + i] or 0)
        out[key] = d
    return out, dups


def history(dbs):
    """NmsSubHisto rows in sequence order, as dicts."""
    rows = dbs.cloud_query("SELECT sRecipientKey, sServiceName, sAction, sOrigin, sReason, iSequence, uRecipientId, "
                           "uServiceId, tsRequested, tsApplied FROM NmsSubHisto ORDER BY iSequence")
    keys = ["key", "service", "action", "origin", "reason", "seq", "rid", "sid", "requested", "applied"]
    out = []
    for r in rows:
        d = dict(zip(keys, r))
        d["seq"] = int(d["seq"])
        d["service"] = d["service"] or ""
        out.append(d)
    return out


def history_by_pair(hist):
    out = {}
    for h in hist:
        out.setdefault((h["key"], h["service"]), []).append(h["action"])
    return out


def epoch(ts):
    """Seconds since the epoch of a timestamp as a database prints it ('2026-01-02 03:04:05[.123][+00[:00]]',
    no zone = UTC); None when unreadable."""
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


def service_ids(dbs):
    return {name: ident for ident, name in dbs.cloud_query("SELECT uServiceId, sName FROM NmsService")}


def run_wf(dbs, settings=None, workflow=WF, extra=None):
    """`workflow run WORKFLOW --json`: (returncode, run dict or None, stderr)."""
    return workflow_json(dbs, ["workflow", "run", workflow, "--json"] + (extra or []), settings)


def figures(run, schema=SUB):
    return schema_figures(run, schema)


def fig_tuple(f):
    return (f["staged"], f["inserted"], f["deleted"], f["updated"], f["rejected"])


def expect_done(results, name, rc, run, stderr):
    ok = rc == 0 and run is not None and run.get("status") == "done"
    results.check(name, ok, "" if ok else "rc %s, run %s, stderr: %s" % (rc, run, stderr[-1500:]))
    if not ok:
        raise CaseError(name)
    return figures(run)


def add_service(dbs, name, label=None, channel=None):
    args = ["service", "add", name] + (["--label", label] if label else []) + (["--channel", channel] if channel else [])
    r = dbs.cli(args)
    if r.returncode != 0:
        raise CaseError("service add %s: rc %d %s" % (name, r.returncode, r.stderr[-500:]))


def start_server(dbs, name, args):
    server = Server(dbs, dbs.work, name, args)
    server.start()
    client = SoapClient(server.port)
    client.logon("admin", PASSWORD)
    return server, client


def ok_call(r, what):
    if r.kind != "ok":
        raise CaseError("%s was not acknowledged: %s" % (what, short(r)))
    return r


# ----------------------------------------------------------------------------- the model

class Model:
    """What the cloud must hold after applying the acknowledged requests in order (processor.h's rules).
    Recipients are keyed 'email=…' as the history's sRecipientKey."""

    def __init__(self, services):
        self.services = dict(services)  # name → channel
        self.rcps = {}                  # key → {flag: bool}
        self.subs = set()               # (key, service)
        self.hist = {}                  # (key, service or '') → [action, …]
        self.counts = {"staged": 0, "subscribe": 0, "unsubscribe": 0, "blocklist": 0, "refused": 0}
        self.tainted = set()            # keys with a call that got no answer: not asserted
        self.lock = threading.Lock()

    def known(self, key, **flags):
        """A recipient merged into the cloud (IngestExt + sync) with these flags."""
        with self.lock:
            r = self.rcps.setdefault(key, {f: False for f in FLAGS})
            for f, v in flags.items():
                r[f] = bool(v)

    def _h(self, key, service, action):
        self.hist.setdefault((key, service), []).append(action)
        self.counts[action] += 1

    def apply(self, action, services, key, create=False, attrs=None):
        """action 'subscribe' | 'unsubscribe'; services a list ([''] = the blocklist)."""
        with self.lock:
            for svc in services:
                self.counts["staged"] += 1
                r = self.rcps.get(key)
                if r is None:
                    if action == "unsubscribe":
                        continue
                    if not create:
                        self._h(key, svc, "refused")
                        continue
                    r = {f: str((attrs or {}).get(f, "0")).lower() in ("1", "true") for f in FLAGS}
                    self.rcps[key] = r
                if action == "subscribe":
                    flag = CHANNEL_FLAG.get(self.services[svc])
                    if r["blackList"] or (flag and r[flag]):
                        self._h(key, svc, "refused")
                    elif (key, svc) not in self.subs:
                        self.subs.add((key, svc))
                        self._h(key, svc, "subscribe")
                elif svc == "":
                    if not r["blackList"]:
                        r["blackList"] = True
                        self._h(key, "", "blocklist")
                elif (key, svc) in self.subs:
                    self.subs.discard((key, svc))
                    self._h(key, svc, "unsubscribe")

    def taint(self, key):
        with self.lock:
            self.tainted.add(key)


def compare(results, name, dbs, model, keys=None):
    """Checks the cloud against the model (only `keys` when given; tainted keys never)."""
    def mine(k):
        return k not in model.tainted and (keys is None or k in keys)

    subs, problems = subscriptions(dbs)
    rcps, dups = recipients(dbs)
    hist = history(dbs)
    by_pair = history_by_pair(hist)
    with model.lock:
        want_subs = {p for p in model.subs if mine(p[0])}
        want_rcps = {k: dict(v) for k, v in model.rcps.items() if mine(k)}
        want_hist = {p: list(v) for p, v in model.hist.items() if mine(p[0])}
    got_subs = {p for p in subs if mine(p[0])}
    results.check("%s: subscriptions = the model (%d)" % (name, len(want_subs)),
                  got_subs == want_subs and not problems,
                  "missing %s; extra %s; %s" % (sorted(want_subs - got_subs)[:6], sorted(got_subs - want_subs)[:6],
                                               problems))
    got_rcps = {k: v for k, v in rcps.items() if mine(k)}
    wrong = []
    for k, v in want_rcps.items():
        if k not in got_rcps:
            wrong.append("%s missing" % k)
        else:
            diff = [f for f in FLAGS if bool(got_rcps[k][f]) != v[f]]
            if diff:
                wrong.append("%s flags %s: want %s got %s" % (k, diff, [int(v[f]) for f in diff],
                                                              [got_rcps[k][f] for f in diff]))
    extra = sorted(set(got_rcps) - set(want_rcps))
    results.check("%s: recipients and their blocklist flags = the model (%d), none twice" % (name, len(want_rcps)),
                  not wrong and not extra and not dups, "wrong %s; extra %s; twice %s" % (wrong[:5], extra[:5], dups[:5]))
    got_hist = {p: v for p, v in by_pair.items() if mine(p[0])}
    diff = sorted(p for p in set(got_hist) | set(want_hist) if got_hist.get(p) != want_hist.get(p))
    seqs = [h["seq"] for h in hist]
    results.check("%s: history per (recipient, service) = the model's actions in order (%d rows), each request once"
                  % (name, sum(len(v) for v in want_hist.values())),
                  not diff and len(seqs) == len(set(seqs)),
                  "; ".join("%s: want %s got %s" % (p, want_hist.get(p), got_hist.get(p)) for p in diff[:5])
                  + ("" if len(seqs) == len(set(seqs)) else "; duplicated sequence numbers %s" %
                     sorted(s for s in set(seqs) if seqs.count(s) > 1)[:5]))


# ----------------------------------------------------------------------------- 1. service add / list

def service_list(dbs):
    """`service list`: (returncode, header, {name: (label, channel, subscribers)}, stdout)."""
    r = dbs.cli(["service", "list"])
    lines = r.stdout.splitlines()
    table = {}
    for line in lines[1:]:
        m = re.match(r"^(\S+)\s+(.*?)\s+(email|mobile|phone|mail|fax|other)\s+(\d+)\s*$", line)
        if m:
            table[m.group(1)] = (m.group(2), m.group(3), int(m.group(4)))
    return r.returncode, (lines[0].split() if lines else []), table, r.stdout


def case_cli(work, results):
    n = "cli"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "cli"))
    try:
        r = dbs.cli(["service", "add", "news"])
        results.check("%s: `service add` before `schema apply` exits 1 and says to apply the schemas" % n,
                      r.returncode == 1 and "schema apply" in r.stderr, "rc %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        dbs.prepare(PASSWORD)
        r = dbs.cli(["service", "add", "news", "--label", "Weekly news"])
        results.check("%s: `service add news --label` exits 0" % n, r.returncode == 0 and "news" in r.stdout,
                      "rc %d: %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()[-300:]))
        for name, channel in [("sms", "mobile"), ("calls", "phone"), ("letters", "mail"), ("faxes", "fax"),
                              ("mails", "email")]:
            r = dbs.cli(["service", "add", name, "--channel", channel])
            results.check("%s: `service add %s --channel %s` exits 0" % (n, name, channel), r.returncode == 0,
                          "rc %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        r = dbs.cli(["service", "add", "news", "--label", "Again"])
        results.check("%s: a duplicate name exits 1 with 'already exists'" % n,
                      r.returncode == 1 and "already exists" in r.stderr and "news" in r.stderr,
                      "rc %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        for args, what in [(["bad", "--channel", "pigeon"], "an unknown channel"),
                           (["a,b"], "a comma list"), (["  "], "a blank name"), (["x" * 65], "a 65-character name")]:
            r = dbs.cli(["service", "add"] + args)
            results.check("%s: %s exits 1 with a message" % (n, what), r.returncode == 1 and r.stderr.strip() != "",
                          "rc %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
        rows = dbs.cloud_query("SELECT sName, sLabel, iMessageType FROM NmsService ORDER BY sName")
        want = [["calls", "calls", "2"], ["faxes", "faxes", "4"], ["letters", "letters", "3"], ["mails", "mails", "0"],
                ["news", "Weekly news", "0"], ["sms", "sms", "1"]]
        results.check("%s: NmsService holds the 6 services once (label defaults to the name, channel code)" % n,
                      rows == want, repr(rows))
        rc, header, table, out = service_list(dbs)
        results.check("%s: `service list` prints NAME LABEL CHANNEL SUBSCRIBERS and every service with 0" % n,
                      rc == 0 and header == ["NAME", "LABEL", "CHANNEL", "SUBSCRIBERS"] and table == {
                          "calls": ("calls", "phone", 0), "faxes": ("faxes", "fax", 0),
                          "letters": ("letters", "mail", 0), "mails": ("mails", "email", 0),
                          "news": ("Weekly news", "email", 0), "sms": ("sms", "mobile", 0)}, out)
    finally:
        dbs.drop()


# ----------------------------------------------------------------------------- 2. intake

def case_intake(work, results):
    n = "intake"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "intake"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        add_service(dbs, "sms", channel="mobile")
        r = dbs.cli(["operator", "add", "writer", "--schema", "dem:sampleTable", "--password-stdin"],
                    stdin="writer-pw\n")
        if r.returncode != 0:
            raise CaseError("operator add writer: %s" % r.stderr[-300:])
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        expected = []  # the staged rows, in order

        def nothing_staged(what, r, code, must_name=None, status=500):
            rows = staged_requests(dbs)
            ok = r.kind == "fault" and r.fault_code == code and r.status == status and rows == expected
            if must_name is not None:
                ok = ok and must_name in faultstring(r.text)
            results.check("%s: %s → %s, nothing staged" % (n, what, code), ok,
                          "%s; HTTP %s; %d staged (expected %d)" % (short(r), r.status, len(rows), len(expected)))

        jane = rcp("jane@example.com", "@email", firstName="Jane")
        nothing_staged("Subscribe to an unknown service", subscribe(c, "nosuch", jane), "SUB-200001", "'nosuch'")
        nothing_staged("Subscribe to 'news, nosuch' (one unknown in a list)", subscribe(c, "news, nosuch", jane),
                       "SUB-200001", "'nosuch'")
        nothing_staged("Unsubscribe from an unknown service", unsubscribe(c, "nosuch", jane), "SUB-200001", "'nosuch'")
        nothing_staged("Subscribe with an empty serviceName", subscribe(c, "", jane), "SUB-200002")
        nothing_staged("Subscribe with serviceName ' , '", subscribe(c, " , ", jane), "SUB-200002")
        nothing_staged("Subscribe with a 65-character service name", subscribe(c, "s" * 65, jane), "SUB-200002")
        nothing_staged("Subscribe naming 101 services", subscribe(c, ",".join("s%d" % i for i in range(101)), jane),
                       "SUB-200002")
        nothing_staged("_key=\"@lastName\" (not a key)", subscribe(c, "news", rcp("j@example.com", "@lastName")),
                       "SUB-200003")
        nothing_staged("_key=\"email\" (no @)", subscribe(c, "news", rcp("j@example.com", "email")), "SUB-200003")
        nothing_staged("_key=\"@email\" without an email", subscribe(c, "news", rcp(None, "@email", firstName="J")),
                       "SUB-200003")
        nothing_staged("_key=\"@id\" without an id", subscribe(c, "news", rcp("j@example.com", "@id")), "SUB-200003")
        nothing_staged("an unknown recipient attribute (create true)",
                       subscribe(c, "news", rcp("j@example.com", "@email", nosuchattr="x")), "STG-200003",
                       "nosuchattr")
        nothing_staged("an unknown recipient attribute (create false)",
                       subscribe(c, "news", rcp("j@example.com", nosuchattr="x"), "false"), "STG-200003", "nosuchattr")
        nothing_staged("gender=\"abc\" (a byte)", subscribe(c, "news", rcp("j@example.com", gender="abc")),
                       "STG-200004", "gender")
        nothing_staged("birthDate=\"someday\"", subscribe(c, "news", rcp("j@example.com", birthDate="someday")),
                       "STG-200004", "birthDate")
        nothing_staged("an 81-character email (length 80)",
                       subscribe(c, "news", rcp("a" * 69 + "@example.com")), "STG-200004")
        nothing_staged("create=\"maybe\"", subscribe(c, "news", jane, "maybe"), "SOP-330003", "create")
        nothing_staged("a recipient parameter holding text, not an element",
                       c.call(SUB, "Subscribe", "<urn:serviceName>news</urn:serviceName>"
                              "<urn:recipient>jane@example.com</urn:recipient><urn:create>true</urn:create>"),
                       "SOP-330003")
        w = SoapClient(server.port)
        w.logon("writer", "writer-pw")
        nothing_staged("an operator without the right on nms:subscription (Subscribe)", subscribe(w, "news", jane),
                       "STG-200010")
        nothing_staged("an operator without the right on nms:subscription (Unsubscribe)",
                       unsubscribe(w, "", jane), "STG-200010")
        nobody = SoapClient(server.port, "___00000000-0000-4000-8000-000000000000", c.security)
        nothing_staged("an unknown session token", subscribe(nobody, "news", jane), "XSV-350008")
        path, headers, body = style_soapui(c, "Subscribe", "news", jane, "true")
        headers["SOAPAction"] = '"nms:subscription#Unsubscribe"'
        r = send(server.port, (path, headers, body))
        results.check("%s: a SOAPAction naming Unsubscribe on a Subscribe body is a client fault, nothing staged" % n,
                      r.kind == "fault" and "SOAP-ENV:Client" in r.text and staged_requests(dbs) == expected, short(r))
        r = send(server.port, style_sdk(c, "Subscribe", "nosuch", jane, "true"))
        results.check("%s: acc-js-sdk style fault: HTTP 200 (ACC-SDK-Version) with SUB-200001, nothing staged" % n,
                      r.kind == "fault" and r.status == 200 and r.fault_code == "SUB-200001"
                      and staged_requests(dbs) == expected, "%s; HTTP %s" % (short(r), r.status))

        # A service staged through IngestExt (not merged) is known; one staged then deleted is not.
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="flash" label="Flash"/>'),
                "IngestExt flash")
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="gone" label="Gone"/>'),
                "IngestExt gone")
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="gone" _operation="delete"/>'),
                "IngestExt gone delete")
        nothing_staged("Subscribe to a service staged then deleted through IngestExt",
                       subscribe(c, "gone", jane), "SUB-200001", "'gone'")

        # Every request style stages exactly its request.
        def accepted(what, r, rows):
            expected.extend(rows)
            got = staged_requests(dbs)
            same = [g[:5] + (g[6],) for g in got] == [e[:5] + (e[6],) for e in expected]
            results.check("%s: %s is acknowledged with an empty response and staged" % (n, what),
                          r.kind == "ok" and same and re.search(r"<(Subscribe|Unsubscribe)Response\b[^>]*/>", r.text),
                          "%s; staged %s; expected %s" % (short(r), got[-len(rows) - 1:], rows))
            for g, e in zip(got[-len(rows):], rows):
                if e[5] is not None:
                    a = ET.fromstring(g[5]).attrib if g[5] else None
                    results.check("%s: %s keeps the recipient's attributes for the creation" % (n, what),
                                  a == e[5], "%s, expected %s" % (g[5], e[5]))
            return r

        origin = "soap:admin"
        accepted("SoapUI style (prefixed literal, quoted SOAPAction, indented)",
                 send(server.port, style_soapui(c, "Subscribe", "news", rcp("soapui@example.com", "@email",
                                                                           firstName="Soap", gender="1"), "true")),
                 [(1, "news", "email", "soapui@example.com", 1,
                   {"email": "soapui@example.com", "firstName": "Soap", "gender": "1"}, origin)])
        accepted("SoapUI style without any SOAPAction (method from the body)",
                 send(server.port, style_soapui(c, "Unsubscribe", "news", rcp("soapui@example.com"), action=False)),
                 [(0, "news", "email", "soapui@example.com", 0, None, origin)])
        accepted("acc-js-sdk style (?soapAction= and SOAPAction header, xsi:types, literalxml)",
                 send(server.port, style_sdk(c, "Subscribe", "news,sms", rcp("sdk@example.com", "@email",
                                                                              lastName="Kit"), "true")),
                 [(1, "news", "email", "sdk@example.com", 1, {"email": "sdk@example.com", "lastName": "Kit"}, origin),
                  (1, "sms", "email", "sdk@example.com", 1, {"email": "sdk@example.com", "lastName": "Kit"}, origin)])
        accepted("acc-js-sdk style with only ?soapAction= (create false)",
                 send(server.port, style_sdk(c, "Subscribe", "sms", rcp("sdk2@example.com"), "false",
                                             header_action=False)),
                 [(1, "sms", "email", "sdk2@example.com", 0, None, origin)])
        accepted("acc-js-sdk style Unsubscribe with an empty serviceName (the blocklist)",
                 send(server.port, style_sdk(c, "Unsubscribe", "", rcp("sdk@example.com", "@email"))),
                 [(0, "", "email", "sdk@example.com", 0, None, origin)])
        accepted("node-soap style (document/literal, default namespace)",
                 send(server.port, style_nodesoap(c, "Subscribe", "flash", rcp("node@example.com", "@email"),
                                                  "true")),
                 [(1, "flash", "email", "node@example.com", 1, {"email": "node@example.com"}, origin)])
        accepted("node-soap style Unsubscribe",
                 send(server.port, style_nodesoap(c, "Unsubscribe", " news , sms ,news", rcp("node@example.com"))),
                 [(0, "news", "email", "node@example.com", 0, None, origin),
                  (0, "sms", "email", "node@example.com", 0, None, origin)])
        accepted("Subscribe without the create parameter (create false)",
                 c.call(SUB, "Subscribe", sub_params("news", rcp("nocreate@example.com"))),
                 [(1, "news", "email", "nocreate@example.com", 0, None, origin)])
        accepted("create=\"1\" (a boolean as 1)",
                 subscribe(c, "news", rcp("one@example.com"), "1"),
                 [(1, "news", "email", "one@example.com", 1, {"email": "one@example.com"}, origin)])
        accepted("create=\"0\"",
                 subscribe(c, "news", rcp("zero@example.com"), "0"),
                 [(1, "news", "email", "zero@example.com", 0, None, origin)])
        accepted("_key=\"@id\"",
                 subscribe(c, "news", rcp(None, "@id", id="rcp-0001"), "false"),
                 [(1, "news", "id", "rcp-0001", 0, None, origin)])
        accepted("a staged service (IngestExt on nms:serviceStg, not merged)",
                 subscribe(c, "flash", rcp("jane@example.com", firstName="Jane"), "true"),
                 [(1, "flash", "email", "jane@example.com", 1, {"email": "jane@example.com", "firstName": "Jane"},
                   origin)])
        seqs = [int(x[0]) for x in dbs.query("SELECT iSeq FROM SbSubscriptionRequest ORDER BY iSeq")]
        results.check("%s: the staged requests are numbered in acknowledgement order" % n,
                      seqs == sorted(set(seqs)) and len(seqs) == len(expected), repr(seqs))

        # Discovery.
        r = c.call("xtk:persist", "GetEntityIfMoreRecent",
                   "<urn:pk>xtk:schema|nms:subscription</urn:pk><urn:md5/><urn:mustExist>false</urn:mustExist>")
        methods = {}
        m = re.search(r"(<schema\b.*</schema>)", r.text, re.S)
        try:
            schema = ET.fromstring(m.group(1)) if m else None
        except ET.ParseError:
            schema = None
        if schema is not None:
            for meth in schema.iter("method"):
                methods[meth.get("name")] = (meth.get("static"), [(p.get("name"), p.get("type"), p.get("inout"))
                                                                  for p in meth.iter("param")])
        want = {"Subscribe": ("true", [("serviceName", "string", None), ("recipient", "DOMElement", None),
                                       ("create", "boolean", None)]),
                "Unsubscribe": ("true", [("serviceName", "string", None), ("recipient", "DOMElement", None)])}
        results.check("%s: GetEntityIfMoreRecent(xtk:schema|nms:subscription) returns the schema with the static "
                      "methods Subscribe(serviceName, recipient, create) and Unsubscribe(serviceName, recipient)" % n,
                      r.kind == "ok" and schema is not None and schema.get("namespace") == "nms"
                      and schema.get("name") == "subscription" and methods == want, "%s; methods %s" % (
                          short(r), methods))
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/nl/jsp/schemawsdl.jsp?schema=nms:subscription")
        resp = conn.getresponse()
        wsdl = resp.read().decode("utf-8", "replace")
        conn.close()
        ops = {}
        address = None
        try:
            root = ET.fromstring(wsdl)
            for op in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}operation"):
                ops[op.get("soapAction")] = True
            for a in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
                address = a.get("location")
        except ET.ParseError:
            pass
        results.check("%s: the WSDL (schemawsdl.jsp?schema=nms:subscription) binds Subscribe and Unsubscribe at the "
                      "router" % n,
                      resp.status == 200 and set(ops) == {"nms:subscription#Subscribe", "nms:subscription#Unsubscribe"}
                      and address == "http://127.0.0.1:%d%s" % (server.port, ROUTER),
                      "HTTP %d, soapActions %s, address %s" % (resp.status, sorted(ops), address))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 3. semantics

def case_semantics(work, results):
    n = "semantics"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "semantics"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news", "Newsletter")
        add_service(dbs, "sms", channel="mobile")
        add_service(dbs, "paper", channel="mail")
        server, c = start_server(dbs, "server", NO_SCHEDULES)

        # Recipients and a service written through IngestExt, merged by the run before any request.
        stg = [('_key="@email" email="alice@example.com" firstName="Alice"', "alice"),
               ('_key="@email" email="bob@example.com" blackList="1"', "bob"),
               ('_key="@email" email="carol@example.com" blackListEmail="1"', "carol"),
               ('_key="@email" email="dave@example.com" blackListMobile="true"', "dave"),
               ('_key="@email" email="erin@example.com"', "erin"),
               ('_key="@id" id="rcp-frank" email="frank@example.com"', "frank"),
               ('_key="@email" email="gina@example.com"', "gina"),
               ('_key="@email" email="henry@example.com"', "henry")]
        for attrs, who in stg:
            ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" %s/>' % attrs), "IngestExt " + who)
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="flash" label="Flash news" '
                             'messageType="0"/>'), "IngestExt flash")

        t0 = time.time()

        def S(services, email, create="false", key="@email", **attrs):
            ok_call(subscribe(c, services, rcp(email, key, **attrs), create), "Subscribe %s %s" % (services, email))

        def U(services, email, key="@email", **attrs):
            ok_call(unsubscribe(c, services, rcp(email, key, **attrs)), "Unsubscribe %s %s" % (services, email))

        S("news", "alice@example.com")                                    # subscribe
        S("news, sms", "bob@example.com")                                 # refused ×2: blocklist
        S("news", "carol@example.com")                                    # refused: blackListEmail
        S("sms", "carol@example.com")                                     # subscribe
        S("sms", "dave@example.com")                                      # refused: blackListMobile
        S("news", "dave@example.com")                                     # subscribe
        S("news", "ghost@example.com")                                    # refused: unknown, no create
        S("news,paper", "newbie@example.com", "true", firstName="New", lastName="Bie", gender="2",
          birthDate="1990-05-17")                                         # created once, subscribe ×2
        U("news", "nobody@example.com")                                   # no-op
        U("sms", "alice@example.com")                                     # no-op
        S("flash", "alice@example.com")                                   # subscribe (staged service)
        S("news", "erin@example.com")                                     # subscribe
        U("", "erin@example.com")                                         # blocklist
        S("sms", "erin@example.com")                                      # refused: blocklist
        S("paper", "alice@example.com")                                   # subscribe
        U("paper", "alice@example.com")                                   # unsubscribe (last one wins)
        ok_call(subscribe(c, "news", rcp(None, "@id", id="rcp-frank"), "false"), "Subscribe @id")  # subscribe
        S("news", "alice@example.com")                                    # no-op: subscribed
        S("news", "alice@example.com", "true", firstName="Changed")       # no-op, not created, not changed
        U("", "bob@example.com")                                          # no-op: already blocklisted
        S("news", "blk@example.com", "true", blackList="1")               # created blocklisted, refused
        ok_call(subscribe(c, "sms", rcp("idnew@example.com", "@id", id="rcp-idnew"), "true"),
                "Subscribe @id create")                                   # created with that id, subscribe
        results.check("%s: 24 requests staged before the run" % n, pending(dbs) == 24, "%d staged" % pending(dbs))
        t_calls = time.time()
        time.sleep(2.1)  # so that the request time and the run time differ in every timestamp

        rc, run, err = run_wf(dbs)
        f = expect_done(results, "%s: run 1 ends done" % n, rc, run, err)
        t1 = time.time()
        want = (24, 10, 1, 1, 7)
        results.check("%s: run 1 figures (staged, subscribed, unsubscribed, blocklisted, refused) = %s" % (n, want),
                      fig_tuple(f) == want, repr(f))
        rej = f.get("rejections", [])
        expect_rej = ["email=bob@example.com", "email=bob@example.com", "email=carol@example.com",
                      "email=dave@example.com", "email=ghost@example.com", "email=erin@example.com",
                      "email=blk@example.com"]
        results.check("%s: run 1 lists the 7 refusals with the recipient and the reason" % n,
                      len(rej) == 7 and all(rej[i].startswith(expect_rej[i]) for i in range(7))
                      and "unknown recipient" in rej[4] and "blackListEmail" in rej[2] and "blackListMobile" in rej[3],
                      repr(rej))
        nested = [h for h in dbs.history("ffdaReplicateStagingData") if h["trigger"] == WF]
        nf = {s["schema"]: s for s in nested[0]["schemas"]} if nested else {}
        results.check("%s: the staged recipients and service were merged first by a nested ffdaReplicateStagingData "
                      "run (trigger ffdaUnsubscribe)" % n,
                      len(nested) == 1 and nested[0]["status"] == "done"
                      and nf.get("nms:recipient", {}).get("inserted") == 8
                      and nf.get("nms:service", {}).get("inserted") == 1,
                      repr(nested))
        left = [int(dbs.query("SELECT COUNT(*) FROM %s" % t)[0][0]) for t in
                ("SbSubscriptionRequest", "NmsRecipientStg", "NmsServiceStg")]
        results.check("%s: nothing left staged (requests, recipients, services)" % n, left == [0, 0, 0], repr(left))

        subs, problems = subscriptions(dbs)
        want_subs = {("email=alice@example.com", "news"), ("email=alice@example.com", "flash"),
                     ("email=carol@example.com", "sms"), ("email=dave@example.com", "news"),
                     ("email=newbie@example.com", "news"), ("email=newbie@example.com", "paper"),
                     ("email=erin@example.com", "news"), ("email=frank@example.com", "news")}
        want_subs.add(("email=idnew@example.com", "sms"))
        results.check("%s: run 1: NmsSubscription holds exactly the 9 expected subscriptions" % n,
                      subs == want_subs and not problems,
                      "missing %s, extra %s, %s" % (sorted(want_subs - subs), sorted(subs - want_subs), problems))
        rcps, dups = recipients(dbs)
        results.check("%s: run 1: 11 recipients (8 merged, newbie, blk and idnew created; ghost not)" % n,
                      sorted(rcps) == sorted("email=%s@example.com" % x for x in (
                          "alice", "bob", "carol", "dave", "erin", "frank", "gina", "henry", "newbie", "blk", "idnew"))
                      and not dups, repr(sorted(rcps)))
        nb = rcps.get("email=newbie@example.com", {})
        results.check("%s: the created recipient has the attributes of the call" % n,
                      nb.get("firstName") == "New" and nb.get("lastName") == "Bie" and str(nb.get("gender")) == "2"
                      and str(nb.get("birthDate") or "").startswith("1990-05-17") and nb.get("blackList") == 0, repr(nb))
        results.check("%s: create on an existing recipient changes nothing (firstName stays 'Alice')" % n,
                      rcps.get("email=alice@example.com", {}).get("firstName") == "Alice",
                      repr(rcps.get("email=alice@example.com")))
        results.check("%s: Unsubscribe with no service set blackList on erin; blk was created with blackList" % n,
                      rcps.get("email=erin@example.com", {}).get("blackList") == 1
                      and rcps.get("email=blk@example.com", {}).get("blackList") == 1,
                      "%s / %s" % (rcps.get("email=erin@example.com"), rcps.get("email=blk@example.com")))
        results.check("%s: the recipient staged with _key=\"@id\" kept its id; the one created by a _key=\"@id\" "
                      "Subscribe has that id" % n,
                      rcps.get("email=frank@example.com", {}).get("id") == "rcp-frank"
                      and rcps.get("email=idnew@example.com", {}).get("id") == "rcp-idnew",
                      "%s / %s" % (rcps.get("email=frank@example.com"), rcps.get("email=idnew@example.com")))

        hist = history(dbs)
        got = [(h["key"], h["service"], h["action"]) for h in hist]
        want_hist = [("email=alice@example.com", "news", "subscribe"),
                     ("email=bob@example.com", "news", "refused"), ("email=bob@example.com", "sms", "refused"),
                     ("email=carol@example.com", "news", "refused"), ("email=carol@example.com", "sms", "subscribe"),
                     ("email=dave@example.com", "sms", "refused"), ("email=dave@example.com", "news", "subscribe"),
                     ("email=ghost@example.com", "news", "refused"),
                     ("email=newbie@example.com", "news", "subscribe"),
                     ("email=newbie@example.com", "paper", "subscribe"),
                     ("email=alice@example.com", "flash", "subscribe"),
                     ("email=erin@example.com", "news", "subscribe"), ("email=erin@example.com", "", "blocklist"),
                     ("email=erin@example.com", "sms", "refused"),
                     ("email=alice@example.com", "paper", "subscribe"),
                     ("email=alice@example.com", "paper", "unsubscribe"),
                     ("id=rcp-frank", "news", "subscribe"),
                     ("email=blk@example.com", "news", "refused"),
                     ("id=rcp-idnew", "sms", "subscribe")]
        results.check("%s: run 1: NmsSubHisto = the 19 changes and refusals in request order (no-ops not recorded)"
                      % n, got == want_hist,
                      "\n       got  %s\n       want %s" % (got, want_hist))
        ids = service_ids(dbs)
        bad = []
        for h in hist:
            if h["origin"] != "soap:admin" or not h["requested"] or not h["applied"]:
                bad.append(("origin/dates", h))
            if (h["action"] == "refused") != bool(h["reason"]):
                bad.append(("reason", h))
            if h["service"] == "" and h["sid"]:
                bad.append(("blocklist has a service", h))
            if h["service"] and h["sid"] != ids.get(h["service"]):
                bad.append(("service id", h))
            if h["key"] == "email=ghost@example.com" and h["rid"]:
                bad.append(("unknown recipient has an id", h))
            if h["key"].startswith("email=") and h["key"] != "email=ghost@example.com" and \
                    h["rid"] != rcps.get(h["key"], {}).get("id"):
                bad.append(("recipient id", h))
            if h["key"].startswith("id=") and h["rid"] != h["key"][3:]:
                bad.append(("recipient id (@id)", h))
        results.check("%s: history rows: origin soap:admin, both dates, a reason exactly on refusals, the recipient and "
                      "service ids (none for the unknown recipient, no service for the blocklist)" % n, not bad,
                      repr(bad[:3]))
        times = [(epoch(h["requested"]), epoch(h["applied"])) for h in hist]
        bad = [(h["key"], h["service"], h["requested"], h["applied"]) for h, (rq, ap) in zip(hist, times)
               if rq is None or ap is None or not (t0 - 1 <= rq <= t_calls and t_calls + 1 <= ap <= t1 + 1)]
        results.check("%s: history dates: requested when the call was made, applied during the run (UTC)" % n,
                      not bad, "calls %s … %s, run until %s; bad rows %s" % (
                          datetime.fromtimestamp(t0, timezone.utc).isoformat(),
                          datetime.fromtimestamp(t_calls, timezone.utc).isoformat(),
                          datetime.fromtimestamp(t1, timezone.utc).isoformat(), bad[:3]))
        created = dbs.cloud_query("SELECT tsCreated FROM NmsSubscription")
        bad = [x[0] for x in created if epoch(x[0]) is None or not (t0 - 1 <= epoch(x[0]) <= t_calls)]
        results.check("%s: a subscription's tsCreated is the time of its request, not of the run" % n, not bad,
                      "calls %s … %s; bad %s" % (datetime.fromtimestamp(t0, timezone.utc).isoformat(),
                                                 datetime.fromtimestamp(t_calls, timezone.utc).isoformat(), bad[:3]))
        reasons = {(h["key"], h["service"]): h["reason"] or "" for h in hist if h["action"] == "refused"}
        results.check("%s: refusal reasons name the cause" % n,
                      "blackList" in reasons.get(("email=bob@example.com", "news"), "")
                      and "blackListEmail" in reasons.get(("email=carol@example.com", "news"), "")
                      and "blackListMobile" in reasons.get(("email=dave@example.com", "sms"), "")
                      and "unknown recipient" in reasons.get(("email=ghost@example.com", "news"), "")
                      and "blackList" in reasons.get(("email=erin@example.com", "sms"), ""), repr(reasons))
        rc, _, table, out = service_list(dbs)
        want_table = {"flash": ("Flash news", "email", 1), "news": ("Newsletter", "email", 5),
                      "paper": ("paper", "mail", 1), "sms": ("sms", "mobile", 2)}
        results.check("%s: `service list` counts the subscribers (a staged service included)" % n,
                      rc == 0 and table == want_table, out)

        # Round 2: flags changed through IngestExt (merged first), resubscribe, mobile registrations.
        ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@email" email="gina@example.com" '
                             'blackList="1"/>'), "IngestExt gina")
        ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@email" email="henry@example.com" '
                             'blackListEmail="1"/>'), "IngestExt henry")
        S("news", "gina@example.com")                 # refused: blocklisted by the IngestExt above
        S("news", "henry@example.com")                # refused: blackListEmail
        S("paper", "henry@example.com")               # subscribe
        U("news", "alice@example.com")                # unsubscribe
        S("news", "alice@example.com")                # subscribe again
        U("flash", "alice@example.com")               # unsubscribe
        U("news,paper", "newbie@example.com")         # unsubscribe ×2
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="temp" label="Temp"/>'),
                "IngestExt temp")
        S("temp", "alice@example.com")                # accepted (staged service), then the service is deleted:
        U("temp", "bob@example.com")                  # refused "unknown service" / no-op
        ok_call(c.ingest_ext('<serviceStg xtkschema="nms:serviceStg" _key="@name" name="temp" _operation="delete"/>'),
                "IngestExt temp delete")
        ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@email" email="erin@example.com" '
                             'blackList="0"/>'), "IngestExt erin blackList=0")
        S("sms", "erin@example.com")                  # subscribe: the blocklist was lifted through IngestExt
        rid = rcps.get("email=carol@example.com", {}).get("id", "")
        ok_call(c.ingest_ext('<appSubscriptionRcpStg xtkschema="nms:appSubscriptionRcpStg" _key="@id" id="reg-1" '
                             'mobileApp-id="%s" recipient-id="%s" registrationToken="tok-carol" userKey="carol"/>'
                             % (ids.get("sms", ""), rid)), "IngestExt appSubscriptionRcpStg")
        rc, run, err = run_wf(dbs)
        f = expect_done(results, "%s: run 2 ends done" % n, rc, run, err)
        want = (11, 3, 4, 0, 3)
        results.check("%s: run 2 figures (staged, subscribed, unsubscribed, blocklisted, refused) = %s" % (n, want),
                      fig_tuple(f) == want, repr(f))
        subs, problems = subscriptions(dbs)
        want_subs = {("email=alice@example.com", "news"), ("email=carol@example.com", "sms"),
                     ("email=dave@example.com", "news"), ("email=erin@example.com", "news"),
                     ("email=frank@example.com", "news"), ("email=henry@example.com", "paper"),
                     ("email=idnew@example.com", "sms"), ("email=erin@example.com", "sms")}
        results.check("%s: run 2: NmsSubscription = the 8 expected subscriptions" % n,
                      subs == want_subs and not problems,
                      "missing %s, extra %s, %s" % (sorted(want_subs - subs), sorted(subs - want_subs), problems))
        tail = [(h["key"], h["service"], h["action"]) for h in history(dbs)][len(want_hist):]
        want_tail = [("email=gina@example.com", "news", "refused"), ("email=henry@example.com", "news", "refused"),
                     ("email=henry@example.com", "paper", "subscribe"),
                     ("email=alice@example.com", "news", "unsubscribe"),
                     ("email=alice@example.com", "news", "subscribe"),
                     ("email=alice@example.com", "flash", "unsubscribe"),
                     ("email=newbie@example.com", "news", "unsubscribe"),
                     ("email=newbie@example.com", "paper", "unsubscribe"),
                     ("email=alice@example.com", "temp", "refused"),
                     ("email=erin@example.com", "sms", "subscribe")]
        results.check("%s: run 2: the history gains exactly the 10 rows in order" % n, tail == want_tail,
                      "\n       got  %s\n       want %s" % (tail, want_tail))
        temp = [h for h in history(dbs) if h["service"] == "temp"]
        results.check("%s: a Subscribe to a service deleted before the run is refused as unknown (no service id)" % n,
                      len(temp) == 1 and "unknown service" in (temp[0]["reason"] or "") and not temp[0]["sid"],
                      repr(temp))
        rcps2, _ = recipients(dbs)
        results.check("%s: run 2: the IngestExt flags reached the cloud (gina blackList, henry blackListEmail)" % n,
                      rcps2.get("email=gina@example.com", {}).get("blackList") == 1
                      and rcps2.get("email=henry@example.com", {}).get("blackListEmail") == 1,
                      "%s / %s" % (rcps2.get("email=gina@example.com"), rcps2.get("email=henry@example.com")))
        rc, run, err = run_wf(dbs, workflow="ffdaReplicateStagingData")
        expect_done(results, "%s: ffdaReplicateStagingData (mobile registrations) ends done" % n, rc, run, err)
        regs = dbs.cloud_query("SELECT uAppSubscriptionRcpId, uMobileAppId, uRecipientId, sRegistrationToken, sUserKey "
                               "FROM NmsAppSubscriptionRcp")
        results.check("%s: the mobile registration staged through IngestExt is in NmsAppSubscriptionRcp" % n,
                      regs == [["reg-1", ids.get("sms"), rid, "tok-carol", "carol"]], repr(regs))

        # Run 3: nothing staged, nothing changes.
        snap = (subscriptions(dbs), recipients(dbs), history(dbs),
                dbs.cloud_query("SELECT * FROM NmsService ORDER BY sName"))
        r = dbs.cli(["workflow", "run", WF])
        results.check("%s: run 3 (text output) ends done and reports 0 requests applied" % n,
                      r.returncode == 0 and re.search(r"nms:subscription: 0 request\(s\) applied", r.stdout),
                      "rc %d: %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()[-300:]))
        snap2 = (subscriptions(dbs), recipients(dbs), history(dbs),
                 dbs.cloud_query("SELECT * FROM NmsService ORDER BY sName"))
        results.check("%s: run 3 changes nothing in the cloud" % n, snap == snap2)
        hist_runs = dbs.history(WF)
        results.check("%s: `workflow history ffdaUnsubscribe` lists the 3 runs, done, with run 1's figures" % n,
                      [h["status"] for h in hist_runs] == ["done"] * 3
                      and fig_tuple(figures(hist_runs[2])) == (24, 10, 1, 1, 7)
                      and fig_tuple(figures(hist_runs[0])) == (0, 0, 0, 0, 0),
                      repr([(h["id"], h["status"], fig_tuple(figures(h))) for h in hist_runs]))
        rc, _, table, out = service_list(dbs)
        want_table = {"flash": ("Flash news", "email", 0), "news": ("Newsletter", "email", 4),
                      "paper": ("paper", "mail", 1), "sms": ("sms", "mobile", 3)}
        results.check("%s: `service list` after round 2" % n, rc == 0 and table == want_table, out)
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 4. conflict

def case_conflict(work, results):
    """A create=true request whose recipient collides with an existing one on a unique column (the email under
    another id, or an id already taken) cannot be applied as asked. It must be refused and recorded, like any
    request that cannot be honoured, and above all it must not stop the requests acknowledged after it."""
    n = "conflict"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "conflict"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        ok_call(subscribe(c, "news", rcp("alice@example.com"), "true"), "Subscribe alice")
        rc, run, err = run_wf(dbs)
        expect_done(results, "%s: setup run ends done" % n, rc, run, err)
        alice = recipients(dbs)[0].get("email=alice@example.com", {}).get("id")
        ok_call(subscribe(c, "news", rcp("alice@example.com", "@id", id="rcp-other"), "true"),
                "Subscribe @id rcp-other with alice's email")          # the email is taken by another id
        ok_call(subscribe(c, "news", rcp("bob@example.com"), "true"), "Subscribe bob")
        ok_call(subscribe(c, "news", rcp("carol@example.com", "@email", id=alice), "true"),
                "Subscribe carol with alice's id")                     # the id is taken
        ok_call(subscribe(c, "news", rcp("dave@example.com"), "true"), "Subscribe dave")
        runs = [run_wf(dbs) for _ in range(2)]
        results.check("%s: a run ends done despite the two colliding creations" % n,
                      any(rc == 0 and run and run["status"] == "done" for rc, run, _ in runs),
                      "; ".join("rc %s, status %s, error %s" % (rc, run and run.get("status"),
                                                               (run or {}).get("error", err[-300:])[:300])
                                for rc, run, err in runs))
        subs, problems = subscriptions(dbs)
        results.check("%s: the requests acknowledged after a colliding one are applied (bob, dave)" % n,
                      {("email=bob@example.com", "news"), ("email=dave@example.com", "news")} <= subs,
                      "subscriptions %s; %d request(s) still staged: the queue is blocked" % (sorted(subs),
                                                                                         pending(dbs)))
        results.check("%s: nothing left staged" % n, pending(dbs) == 0, "%d staged" % pending(dbs))
        hist = [(h["key"], h["action"], h["reason"]) for h in history(dbs)]
        refused = [h for h in hist if h[1] == "refused"]
        results.check("%s: the two colliding requests are recorded as refused with a reason" % n,
                      sorted(h[0] for h in refused) == ["email=carol@example.com", "id=rcp-other"]
                      and all(h[2] for h in refused), repr(hist))
        rcps, dups = recipients(dbs)
        results.check("%s: alice is unchanged, carol was not created under alice's id" % n,
                      rcps.get("email=alice@example.com", {}).get("id") == alice and not dups
                      and "email=carol@example.com" not in rcps, repr(sorted(rcps)))
    finally:
        if server:
            server.stop()
        dbs.drop()


def case_keys(work, results):
    """One recipient named by different keys (_key="@email" and _key="@id") in the requests of one run: every
    request must see what the requests before it did, whichever key they named the recipient by."""
    n = "keys"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "keys"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        add_service(dbs, "sms", channel="mobile")
        add_service(dbs, "paper", channel="mail")
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@id" id="rcp-alice" '
                             'email="alice@example.com"/>'), "IngestExt alice")
        steps = [("Subscribe", "news", rcp("alice@example.com"), "false"),                    # subscribe
                 ("Unsubscribe", "", rcp(None, "@id", id="rcp-alice"), None),                 # blocklist (by id)
                 ("Subscribe", "sms", rcp("alice@example.com"), "false"),                     # refused: blocklist
                 ("Subscribe", "news", rcp("new@example.com"), "false"),                      # refused: unknown
                 ("Subscribe", "news", rcp("new@example.com", "@id", id="rcp-new"), "true"),  # created, subscribe
                 ("Subscribe", "sms", rcp("new@example.com"), "false")]                       # subscribe: it exists
        for method, svc, r, create in steps:
            ok_call(c.call(SUB, method, sub_params(svc, r, create)), "%s %s %s" % (method, svc, r))
        rc, run, err = run_wf(dbs)
        expect_done(results, "%s: run 1 ends done" % n, rc, run, err)
        acts = [(h["key"], h["service"], h["action"]) for h in history(dbs)]
        want = [("email=alice@example.com", "news", "subscribe"), ("id=rcp-alice", "", "blocklist"),
                ("email=alice@example.com", "sms", "refused"), ("email=new@example.com", "news", "refused"),
                ("id=rcp-new", "news", "subscribe"), ("email=new@example.com", "sms", "subscribe")]
        results.check("%s: a recipient blocklisted by @id is blocklisted for a later request by @email, and one "
                      "created by @id exists for a later request by @email (same run)" % n, acts == want,
                      "\n       got  %s\n       want %s" % (acts, want))
        subs, _ = subscriptions(dbs)
        want_subs = {("email=alice@example.com", "news"), ("email=new@example.com", "news"),
                     ("email=new@example.com", "sms")}
        results.check("%s: run 1 subscriptions" % n, subs == want_subs,
                      "extra %s, missing %s" % (sorted(subs - want_subs), sorted(want_subs - subs)))

        # The same with create=true at the end: the recipient must not be created a second time.
        steps = [("Subscribe", "paper", rcp("new2@example.com"), "false"),                      # refused: unknown
                 ("Subscribe", "paper", rcp("new2@example.com", "@id", id="rcp-new2"), "true"),  # created, subscribe
                 ("Subscribe", "sms", rcp("new2@example.com"), "true"),                         # subscribe
                 ("Subscribe", "news", rcp("bob@example.com"), "true")]                         # subscribe
        for method, svc, r, create in steps:
            ok_call(c.call(SUB, method, sub_params(svc, r, create)), "%s %s %s" % (method, svc, r))
        rc, run, err = run_wf(dbs)
        results.check("%s: run 2 ends done (create=true by @email of a recipient created by @id earlier in the "
                      "run)" % n, rc == 0 and run is not None and run["status"] == "done",
                      "rc %s, error %s" % (rc, (run or {}).get("error", err[-300:])))
        subs, _ = subscriptions(dbs)
        want_subs |= {("email=new2@example.com", "paper"), ("email=new2@example.com", "sms"),
                      ("email=bob@example.com", "news")}
        results.check("%s: run 2 subscriptions (nothing blocked behind)" % n, subs == want_subs,
                      "extra %s, missing %s, %d request(s) still staged" % (
                          sorted(subs - want_subs), sorted(want_subs - subs), pending(dbs)))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 5. cloud outage

def case_outage(work, results):
    """The cloud (a private PostgreSQL server) stops: a service name checked recently is still accepted (cached),
    an unchecked one is SUB-500001 with nothing staged; the run ends in error and keeps the requests; once the
    cloud is back, the next run applies them all, once."""
    n = "outage"
    cluster = PgCluster()
    dbs = None
    server = None
    try:
        cluster.start()
        dbs = CaseDatabases(BACKEND, os.path.join(work, "outage"), cloud_base=cluster.url)
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        add_service(dbs, "sms", channel="mobile")
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        ok_call(subscribe(c, "news", rcp("a@example.com"), "true"), "Subscribe a")
        rc, run, err = run_wf(dbs)
        expect_done(results, "%s: run with the cloud up ends done" % n, rc, run, err)
        cluster.stop("immediate")
        r = subscribe(c, "news", rcp("b@example.com"), "true")
        results.check("%s: Subscribe to a service checked moments ago is acknowledged while the cloud is down" % n,
                      r.kind == "ok", short(r))
        b_ok = r.kind == "ok"
        r2 = unsubscribe(c, "news", rcp("a@example.com"))
        results.check("%s: Unsubscribe from it too" % n, r2.kind == "ok", short(r2))
        before = pending(dbs)
        r = subscribe(c, "sms", rcp("c@example.com"), "true")
        results.check("%s: a service not checked yet cannot be checked: SUB-500001, nothing staged" % n,
                      r.kind == "fault" and r.fault_code == "SUB-500001" and pending(dbs) == before,
                      "%s; %d staged (was %d)" % (short(r), pending(dbs), before))
        rc, run, err = run_wf(dbs)
        results.check("%s: a run while the cloud is down exits 1, status error naming the cloud" % n,
                      rc == 1 and run is not None and run["status"] == "error" and "cloud" in run["error"].lower(),
                      "rc %s, run %s, stderr %s" % (rc, run, err[-300:]))
        results.check("%s: the requests stay staged" % n, pending(dbs) == before, "%d staged" % pending(dbs))
        cluster.start()
        r = subscribe(c, "sms", rcp("c@example.com"), "true")
        results.check("%s: once the cloud is back, the service is checked again and the call acknowledged" % n,
                      r.kind == "ok", short(r))
        rc, run, err = run_wf(dbs)
        expect_done(results, "%s: the run after the restart ends done" % n, rc, run, err)
        subs, problems = subscriptions(dbs)
        want = {("email=c@example.com", "sms")} | ({("email=b@example.com", "news")} if b_ok else set())
        results.check("%s: cloud = every acknowledged request" % n, subs == want and not problems,
                      "got %s, want %s %s" % (sorted(subs), sorted(want), problems))
        acts = [(h["key"], h["service"], h["action"]) for h in history(dbs)]
        want_acts = [("email=a@example.com", "news", "subscribe")] + \
            ([("email=b@example.com", "news", "subscribe")] if b_ok else []) + \
            [("email=a@example.com", "news", "unsubscribe"), ("email=c@example.com", "sms", "subscribe")]
        results.check("%s: history = each request once, in order" % n, acts == want_acts, repr(acts))
        results.check("%s: nothing left staged" % n, pending(dbs) == 0, "%d staged" % pending(dbs))
    finally:
        if server:
            server.stop()
        if dbs:
            dbs.drop()
        cluster.close()


# ----------------------------------------------------------------------------- 6. schedule

def case_schedule(work, results):
    n = "schedule"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "schedule"))
    server = None
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        server, c = start_server(dbs, "server", ["--unsubscribe-schedule", "every 2s", "--replicate-schedule", "off"])
        t0 = time.time()
        ok_call(subscribe(c, "news", rcp("sched@example.com", firstName="Sched"), "true"), "Subscribe")
        found = wait_for(lambda: subscriptions(dbs)[0] == {("email=sched@example.com", "news")}, 30, 0.2)
        results.check("%s: the schedule applies the request without any CLI run" % n, bool(found),
                      "after %.1f s: %s" % (time.time() - t0, subscriptions(dbs)))
        hist = wait_for(lambda: [h for h in dbs.history(WF) if h["status"] == "done"
                                 and figures(h)["inserted"] == 1], 10, 0.2)
        results.check("%s: the run that applied it is in the history, trigger 'schedule'" % n,
                      bool(hist) and hist[0]["trigger"] == "schedule",
                      repr([(h["id"], h["trigger"], h["status"]) for h in dbs.history(WF)][:5]))
        results.check("%s: nothing left staged" % n, wait_for(lambda: pending(dbs) == 0, 10, 0.2) is not None,
                      "%d staged" % pending(dbs))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 7. crash

def case_crash(work, results):
    dbs = CaseDatabases(BACKEND, os.path.join(work, "crash"))
    server = None
    settings = {"lease_seconds": 1}
    scenarios = [[p] for p in CRASH_POINTS] + [["subscriptions-committed", "subscriptions-leftovers"],
                                               ["subscriptions-applied", "subscriptions-committed"]]
    try:
        dbs.prepare(PASSWORD)
        services = {"news": "email", "sms": "mobile", "paper": "mail"}
        for name, channel in services.items():
            add_service(dbs, name, channel=channel)
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        model = Model(services)

        def S(services_, email, create="false", **attrs):
            ok_call(subscribe(c, services_, rcp(email, **attrs), create), "Subscribe %s %s" % (services_, email))
            model.apply("subscribe", [s.strip() for s in services_.split(",")], "email=" + email, create == "true",
                        attrs)

        def U(services_, email):
            ok_call(unsubscribe(c, services_, rcp(email)), "Unsubscribe %s %s" % (services_, email))
            model.apply("unsubscribe", [s.strip() for s in services_.split(",")] if services_ else [""],
                        "email=" + email)

        for number, points in enumerate(scenarios):
            n = "crash %s" % "+".join(p.replace("subscriptions-", "") for p in points)
            p = "c%d" % number
            try:
                e = lambda x: "%s-%s@example.com" % (p, x)  # noqa: E731
                ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@email" email="%s"/>'
                                     % e("a")), "IngestExt a")
                ok_call(c.ingest_ext('<recipientStg xtkschema="nms:recipientStg" _key="@email" email="%s" '
                                     'blackListEmail="1"/>' % e("b")), "IngestExt b")
                model.known("email=" + e("a"))
                model.known("email=" + e("b"), blackListEmail=True)
                S("news,sms", e("a"))
                S("news", e("b"))
                S("paper", e("b"))
                S("news", e("c"), "true", firstName="C")
                S("news", e("d"))
                U("", e("a"))
                S("paper", e("a"))
                S("news, paper", e("e"), "true")
                U("news", e("e"))
                S("sms", e("m"), "true", blackListMobile="1")
                staged = pending(dbs)
                killed = []
                for point in points:
                    rc, run, err = run_wf(dbs, dict(settings, crash_at=point))
                    died = rc in (-9, 137)
                    results.check("%s: the run dies by SIGKILL at '%s'" % (n, point), died,
                                  "rc %s%s" % (rc, "" if died else ", run %s, stderr %s" % (run, err[-400:])))
                    newest = dbs.history(WF, limit=1)[0]
                    killed.append(newest["id"])
                    results.check("%s: the killed run shows as running" % n, newest["status"] == "running",
                                  "run %s: %s" % (newest["id"], newest["status"]))
                left = pending(dbs)
                if len(points) == 1:
                    # cleanup clears the requests a killed run applied (committed) and none of the others.
                    r = dbs.cli(["workflow", "run", "cleanup"], settings)
                    want_left = 0 if points[0] == "subscriptions-committed" else staged
                    results.check("%s: `workflow run cleanup` clears exactly the requests already applied "
                                  "(%d of %d left)" % (n, want_left, staged),
                                  r.returncode == 0 and pending(dbs) == want_left,
                                  "rc %d, %d left: %s" % (r.returncode, pending(dbs), r.stderr.strip()[-300:]))
                U("paper", e("e"))
                S("sms", e("c"))
                S("news", e("f"), "true")
                U("news", e("a"))
                rc, run, err = run_wf(dbs, settings)
                expect_done(results, "%s: the next run ends done" % n, rc, run, err)
                print("     %s: %d request(s) staged before the kill(s), %d still staged after" % (n, staged, left))
                compare(results, n, dbs, model)
                results.check("%s: nothing left staged" % n, pending(dbs) == 0, "%d staged" % pending(dbs))
                runs = {h["id"]: h for h in dbs.history(WF)}
                st = [(k, runs.get(k, {}).get("status")) for k in killed]
                results.check("%s: the killed run(s) are 'interrupted' in the history" % n,
                              all(x == "interrupted" for _, x in st), repr(st))
            except CaseError as ex:
                results.check("%s: scenario ran to its end" % n, False, str(ex))
    finally:
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 8. concurrency

class Writers:
    """Threads each owning their recipients, sending Subscribe/Unsubscribe until stopped; every acknowledged
    call is applied to the model right away (per recipient, acknowledgement order = the thread's order)."""

    def __init__(self, port, session, security, model, count, keys_per_thread, seed, tag):
        self.model = model
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = 0
        self.faults = []
        self.unanswered = 0
        self.threads = [threading.Thread(target=self.run, args=(port, session, security, i, keys_per_thread,
                                                                seed + i, tag), daemon=True) for i in range(count)]

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
        emails = ["%s-w%d-r%d@example.com" % (tag, index, k) for k in range(nkeys)]
        names = sorted(self.model.services)
        try:
            while not self.stop.is_set():
                email = rng.choice(emails)
                key = "email=" + email
                with self.model.lock:
                    if key in self.model.tainted:
                        continue
                roll = rng.random()
                if roll < 0.5:
                    services = rng.sample(names, 2 if rng.random() < 0.25 else 1)
                    create = rng.random() < 0.8
                    attrs = {"firstName": "w%d" % index}
                    if rng.random() < 0.15:
                        attrs["blackListMobile"] = "1"
                    r = subscribe(client, ",".join(services), rcp(email, **attrs), "true" if create else "false")
                    args = ("subscribe", services, key, create, attrs)
                elif roll < 0.98:
                    services = [rng.choice(names)]
                    r = unsubscribe(client, services[0], rcp(email))
                    args = ("unsubscribe", services, key)
                else:
                    r = unsubscribe(client, "", rcp(email))
                    args = ("unsubscribe", [""], key)
                if r.kind == "ok":
                    self.model.apply(*args)
                    with self.lock:
                        self.acked += 1
                else:
                    self.model.taint(key)
                    with self.lock:
                        if r.kind == "unknown":
                            self.unanswered += 1
                        else:
                            self.faults.append(r)
        finally:
            client.close()


def case_concurrency(work, results, seed):
    n = "concurrency"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "concurrency"))
    server = None
    writers = None
    try:
        dbs.prepare(PASSWORD)
        services = {"news": "email", "sms": "mobile", "paper": "mail"}
        for name, channel in services.items():
            add_service(dbs, name, channel=channel)
        server, c = start_server(dbs, "server", ["--unsubscribe-schedule", "every 1s", "--replicate-schedule", "off"])
        model = Model(services)
        writers = Writers(server.port, c.session, c.security, model, 4, 6, seed, "cc")
        writers.start()
        started = time.time()
        runs = []
        while time.time() - started < 8:
            runs.append(run_wf(dbs))
        joined = writers.join()
        results.check("%s: writer threads end" % n, joined)
        bad = [(rc, run and run.get("status"), err[-300:]) for rc, run, err in runs
               if rc != 0 or not run or run["status"] != "done"]
        results.check("%s: %d `workflow run ffdaUnsubscribe` during the load all end done" % (n, len(runs)), not bad,
                      repr(bad[:3]))
        results.check("%s: no fault, no unanswered call (%d acknowledged)" % (n, writers.acked),
                      not writers.faults and writers.unanswered == 0 and writers.acked >= 100,
                      "%d fault(s) %s, %d unanswered" % (len(writers.faults), [short(f) for f in writers.faults[:2]],
                                                         writers.unanswered))
        rc, run, err = run_wf(dbs)
        expect_done(results, "%s: the last run ends done" % n, rc, run, err)
        server.stop()
        server = None
        compare(results, n, dbs, model)
        results.check("%s: nothing left staged" % n, pending(dbs) == 0, "%d staged" % pending(dbs))
        hist = dbs.history(WF)
        statuses = {}
        for h in hist:
            key = h["status"] if h["status"] != "error" or "shutting down" not in h["error"] else "stopped"
            statuses[key] = statuses.get(key, 0) + 1
        triggers = {}
        for h in hist:
            triggers[h["trigger"]] = triggers.get(h["trigger"], 0) + 1
        results.check("%s: every run ended done (or stopped by the shutdown); CLI and schedule both ran" % n,
                      set(statuses) <= {"done", "stopped"} and triggers.get("cli", 0) > 0
                      and triggers.get("schedule", 0) > 0,
                      "statuses %s, triggers %s, not done %s" % (statuses, triggers, [
                          (h["id"], h["trigger"], h["error"][:200]) for h in hist if h["status"] != "done"][:3]))
        sums = {"staged": 0, "inserted": 0, "deleted": 0, "updated": 0, "rejected": 0}
        for h in hist:
            for k in sums:
                sums[k] += figures(h)[k]
        with model.lock:
            want = {"staged": model.counts["staged"], "inserted": model.counts["subscribe"],
                    "deleted": model.counts["unsubscribe"], "updated": model.counts["blocklist"],
                    "rejected": model.counts["refused"]}
        results.check("%s: figures summed over every run = the model (each request applied once)" % n,
                      sums == want, "sums %s, model %s" % (sums, want))
    finally:
        if writers:
            writers.join(5)
        if server:
            server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- 9. kill -9

def case_kill9(work, results):
    n = "kill9"
    dbs = CaseDatabases(BACKEND, os.path.join(work, "kill9"))
    server = None
    threads = []
    try:
        dbs.prepare(PASSWORD)
        add_service(dbs, "news")
        server, c = start_server(dbs, "server", NO_SCHEDULES)
        acked = set()
        unknown = set()
        faults = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(index):
            client = SoapClient(server.port, c.session, c.security, timeout=10)
            i = 0
            while not stop.is_set():
                i += 1
                email = "k9-w%d-%d@example.com" % (index, i)
                r = subscribe(client, "news", rcp(email), "true")
                with lock:
                    if r.kind == "ok":
                        acked.add(email)
                    elif r.kind == "fault":
                        faults.append(r)
                    else:
                        unknown.add(email)
                        stop.set()  # the server is gone
            client.close()

        threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 60, 30, 0.01)
        server.kill9()
        for t in threads:
            t.join(30)
        print("     kill9: %d acknowledged, %d unanswered at the kill" % (len(acked), len(unknown)))
        results.check("%s: Subscribe calls were acknowledged before the kill, none faulted" % n,
                      len(acked) >= 20 and not faults, "%d acked, faults %s" % (len(acked),
                                                                              [short(f) for f in faults[:2]]))
        server = Server(dbs, dbs.work, "server-2", NO_SCHEDULES)
        server.start()
        c2 = SoapClient(server.port)
        c2.logon("admin", PASSWORD)
        r = subscribe(c2, "news", rcp("k9-after@example.com"), "true")
        results.check("%s: the restarted server acknowledges Subscribe" % n, r.kind == "ok", short(r))
        if r.kind == "ok":
            acked.add("k9-after@example.com")
        rc, run, err = run_wf(dbs)
        f = expect_done(results, "%s: the run after the restart ends done" % n, rc, run, err)
        subs, problems = subscriptions(dbs)
        got = {k[len("email="):] for k, s in subs}
        missing = sorted(acked - got)
        extra = sorted(got - acked - unknown)
        results.check("%s: every acknowledged Subscribe is applied (%d), nothing unasked, none twice" % (n, len(acked)),
                      not missing and not extra and not problems,
                      "missing %s; extra %s; %s" % (missing[:5], extra[:5], problems))
        hist = history(dbs)
        counts = {}
        for h in hist:
            counts[h["key"]] = counts.get(h["key"], 0) + 1
        twice = sorted(k for k, v in counts.items() if v > 1)
        results.check("%s: one history row per applied request" % n,
                      not twice and len(hist) == len(got) and f["staged"] == len(got) == f["inserted"],
                      "twice %s; %d rows for %d subscriptions; figures %s" % (twice[:5], len(hist), len(got), f))
        results.check("%s: nothing left staged" % n, pending(dbs) == 0, "%d staged" % pending(dbs))
    finally:
        for t in threads:
            t.join(5)
        if server:
            if server.alive():
                server.stop()
        dbs.drop()


# ----------------------------------------------------------------------------- main

CASES = [("cli", lambda w, r, s: case_cli(w, r)),
         ("intake", lambda w, r, s: case_intake(w, r)),
         ("semantics", lambda w, r, s: case_semantics(w, r)),
         ("conflict", lambda w, r, s: case_conflict(w, r)),
         ("keys", lambda w, r, s: case_keys(w, r)),
         ("outage", lambda w, r, s: case_outage(w, r)),
         ("schedule", lambda w, r, s: case_schedule(w, r)),
         ("crash", lambda w, r, s: case_crash(w, r)),
         ("concurrency", case_concurrency),
         ("kill9", lambda w, r, s: case_kill9(w, r))]


def main():
    return run_cases("subscriptions", BACKEND, CASES, "SUB")


if __name__ == "__main__":
    sys.exit(main())
