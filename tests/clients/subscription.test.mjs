// subscription.test.mjs — nms:subscription#Subscribe / #Unsubscribe through the real
// clients, unmodified: Adobe's acc-js-sdk 1.2.0 (method discovery through
// xtk:persist#GetEntityIfMoreRecent, a DOMElement parameter given as a JS object in
// the default SimpleJson representation or as a DOM, faults as CampaignException) and
// node-soap driven by the WSDL of nms:subscription; then `stagebridge workflow run
// ffdaUnsubscribe` and the cloud tables (NmsRecipient, NmsSubscription, NmsSubHisto).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sdk from '@adobe/acc-js-sdk';
import soap from 'soap';
import { ADMIN, createEnv } from './helper.mjs';

const { DomUtil } = sdk;

let env;
let server;
before(async () => {
  env = await createEnv('subscription');
  env.sb(['service', 'add', 'news', '--label', 'Newsletter']);
  env.sb(['service', 'add', 'sms', '--channel', 'mobile']);
  server = await env.start(['--unsubscribe-schedule', 'off', '--replicate-schedule', 'off']);
});
after(async () => { await env?.cleanup(); });

/** The staged subscription requests, in order. */
function staged() {
  return env.rows('SELECT iSeq AS seq, iAction AS action, sService AS service, sKeyAttr AS keyattr, '
    + 'sKeyValue AS keyvalue, iCreate AS "create", mRecipient AS recipient, sOrigin AS origin '
    + 'FROM SbSubscriptionRequest ORDER BY iSeq')
    .map((r) => ({ ...r, seq: Number(r.seq), action: Number(r.action), create: Number(r.create) }));
}

/** The staged requests after `before` (a count), without their sequence numbers. */
function stagedSince(before) {
  return staged().slice(before).map(({ seq, ...rest }) => rest);
}

/** The attributes of a stored `<recipient …/>` (create=true), or null. */
function attrsOf(xml) {
  if (!xml) return null;
  const el = DomUtil.parse(xml).documentElement;
  return Object.fromEntries(Array.from(el.attributes).map((a) => [a.name, a.value]));
}

/** `stagebridge workflow run ffdaUnsubscribe --json`, parsed. */
function runWorkflow() {
  const out = env.sb(['workflow', 'run', 'ffdaUnsubscribe', '--json']);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  return JSON.parse(line);
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

describe('acc-js-sdk 1.2.0: NLWS.nmsSubscription', () => {
  let client;
  const calls = [];
  const bodies = [];
  const responses = [];

  before(async () => {
    client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, ADMIN.login, ADMIN.password));
    client.registerObserver({
      onSOAPCall: (call, body) => { calls.push(`${call.urn}#${call.methodName}`); bodies.push(body); },
      onSOAPCallSuccess: (call, body) => { responses.push(body); },
    });
    await client.logon();
  });

  test('subscribe("news", {email, _key, firstName}, true): discovery, then the call; returns null; the request is staged', async () => {
    calls.length = 0;
    bodies.length = 0;
    const before = staged().length;
    const result = await client.NLWS.nmsSubscription.subscribe(
      'news', { email: 'jane@example.com', _key: '@email', firstName: 'Jane' }, true);
    assert.equal(result, null);
    assert.deepEqual(calls, ['xtk:persist#GetEntityIfMoreRecent', 'nms:subscription#Subscribe']);
    // What the SDK sends for a DOMElement parameter given a JS object (SimpleJson): an element named
    // after the parameter, inside the ns:Element / literalxml wrapper.
    const body = bodies[1];
    assert.match(body, /<m:Subscribe xmlns:m="urn:nms:subscription" SOAP-ENV:encodingStyle="http:\/\/schemas\.xmlsoap\.org\/soap\/encoding\/">/, body);
    assert.match(body, /<serviceName xsi:type="xsd:string">news<\/serviceName>/, body);
    assert.match(body, /<recipient xsi:type="ns:Element" SOAP-ENV:encodingStyle="http:\/\/xml\.apache\.org\/xml-soap\/literalxml"><recipient email="jane@example\.com" _key="@email" firstName="Jane"\/><\/recipient>/, body);
    assert.match(body, /<create xsi:type="xsd:boolean">true<\/create>/, body);
    assert.match(responses.at(-1), /<SubscribeResponse xmlns='urn:nms:subscription'[^>]*\/>/);
    const rows = stagedSince(before);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.deepEqual({ ...rows[0], recipient: attrsOf(rows[0].recipient) }, {
      action: 1, service: 'news', keyattr: 'email', keyvalue: 'jane@example.com', create: 1,
      recipient: { email: 'jane@example.com', firstName: 'Jane' }, origin: 'soap:admin',
    });
  });

  test('NLWS.xml.nmsSubscription.subscribe("news,sms", DOM element, true) stages one request per service', async () => {
    calls.length = 0;
    const before = staged().length;
    const result = await client.NLWS.xml.nmsSubscription.subscribe('news,sms',
      DomUtil.parse('<recipient _key="@email" email="bob@example.com" lastName="Builder"/>'), true);
    assert.equal(result, null);
    assert.deepEqual(calls, ['nms:subscription#Subscribe'], 'the method is cached: no second discovery');
    const rows = stagedSince(before).map((r) => ({ ...r, recipient: attrsOf(r.recipient) }));
    const recipient = { email: 'bob@example.com', lastName: 'Builder' };
    assert.deepEqual(rows, [
      { action: 1, service: 'news', keyattr: 'email', keyvalue: 'bob@example.com', create: 1, recipient, origin: 'soap:admin' },
      { action: 1, service: 'sms', keyattr: 'email', keyvalue: 'bob@example.com', create: 1, recipient, origin: 'soap:admin' },
    ]);
  });

  test('subscribe("news", {email}) without create sends create=false', async () => {
    bodies.length = 0;
    const before = staged().length;
    assert.equal(await client.NLWS.nmsSubscription.subscribe('news', { email: 'carol@example.com' }), null);
    assert.match(bodies[0], /<create xsi:type="xsd:boolean">false<\/create>/, bodies[0]);
    assert.deepEqual(stagedSince(before), [{
      action: 1, service: 'news', keyattr: 'email', keyvalue: 'carol@example.com', create: 0, recipient: null,
      origin: 'soap:admin',
    }]);
  });

  test('unsubscribe("news", {email}) stages an Unsubscribe', async () => {
    calls.length = 0;
    const before = staged().length;
    const result = await client.NLWS.nmsSubscription.unsubscribe('news', { email: 'jane@example.com', _key: '@email' });
    assert.equal(result, null);
    assert.deepEqual(calls, ['nms:subscription#Unsubscribe']);
    assert.match(responses.at(-1), /<UnsubscribeResponse xmlns='urn:nms:subscription'[^>]*\/>/);
    assert.deepEqual(stagedSince(before), [{
      action: 0, service: 'news', keyattr: 'email', keyvalue: 'jane@example.com', create: 0, recipient: null,
      origin: 'soap:admin',
    }]);
  });

  test('unsubscribe("", {email}) is the blocklist (empty service)', async () => {
    const before = staged().length;
    assert.equal(await client.NLWS.nmsSubscription.unsubscribe('', { email: 'bob@example.com' }), null);
    assert.deepEqual(stagedSince(before), [{
      action: 0, service: '', keyattr: 'email', keyvalue: 'bob@example.com', create: 0, recipient: null,
      origin: 'soap:admin',
    }]);
  });

  test('an unknown service is a CampaignException with errorCode SUB-200001 naming it; nothing staged', async () => {
    const before = staged().length;
    const ex = await rejection(client.NLWS.nmsSubscription.subscribe('nosuch', { email: 'jane@example.com' }, true));
    assert.equal(ex.name, 'CampaignException', String(ex));
    assert.equal(ex.errorCode, 'SUB-200001', `${ex.errorCode} / ${ex.faultString} / ${ex.detail}`);
    assert.match(ex.faultString, /'nosuch'/);
    assert.equal(ex.faultCode, 'SOAP-ENV:Client');
    assert.equal(staged().length, before);
  });

  test('a bad _key is SUB-200003, an unknown attribute STG-200003; nothing staged', async () => {
    const before = staged().length;
    const ex1 = await rejection(client.NLWS.nmsSubscription.subscribe(
      'news', { email: 'jane@example.com', _key: '@firstName' }, true));
    assert.equal(ex1.errorCode, 'SUB-200003', String(ex1));
    const ex2 = await rejection(client.NLWS.nmsSubscription.subscribe(
      'news', { email: 'jane@example.com', shoeSize: '44' }, true));
    assert.equal(ex2.errorCode, 'STG-200003', String(ex2));
    assert.match(ex2.faultString, /shoeSize/);
    assert.equal(staged().length, before);
  });

  test('`workflow run ffdaUnsubscribe` applies the requests in order; the cloud holds the outcome', () => {
    const run = runWorkflow();
    assert.equal(run.status, 'done', JSON.stringify(run));
    const f = run.schemas.find((s) => s.schema === 'nms:subscription');
    // jane news + bob news, sms subscribed; carol refused (unknown, no create); jane unsubscribed; bob blocklisted.
    assert.deepEqual([f.staged, f.inserted, f.deleted, f.updated, f.rejected], [6, 3, 1, 1, 1], JSON.stringify(f));
    assert.equal(staged().length, 0, 'nothing left staged');
    const subs = env.cloudRows('SELECT r.sEmail AS email, s.sName AS service FROM NmsSubscription x '
      + 'JOIN NmsRecipient r ON r.uRecipientId = x.uRecipientId JOIN NmsService s ON s.uServiceId = x.uServiceId '
      + 'ORDER BY 1, 2');
    assert.deepEqual(subs, [{ email: 'bob@example.com', service: 'news' }, { email: 'bob@example.com', service: 'sms' }]);
    const rcps = env.cloudRows('SELECT sEmail AS email, sFirstName AS firstname, sLastName AS lastname, '
      + 'iBlackList AS blacklist FROM NmsRecipient ORDER BY 1')
      .map((r) => ({ ...r, blacklist: Number(r.blacklist) }));
    assert.deepEqual(rcps, [
      { email: 'bob@example.com', firstname: null, lastname: 'Builder', blacklist: 1 },
      { email: 'jane@example.com', firstname: 'Jane', lastname: null, blacklist: 0 },
    ]);
    const hist = env.cloudRows('SELECT sRecipientKey AS rkey, sServiceName AS service, sAction AS action, '
      + 'sOrigin AS origin FROM NmsSubHisto ORDER BY iSequence');
    assert.deepEqual(hist.map((h) => [h.rkey, h.service ?? '', h.action]), [
      ['email=jane@example.com', 'news', 'subscribe'],
      ['email=bob@example.com', 'news', 'subscribe'],
      ['email=bob@example.com', 'sms', 'subscribe'],
      ['email=carol@example.com', 'news', 'refused'],
      ['email=jane@example.com', 'news', 'unsubscribe'],
      ['email=bob@example.com', '', 'blocklist'],
    ]);
    assert.ok(hist.every((h) => h.origin === 'soap:admin'), JSON.stringify(hist));
  });

  test('logoff()', async () => {
    await client.logoff();
    assert.equal(client.isLogged(), false);
  });
});

describe('node-soap from the WSDL of nms:subscription', () => {
  let client;
  let lastRequest;

  before(async () => {
    client = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=nms:subscription`);
    client.on('request', (xml) => { lastRequest = xml; });
    const logon = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:session`);
    const [r] = await logon.LogonAsync({
      sessiontoken: '', strLogin: ADMIN.login, strPassword: ADMIN.password, elemParameters: { $xml: '' },
    });
    const text = (v) => (typeof v === 'object' ? v.$value : v);
    client.session = text(r.pstrSessionToken);
    client.addHttpHeader('X-Security-Token', text(r.pstrSecurityToken));
  });

  test('the WSDL describes Subscribe and Unsubscribe', () => {
    const ops = Object.values(client.describe())[0];
    const methods = Object.values(ops)[0];
    assert.deepEqual(Object.keys(methods).sort(), ['Subscribe', 'Unsubscribe']);
  });

  test('SubscribeAsync / UnsubscribeAsync with {$xml} recipients stage the requests', async () => {
    const before = staged().length;
    const [sub] = await client.SubscribeAsync({
      sessiontoken: client.session, serviceName: 'sms',
      recipient: { $xml: '<recipient _key="@email" email="node@example.com" firstName="Node"/>' }, create: true,
    });
    assert.deepEqual(Object.keys(sub ?? {}).filter((k) => k !== 'attributes'), [], JSON.stringify(sub));
    assert.match(lastRequest, /<(\w+:)?Subscribe\b/);
    await client.UnsubscribeAsync({
      sessiontoken: client.session, serviceName: 'news', recipient: { $xml: '<recipient email="jane@example.com"/>' },
    });
    const rows = stagedSince(before).map((r) => ({ ...r, recipient: attrsOf(r.recipient) }));
    assert.deepEqual(rows, [
      { action: 1, service: 'sms', keyattr: 'email', keyvalue: 'node@example.com', create: 1,
        recipient: { email: 'node@example.com', firstName: 'Node' }, origin: 'soap:admin' },
      { action: 0, service: 'news', keyattr: 'email', keyvalue: 'jane@example.com', create: 0, recipient: null,
        origin: 'soap:admin' },
    ]);
  });

  test('a fault (unknown service) rejects with SUB-200001, HTTP 500', async () => {
    const before = staged().length;
    const err = await rejection(client.SubscribeAsync({
      sessiontoken: client.session, serviceName: 'nosuch', recipient: { $xml: '<recipient email="x@example.com"/>' },
      create: true,
    }));
    assert.match(err.message, /SUB-200001 .*'nosuch'/, err.message);
    assert.equal(err.response?.status, 500);
    assert.equal(staged().length, before);
  });

  test('the workflow applies them', () => {
    const run = runWorkflow();
    assert.equal(run.status, 'done', JSON.stringify(run));
    const f = run.schemas.find((s) => s.schema === 'nms:subscription');
    assert.deepEqual([f.staged, f.inserted, f.deleted, f.updated, f.rejected], [2, 1, 0, 0, 0], JSON.stringify(f));
    const subs = env.cloudRows('SELECT r.sEmail AS email, r.sFirstName AS firstname FROM NmsSubscription x '
      + "JOIN NmsRecipient r ON r.uRecipientId = x.uRecipientId JOIN NmsService s ON s.uServiceId = x.uServiceId "
      + "WHERE s.sName = 'sms' ORDER BY 1");
    assert.deepEqual(subs, [{ email: 'bob@example.com', firstname: null }, { email: 'node@example.com', firstname: 'Node' }]);
  });
});
