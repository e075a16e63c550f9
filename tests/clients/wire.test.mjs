// wire.test.mjs — raw-HTTP variants that real clients send (SPEC §3 "Requests"):
// both content types, every way of naming the method (SOAPAction quoted or not,
// ?soapAction= in the URL, nothing: the body's namespace), a SOAPAction that
// contradicts the body, ISO-8859-1 bodies, every place a session token travels;
// and a value that looks like SQL, stored exactly as sent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UUID_RE, bodyChild, childElements, createEnv, fault, post, rawLogon,
} from './helper.mjs';

let env;
let server;
let tokens;
before(async () => {
  env = await createEnv('wire');
  server = await env.start(); // both tokens required (the default)
  tokens = await rawLogon(server);
});
after(async () => { await env?.cleanup(); });

function xmlAttr(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

/** A SoapUI-style Ingest envelope whose record carries `testcol1` (and optionally `testcol2`). */
function ingestEnvelope(testcol1, { sessiontoken = tokens.session, soapHeader = '', testcol2 } = {}) {
  const col2 = testcol2 === undefined ? '' : ` testcol2="${xmlAttr(testcol2)}"`;
  return '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session">'
    + `<soapenv:Header>${soapHeader}</soapenv:Header><soapenv:Body><urn:Ingest>`
    + `<urn:sessiontoken>${sessiontoken}</urn:sessiontoken><urn:domDoc>`
    + `<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="${xmlAttr(testcol1)}"${col2}/>`
    + '</urn:domDoc></urn:Ingest></soapenv:Body></soapenv:Envelope>';
}

/** Asserts an Ingest succeeded and returns the staged row it created. */
function assertIngested(res, testcol1) {
  assert.equal(res.status, 200, res.text);
  const resp = bodyChild(res.text);
  assert.equal(resp.nodeName, 'IngestResponse', res.text);
  const uuid = childElements(resp)[0]?.textContent;
  assert.match(uuid ?? '', UUID_RE, res.text);
  const rows = env.stagedById(uuid);
  assert.equal(rows.length, 1);
  if (testcol1 !== undefined) assert.equal(rows[0].testcol1, testcol1);
  return rows[0];
}

/** Asserts a fault with that HTTP status, faultcode and faultstring code; returns the fault. */
function assertFault(res, { status = 500, faultcode, code }) {
  assert.equal(res.status, status, res.text);
  const f = fault(res.text);
  assert.ok(f, `not a SOAP-ENV:Fault: ${res.text}`);
  if (faultcode) assert.equal(f.faultcode, faultcode, res.text);
  if (code) assert.match(f.faultstring, new RegExp(`^${code} `), res.text);
  return f;
}

const sec = () => ({ 'X-Security-Token': tokens.security });

describe('content types', () => {
  for (const contentType of ['text/xml', 'text/xml; charset=utf-8', 'application/soap+xml;charset=UTF-8']) {
    test(`Content-Type: ${contentType}`, async () => {
      const value = `content type ${contentType}`;
      const res = await post(server.soapUrl, ingestEnvelope(value),
        { 'Content-Type': contentType, SOAPAction: 'xtk:session#Ingest', ...sec() });
      assertIngested(res, value);
    });
  }
});

describe('method selection', () => {
  const cases = [
    ['SOAPAction quoted', '', { SOAPAction: '"xtk:session#Ingest"' }],
    ['SOAPAction unquoted', '', { SOAPAction: 'xtk:session#Ingest' }],
    ['only ?soapAction= in the URL (as acc-js-sdk sends it), no SOAPAction header', '?soapAction=xtk%3Asession%23Ingest', {}],
    ['no SOAPAction anywhere: method from the body element and its namespace urn:xtk:session', '', {}],
  ];
  for (const [name, query, headers] of cases) {
    test(name, async () => {
      const res = await post(server.soapUrl + query, ingestEnvelope(name),
        { 'Content-Type': 'text/xml', ...headers, ...sec() });
      assertIngested(res, name);
    });
  }

  test('a SOAPAction naming a different method than the body is refused with a SOAP-ENV:Client fault; nothing written', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, ingestEnvelope('mismatched action'),
      { 'Content-Type': 'text/xml', SOAPAction: '"xtk:session#IngestExt"', ...sec() });
    const f = assertFault(res, { faultcode: 'SOAP-ENV:Client' });
    assert.match(f.faultstring, /^[A-Z]{3}-\d{6} /);
    assert.equal(env.countStaged(), before);
  });
});

describe('character encodings', () => {
  function latin1Body(decl) {
    // 'caf' + the single byte 0xE9 (é in ISO-8859-1), never UTF-8 encoded.
    return Buffer.from(`${decl}${ingestEnvelope('caf\u00e9 latin1')}`, 'latin1');
  }

  test('ISO-8859-1 body declared in the XML declaration: the byte é is stored as é', async () => {
    const body = latin1Body('<?xml version="1.0" encoding="ISO-8859-1"?>');
    assert.equal(body.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20])), true, 'the body holds the latin-1 byte');
    const res = await post(server.soapUrl, body,
      { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', ...sec() });
    assertIngested(res, 'caf\u00e9 latin1');
  });

  test('ISO-8859-1 body with charset=ISO-8859-1 in the Content-Type too', async () => {
    const body = latin1Body('<?xml version="1.0" encoding="ISO-8859-1"?>');
    const res = await post(server.soapUrl, body,
      { 'Content-Type': 'text/xml; charset=ISO-8859-1', SOAPAction: 'xtk:session#Ingest', ...sec() });
    assertIngested(res, 'caf\u00e9 latin1');
  });

  test('UTF-8 body with a declaration: multi-byte characters are stored as sent', async () => {
    const value = 'caf\u00e9 \u20ac \u65e5\u672c \u{1F600}';
    const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>${ingestEnvelope(value)}`, 'utf8');
    const res = await post(server.soapUrl, body,
      { 'Content-Type': 'text/xml;charset=UTF-8', SOAPAction: 'xtk:session#Ingest', ...sec() });
    assertIngested(res, value);
  });
});

describe('where the session token travels', () => {
  test('Cookie: __sessiontoken= (empty sessiontoken parameter)', async () => {
    const res = await post(server.soapUrl, ingestEnvelope('token in cookie', { sessiontoken: '' }), {
      'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest',
      Cookie: `__sessiontoken=${tokens.session}`, ...sec(),
    });
    assertIngested(res, 'token in cookie');
  });

  test('Cookie: __sessiontoken= among other cookies', async () => {
    const res = await post(server.soapUrl, ingestEnvelope('token among cookies', { sessiontoken: '' }), {
      'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest',
      Cookie: `JSESSIONID=abc; __sessiontoken=${tokens.session}; theme=dark`, ...sec(),
    });
    assertIngested(res, 'token among cookies');
  });

  test('X-Session-Token header (empty sessiontoken parameter)', async () => {
    const res = await post(server.soapUrl, ingestEnvelope('token in X-Session-Token', { sessiontoken: '' }), {
      'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', 'X-Session-Token': tokens.session, ...sec(),
    });
    assertIngested(res, 'token in X-Session-Token');
  });

  test('SOAP Header <Cookie> and <X-Security-Token> elements, no token in HTTP headers or parameter', async () => {
    const soapHeader = `<Cookie>__sessiontoken=${tokens.session}</Cookie><X-Security-Token>${tokens.security}</X-Security-Token>`;
    const res = await post(server.soapUrl, ingestEnvelope('token in SOAP header', { sessiontoken: '', soapHeader }),
      { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest' });
    assertIngested(res, 'token in SOAP header');
  });

  test('no session token anywhere → XSV-350008, nothing written', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, ingestEnvelope('no token', { sessiontoken: '' }),
      { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', ...sec() });
    assertFault(res, { code: 'XSV-350008' });
    assert.equal(env.countStaged(), before);
  });

  test('an unknown session token in the Cookie → XSV-350008, nothing written', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, ingestEnvelope('bad cookie', { sessiontoken: '' }), {
      'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest',
      Cookie: '__sessiontoken=___00000000-0000-4000-8000-000000000000', ...sec(),
    });
    assertFault(res, { code: 'XSV-350008' });
    assert.equal(env.countStaged(), before);
  });

  test('the right session token with a wrong security token → XSV-350008, nothing written', async () => {
    const before = env.countStaged();
    const res = await post(server.soapUrl, ingestEnvelope('bad security token'), {
      'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', 'X-Security-Token': '@AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    });
    assertFault(res, { code: 'XSV-350008' });
    assert.equal(env.countStaged(), before);
  });
});

describe('values are data', () => {
  test("a value that looks like SQL (O'Brien; drop table x) is stored exactly as sent", async () => {
    const before = env.countStaged();
    const testcol1 = "O'Brien; drop table x";
    const testcol2 = "'); DROP TABLE DemSampleTableStg; --";
    const res = await post(server.soapUrl, ingestEnvelope(testcol1, { testcol2 }),
      { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', ...sec() });
    const row = assertIngested(res, testcol1);
    assert.equal(row.testcol2, testcol2);
    assert.equal(env.countStaged(), before + 1, 'the staging table is intact');
  });

  test('XML-escaped markup and quotes in a value are stored unescaped', async () => {
    const testcol1 = '<b>bold</b> & "double" \'single\'';
    const res = await post(server.soapUrl, ingestEnvelope(testcol1),
      { 'Content-Type': 'text/xml', SOAPAction: 'xtk:session#Ingest', ...sec() });
    assertIngested(res, testcol1);
  });
});
