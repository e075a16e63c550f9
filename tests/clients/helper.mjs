// helper.mjs — shared support for the client end-to-end tests.
//
// An Env is one pair of fresh databases (local + cloud) on the backend named by
// SB_BACKEND (sqlite | postgres), with the schemas applied and two operators:
//   admin  / secret  (--admin)
//   writer / writer-pw (--schema dem:sampleTable: may write dem:sampleTable only)
// env.start([...flags]) runs `stagebridge serve` on 127.0.0.1:0 and resolves once
// the server printed "listening on HOST:PORT" (no sleeps); server.url is
// https://… when the flags include --tls-cert; a --log-level in the flags
// replaces the default warn. server.stop() sends SIGTERM and waits for the exit.
// env.rows(sql) reads the local (staging) database, env.cloudRows(sql) the
// cloud one, with the sqlite3 / psql command-line tools; env.runWorkflow(name)
// runs `workflow run NAME --json` on the env's databases. rejection(promise)
// and recordSoapCalls(client) (the SOAP calls an acc-js-sdk client makes, with
// their bodies) help the client tests.
//
// Needs: STAGEBRIDGE_BIN, STAGEBRIDGE_SOURCE_DIR; for postgres
// STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh sets it). A missing variable
// is a failure, never a skip.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import sdk from '@adobe/acc-js-sdk';

export const backend = process.env.SB_BACKEND;
if (backend !== 'sqlite' && backend !== 'postgres') {
  throw new Error(`SB_BACKEND must be sqlite or postgres (got ${JSON.stringify(backend)})`);
}
export const bin = required('STAGEBRIDGE_BIN');
export const sourceDir = required('STAGEBRIDGE_SOURCE_DIR');
const pgUrl = backend === 'postgres' ? required('STAGEBRIDGE_TEST_PG_URL') : undefined;

export const ADMIN = { login: 'admin', password: 'secret' };
export const WRITER = { login: 'writer', password: 'writer-pw' };

/** Lowercase RFC 4122 uuid (version 1-5, variant 10xx). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through tests/clients/run.sh; postgres needs scripts/with-postgres.sh)`);
  return v;
}

let dbCounter = 0;

function run(cmd, args, { input, what } = {}) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${what || cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what || cmd} exited ${r.status}: ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

function psql(url, sql) {
  return run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { what: `psql ${sql}` });
}

/** Creates fresh databases, applies the schemas, adds the operators. */
export async function createEnv(label = 'e2e') {
  const env = new Env(label);
  try {
    env.sb(['schema', 'apply']);
    env.sb(['operator', 'add', ADMIN.login, '--admin', '--password-stdin'], ADMIN.password + '\n');
    env.sb(['operator', 'add', WRITER.login, '--schema', 'dem:sampleTable', '--password-stdin'],
      WRITER.password + '\n');
  } catch (e) {
    await env.cleanup();
    throw e;
  }
  return env;
}

class Env {
  constructor(label) {
    this.dir = mkdtempSync(path.join(tmpdir(), `sb-clients-${label}-`));
    this.pgDatabases = [];
    this.servers = new Set();
    this.localUrl = this.#newDb('local');
    this.cloudUrl = this.#newDb('cloud');
  }

  #newDb(kind) {
    if (backend === 'sqlite') return `sqlite:${path.join(this.dir, kind + '.db')}`;
    const name = `sbclients_${process.pid}_${++dbCounter}_${kind}`;
    psql(pgUrl, `CREATE DATABASE ${name}`);
    this.pgDatabases.push(name);
    // postgresql://user@host:port/dbname[?params] → same server, database `name`
    const url = pgUrl.replace(/^(postgres(?:ql)?:\/\/[^/?]*)(\/[^?]*)?/, `$1/${name}`);
    if (url === pgUrl) throw new Error(`cannot derive a database URL from ${pgUrl}`);
    return url;
  }

  /** Global flags that point the binary at this env's databases. */
  get baseArgs() {
    return ['--local-db', this.localUrl, '--cloud-db', this.cloudUrl,
      '--schemas-dir', path.join(sourceDir, 'examples', 'schemas')];
  }

  /** Runs a stagebridge command synchronously; throws unless it exits 0. */
  sb(args, input) {
    return run(bin, [...this.baseArgs, ...args], { input, what: `stagebridge ${args.join(' ')}` });
  }

  /** Starts `stagebridge serve` on a free port; resolves to a Server once it listens. */
  start(extraArgs = []) {
    const logLevel = extraArgs.includes('--log-level') ? [] : ['--log-level', 'warn'];
    const args = [...this.baseArgs, '--listen', '127.0.0.1:0', ...logLevel, ...extraArgs, 'serve'];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new Server(child, extraArgs.includes('--tls-cert') ? 'https' : 'http');
    this.servers.add(server);
    return server.ready;
  }

  /** Rows of a query on the local database (or the one at `url`), as objects with lower-case keys. */
  rows(sql, url = this.localUrl) {
    let list;
    if (backend === 'sqlite') {
      const out = run('sqlite3', ['-json', url.slice('sqlite:'.length), sql], { what: `sqlite3 ${sql}` });
      list = out.trim() === '' ? [] : JSON.parse(out);
    } else {
      const out = psql(url, `SELECT coalesce(json_agg(q), '[]'::json) FROM (${sql}) q`);
      list = JSON.parse(out);
    }
    return list.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])));
  }

  /** Rows of a query on the cloud database, as objects with lower-case keys. */
  cloudRows(sql) {
    return this.rows(sql, this.cloudUrl);
  }

  /** The staged rows of dem:sampleTable (business columns plus iDelete), ordered by id. */
  staged(where = '1=1') {
    return this.rows('SELECT uSampleTableId AS id, sTestcol1 AS testcol1, sTestcol2 AS testcol2, '
      + `iDelete AS idelete FROM DemSampleTableStg WHERE ${where} ORDER BY uSampleTableId`)
      .map((r) => ({ ...r, idelete: Number(r.idelete) }));
  }

  /** The staged row with that id (ids come from the server and are checked before use). */
  stagedById(id) {
    if (!/^[A-Za-z0-9-]+$/.test(id)) throw new Error(`refusing to put ${JSON.stringify(id)} into SQL`);
    return this.staged(`uSampleTableId = '${id}'`);
  }

  countStaged() {
    return Number(this.rows('SELECT count(*) AS n FROM DemSampleTableStg')[0].n);
  }

  /** `stagebridge workflow run NAME --json` on this env's databases; the run's JSON, parsed. */
  runWorkflow(name) {
    const out = this.sb(['workflow', 'run', name, '--json']);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (!line) throw new Error(`workflow run ${name}: no JSON line in ${JSON.stringify(out)}`);
    return JSON.parse(line);
  }

  async cleanup() {
    for (const s of this.servers) await s.stop().catch(() => {});
    for (const name of this.pgDatabases) {
      try { psql(pgUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* best effort */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class Server {
  constructor(child, scheme = 'http') {
    this.child = child;
    this.stderr = '';
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => { this.exitCode = code ?? signal; resolve(this.exitCode); });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => { this.stderr += d; });
    this.ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      const timer = setTimeout(() => {
        reject(new Error(`server did not print "listening on" within 60 s; stderr:\n${this.stderr}`));
        child.kill('SIGKILL');
      }, 60_000);
      lines.on('line', (line) => {
        const m = /^listening on (\S+:\d+)\s*$/.exec(line);
        if (m) {
          clearTimeout(timer);
          this.address = m[1];
          this.url = `${scheme}://${m[1]}`;
          resolve(this);
        }
      });
      child.on('error', (e) => { clearTimeout(timer); reject(e); });
      this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before listening; stderr:\n${this.stderr}`));
      });
    });
    this.ready.catch(() => {});
  }

  get soapUrl() { return `${this.url}/nl/jsp/soaprouter.jsp`; }

  /** SIGTERM, then wait for the exit (SIGKILL after 30 s). Resolves to the exit code. */
  async stop() {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exitCode;
  }
}

// ---------------------------------------------------------------------------
// Client helpers

/** The rejection of `promise`; fails the test when it resolves. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

/**
 * Records the SOAP calls an acc-js-sdk client makes, through its observer hooks:
 * `calls` holds {method: 'urn#Method', request, response, failure} in call order
 * (request/response are the SDK's own copies of the bodies, tokens masked as ***).
 */
export function recordSoapCalls(client) {
  const rec = { calls: [] };
  const current = new WeakMap();
  client.registerObserver({
    onSOAPCall: (call, request) => {
      const entry = { method: `${call.urn}#${call.methodName}`, request };
      current.set(call, entry);
      rec.calls.push(entry);
    },
    onSOAPCallSuccess: (call, response) => { if (current.has(call)) current.get(call).response = response; },
    onSOAPCallFailure: (call, ex) => { if (current.has(call)) current.get(call).failure = ex; },
  });
  rec.methods = () => rec.calls.map((c) => c.method);
  return rec;
}

// ---------------------------------------------------------------------------
// Raw HTTP / XML helpers

/**
 * POSTs a body (string or Buffer) with the given headers; resolves to {status, headers, text}.
 * An https:// URL goes through node:https (https.globalAgent, so its options.ca applies;
 * fetch would not see it).
 */
export async function post(url, body, headers = {}) {
  if (url.startsWith('https:')) return httpsPost(url, body, headers);
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

function httpsPost(url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, [v].flat().join(', ')])),
        text: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Parses an XML string with the SDK's parser (jsdom, XML mode). */
export function parseXml(text) {
  return sdk.DomUtil.parse(text);
}

export function childElements(el) {
  return Array.from(el.childNodes).filter((n) => n.nodeType === 1);
}

/**
 * Checks the response is a SOAP-ENV envelope and returns the first element of
 * its Body (the XResponse element or the SOAP-ENV:Fault).
 */
export function bodyChild(text) {
  const doc = parseXml(text);
  const env = doc.documentElement;
  if (env.nodeName !== 'SOAP-ENV:Envelope') throw new Error(`root is <${env.nodeName}>: ${text}`);
  const body = childElements(env).find((e) => e.nodeName === 'SOAP-ENV:Body');
  if (!body) throw new Error(`no SOAP-ENV:Body: ${text}`);
  const first = childElements(body)[0];
  if (!first) throw new Error(`empty SOAP-ENV:Body: ${text}`);
  return first;
}

/** {faultcode, faultstring, detail} of a fault response, or null when it is not a fault. */
export function fault(text) {
  const el = bodyChild(text);
  if (el.nodeName !== 'SOAP-ENV:Fault') return null;
  const get = (n) => childElements(el).find((e) => e.nodeName === n)?.textContent;
  return { faultcode: get('faultcode'), faultstring: get('faultstring'), detail: get('detail') };
}

/** Logs on with a SoapUI-style envelope (soapenv:/urn: prefixes); returns the two tokens. */
export async function rawLogon(server, { login, password } = ADMIN) {
  const body = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">
<soapenv:Header/>
<soapenv:Body>
    <urn:Logon>
        <urn:sessiontoken></urn:sessiontoken>
        <urn:strLogin>${login}</urn:strLogin>
        <urn:strPassword>${password}</urn:strPassword>
        <urn:elemParameters/>
    </urn:Logon>
</soapenv:Body>
</soapenv:Envelope>`;
  const res = await post(server.soapUrl, body,
    { 'Content-Type': 'text/xml;charset=UTF-8', SOAPAction: '"xtk:session#Logon"' });
  if (res.status !== 200) throw new Error(`Logon: HTTP ${res.status}: ${res.text}`);
  const resp = bodyChild(res.text);
  if (resp.nodeName !== 'LogonResponse') throw new Error(`Logon: <${resp.nodeName}>: ${res.text}`);
  const [session, , security] = childElements(resp).map((e) => e.textContent);
  return { session, security, response: res.text };
}
