// query.test.mjs — xtk:queryDef#ExecuteQuery (and SelectAll), the read API, through
// the real clients, unmodified: Adobe's acc-js-sdk 1.2.0 in its default SimpleJson
// representation (NLWS.xtkQueryDef.create({…}).executeQuery(), method discovery
// through xtk:persist#GetEntityIfMoreRecent), in the xml representation, and through
// its generic makeSoapCall; node-soap driven by the WSDL of xtk:queryDef; Adobe's
// documented RPC envelope and the SoapUI literal one over raw HTTP. Fixtures are
// staged with IngestExt/Ingest; rights are checked as the non-admin writer; the last
// block runs `stagebridge workflow run ffdaReplicateStagingData` and reads the row
// back from dem:sampleTable (the cloud database). The contract is docs/query.md.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sdk from '@adobe/acc-js-sdk';
import soap from 'soap';
import {
  ADMIN, UUID_RE, WRITER, bodyChild, childElements, createEnv, fault, parseXml, post, rawLogon,
  recordSoapCalls, rejection,
} from './helper.mjs';

const { DomUtil } = sdk;

const STG = 'dem:sampleTableStg';
const CLOUD = 'dem:sampleTable';
const OBRIEN = "O'Brien; drop table x";
// research §7 "Setup": caller keys, so that orders do not depend on a collation.
const FIXTURES = [
  { id: 'T1', testcol1: 'alpha', testcol2: 'one' },
  { id: 'T2', testcol1: 'Beta', testcol2: 'two' },
  { id: 'T3', testcol1: OBRIEN, testcol2: 'three' },
  { id: 'T4', testcol1: 'gamma' }, // testcol2 never named: NULL in staging
];
const DATETIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let env;
let server;
let admin; // acc-js-sdk client (SimpleJson) that stages the fixtures
let keylessId; // the uuid Ingest returned for the keyless row
let stagedFrom; // ms, just before the fixtures were staged (second precision)
before(async () => {
  env = await createEnv('query');
  // No scheduled runs: the only sync is the one the last block starts.
  server = await env.start(['--replicate-schedule', 'off', '--unsubscribe-schedule', 'off']);
  admin = await newClient(ADMIN);
  await admin.logon();
});
after(async () => { await env?.cleanup(); });

async function newClient(user, options = undefined) {
  return sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, user.login, user.password, options));
}

/** {node: [{expr}…]} from expressions (strings) or ready nodes (objects). */
function nodes(...list) {
  return { node: list.map((n) => (typeof n === 'string' ? { expr: n } : n)) };
}

/** {condition: [{expr}…]}, AND-joined. */
function where(...exprs) {
  return { condition: exprs.map((expr) => ({ expr })) };
}

/** NLWS.xtkQueryDef.create(queryDef).executeQuery() on `client`. */
function query(client, queryDef) {
  return client.NLWS.xtkQueryDef.create(queryDef).executeQuery();
}

/** The ids of a SimpleJson select result on dem:sampleTableStg, asserting its shape. */
function stgIds(result) {
  assert.deepEqual(Object.keys(result), ['sampleTableStg'], JSON.stringify(result));
  assert.ok(Array.isArray(result.sampleTableStg), JSON.stringify(result));
  return result.sampleTableStg.map((r) => r.id);
}

/** Asserts a CampaignException carrying that QRY code (faultcode Client); returns it. */
function assertQueryFault(ex, code) {
  assert.equal(ex.name, 'CampaignException', String(ex));
  assert.equal(ex.errorCode, code,
    `errorCode ${JSON.stringify(ex.errorCode)}, statusCode ${ex.statusCode}, faultString ${JSON.stringify(ex.faultString)}, `
    + `detail ${JSON.stringify(ex.detail)}`);
  assert.equal(ex.faultCode, 'SOAP-ENV:Client');
  return ex;
}

/** The element children of an XML element, as [nodeName, {attributes}] pairs. */
function rowsOf(el) {
  return childElements(el).map((e) => [e.nodeName, attributes(e)]);
}

function attributes(el) {
  return Object.fromEntries(Array.from(el.attributes).filter((a) => !a.name.startsWith('xmlns'))
    .map((a) => [a.name, a.value]));
}

/** The one element inside a DOM output parameter such as <pdomOutput>. */
function onlyChild(el) {
  const kids = childElements(el);
  assert.equal(kids.length, 1, `<${el.nodeName}> holds ${kids.length} elements`);
  return kids[0];
}

describe('fixtures', () => {
  test('IngestExt stages T1..T4 with caller keys; a keyless Ingest returns the uuid of a fifth row', async () => {
    stagedFrom = Math.floor(Date.now() / 1000) * 1000;
    for (const f of FIXTURES) {
      assert.equal(await admin.NLWS.xtkSession.ingestExt({ xtkschema: STG, _key: '@id', ...f }), null);
    }
    keylessId = await admin.NLWS.xtkSession.ingest({ xtkschema: STG, testcol1: 'delta', testcol2: 'four' });
    assert.match(keylessId, UUID_RE);
    const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    assert.deepEqual(env.staged().sort(byId), [
      { id: 'T1', testcol1: 'alpha', testcol2: 'one', idelete: 0 },
      { id: 'T2', testcol1: 'Beta', testcol2: 'two', idelete: 0 },
      { id: 'T3', testcol1: OBRIEN, testcol2: 'three', idelete: 0 },
      { id: 'T4', testcol1: 'gamma', testcol2: null, idelete: 0 },
      { id: keylessId, testcol1: 'delta', testcol2: 'four', idelete: 0 },
    ].sort(byId));
  });
});

describe('acc-js-sdk 1.2.0, SimpleJson: NLWS.xtkQueryDef.create({…}).executeQuery()', () => {
  let client;
  let rec;
  before(async () => {
    client = await newClient(ADMIN);
    rec = recordSoapCalls(client);
    await client.logon();
  });

  test('the first executeQuery discovers xtk:queryDef once: ExecuteQuery const="true", not static, output pdomOutput only', async () => {
    const mark = rec.calls.length;
    const result = await query(client, {
      schema: STG, operation: 'select', lineCount: 10,
      select: nodes('@id', '@testcol1'), where: where("@id = 'T1'"), orderBy: nodes({ expr: '@id', sortDesc: true }),
    });
    assert.deepEqual(result, { sampleTableStg: [{ id: 'T1', testcol1: 'alpha' }] });
    assert.deepEqual(rec.methods().slice(mark), ['xtk:persist#GetEntityIfMoreRecent', 'xtk:queryDef#ExecuteQuery']);

    // The discovery request and the schema it got.
    const [discovery, call] = rec.calls.slice(mark);
    const getEntity = bodyChild(discovery.request);
    assert.equal(childElements(getEntity).find((e) => e.nodeName === 'pk')?.textContent, 'xtk:schema|xtk:queryDef');
    const schema = onlyChild(childElements(bodyChild(discovery.response))[0]);
    assert.equal(schema.nodeName, 'schema', discovery.response);
    assert.deepEqual([schema.getAttribute('namespace'), schema.getAttribute('name')], ['xtk', 'queryDef']);
    assert.equal(schema.hasAttribute('implements'), false, 'implements="xtk:persist" would cost a second discovery');
    const methods = childElements(childElements(schema).find((e) => e.nodeName === 'methods'));
    const byName = Object.fromEntries(methods.map((m) => [m.getAttribute('name'), m]));
    const params = (m) => childElements(childElements(m)[0]).map(attributes);
    const exec = byName.ExecuteQuery;
    assert.ok(exec, discovery.response);
    assert.equal(exec.getAttribute('const'), 'true');
    assert.equal(exec.hasAttribute('static'), false, 'a static ExecuteQuery makes the SDK send no queryDef');
    assert.deepEqual(params(exec), [{ name: 'pdomOutput', type: 'DOMDocument', inout: 'out' }]);
    assert.ok(byName.SelectAll, discovery.response);
    assert.equal(byName.SelectAll.hasAttribute('static'), false);
    assert.deepEqual(params(byName.SelectAll), [{ name: 'duplicate', type: 'boolean' }]);

    // What the SDK sent: the queryDef as the "this" document, after the session token.
    const method = bodyChild(call.request);
    assert.equal(method.nodeName, 'm:ExecuteQuery');
    assert.equal(method.namespaceURI, 'urn:xtk:queryDef');
    const [token, documentParam] = childElements(method);
    assert.equal(token.nodeName, 'sessiontoken');
    assert.equal(documentParam.nodeName, 'document');
    assert.equal(documentParam.getAttribute('xsi:type'), '');
    assert.equal(documentParam.getAttribute('SOAP-ENV:encodingStyle'), 'http://xml.apache.org/xml-soap/literalxml');
    const queryDef = onlyChild(documentParam);
    assert.equal(queryDef.nodeName, 'queryDef');
    assert.deepEqual(attributes(queryDef),
      { schema: STG, operation: 'select', lineCount: '10', xtkschema: 'xtk:queryDef' });
    assert.equal(DomUtil.toXMLString(childElements(queryDef).find((e) => e.nodeName === 'orderBy')),
      '<orderBy><node expr="@id" sortDesc="true"/></orderBy>');
  });

  test('select of many rows: {sampleTableStg: [rows]} in orderBy order; a NULL is the empty string', async () => {
    const result = await query(client, {
      schema: STG, operation: 'select',
      select: nodes('@id', '@testcol1', '@testcol2'),
      where: where("@id IN ('T1', 'T2', 'T3', 'T4')"),
      orderBy: nodes({ expr: '@id', sortDesc: true }),
    });
    assert.deepEqual(result, { sampleTableStg: [
      { id: 'T4', testcol1: 'gamma', testcol2: '' },
      { id: 'T3', testcol1: OBRIEN, testcol2: 'three' },
      { id: 'T2', testcol1: 'Beta', testcol2: 'two' },
      { id: 'T1', testcol1: 'alpha', testcol2: 'one' },
    ] });
  });

  test('select of one row is still an array (length 1)', async () => {
    const result = await query(client, {
      schema: STG, operation: 'select', select: nodes('@id', '@testcol2'), where: where("@id = 'T2'"),
    });
    assert.deepEqual(result, { sampleTableStg: [{ id: 'T2', testcol2: 'two' }] });
  });

  test('select of no row: {sampleTableStg: []}', async () => {
    const result = await query(client, {
      schema: STG, operation: 'select', select: nodes('@id'), where: where("@id = 'nosuch'"),
    });
    assert.deepEqual(result, { sampleTableStg: [] });
  });

  test('paging: lineCount 2 with startLine 0, 2, 4 gives T1,T2 then T3,T4 then nothing', async () => {
    const page = async (startLine) => stgIds(await query(client, {
      schema: STG, operation: 'select', lineCount: 2, startLine,
      select: nodes('@id'), where: where("@id IN ('T1', 'T2', 'T3', 'T4')"), orderBy: nodes('@id'),
    }));
    assert.deepEqual(await page(0), ['T1', 'T2']);
    assert.deepEqual(await page(2), ['T3', 'T4']);
    assert.deepEqual(await page(4), []);
  });

  test('count: {count: "5"} (a string), and "0" on the still empty cloud table', async () => {
    assert.deepEqual(await query(client, { schema: STG, operation: 'count' }), { count: '5' });
    assert.deepEqual(await query(client, { schema: CLOUD, operation: 'count' }), { count: '0' });
    assert.deepEqual(await query(client, { schema: STG, operation: 'count', where: where("@testcol2 = 'two'") }),
      { count: '1' });
  });

  test('get: one object, every value a string (delete "0", lastModified YYYY-MM-DD HH:MM:SS.mmmZ, UTC)', async () => {
    const row = await query(client, {
      schema: STG, operation: 'get',
      select: nodes('@id', '@testcol1', '@testcol2', '@delete', '@lastModified'), where: where("@id = 'T1'"),
    });
    const { lastModified, ...rest } = row;
    assert.deepEqual(rest, { id: 'T1', testcol1: 'alpha', testcol2: 'one', delete: '0' });
    assert.match(lastModified, DATETIME_RE);
    const at = Date.parse(lastModified.replace(' ', 'T'));
    // Between the start of the second the fixtures were staged in and now (1 s slack for rounding):
    // a local time sent as UTC would be off by the zone offset.
    assert.ok(at >= stagedFrom && at <= Date.now() + 1000, `lastModified ${lastModified} is not the time T1 was staged`);
  });

  test('get of the keyless row by the uuid Ingest returned (lowercase, as returned)', async () => {
    assert.ok(keylessId, 'needs the fixtures');
    const row = await query(client, {
      schema: STG, operation: 'get', select: nodes('@id', '@testcol1', '@testcol2'), where: where(`@id = '${keylessId}'`),
    });
    assert.deepEqual(row, { id: keylessId, testcol1: 'delta', testcol2: 'four' });
  });

  test('getIfExists: null when no row matches, the object when one does', async () => {
    assert.equal(await query(client, {
      schema: CLOUD, operation: 'getIfExists', select: nodes('@id'), where: where("@id = 'T1'"),
    }), null, 'T1 is not in the cloud before the sync');
    assert.deepEqual(await query(client, {
      schema: STG, operation: 'getIfExists', select: nodes('@id', '@testcol1'), where: where("@id = 'T4'"),
    }), { id: 'T4', testcol1: 'gamma' });
    // A row whose only selected value is NULL still exists (rendered testcol2="", not omitted).
    assert.deepEqual(await query(client, {
      schema: STG, operation: 'getIfExists', select: nodes('@testcol2'), where: where("@id = 'T4'"),
    }), { testcol2: '' });
  });

  test('get with no row is a CampaignException with errorCode QRY-200011', async () => {
    const ex = assertQueryFault(await rejection(query(client, {
      schema: STG, operation: 'get', select: nodes('@id'), where: where("@id = 'nosuch'"),
    })), 'QRY-200011');
    assert.match(ex.faultString, /dem:sampleTableStg/);
    assert.match(ex.detail, /SOP-330011/);
  });

  test('an unknown attribute is QRY-200004, naming the attribute and the schema', async () => {
    const ex = assertQueryFault(await rejection(query(client, {
      schema: STG, operation: 'select', select: nodes('@id', '@testcol9'),
    })), 'QRY-200004');
    assert.match(ex.faultString, /testcol9/);
    assert.match(ex.faultString, /dem:sampleTableStg/);
    const inWhere = assertQueryFault(await rejection(query(client, {
      schema: STG, operation: 'count', where: where("@nosuch = 'x'"),
    })), 'QRY-200004');
    assert.match(inWhere.faultString, /nosuch/);
  });

  test("sdk.escapeXtk: the O'Brien value finds exactly T3; SQL in a value stays a value; both tables intact", async () => {
    const expr = sdk.escapeXtk`@testcol1 = ${OBRIEN}`;
    assert.equal(expr, "@testcol1 = 'O\\'Brien; drop table x'");
    const result = await query(client, { schema: STG, operation: 'select', select: nodes('@id', '@testcol1'), where: { condition: [{ expr }] } });
    assert.deepEqual(result, { sampleTableStg: [{ id: 'T3', testcol1: OBRIEN }] });
    const hostile = sdk.escapeXtk`@testcol1 = ${"x' OR 1=1; DROP TABLE DemSampleTableStg; --"}`;
    assert.deepEqual(await query(client, { schema: STG, operation: 'select', select: nodes('@id'), where: { condition: [{ expr: hostile }] } }),
      { sampleTableStg: [] });
    assert.deepEqual(await query(client, { schema: STG, operation: 'count' }), { count: '5' });
    assert.deepEqual(await query(client, { schema: CLOUD, operation: 'count' }), { count: '0' });
    assert.equal(env.countStaged(), 5);
    assert.deepEqual(env.cloudRows('SELECT count(*) AS n FROM DemSampleTable').map((r) => Number(r.n)), [0]);
  });

  test("LIKE is case-sensitive: 'a%' finds alpha, 'b%' nothing (the row is 'Beta'), 'B%' finds it", async () => {
    const like = async (pattern) => stgIds(await query(client, {
      schema: STG, operation: 'select', select: nodes('@id'), where: where(`@testcol1 LIKE '${pattern}'`), orderBy: nodes('@id'),
    }));
    assert.deepEqual(await like('a%'), ['T1']);
    assert.deepEqual(await like('b%'), []);
    assert.deepEqual(await like('B%'), ['T2']);
  });

  test('alias="@label" renames the attribute (testcol1 is not rendered)', async () => {
    const result = await query(client, {
      schema: STG, operation: 'select',
      select: nodes('@id', { expr: '@testcol1', alias: '@label' }), where: where("@id IN ('T1', 'T2')"), orderBy: nodes('@id'),
    });
    assert.deepEqual(result, { sampleTableStg: [{ id: 'T1', label: 'alpha' }, { id: 'T2', label: 'Beta' }] });
  });

  test("Lower(): in a condition (Lower(@testcol1) = 'beta' finds T2) and as an aliased select node", async () => {
    const result = await query(client, {
      schema: STG, operation: 'select',
      select: nodes('@id', { expr: 'Lower(@testcol1)', alias: '@lower' }), where: where("Lower(@testcol1) = 'beta'"),
    });
    assert.deepEqual(result, { sampleTableStg: [{ id: 'T2', lower: 'beta' }] });
  });

  test('@testcol2 IS NULL finds the row that never named testcol2 (T4)', async () => {
    assert.deepEqual(stgIds(await query(client, {
      schema: STG, operation: 'select', select: nodes('@id'), where: where('@testcol2 IS NULL'),
    })), ['T4']);
  });

  test('selectAll(false) then executeQuery(): SelectAll returns the queryDef with every attribute of the schema selected', async () => {
    const mark = rec.calls.length;
    const q = client.NLWS.xtkQueryDef.create({ schema: STG, operation: 'get', where: where("@id = 'T2'") });
    assert.equal(await q.selectAll(false), null);
    const row = await q.executeQuery();
    assert.deepEqual(rec.methods().slice(mark), ['xtk:queryDef#SelectAll', 'xtk:queryDef#ExecuteQuery']);
    // The SDK replaced its object with the returned entity: the ExecuteQuery it sent selects every attribute.
    const sent = rec.calls[mark + 1].request;
    const sentQueryDef = onlyChild(childElements(bodyChild(sent))[1]);
    const select = childElements(sentQueryDef).find((e) => e.nodeName === 'select');
    assert.ok(select, sent);
    assert.deepEqual(childElements(select).map((n) => n.getAttribute('expr')).sort(),
      ['@delete', '@id', '@lastModified', '@testcol1', '@testcol2']);
    const { lastModified, ...rest } = row;
    assert.deepEqual(rest, { id: 'T2', testcol1: 'Beta', testcol2: 'two', delete: '0' });
    assert.match(lastModified, DATETIME_RE);
  });

  test('over all these calls the client discovered xtk:queryDef exactly once (the method is cached)', () => {
    const discoveries = rec.calls.filter((c) => c.method === 'xtk:persist#GetEntityIfMoreRecent');
    assert.equal(discoveries.length, 1, rec.methods().join());
    assert.match(discoveries[0].request, /<pk xsi:type="xsd:string">xtk:schema\|xtk:queryDef<\/pk>/);
    assert.ok(rec.methods().filter((m) => m === 'xtk:queryDef#ExecuteQuery').length >= 20, rec.methods().join());
  });
});

describe("acc-js-sdk 1.2.0, representation 'xml'", () => {
  let client;
  let rec;
  before(async () => {
    client = await newClient(ADMIN, { representation: 'xml' });
    rec = recordSoapCalls(client);
    await client.logon();
  });

  const xmlQuery = (text) => client.NLWS.xtkQueryDef.create(DomUtil.parse(text).documentElement).executeQuery();

  test('select returns the DOM element <sampleTableStg-collection> with the rows as children', async () => {
    const el = await xmlQuery('<queryDef schema="dem:sampleTableStg" operation="select">'
      + '<select><node expr="@id"/><node expr="@testcol1"/></select>'
      + "<where><condition expr=\"@id IN ('T1', 'T2', 'T3')\"/></where><orderBy><node expr=\"@id\"/></orderBy></queryDef>");
    assert.equal(el.nodeType, 1, String(el));
    assert.equal(el.nodeName, 'sampleTableStg-collection');
    assert.deepEqual(rowsOf(el), [
      ['sampleTableStg', { id: 'T1', testcol1: 'alpha' }],
      ['sampleTableStg', { id: 'T2', testcol1: 'Beta' }],
      ['sampleTableStg', { id: 'T3', testcol1: OBRIEN }],
    ]);
    assert.deepEqual(rec.methods(),
      ['xtk:session#Logon', 'xtk:persist#GetEntityIfMoreRecent', 'xtk:queryDef#ExecuteQuery']);
    assert.match(rec.calls[1].request, /<pk xsi:type="xsd:string">xtk:schema\|xtk:queryDef<\/pk>/);
  });

  test('select of no row: the empty <sampleTableStg-collection/>; count and get: the row element', async () => {
    const empty = await xmlQuery('<queryDef schema="dem:sampleTableStg" operation="select">'
      + "<select><node expr=\"@id\"/></select><where><condition expr=\"@id = 'nosuch'\"/></where></queryDef>");
    assert.equal(empty.nodeName, 'sampleTableStg-collection');
    assert.equal(childElements(empty).length, 0);
    const count = await xmlQuery('<queryDef schema="dem:sampleTableStg" operation="count"/>');
    assert.deepEqual([count.nodeName, attributes(count)], ['sampleTableStg', { count: '5' }]);
    const row = await xmlQuery('<queryDef schema="dem:sampleTableStg" operation="get">'
      + "<select><node expr=\"@id\"/><node expr=\"@testcol2\"/></select><where><condition expr=\"@id = 'T3'\"/></where></queryDef>");
    assert.deepEqual([row.nodeName, attributes(row)], ['sampleTableStg', { id: 'T3', testcol2: 'three' }]);
    // getIfExists is not asserted here: SDK 1.2.0 answers null for any row in xml (research §4.4).
  });

  test('this client discovered xtk:queryDef exactly once', () => {
    assert.equal(rec.methods().filter((m) => m === 'xtk:persist#GetEntityIfMoreRecent').length, 1, rec.methods().join());
  });
});

describe("acc-js-sdk 1.2.0, generic route: client.makeSoapCall('xtk:queryDef', 'ExecuteQuery', false, …)", () => {
  test('non-static with two outputs ("this" and the result): no discovery, the result DOM in r[1]', async () => {
    const client = await newClient(ADMIN);
    const rec = recordSoapCalls(client);
    await client.logon();
    const doc = DomUtil.parse('<queryDef schema="dem:sampleTableStg" operation="select">'
      + "<select><node expr=\"@id\"/></select><where><condition expr=\"@id LIKE 'T%'\"/></where>"
      + '<orderBy><node expr="@id" sortDesc="true"/></orderBy></queryDef>');
    const r = await client.makeSoapCall('xtk:queryDef', 'ExecuteQuery', false,
      [{ name: 'queryDef', type: 'DOMDocument', value: doc }],
      [{ name: 'queryDef', type: 'DOMDocument' }, { name: 'output', type: 'DOMDocument' }], 'xml');
    assert.deepEqual(rec.methods(), ['xtk:session#Logon', 'xtk:queryDef#ExecuteQuery']);
    assert.equal(r.length, 2);
    assert.equal(r[0], undefined, 'the response echoes no entity: only pdomOutput');
    assert.equal(r[1].nodeName, 'sampleTableStg-collection');
    assert.deepEqual(rowsOf(r[1]).map(([name, a]) => `${name}:${a.id}`),
      ['sampleTableStg:T4', 'sampleTableStg:T3', 'sampleTableStg:T2', 'sampleTableStg:T1']);
  });
});

describe('node-soap, from the WSDL of xtk:queryDef', () => {
  let client;
  let session;
  let lastRequest;
  before(async () => {
    const logonClient = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:session`);
    const [r] = await logonClient.LogonAsync({
      sessiontoken: '', strLogin: ADMIN.login, strPassword: ADMIN.password, elemParameters: { $xml: '' },
    });
    session = r.pstrSessionToken.$value;
    client = await soap.createClientAsync(`${server.url}/nl/jsp/schemawsdl.jsp?schema=xtk:queryDef`);
    client.addHttpHeader('X-Security-Token', r.pstrSecurityToken.$value);
    client.on('request', (xml) => { lastRequest = xml; });
  });

  test('the WSDL describes ExecuteQuery(sessiontoken, entity) → pdomOutput and SelectAll, at this server\'s router', () => {
    const ops = client.describe().XtkQueryDef.queryDefMethodsSoap;
    assert.deepEqual(Object.keys(ops).sort(), ['ExecuteQuery', 'SelectAll']);
    assert.deepEqual(Object.keys(ops.ExecuteQuery.input), ['sessiontoken', 'entity']);
    assert.deepEqual(Object.keys(ops.ExecuteQuery.output), ['pdomOutput']);
    assert.equal(client.wsdl.definitions.services.XtkQueryDef.ports.queryDefMethodsSoap.location, server.soapUrl);
  });

  test('ExecuteQueryAsync({sessiontoken, entity: {$xml}}) select: pdomOutput["sampleTableStg-collection"].sampleTableStg[…].attributes', async () => {
    const [result] = await client.ExecuteQueryAsync({
      sessiontoken: session,
      entity: { $xml: '<queryDef schema="dem:sampleTableStg" operation="select" lineCount="3">'
        + '<select><node expr="@id"/><node expr="@testcol1"/><node expr="@testcol2"/></select>'
        + "<where><condition expr=\"@id LIKE 'T%'\"/></where><orderBy><node expr=\"@id\"/></orderBy></queryDef>" },
    });
    // node-soap sends the queryDef inside <entity>, in the default namespace urn:xtk:queryDef, SOAPAction quoted.
    assert.match(lastRequest, /<ExecuteQuery xmlns="urn:xtk:queryDef"><sessiontoken>___[^<]+<\/sessiontoken><entity><queryDef schema=/);
    assert.equal(client.lastRequestHeaders.SOAPAction, '"xtk:queryDef#ExecuteQuery"');
    const rows = result.pdomOutput['sampleTableStg-collection'].sampleTableStg;
    assert.deepEqual(rows.map((r) => r.attributes), [
      { id: 'T1', testcol1: 'alpha', testcol2: 'one' },
      { id: 'T2', testcol1: 'Beta', testcol2: 'two' },
      { id: 'T3', testcol1: OBRIEN, testcol2: 'three' },
    ]);
  });

  test('one row comes back as an object, not an array (node-soap parses by shape), no row as null; count as attributes.count', async () => {
    const [one] = await client.ExecuteQueryAsync({
      sessiontoken: session,
      entity: { $xml: "<queryDef schema=\"dem:sampleTableStg\" operation=\"select\"><select><node expr=\"@id\"/></select><where><condition expr=\"@id = 'T4'\"/></where></queryDef>" },
    });
    assert.deepEqual(one.pdomOutput['sampleTableStg-collection'].sampleTableStg, { attributes: { id: 'T4' } });
    const [none] = await client.ExecuteQueryAsync({
      sessiontoken: session,
      entity: { $xml: "<queryDef schema=\"dem:sampleTableStg\" operation=\"select\"><select><node expr=\"@id\"/></select><where><condition expr=\"@id = 'nosuch'\"/></where></queryDef>" },
    });
    assert.ok('sampleTableStg-collection' in none.pdomOutput, JSON.stringify(none));
    assert.equal(none.pdomOutput['sampleTableStg-collection'], null);
    const [count] = await client.ExecuteQueryAsync({
      sessiontoken: session, entity: { $xml: '<queryDef schema="dem:sampleTableStg" operation="count"/>' },
    });
    assert.deepEqual(count.pdomOutput.sampleTableStg, { attributes: { count: '5' } });
  });

  test('a fault (get with no row) rejects with QRY-200011, HTTP 500', async () => {
    const err = await rejection(client.ExecuteQueryAsync({
      sessiontoken: session,
      entity: { $xml: "<queryDef schema=\"dem:sampleTableStg\" operation=\"get\"><where><condition expr=\"@id = 'nosuch'\"/></where></queryDef>" },
    }));
    assert.match(err.message, /^SOAP-ENV:Client: QRY-200011 /, err.message);
    assert.equal(err.response?.status, 500);
    assert.match(err.root.Envelope.Body.Fault.faultstring.$value, /^QRY-200011 /);
  });
});

describe('raw SOAP over HTTP', () => {
  let tokens;
  before(async () => { tokens = await rawLogon(server); });

  const QUERYDEF = '<queryDef firstRows="true" lineCount="200" operation="select" schema="dem:sampleTableStg" '
    + 'startLine="0" startPath="/" xtkschema="xtk:queryDef"><select><node expr="@id"/><node expr="@testcol1"/></select>'
    + "<where><condition expr=\"@id IN ('T1', 'T2')\"/></where><orderBy><node expr=\"@id\"/></orderBy></queryDef>";
  const ROWS = [['sampleTableStg', { id: 'T1', testcol1: 'alpha' }], ['sampleTableStg', { id: 'T2', testcol1: 'Beta' }]];

  /** POSTs an ExecuteQuery envelope with the tokens in the HTTP headers only. */
  function postQuery(envelope) {
    return post(server.soapUrl, envelope, {
      'Content-Type': 'text/xml; charset=utf-8', SOAPAction: 'xtk:queryDef#ExecuteQuery',
      Cookie: `__sessiontoken=${tokens.session}`, 'X-Security-Token': tokens.security,
    });
  }

  /** Asserts an ExecuteQueryResponse and returns the element in its pdomOutput. */
  function result(res) {
    assert.equal(res.status, 200, res.text);
    const resp = bodyChild(res.text);
    assert.equal(resp.nodeName, 'ExecuteQueryResponse', res.text);
    assert.equal(resp.namespaceURI, 'urn:xtk:queryDef');
    const out = childElements(resp);
    assert.deepEqual(out.map((e) => e.nodeName), ['pdomOutput'], res.text);
    assert.equal(out[0].getAttribute('xsi:type'), 'ns:Element');
    assert.equal(out[0].getAttribute('SOAP-ENV:encodingStyle'), 'http://xml.apache.org/xml-soap/literalxml');
    return onlyChild(out[0]);
  }

  const rpc = (queryDef) => '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    + 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns="http://xml.apache.org/xml-soap" '
    + 'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'
    + "<ExecuteQuery xmlns='urn:xtk:queryDef' SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>"
    + "<__sessiontoken xsi:type='xsd:string'/>"
    + "<entity xsi:type='ns:Element' SOAP-ENV:encodingStyle='http://xml.apache.org/xml-soap/literalxml'>"
    + `${queryDef}</entity></ExecuteQuery></SOAP-ENV:Body></SOAP-ENV:Envelope>`;

  test("Adobe's documented RPC envelope (<__sessiontoken/>, <entity xsi:type='ns:Element'>), tokens in headers only", async () => {
    const el = result(await postQuery(rpc(QUERYDEF)));
    assert.equal(el.nodeName, 'sampleTableStg-collection');
    assert.deepEqual(rowsOf(el), ROWS);
  });

  test('the SoapUI literal envelope (urn: prefixes, <urn:entity>, no xtkschema)', async () => {
    const envelope = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:queryDef">'
      + '<soapenv:Header/><soapenv:Body><urn:ExecuteQuery><urn:sessiontoken/><urn:entity>\n  '
      + QUERYDEF.replace(' xtkschema="xtk:queryDef"', '')
      + '\n</urn:entity></urn:ExecuteQuery></soapenv:Body></soapenv:Envelope>';
    const el = result(await postQuery(envelope));
    assert.equal(el.nodeName, 'sampleTableStg-collection');
    assert.deepEqual(rowsOf(el), ROWS);
  });

  test('getIfExists with no row answers the empty <sampleTable/>', async () => {
    const el = result(await postQuery(rpc('<queryDef schema="dem:sampleTable" operation="getIfExists">'
      + "<select><node expr=\"@id\"/></select><where><condition expr=\"@id = 'T1'\"/></where></queryDef>")));
    assert.deepEqual([el.nodeName, attributes(el), childElements(el).length], ['sampleTable', {}, 0]);
  });

  test('a fault is HTTP 500: faultstring QRY-200011 …, detail SOP-330011 then the cause', async () => {
    const res = await postQuery(rpc('<queryDef schema="dem:sampleTableStg" operation="get">'
      + "<where><condition expr=\"@id = 'nosuch'\"/></where></queryDef>"));
    assert.equal(res.status, 500, res.text);
    const f = fault(res.text);
    assert.ok(f, res.text);
    assert.equal(f.faultcode, 'SOAP-ENV:Client');
    assert.match(f.faultstring, /^QRY-200011 .*dem:sampleTableStg/);
    assert.match(f.detail, /^SOP-330011 [^\n]*\nQRY-200011 /);
  });

  test('`stagebridge query - --format xml` prints the same element as pdomOutput', async () => {
    const el = result(await postQuery(rpc(QUERYDEF)));
    const cli = env.sb(['query', '-', '--format', 'xml'], QUERYDEF);
    // pdomOutput's element inherits xmlns="urn:xtk:queryDef" from the response element: compare names and rows.
    const cliEl = parseXml(cli.trim()).documentElement;
    assert.equal(cliEl.nodeName, el.nodeName);
    assert.deepEqual(rowsOf(cliEl), rowsOf(el));
  });
});

describe('rights: the writer operator (granted dem:sampleTable only)', () => {
  let client;
  before(async () => {
    client = await newClient(WRITER);
    await client.logon();
  });

  test('queries dem:sampleTableStg and dem:sampleTable', async () => {
    assert.deepEqual(stgIds(await query(client, {
      schema: STG, operation: 'select', select: nodes('@id'), where: where("@id LIKE 'T%'"), orderBy: nodes('@id'),
    })), ['T1', 'T2', 'T3', 'T4']);
    assert.deepEqual(await query(client, { schema: CLOUD, operation: 'count' }), { count: '0' });
  });

  test('nms:recipient is QRY-200010 for writer (admin may read it)', async () => {
    const ex = assertQueryFault(await rejection(query(client, {
      schema: 'nms:recipient', operation: 'select', select: nodes('@email'),
    })), 'QRY-200010');
    assert.match(ex.faultString, /writer/);
    assert.match(ex.faultString, /nms:recipient/);
    assert.deepEqual(await query(admin, { schema: 'nms:recipient', operation: 'count' }), { count: '0' });
  });
});

// Last: the sync clears the staged rows the blocks above read.
describe('staged, then synced by `workflow run ffdaReplicateStagingData`', () => {
  test('a row is in dem:sampleTableStg at once, and in dem:sampleTable only after the sync', async () => {
    await admin.NLWS.xtkSession.ingestExt({ xtkschema: STG, _key: '@id', id: 'SYNC1', testcol1: 'synced', testcol2: 'later' });
    const byId = (schema, id, operation = 'getIfExists') => query(admin, {
      schema, operation, select: nodes('@id', '@testcol1', '@testcol2'), where: where(`@id = '${id}'`),
    });
    assert.deepEqual(await byId(STG, 'SYNC1'), { id: 'SYNC1', testcol1: 'synced', testcol2: 'later' });
    assert.equal(await byId(CLOUD, 'SYNC1'), null, 'not in the cloud before the sync');

    const run = env.runWorkflow('ffdaReplicateStagingData');
    assert.equal(run.status, 'done', JSON.stringify(run));
    const s = run.schemas.find((x) => x.schema === CLOUD);
    assert.deepEqual([s.staged, s.inserted, s.rejected], [6, 6, 0], JSON.stringify(s));

    assert.deepEqual(await byId(CLOUD, 'SYNC1', 'get'), { id: 'SYNC1', testcol1: 'synced', testcol2: 'later' });
    assert.equal(await byId(STG, 'SYNC1'), null, 'the sync cleared what it merged');
    assert.deepEqual(await query(admin, { schema: STG, operation: 'count' }), { count: '0' });
    assert.deepEqual(await query(admin, {
      schema: CLOUD, operation: 'select', select: nodes('@id', '@testcol1', '@testcol2'),
      where: where("@id LIKE 'T%'"), orderBy: nodes('@id'),
    }), { sampleTable: [
      { id: 'T1', testcol1: 'alpha', testcol2: 'one' },
      { id: 'T2', testcol1: 'Beta', testcol2: 'two' },
      { id: 'T3', testcol1: OBRIEN, testcol2: 'three' },
      { id: 'T4', testcol1: 'gamma', testcol2: '' },
    ] });
    assert.deepEqual(await query(admin, { schema: CLOUD, operation: 'count' }), { count: '6' });
  });
});
