// seed.test.mjs — the seed document's SOAP payloads, sent as written (SoapUI
// style: soapenv:/urn: prefixes, indentation, <sampleTableStg …></sampleTableStg>
// with whitespace inside), only the session token substituted, over plain HTTP.
// The seed sends only the session token, so the first server runs with
// --session-token-only true; a second server without that flag must refuse the
// same call with XSV-350008 (HTTP 500).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UUID_RE, bodyChild, childElements, createEnv, fault, post, rawLogon,
} from './helper.mjs';

// Verbatim from seed/000_c39c705cbd66b360.txt (the markdown list indentation of
// three spaces removed); the token placeholders are replaced by a real token.
const SEED_INGEST = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">
<soapenv:Header/>
<soapenv:Body>
    <urn:Ingest>
        <urn:sessiontoken>___xxxxxxx-xxxx-xxx-xxx-xxxxxxxxxxx</urn:sessiontoken>
        <urn:domDoc>
            <sampleTableStg
                testcol1="Test Value 1 (from SOAP)"
                testcol2="Test Value 2 (from SOAP)"
                xtkschema="dem:sampleTableStg">
            </sampleTableStg>
        </urn:domDoc>
    </urn:Ingest>
</soapenv:Body>
</soapenv:Envelope>
`;

const SEED_INGEST_KEYED = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">
<soapenv:Header/>
<soapenv:Body>
  <urn:Ingest>
     <urn:sessiontoken>___5e71f4bf-d38a-4ba8-ac15-35a958f7f138</urn:sessiontoken>
     <urn:domDoc>
        <sampleTableStg  _key="@id" id="ABDCD321"
             testcol1="Test Value 1 (from SOAP)"
             testcol2="Test Value 2 (from SOAP)"
             xtkschema="dem:sampleTableStg">
         </sampleTableStg>
     </urn:domDoc>
  </urn:Ingest>
 </soapenv:Body>
</soapenv:Envelope>
`;

const SEED_INGEST_EXT = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">
<soapenv:Header/>
<soapenv:Body>
    <urn:IngestExt>
        <urn:sessiontoken>___444cd168-a1e2-4fb6-a2a8-73be9f133489</urn:sessiontoken>
        <urn:domDoc>
        <sampleTableStg  _key="@id" id="ABDCD321"
                testcol1="Test Value E (from SOAP)"
                testcol2="Test Value F (from SOAP)"
                xtkschema="dem:sampleTableStg">
            </sampleTableStg>
        </urn:domDoc>
    </urn:IngestExt>
</soapenv:Body>
</soapenv:Envelope>
`;

/** The seed payload with its placeholder token replaced by `token`. */
function withToken(payload, token) {
  const out = payload.replace(/<urn:sessiontoken>___[^<]*<\/urn:sessiontoken>/,
    `<urn:sessiontoken>${token}</urn:sessiontoken>`);
  assert.notEqual(out, payload, 'token placeholder not found');
  return out;
}

/** What SoapUI sends with a request built from the WSDL. */
function soapUiHeaders(method, extra = {}) {
  return { 'Content-Type': 'text/xml;charset=UTF-8', SOAPAction: `"xtk:session#${method}"`, ...extra };
}

/** Asserts the seed's response shape: SOAP-ENV envelope, unprefixed <MethodResponse xmlns="urn:wpp:default">. */
function assertSeedResponseShape(text, method) {
  const resp = bodyChild(text);
  assert.equal(resp.nodeName, `${method}Response`, `expected <${method}Response>, got: ${text}`);
  assert.equal(resp.namespaceURI, 'urn:wpp:default', `response namespace: ${text}`);
  assert.equal(resp.getAttribute('SOAP-ENV:encodingStyle'), 'http://schemas.xmlsoap.org/soap/encoding/');
  const envelope = resp.ownerDocument.documentElement;
  assert.equal(envelope.getAttribute('xmlns:ns'), 'urn:wpp:default', 'envelope xmlns:ns as in the seed');
  assert.equal(envelope.getAttribute('xmlns:xsi'), 'http://www.w3.org/2001/XMLSchema-instance');
  return resp;
}

let env;
before(async () => { env = await createEnv('seed'); });
after(async () => { await env?.cleanup(); });

describe('seed payloads with --session-token-only true', () => {
  let server;
  let token;
  let generatedId;
  before(async () => { server = await env.start(['--session-token-only', 'true']); });
  after(async () => { await server?.stop(); });

  test('Logon with a SoapUI-style envelope returns a ___uuid session token and an @ security token', async () => {
    const logon = await rawLogon(server);
    assert.match(logon.session, /^___[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(logon.security, /^@[A-Za-z0-9+/=_-]{16,}$/);
    const resp = bodyChild(logon.response);
    assert.equal(resp.namespaceURI, 'urn:xtk:session');
    const [tok, info, sec] = childElements(resp);
    assert.equal(tok.getAttribute('xsi:type'), 'xsd:string');
    assert.equal(info.getAttribute('xsi:type'), 'ns:Element');
    assert.equal(sec.getAttribute('xsi:type'), 'xsd:string');
    const sessionInfo = childElements(info)[0];
    assert.equal(sessionInfo?.nodeName, 'sessionInfo');
    assert.deepEqual(childElements(sessionInfo).map((e) => e.nodeName).sort(), ['serverInfo', 'userInfo']);
    token = logon.session;
  });

  test('Ingest without key (seed payload) returns a lowercase RFC 4122 uuid and stages the row', async () => {
    assert.ok(token, 'needs the Logon test');
    const before = env.countStaged();
    const res = await post(server.soapUrl, withToken(SEED_INGEST, token), soapUiHeaders('Ingest'));
    assert.equal(res.status, 200, res.text);
    const resp = assertSeedResponseShape(res.text, 'Ingest');
    const outs = childElements(resp);
    assert.equal(outs.length, 1, res.text);
    assert.equal(outs[0].localName, 'pstrSUuids');
    assert.equal(outs[0].getAttribute('xsi:type'), 'xsd:string');
    generatedId = outs[0].textContent;
    assert.match(generatedId, UUID_RE);
    assert.equal(env.countStaged(), before + 1);
    assert.deepEqual(env.stagedById(generatedId), [{
      id: generatedId, testcol1: 'Test Value 1 (from SOAP)', testcol2: 'Test Value 2 (from SOAP)', idelete: 0,
    }]);
  });

  test('Ingest with _key="@id" id="ABDCD321" (seed payload) returns an empty pstrSUuids and stages that id', async () => {
    assert.ok(token, 'needs the Logon test');
    const res = await post(server.soapUrl, withToken(SEED_INGEST_KEYED, token), soapUiHeaders('Ingest'));
    assert.equal(res.status, 200, res.text);
    const resp = assertSeedResponseShape(res.text, 'Ingest');
    const outs = childElements(resp);
    assert.equal(outs.length, 1, res.text);
    assert.equal(outs[0].localName, 'pstrSUuids');
    assert.equal(outs[0].getAttribute('xsi:type'), 'xsd:string');
    assert.equal(outs[0].textContent, '');
    assert.deepEqual(env.stagedById('ABDCD321'), [{
      id: 'ABDCD321', testcol1: 'Test Value 1 (from SOAP)', testcol2: 'Test Value 2 (from SOAP)', idelete: 0,
    }]);
  });

  test('IngestExt (seed payload) answers an empty IngestExtResponse and updates ABDCD321 in place', async () => {
    assert.ok(token, 'needs the Logon test');
    const before = env.countStaged();
    const res = await post(server.soapUrl, withToken(SEED_INGEST_EXT, token), soapUiHeaders('IngestExt'));
    assert.equal(res.status, 200, res.text);
    const resp = assertSeedResponseShape(res.text, 'IngestExt');
    assert.equal(childElements(resp).length, 0, res.text);
    assert.equal(resp.textContent.trim(), '');
    assert.equal(env.countStaged(), before, 'an update, not a new row');
    assert.deepEqual(env.stagedById('ABDCD321'), [{
      id: 'ABDCD321', testcol1: 'Test Value E (from SOAP)', testcol2: 'Test Value F (from SOAP)', idelete: 0,
    }]);
    // The row without a key is untouched.
    assert.equal(env.stagedById(generatedId)[0].testcol1, 'Test Value 1 (from SOAP)');
  });

  test('the server stops cleanly on SIGTERM', async () => {
    assert.equal(await server.stop(), 0, server.stderr);
  });
});

describe('seed payloads without --session-token-only (both tokens required)', () => {
  let server;
  let logon;
  before(async () => {
    server = await env.start();
    logon = await rawLogon(server);
  });
  after(async () => { await server?.stop(); });

  test('the seed Ingest carrying only the session token gets HTTP 500 and an XSV-350008 fault; nothing is written', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, withToken(SEED_INGEST, logon.session), soapUiHeaders('Ingest'));
    assert.equal(res.status, 500, res.text);
    assert.match(res.text, /XSV-350008/);
    const f = fault(res.text);
    assert.ok(f, `not a SOAP-ENV:Fault: ${res.text}`);
    assert.match(f.faultstring, /^XSV-350008 /);
    assert.equal(env.countStaged(), before);
  });

  test('the same call plus the X-Security-Token header is accepted', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, withToken(SEED_INGEST, logon.session),
      soapUiHeaders('Ingest', { 'X-Security-Token': logon.security }));
    assert.equal(res.status, 200, res.text);
    const id = childElements(assertSeedResponseShape(res.text, 'Ingest'))[0].textContent;
    assert.match(id, UUID_RE);
    assert.equal(env.countStaged(), before + 1);
    assert.equal(env.stagedById(id).length, 1);
  });
});
