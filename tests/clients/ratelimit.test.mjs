// ratelimit.test.mjs — what an acc-js-sdk 1.2.0 caller sees over the per-operator
// rate limit (--rate-limit-calls): the call rejects with a CampaignException whose
// statusCode is 429 (HTTP 429 is sent to the SDK too, although its other faults
// come with HTTP 200), with the SOP-330429 fault in `detail`; the SDK does not
// retry by itself; waiting Retry-After is enough; a refused call wrote nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sdk from '@adobe/acc-js-sdk';
import { ADMIN, UUID_RE, WRITER, createEnv, post, rawLogon, recordSoapCalls, rejection } from './helper.mjs';

const { DomUtil } = sdk;
const RATE = 2;
const BURST = 3;

let env;
let server;
before(async () => {
  env = await createEnv('ratelimit');
  server = await env.start(['--rate-limit-calls', String(RATE), '--rate-limit-burst', String(BURST)]);
});
after(async () => { await env?.cleanup(); });

async function logon(user) {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, user.login, user.password));
  await client.logon();
  return client;
}

const record = (value) => DomUtil.parse(`<sampleTableStg xtkschema="dem:sampleTableStg" testcol1="${value}"/>`);

describe('acc-js-sdk 1.2.0 over the rate limit', () => {
  test('the caller gets a CampaignException with statusCode 429, retryable after Retry-After', async () => {
    const client = await logon(ADMIN);
    const rec = recordSoapCalls(client);
    const ids = [];
    let ex;
    for (let i = 0; i < 2 * BURST + 2 && !ex; i++) {
      try {
        ids.push(await client.NLWS.xml.xtkSession.ingest(record(`sdk-${i}`)));
      } catch (e) {
        ex = e;
      }
    }
    assert.ok(ex, 'no call was refused');
    // The first ingest also made the discovery call (xtk:persist#GetEntityIfMoreRecent):
    // it takes a token like any call with a session.
    assert.equal(rec.methods()[0], 'xtk:persist#GetEntityIfMoreRecent');
    assert.ok(ids.length >= 1, `${ids.length} ingests passed`);
    for (const id of ids) assert.match(id, UUID_RE);

    assert.equal(ex.name, 'CampaignException');
    assert.equal(ex.statusCode, 429);
    assert.equal(ex.faultString, 'Too Many Requests');  // the HTTP status text
    assert.equal(ex.errorCode, '');                     // the code is in the detail, not the faultString
    assert.match(ex.detail, /SOP-330429 Too many calls: operator 'admin' may make 2 calls per second \(burst 3\); retry after 1 s\./);
    assert.match(ex.message, /^429 - Error calling method 'xtk:session#Ingest': Too Many Requests\./);
    assert.equal(ex.methodCall.methodName, 'Ingest');
    assert.equal(ex.cause?.statusCode, 429);
    // The SDK retries only 401s: the refused call was sent once.
    const ingests = rec.calls.filter((c) => c.method === 'xtk:session#Ingest');
    assert.equal(ingests.length, ids.length + 1);
    assert.equal(ingests.at(-1).failure, ex);

    // Nothing of the refused call was written; the accepted ones were.
    const staged = env.staged();
    assert.deepEqual(staged.map((r) => r.id).sort(), [...ids].sort());
    assert.equal(staged.length, ids.length);

    // Retry-After (1 s here) is enough: the caller retries the same call.
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
    const id = await client.NLWS.xml.xtkSession.ingest(record('sdk-retried'));
    assert.match(id, UUID_RE);
    assert.equal(env.stagedById(id)[0].testcol1, 'sdk-retried');
    await client.logoff();  // never limited
  });

  test('the raw reply to the SDK is 429 with Retry-After, not the 200 its other faults get', async () => {
    const { session, security } = await rawLogon(server, WRITER);
    const body = `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
<SOAP-ENV:Body><m:Ingest xmlns:m="urn:xtk:session"><sessiontoken>${session}</sessiontoken>
<domDoc><sampleTableStg xtkschema="dem:sampleTableStg" testcol1="raw"/></domDoc></m:Ingest></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const headers = { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: 'xtk:session#Ingest',
      'X-Security-Token': security, 'ACC-SDK-Version': '@adobe/acc-js-sdk 1.2.0' };
    let res;
    for (let i = 0; i < 2 * BURST + 2; i++) {
      res = await post(server.soapUrl, body, headers);
      if (res.status !== 200) break;
    }
    assert.equal(res.status, 429, res.text);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.match(res.text, /<faultcode>SOAP-ENV:Server<\/faultcode>/);
    assert.match(res.text, /SOP-330429 Too many calls: operator 'writer'/);
  });
});
