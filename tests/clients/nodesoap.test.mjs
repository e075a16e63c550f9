// nodesoap.test.mjs — the generic `soap` (node-soap) client, driven by the WSDL the
// server generates (GET /nl/jsp/schemawsdl.jsp?schema=xtk:session): Logon, Ingest
// with a literal DOM child ({$xml: …}) and the security token in the
// X-Security-Token HTTP header, IngestExt, and a fault parsed into an Error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import soap from 'soap';
import { ADMIN, UUID_RE, WRITER, createEnv } from './helper.mjs';

let env;
let server;
before(async () => {
  env = await createEnv('nodesoap');
  server = await env.start();
});
after(async () => { await env?.cleanup(); });

/** Text of a node-soap result value: plain string, or {$value, attributes} when xsi:type is set. */
function text(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return v.$value ?? '';
  return String(v);
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

async function logon(client, user) {
  const [result] = await client.LogonAsync({
    sessiontoken: '', strLogin: user.login, strPassword: user.password, elemParameters: { $xml: '' },
  });
  return { session: text(result.pstrSessionToken), security: text(result.pstrSecurityToken), result };
}

describe('node-soap', () => {
  let client;
  let tokens;
  let lastRequest;

  before(async () => {
    client = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:session`);
    client.on('request', (xml) => { lastRequest = xml; });
  });

  test('the generated WSDL describes xtk:session Logon, Ingest and IngestExt at this server\'s router', () => {
    const ops = client.describe().XtkSession.sessionMethodsSoap;
    for (const m of ['Logon', 'Ingest', 'IngestExt']) assert.ok(ops[m], `operation ${m} missing: ${Object.keys(ops)}`);
    // The soap:address the client will post to is this server's SOAP router.
    assert.equal(client.wsdl.definitions.services.XtkSession.ports.sessionMethodsSoap.location, server.soapUrl);
  });

  test('Logon through the generated client returns both tokens and the sessionInfo', async () => {
    tokens = await logon(client, ADMIN);
    assert.match(tokens.session, /^___[0-9a-f-]{36}$/);
    assert.match(tokens.security, /^@\S{16,}$/);
    assert.ok(tokens.result.pSessionInfo, JSON.stringify(tokens.result));
    assert.match(lastRequest, /<(\w+:)?Logon\b/);
  });

  test('Ingest with {sessiontoken, domDoc: {$xml}} and the X-Security-Token header returns a uuid; the row is stored', async () => {
    assert.ok(tokens, 'needs the Logon test');
    client.addHttpHeader('X-Security-Token', tokens.security);
    const [result] = await client.IngestAsync({
      sessiontoken: tokens.session,
      domDoc: { $xml: '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="from node-soap" testcol2="2"/>' },
    });
    const uuid = text(result.pstrSUuids);
    assert.match(uuid, UUID_RE, JSON.stringify(result));
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'from node-soap', testcol2: '2', idelete: 0 }]);

    // IngestExt through the same client: no output, the row is updated.
    const [extResult] = await client.IngestExtAsync({
      sessiontoken: tokens.session,
      domDoc: { $xml: `<sampleTableStg _key="@id" id="${uuid}" testcol2="updated" xtkschema="dem:sampleTableStg"/>` },
    });
    // An empty IngestExtResponse: no output values (node-soap keeps only its attributes).
    assert.deepEqual(Object.keys(extResult ?? {}).filter((k) => k !== 'attributes'), [], JSON.stringify(extResult));
    assert.deepEqual(env.stagedById(uuid), [{ id: uuid, testcol1: 'from node-soap', testcol2: 'updated', idelete: 0 }]);
  });

  test('a fault (unknown schema) is parsed into an Error carrying the faultstring; nothing is written', async () => {
    assert.ok(tokens, 'needs the Logon test');
    const before = env.countStaged();
    const err = await rejection(client.IngestAsync({
      sessiontoken: tokens.session,
      domDoc: { $xml: '<nosuchTableStg xtkschema="dem:nosuchTableStg" testcol1="x"/>' },
    }));
    assert.ok(err instanceof Error);
    assert.match(err.message, /^SOAP-ENV:Client: STG-200001 .*dem:nosuchTableStg/, err.message);
    const f = err.root?.Envelope?.Body?.Fault;
    assert.ok(f, `no parsed Fault in err.root: ${JSON.stringify(err.root)}`);
    assert.match(text(f.faultstring), /^STG-200001 /);
    assert.equal(err.response?.status, 500);
    assert.equal(env.countStaged(), before);
  });

  test('without the security token header the call is refused with XSV-350008', async () => {
    assert.ok(tokens, 'needs the Logon test');
    client.clearHttpHeaders();
    const err = await rejection(client.IngestAsync({
      sessiontoken: tokens.session,
      domDoc: { $xml: '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="no security token"/>' },
    }));
    assert.match(err.message, /XSV-350008/);
    assert.equal(env.staged("sTestcol1 = 'no security token'").length, 0);
  });

  test('the non-admin writer logs on and ingests through node-soap', async () => {
    const writerClient = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:session`);
    const t = await logon(writerClient, WRITER);
    writerClient.addHttpHeader('X-Security-Token', t.security);
    const [result] = await writerClient.IngestAsync({
      sessiontoken: t.session,
      domDoc: { $xml: '<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="writer via node-soap"/>' },
    });
    const uuid = text(result.pstrSUuids);
    assert.match(uuid, UUID_RE);
    assert.equal(env.stagedById(uuid)[0].testcol1, 'writer via node-soap');
  });
});
