// tls.test.mjs — the server over HTTPS (--tls-cert/--tls-key), with a private CA
// made here by the openssl command line: acc-js-sdk 1.2.0 and node-soap, both
// unmodified, over https:// (Logon, method discovery, Ingest, ExecuteQuery,
// Logoff); a client that does not trust the CA is refused and writes nothing;
// plain HTTP on the HTTPS port gets no HTTP answer; --listen-http serves plain
// HTTP beside it; --tls-min-version 1.3 refuses a TLS 1.2 client; SIGHUP reloads
// the certificate for new connections while an open keep-alive one goes on.
//
// How the clients trust the test CA (NODE_EXTRA_CA_CERTS would have to be set
// before this process starts): both use axios, which calls node:https with
// https.globalAgent unless given an agent, so
//   - acc-js-sdk: https.globalAgent.options.ca = [caPem] (it takes no agent);
//   - node-soap: an https.Agent({ca}) passed as wsdl_options.httpsAgent (the
//     WSDL) and as the httpsAgent call option (each call).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import sdk from '@adobe/acc-js-sdk';
import soap from 'soap';
import { ADMIN, UUID_RE, bodyChild, childElements, createEnv, rawLogon, recordSoapCalls, rejection } from './helper.mjs';

const { DomUtil } = sdk;
const WSDL_PATH = '/nl/jsp/schemawsdl.jsp?schema=xtk:session';
const SAN = 'IP Address:127.0.0.1, DNS:localhost';
const RELOAD_DEADLINE_MS = 10_000;

let env;
let pki; // { ca, otherCa, server: {cert, key, serial} }
let server; // HTTPS only, TLS 1.2 or later
before(async () => {
  env = await createEnv('tls');
  pki = makePki(path.join(env.dir, 'pki'));
  server = await env.start(['--tls-cert', pki.server.cert, '--tls-key', pki.server.key]);
  // What an acc-js-sdk user does: its axios requests go through https.globalAgent.
  https.globalAgent.options.ca = [pki.ca.pem];
});
after(async () => {
  delete https.globalAgent.options.ca;
  https.globalAgent.destroy();
  await env?.cleanup();
});

// ---------------------------------------------------------------------------
// Certificates (openssl CLI, no network)

const OPENSSL_CNF = `[req]
distinguished_name = dn
[dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

function makeCa(dir, name) {
  openssl(dir, ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', `/CN=stagebridge test ${name}`]);
  return { name, key: path.join(dir, `${name}.key`), cert: path.join(dir, `${name}.pem`),
    pem: readFileSync(path.join(dir, `${name}.pem`), 'utf8') };
}

/** A server certificate for 127.0.0.1 and localhost, signed by `ca`, with that serial (hex). */
function makeServerCert(dir, ca, name, serial) {
  openssl(dir, ['req', '-new', '-config', 'openssl.cnf', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1']);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial}`,
    '-days', '2', '-extfile', 'openssl.cnf', '-extensions', 'server_ext', '-out', `${name}.pem`]);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`), serial };
}

function makePki(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'openssl.cnf'), OPENSSL_CNF);
  const ca = makeCa(dir, 'ca');
  const otherCa = makeCa(dir, 'other-ca');
  return { dir, ca, otherCa, server: makeServerCert(dir, ca, 'server', '5B1001') };
}

// ---------------------------------------------------------------------------
// Network helpers

function portOf(s) { return Number(new URL(s.url).port); }

/**
 * A TLS handshake with 127.0.0.1:port (tls.connect options added); resolves to
 * what the client saw, rejects with the handshake error (its code: the reason).
 */
function handshake(port, options = {}) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      resolve({ authorized: socket.authorized, protocol: socket.getProtocol(), serial: peer.serialNumber,
        subject: peer.subject?.CN, issuer: peer.issuer?.CN, san: peer.subjectaltname });
      socket.destroy();
    });
    socket.once('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error('TLS handshake: no answer in 15 s')));
  });
}

/**
 * One request through node:https (agent: its connection pool); resolves to the
 * status, body, whether a kept-alive socket was reused and the certificate that
 * connection was set up with.
 */
function httpsRequest(url, { method = 'GET', body, headers = {}, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, agent }, (res) => {
      const { socket } = res; // detached from res once the response ended
      const serial = socket.getPeerCertificate().serialNumber;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8'),
        reused: req.reusedSocket, socket, serial }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function ingestEnvelope(session, testcol1) {
  return '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">'
    + '<soapenv:Header/><soapenv:Body><urn:Ingest>'
    + `<urn:sessiontoken>${session}</urn:sessiontoken><urn:domDoc>`
    + `<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="${testcol1}"/>`
    + '</urn:domDoc></urn:Ingest></soapenv:Body></soapenv:Envelope>';
}

/** A raw SOAP Ingest over https through `agent`; asserts it succeeded, returns the response and the uuid. */
async function rawIngest(s, tokens, testcol1, agent) {
  const res = await httpsRequest(s.soapUrl, { method: 'POST', agent, body: ingestEnvelope(tokens.session, testcol1),
    headers: { 'Content-Type': 'text/xml;charset=UTF-8', SOAPAction: 'xtk:session#Ingest',
      'X-Security-Token': tokens.security } });
  assert.equal(res.status, 200, res.text);
  const resp = bodyChild(res.text);
  assert.equal(resp.nodeName, 'IngestResponse', res.text);
  const uuid = childElements(resp)[0]?.textContent;
  assert.match(uuid, UUID_RE, res.text);
  return { ...res, uuid };
}

/** The soap:address location of the WSDL text. */
function soapAddress(wsdl) {
  return /<soap:address\s+location="([^"]*)"/.exec(wsdl)?.[1];
}

/** Value of stagebridge_http_refused_total{reason="tls_handshake"} (GET /metrics over https). */
async function failedHandshakes(s) {
  const res = await httpsRequest(`${s.url}/metrics`);
  assert.equal(res.status, 200, res.text);
  const m = /^stagebridge_http_refused_total\{reason="tls_handshake"\} (\d+)/m.exec(res.text);
  assert.ok(m, `no tls_handshake sample in /metrics:\n${res.text}`);
  return Number(m[1]);
}

/** Resolves once `re` matches the server's stderr (polled on each chunk), or rejects after `ms`. */
function stderrMatch(s, re, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(s.stderr);
      if (!m) return false;
      clearTimeout(timer);
      s.child.stderr.off('data', onData);
      resolve(m);
      return true;
    };
    const onData = () => { setImmediate(check); };
    const timer = setTimeout(() => {
      s.child.stderr.off('data', onData);
      reject(new Error(`no ${re} on the server's stderr within ${ms} ms:\n${s.stderr}`));
    }, ms);
    s.child.stderr.on('data', onData);
    check();
  });
}

/** Runs fn with https.globalAgent trusting `ca` (its pooled sockets dropped before and after). */
async function withGlobalCa(ca, fn) {
  const saved = https.globalAgent.options.ca;
  https.globalAgent.destroy();
  https.globalAgent.options.ca = ca;
  try {
    return await fn();
  } finally {
    https.globalAgent.destroy();
    https.globalAgent.options.ca = saved;
  }
}

/** Text of a node-soap result value: plain string, or {$value, attributes} when xsi:type is set. */
function text(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? (v.$value ?? '') : String(v);
}

const record = (testcol1) => DomUtil.parse(`<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="${testcol1}"/>`);

// ---------------------------------------------------------------------------

describe('HTTPS listener (--tls-cert, --tls-key)', () => {
  test('the server presents its certificate (serial, SAN IP:127.0.0.1 and DNS:localhost), verified against the test CA', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const byIp = await handshake(portOf(server), { ca: [pki.ca.pem] });
    assert.deepEqual(byIp, { authorized: true, protocol: 'TLSv1.3', serial: pki.server.serial,
      subject: '127.0.0.1', issuer: 'stagebridge test ca', san: SAN });
    const byName = await handshake(portOf(server), { ca: [pki.ca.pem], servername: 'localhost' });
    assert.equal(byName.authorized, true);
    // --tls-min-version defaults to 1.2: a client limited to TLS 1.2 gets in.
    const v12 = await handshake(portOf(server), { ca: [pki.ca.pem], maxVersion: 'TLSv1.2' });
    assert.deepEqual([v12.authorized, v12.protocol], [true, 'TLSv1.2']);
  });

  test('the WSDL fetched over HTTPS advertises the https:// SOAP router', async () => {
    const res = await httpsRequest(`${server.url}${WSDL_PATH}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(soapAddress(res.text), server.soapUrl);
    assert.match(server.soapUrl, /^https:\/\//);
  });
});

describe('acc-js-sdk 1.2.0 over https:// (https.globalAgent trusts the test CA)', () => {
  let client;
  let rec;
  let uuid;

  before(async () => {
    client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, ADMIN.login, ADMIN.password));
    rec = recordSoapCalls(client);
  });

  test('logon()', async () => {
    await client.logon();
    assert.equal(client.isLogged(), true);
    assert.equal(client.application.operator.login, 'admin');
    assert.deepEqual(rec.methods(), ['xtk:session#Logon']);
  });

  test('NLWS.xml.xtkSession.ingest discovers the method (GetEntityIfMoreRecent) and stages the row', async () => {
    assert.ok(client.isLogged(), 'needs the logon test');
    rec.calls.length = 0;
    uuid = await client.NLWS.xml.xtkSession.ingest(record('sdk over https'));
    assert.match(uuid, UUID_RE);
    assert.deepEqual(rec.methods(), ['xtk:persist#GetEntityIfMoreRecent', 'xtk:session#Ingest']);
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'sdk over https', testcol2: null, idelete: 0 }]);
  });

  test('xtkQueryDef count through executeQuery() counts the staged rows', async () => {
    assert.ok(uuid, 'needs the ingest test');
    const result = await client.NLWS.xtkQueryDef.create({ schema: 'dem:sampleTableStg', operation: 'count' })
      .executeQuery();
    assert.deepEqual(result, { count: String(env.countStaged()) });
    assert.ok(env.countStaged() >= 1);
  });

  test('logoff()', async () => {
    rec.calls.length = 0;
    await client.logoff();
    assert.equal(client.isLogged(), false);
    assert.deepEqual(rec.methods(), ['xtk:session#Logoff']);
  });
});

describe('node-soap over https:// (an https.Agent trusting the test CA)', () => {
  let agent;
  let client;
  let tokens;

  before(async () => {
    agent = new https.Agent({ ca: [pki.ca.pem], keepAlive: true });
    client = await soap.createClientAsync(`${server.url}${WSDL_PATH}`, { wsdl_options: { httpsAgent: agent } });
  });
  after(() => agent?.destroy());

  test('the client built from the https WSDL posts to the https:// router', () => {
    assert.equal(client.wsdl.definitions.services.XtkSession.ports.sessionMethodsSoap.location, server.soapUrl);
  });

  test('Logon, then Ingest with the X-Security-Token header: the row is staged', async () => {
    const [logon] = await client.LogonAsync({
      sessiontoken: '', strLogin: ADMIN.login, strPassword: ADMIN.password, elemParameters: { $xml: '' },
    }, { httpsAgent: agent });
    tokens = { session: text(logon.pstrSessionToken), security: text(logon.pstrSecurityToken) };
    assert.match(tokens.session, /^___[0-9a-f-]{36}$/);
    assert.match(tokens.security, /^@\S{16,}$/);

    client.addHttpHeader('X-Security-Token', tokens.security);
    const [result] = await client.IngestAsync({
      sessiontoken: tokens.session,
      domDoc: { $xml: '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="node-soap over https"/>' },
    }, { httpsAgent: agent });
    const uuid = text(result.pstrSUuids);
    assert.match(uuid, UUID_RE, JSON.stringify(result));
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'node-soap over https', testcol2: null, idelete: 0 }]);
  });

  test('the same client with an agent trusting another CA is refused by its own TLS check; nothing is staged', async () => {
    assert.ok(tokens, 'needs the Logon test');
    const wrongAgent = new https.Agent({ ca: [pki.otherCa.pem] });
    try {
      const before = env.countStaged();
      const err = await rejection(client.IngestAsync({
        sessiontoken: tokens.session,
        domDoc: { $xml: '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="node-soap untrusted"/>' },
      }, { httpsAgent: wrongAgent }));
      assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', `${err.code}: ${err.message}`);
      assert.equal(err.response, undefined, 'no HTTP response');
      assert.equal(env.countStaged(), before);
      assert.equal(env.staged("sTestcol1 = 'node-soap untrusted'").length, 0);
    } finally {
      wrongAgent.destroy();
    }
  });
});

describe('clients that do not trust the CA', () => {
  test('tls.connect with Node\'s default CAs, or with another CA, fails verification (UNABLE_TO_VERIFY_LEAF_SIGNATURE)', async () => {
    const noCa = await rejection(handshake(portOf(server)));
    assert.equal(noCa.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', String(noCa));
    const otherCa = await rejection(handshake(portOf(server), { ca: [pki.otherCa.pem] }));
    assert.equal(otherCa.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', String(otherCa));
  });

  test('acc-js-sdk trusting another CA: logon() and an Ingest with valid tokens fail with the TLS error; nothing is staged', async () => {
    const tokens = await rawLogon(server); // through the trusting https.globalAgent
    const before = env.countStaged();
    await withGlobalCa([pki.otherCa.pem], async () => {
      const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, ADMIN.login, ADMIN.password));
      const logonErr = await rejection(client.logon());
      // The SDK reports a transport error as a CampaignException with statusCode 500.
      assert.deepEqual([logonErr.name, logonErr.statusCode, logonErr.faultString],
        ['CampaignException', 500, 'Error: unable to verify the first certificate'], String(logonErr));
      assert.equal(client.isLogged(), false);

      const withTokens = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(
        server.url, tokens.session, tokens.security));
      await withTokens.logon(); // no call: the tokens are just taken
      const ingestErr = await rejection(withTokens.makeSoapCall('xtk:session', 'Ingest', true,
        [{ name: 'domDoc', type: 'DOMDocument', value: record('sdk untrusted') }],
        [{ name: 'pstrSUuids', type: 'string' }], 'xml'));
      assert.deepEqual([ingestErr.name, ingestErr.statusCode, ingestErr.faultString],
        ['CampaignException', 500, 'Error: unable to verify the first certificate'], String(ingestErr));
    });
    assert.equal(env.countStaged(), before);
    assert.equal(env.staged("sTestcol1 = 'sdk untrusted'").length, 0);
  });

  test('the refused handshakes are counted in /metrics and the server keeps serving', async () => {
    const beforeCount = await failedHandshakes(server);
    await rejection(handshake(portOf(server), { ca: [pki.otherCa.pem] }));
    // The server counts it once it got the client's alert: poll, with a deadline.
    const deadline = Date.now() + 5_000;
    let count = await failedHandshakes(server);
    while (count === beforeCount && Date.now() < deadline) count = await failedHandshakes(server);
    assert.equal(count, beforeCount + 1);
    assert.equal(server.exitCode, undefined);
    const tokens = await rawLogon(server);
    const { uuid } = await rawIngest(server, tokens, 'after refusals', undefined);
    assert.equal(env.stagedById(uuid)[0].testcol1, 'after refusals');
  });
});

describe('plain HTTP on the HTTPS port, and --listen-http', () => {
  let dual; // HTTPS on --listen, plain HTTP on --listen-http
  let plainUrl;

  before(async () => {
    dual = await env.start(['--tls-cert', pki.server.cert, '--tls-key', pki.server.key,
      '--listen-http', '127.0.0.1:0', '--log-level', 'info']);
    const [, hostPort] = await stderrMatch(dual,
      /stagebridge also listening on http:\/\/(\S+:\d+) \(plain HTTP\)/);
    plainUrl = `http://${hostPort}`;
  });

  test('a plain-HTTP request to the HTTPS port gets no HTTP response; the server keeps serving HTTPS', async () => {
    const outcome = await new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: portOf(server), method: 'POST', agent: false,
        path: '/nl/jsp/soaprouter.jsp', headers: { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Logon' } });
      req.on('response', (res) => resolve({ status: res.statusCode }));
      req.on('error', (error) => resolve({ error }));
      req.setTimeout(20_000, () => req.destroy(new Error('no answer and no close within 20 s')));
      req.end('<soapenv:Envelope/>');
    });
    assert.equal(outcome.status, undefined, `got an HTTP ${outcome.status} response`);
    assert.ok(outcome.error, 'the request failed');
    // The server drops the connection (the client sees ECONNRESET, "socket hang up"), not a stall.
    assert.notEqual(outcome.error.message, 'no answer and no close within 20 s');
    assert.equal(server.exitCode, undefined);
    const tokens = await rawLogon(server);
    assert.match(tokens.session, /^___/);
  });

  test('stdout\'s "listening on" is the HTTPS listener, the logged plain one is another port', async () => {
    assert.match(dual.url, /^https:\/\//);
    assert.ok(dual.stderr.includes(`stagebridge listening on ${dual.url} `), dual.stderr);
    assert.notEqual(new URL(plainUrl).port, new URL(dual.url).port);
    const hs = await handshake(portOf(dual), { ca: [pki.ca.pem] });
    assert.equal(hs.authorized, true);
  });

  test('the --listen-http port serves plain HTTP: Logon, Ingest, and a WSDL with an http:// address', async () => {
    const plainServer = { soapUrl: `${plainUrl}/nl/jsp/soaprouter.jsp` };
    const tokens = await rawLogon(plainServer);
    assert.match(tokens.session, /^___/);
    const wsdl = await (await fetch(`${plainUrl}${WSDL_PATH}`)).text();
    assert.equal(soapAddress(wsdl), plainServer.soapUrl);
    const client = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(
      plainUrl, tokens.session, tokens.security));
    await client.logon();
    const uuid = await client.NLWS.xml.xtkSession.ingest(record('over plain http'));
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'over plain http', testcol2: null, idelete: 0 }]);
    // The HTTPS port of the same server still gives the https:// address.
    const httpsWsdl = await httpsRequest(`${dual.url}${WSDL_PATH}`);
    assert.equal(soapAddress(httpsWsdl.text), dual.soapUrl);
  });

  test('a TLS handshake on the plain port fails', async () => {
    const err = await rejection(handshake(Number(new URL(plainUrl).port), { ca: [pki.ca.pem] }));
    // The plain listener answers the ClientHello with an HTTP error, which is no TLS record.
    assert.equal(err.code, 'ERR_SSL_WRONG_VERSION_NUMBER', String(err));
  });
});

describe('--tls-min-version 1.3', () => {
  let strict;
  before(async () => {
    strict = await env.start(['--tls-cert', pki.server.cert, '--tls-key', pki.server.key, '--tls-min-version', '1.3']);
  });

  test('a client limited to TLS 1.2 fails the handshake', async () => {
    const err = await rejection(handshake(portOf(strict), { ca: [pki.ca.pem], maxVersion: 'TLSv1.2' }));
    assert.equal(err.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', String(err));
  });

  test('a default client gets TLS 1.3, and acc-js-sdk logs on', async () => {
    const hs = await handshake(portOf(strict), { ca: [pki.ca.pem] });
    assert.deepEqual([hs.authorized, hs.protocol], [true, 'TLSv1.3']);
    const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(strict.url, ADMIN.login, ADMIN.password));
    await client.logon();
    assert.equal(client.isLogged(), true);
    await client.logoff();
  });
});

describe('SIGHUP reloads the certificate', () => {
  let reloading;
  let dir;
  let keptAgent; // one kept-alive connection, opened before the reload
  let tokens;
  let first; // the response on the kept connection before the reload

  before(async () => {
    dir = path.join(pki.dir, 'reload');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'cert.pem'), readFileSync(pki.server.cert));
    writeFileSync(path.join(dir, 'key.pem'), readFileSync(pki.server.key));
    reloading = await env.start(['--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')]);
    keptAgent = new https.Agent({ ca: [pki.ca.pem], keepAlive: true, maxSockets: 1 });
    tokens = await rawLogon(reloading);
    first = await rawIngest(reloading, tokens, 'kept before reload', keptAgent);
  });
  after(() => keptAgent?.destroy());

  /** Serial of the certificate a new connection gets, polled until it is `want` or the deadline passes. */
  async function pollSerial(want) {
    const deadline = Date.now() + RELOAD_DEADLINE_MS;
    let seen;
    do {
      seen = (await handshake(portOf(reloading), { ca: [pki.ca.pem] })).serial;
      if (seen === want) return seen;
      await new Promise((r) => setTimeout(r, 20)); // poll interval, not a wait for the reload
    } while (Date.now() < deadline);
    return seen;
  }

  test('new connections get the new certificate; the keep-alive connection opened before still completes a request', async () => {
    assert.equal(first.serial, pki.server.serial);
    assert.equal(first.reused, false);

    const next = makeServerCert(pki.dir, pki.ca, 'server2', '5B1002');
    // Replace both files (rename: the server never reads half a file), then SIGHUP.
    writeFileSync(path.join(dir, 'cert.pem.new'), readFileSync(next.cert));
    writeFileSync(path.join(dir, 'key.pem.new'), readFileSync(next.key));
    renameSync(path.join(dir, 'cert.pem.new'), path.join(dir, 'cert.pem'));
    renameSync(path.join(dir, 'key.pem.new'), path.join(dir, 'key.pem'));
    process.kill(reloading.child.pid, 'SIGHUP');

    assert.equal(await pollSerial(next.serial), next.serial,
      `new connections did not get serial ${next.serial} within ${RELOAD_DEADLINE_MS} ms`);
    const fresh = await handshake(portOf(reloading), { ca: [pki.ca.pem] });
    assert.deepEqual([fresh.authorized, fresh.serial, fresh.san], [true, next.serial, SAN]);

    // The connection opened before the reload: same socket, old certificate, request served.
    const second = await rawIngest(reloading, tokens, 'kept after reload', keptAgent);
    assert.equal(second.reused, true, 'the kept-alive socket was reused');
    assert.equal(second.socket, first.socket);
    assert.equal(second.serial, pki.server.serial);
    assert.equal(env.stagedById(second.uuid)[0].testcol1, 'kept after reload');

    // A new client connection (SDK, global agent) works with the new certificate.
    const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(reloading.url, ADMIN.login, ADMIN.password));
    await client.logon();
    const uuid = await client.NLWS.xml.xtkSession.ingest(record('sdk after reload'));
    assert.equal(env.stagedById(uuid)[0].testcol1, 'sdk after reload');
    await client.logoff();
    assert.equal(reloading.exitCode, undefined);
  });

  test('a SIGHUP with an unusable key keeps the current certificate in use', async () => {
    const current = (await handshake(portOf(reloading), { ca: [pki.ca.pem] })).serial;
    writeFileSync(path.join(dir, 'key.pem.new'), 'not a key\n');
    renameSync(path.join(dir, 'key.pem.new'), path.join(dir, 'key.pem'));
    process.kill(reloading.child.pid, 'SIGHUP');
    // Logged at error level (the test servers log warn and above).
    await stderrMatch(reloading, /SIGHUP: TLS files not reloaded, the previous ones stay in use/);
    const after = await handshake(portOf(reloading), { ca: [pki.ca.pem] });
    assert.deepEqual([after.authorized, after.serial], [true, current]);
    assert.equal(reloading.exitCode, undefined);
    const t = await rawLogon(reloading);
    assert.match(t.session, /^___/);
  });
});
