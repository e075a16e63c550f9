// sdk.test.mjs — Adobe's @adobe/acc-js-sdk 1.2.0, unmodified, against the server
// (security token required, the default): user/password logon, method discovery
// through xtk:persist#GetEntityIfMoreRecent, NLWS.xml.xtkSession.ingest,
// makeSoapCall for IngestExt, faults surfacing their error code, session expiry
// → refreshClient re-logon → retry, logoff.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sdk from '@adobe/acc-js-sdk';
import { ADMIN, UUID_RE, WRITER, createEnv } from './helper.mjs';

const { DomUtil } = sdk;

const LIFETIME = 3; // seconds: short, so the test waits a few seconds for a real expiry

let env;
let server;
let shortServer; // a second server whose sessions expire after LIFETIME seconds
let expiring; // { client, refreshes, rec, lastUsedAt, … } logged on to shortServer
before(async () => {
  env = await createEnv('sdk');
  server = await env.start();
  // Logged on first thing, so that the expiry test at the end waits as little as possible.
  shortServer = await env.start(['--session-lifetime', String(LIFETIME)]);
  expiring = { refreshes: 0 };
  expiring.client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(
    shortServer.url, ADMIN.login, ADMIN.password,
    { refreshClient: async (c) => { expiring.refreshes += 1; await c.logon(); return c; } }));
  expiring.rec = recorder(expiring.client);
  await expiring.client.logon();
  // A call right away works without any re-logon.
  expiring.firstId = await expiring.client.NLWS.xml.xtkSession.ingest(
    DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="before lifetime"/>'));
  expiring.refreshesBefore = expiring.refreshes;
  expiring.lastUsedAt = Date.now(); // absolute or sliding lifetime: both are over LIFETIME + 2 s after this
});
after(async () => { await env?.cleanup(); });

/** Records the SOAP methods a client calls (urn#Method) and the failures it sees. */
function recorder(client) {
  const rec = { calls: [], failures: [] };
  client.registerObserver({
    onSOAPCall: (call) => rec.calls.push(`${call.urn}#${call.methodName}`),
    onSOAPCallFailure: (call, ex) => rec.failures.push({ method: `${call.urn}#${call.methodName}`, ex }),
  });
  return rec;
}

async function newClient(user = ADMIN, options = undefined) {
  const params = sdk.ConnectionParameters.ofUserAndPassword(server.url, user.login, user.password, options);
  return sdk.init(params);
}

/** Rejection of `promise`, asserting it rejects. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

describe('acc-js-sdk 1.2.0', () => {
  let client;
  let rec;
  let ingestedId;

  before(async () => {
    client = await newClient();
    rec = recorder(client);
  });

  test('logon() with user and password', async () => {
    assert.equal(sdk.getSDKVersion().version, '1.2.0');
    await client.logon();
    assert.equal(client.isLogged(), true);
    assert.deepEqual(rec.calls, ['xtk:session#Logon']);
    assert.equal(client.application.operator.login, 'admin');
  });

  test('NLWS.xml.xtkSession.ingest(doc) discovers the method via GetEntityIfMoreRecent and returns a uuid', async () => {
    rec.calls.length = 0;
    const doc = DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="a" testcol2="b"/>');
    const uuid = await client.NLWS.xml.xtkSession.ingest(doc);
    assert.equal(typeof uuid, 'string');
    assert.match(uuid, UUID_RE);
    assert.deepEqual(rec.calls, ['xtk:persist#GetEntityIfMoreRecent', 'xtk:session#Ingest']);
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'a', testcol2: 'b', idelete: 0 }]);
    ingestedId = uuid;
  });

  test('NLWS.xtkSession.ingest with the default SimpleJson representation', async () => {
    const uuid = await client.NLWS.xtkSession.ingest({ xtkschema: 'dem:sampleTableStg', testcol1: 'json1', testcol2: 'json2' });
    assert.match(uuid, UUID_RE);
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'json1', testcol2: 'json2', idelete: 0 }]);
  });

  test("makeSoapCall('xtk:session', 'IngestExt', …) returns [] and updates only the attribute sent", async () => {
    assert.ok(ingestedId, 'needs the ingest test');
    const doc = DomUtil.parse(
      `<sampleTableStg _key="@id" id="${ingestedId}" testcol1="z" xtkschema="dem:sampleTableStg"/>`);
    const result = await client.makeSoapCall('xtk:session', 'IngestExt', true,
      [{ name: 'domDoc', type: 'DOMDocument', value: doc }], [], 'xml');
    assert.deepEqual(result, []);
    assert.deepEqual(env.stagedById(ingestedId), [{ id: ingestedId, testcol1: 'z', testcol2: 'b', idelete: 0 }]);
  });

  test('a collection: ids comma-separated in document order, an empty slot for the caller-keyed record', async () => {
    const doc = DomUtil.parse('<sampleTableStg-collection xtkschema="dem:sampleTableStg">'
      + '<sampleTableStg testcol1="coll 1"/>'
      + '<sampleTableStg _key="@id" id="SDKCOLL2" testcol1="coll 2"/>'
      + '<sampleTableStg testcol1="coll 3"/>'
      + '</sampleTableStg-collection>');
    const ids = (await client.NLWS.xml.xtkSession.ingest(doc)).split(',');
    assert.equal(ids.length, 3, ids.join(','));
    assert.match(ids[0], UUID_RE);
    assert.equal(ids[1], '');
    assert.match(ids[2], UUID_RE);
    assert.equal(env.stagedById(ids[0])[0].testcol1, 'coll 1');
    assert.equal(env.stagedById('SDKCOLL2')[0].testcol1, 'coll 2');
    assert.equal(env.stagedById(ids[2])[0].testcol1, 'coll 3');
  });

  test('NLWS.xml.xtkSession.ingestExt with _operation="delete" marks the staged row as a tombstone', async () => {
    await client.NLWS.xml.xtkSession.ingestExt(DomUtil.parse(
      '<sampleTableStg _key="@id" id="SDKCOLL2" _operation="delete" xtkschema="dem:sampleTableStg"/>'));
    const [row] = env.stagedById('SDKCOLL2');
    assert.equal(row.idelete, 1);
  });

  test('Ingest of an id already pending in staging is a fault (STG-200006 in the exception); the row is unchanged', async () => {
    const ex = await rejection(client.NLWS.xml.xtkSession.ingest(DomUtil.parse(
      `<sampleTableStg _key="@id" id="${ingestedId}" testcol1="dup" xtkschema="dem:sampleTableStg"/>`)));
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.match(`${ex.message}\n${ex.detail}`, /STG-200006/);
    assert.equal(env.stagedById(ingestedId)[0].testcol1, 'z');
  });

  test('20 concurrent ingests from one client: 20 distinct uuids, 20 rows, within the SDK\'s 5 s timeout', async () => {
    const N = 20; // each call parses XML with jsdom in this process: keep well inside the 5 s axios timeout
    const before = env.countStaged();
    const uuids = await Promise.all(Array.from({ length: N }, (_, i) => client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse(`<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="concurrent ${i}"/>`))));
    assert.equal(new Set(uuids).size, N);
    for (const u of uuids) assert.match(u, UUID_RE);
    assert.equal(env.countStaged(), before + N);
    const stored = env.staged("sTestcol1 LIKE 'concurrent %'");
    assert.deepEqual(stored.map((r) => r.id).sort(), [...uuids].sort());
    for (const r of stored) assert.equal(r.testcol1, `concurrent ${uuids.indexOf(r.id)}`);
  });

  test('client.test() (/r/test) and client.ping() (/nl/jsp/ping.jsp)', async () => {
    const redir = await client.test();
    assert.equal(redir.status, 'OK', JSON.stringify(redir));
    const ping = await client.ping();
    assert.equal(ping.status, 'OK', JSON.stringify(ping));
  });

  test('a fault surfaces as a CampaignException with its error code (unknown attribute → STG-200003)', async () => {
    const before = env.countStaged();
    const doc = DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="x" nosuchcolumn="v"/>');
    const ex = await rejection(client.NLWS.xml.xtkSession.ingest(doc));
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.equal(ex.errorCode, 'STG-200003',
      `errorCode ${JSON.stringify(ex.errorCode)}, statusCode ${ex.statusCode}, faultCode ${JSON.stringify(ex.faultCode)}, `
      + `faultString ${JSON.stringify(ex.faultString)}, detail ${JSON.stringify(ex.detail)}`);
    assert.match(ex.faultString, /nosuchcolumn/);
    assert.equal(ex.faultCode, 'SOAP-ENV:Client');
    assert.equal(env.countStaged(), before, 'nothing written');
  });

  test('the fault text is reachable in the exception (unknown schema → STG-200001 in message or detail)', async () => {
    const doc = DomUtil.parse('<nosuchTableStg xtkschema="dem:nosuchTableStg" testcol1="x"/>');
    const ex = await rejection(client.NLWS.xml.xtkSession.ingest(doc));
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.match(`${ex.message}\n${ex.detail}`, /STG-200001/);
    assert.match(`${ex.message}\n${ex.detail}`, /dem:nosuchTableStg/);
  });

  test('logoff() ends the session: the old tokens are refused with SDK-000012 (XSV-350008)', async () => {
    const stale = sdk.ConnectionParameters.ofSessionAndSecurityToken(
      server.url, client._sessionToken, client._securityToken);
    const staleClient = await sdk.init(stale);
    await staleClient.logon(); // no call: the tokens are just taken
    rec.calls.length = 0;
    await client.logoff();
    assert.deepEqual(rec.calls, ['xtk:session#Logoff']);
    assert.equal(client.isLogged(), false);

    const doc = DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="after logoff"/>');
    const ex = await rejection(staleClient.makeSoapCall('xtk:session', 'Ingest', true,
      [{ name: 'domDoc', type: 'DOMDocument', value: doc }], [{ name: 'pstrSUuids', type: 'string' }], 'xml'));
    assert.equal(ex.statusCode, 401, String(ex));
    assert.equal(ex.errorCode, 'SDK-000012', String(ex));
    assert.equal(env.staged("sTestcol1 = 'after logoff'").length, 0);
  });
});

describe('acc-js-sdk 1.2.0 session invalidated by Logoff elsewhere, with refreshClient', () => {
  test('an invalidated session (XSV-350008) makes the SDK log on again and retry the call once', async () => {
    let refreshes = 0;
    const client = await newClient(ADMIN, {
      refreshClient: async (c) => { refreshes += 1; await c.logon(); return c; },
    });
    const rec = recorder(client);
    await client.logon();
    const first = await client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="before expiry"/>'));
    assert.match(first, UUID_RE);

    // Another client holding the same tokens logs the session off behind its back.
    const other = await sdk.init(sdk.ConnectionParameters.ofSessionAndSecurityToken(
      server.url, client._sessionToken, client._securityToken));
    await other.logon();
    await other.logoff();

    rec.calls.length = 0;
    const uuid = await client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="after re-logon"/>'));
    assert.match(uuid, UUID_RE);
    assert.equal(refreshes, 1);
    assert.deepEqual(rec.calls, ['xtk:session#Ingest', 'xtk:session#Logon']);
    assert.equal(rec.failures.length, 1);
    assert.equal(rec.failures[0].ex.errorCode, 'SDK-000012');
    assert.equal(rec.failures[0].ex.statusCode, 401);
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'after re-logon', testcol2: null, idelete: 0 }]);
    assert.equal(env.staged("sTestcol1 = 'after re-logon'").length, 1, 'retried once, stored once');
    await client.logoff();
  });
});

describe('acc-js-sdk 1.2.0 logon failures', () => {
  test('a wrong password is refused (XSV-350012 in the exception) and the client is not logged on', async () => {
    const client = await newClient({ login: ADMIN.login, password: 'wrong' });
    const ex = await rejection(client.logon());
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.match(`${ex.message}\n${ex.detail}`, /XSV-350012/);
    assert.equal(client.isLogged(), false);
  });
});

describe('acc-js-sdk 1.2.0 as a non-admin operator', () => {
  test('writer (granted dem:sampleTable) ingests into dem:sampleTableStg but not nms:recipientStg', async () => {
    const client = await newClient(WRITER);
    await client.logon();
    assert.equal(client.application.operator.login, 'writer');
    const uuid = await client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="by writer"/>'));
    assert.match(uuid, UUID_RE);
    assert.equal(env.stagedById(uuid)[0].testcol1, 'by writer');

    const ex = await rejection(client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse('<recipientStg xtkschema="nms:recipientStg" email="a@example.com"/>')));
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.match(`${ex.errorCode} ${ex.faultString} ${ex.detail}`, /STG-200010/);
    assert.equal(Number(env.rows('SELECT count(*) AS n FROM NmsRecipientStg')[0].n), 0);
    await client.logoff();
  });
});

describe('acc-js-sdk 1.2.0 session lifetime', () => {
  test(`a session older than --session-lifetime ${LIFETIME} is refused (XSV-350008); refreshClient logs on again and the retry succeeds`, async () => {
    const { client, rec } = expiring;
    assert.match(expiring.firstId, UUID_RE);
    assert.equal(expiring.refreshesBefore, 0, 'a fresh session needs no re-logon');

    const wait = expiring.lastUsedAt + (LIFETIME + 2) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    rec.calls.length = 0;
    rec.failures.length = 0;
    const uuid2 = await client.NLWS.xml.xtkSession.ingest(
      DomUtil.parse('<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="after lifetime"/>'));
    assert.match(uuid2, UUID_RE);
    assert.equal(expiring.refreshes, 1);
    assert.deepEqual(rec.calls, ['xtk:session#Ingest', 'xtk:session#Logon']);
    assert.deepEqual(rec.failures.map((f) => [f.method, f.ex.errorCode, f.ex.statusCode]),
      [['xtk:session#Ingest', 'SDK-000012', 401]]);
    assert.deepEqual(env.stagedById(uuid2), [{ id: uuid2, testcol1: 'after lifetime', testcol2: null, idelete: 0 }]);
    await client.logoff();
  });
});
