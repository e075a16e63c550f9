// workflow.test.mjs — xtk:workflow#Start through Adobe's acc-js-sdk 1.2.0, unmodified,
// against a running server with user workflows (workflows_dir): NLWS.xtkWorkflow.start
// (method discovery through xtk:persist#GetEntityIfMoreRecent, then the call) and the
// generic client.makeSoapCall; each Start makes a run of the user workflow appear
// (`workflow history --json`: trigger soap, done) whose script Ingested a row and logged
// its uuid (`workflow log`); a non-admin starts only the workflows that run as it
// (SCR-200013 as errorCode otherwise); an unknown name is SYN-300003.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import sdk from '@adobe/acc-js-sdk';
import { ADMIN, UUID_RE, WRITER, createEnv, recordSoapCalls, rejection } from './helper.mjs';

let env;
let server;
let wdir;

function workflowFile(name, operator, script) {
  return `<workflow internalName="${name}" label="${name}" schedule="off" operator="${operator}">
  <activities>
    <js name="js" label="ingest and log"><script><![CDATA[
${script}
]]></script></js>
  </activities>
</workflow>
`;
}

const INGEST = (tag) => `var x = <sampleTableStg xtkschema="dem:sampleTableStg" testcol1="${tag}"
                      testcol2={"from " + "${tag}"}/>;
logInfo(xtk.session.Ingest(x));`;

before(async () => {
  env = await createEnv('workflow');
  wdir = path.join(env.dir, 'workflows');
  mkdirSync(wdir);
  writeFileSync(path.join(wdir, 'admin.xml'), workflowFile('sdkAdminJob', 'admin', INGEST('sdk admin job')));
  writeFileSync(path.join(wdir, 'writer.xml'), workflowFile('sdkWriterJob', 'writer', INGEST('sdk writer job')));
  server = await env.start(['--workflows-dir', wdir, '--replicate-schedule', 'off', '--unsubscribe-schedule', 'off']);
});
after(async () => { await env?.cleanup(); });

/** `workflow history NAME --json` (with this test's workflows_dir): the runs, newest first. */
function history(name) {
  return JSON.parse(env.sb(['--workflows-dir', wdir, 'workflow', 'history', name, '--json']));
}

/** Polls until a run of `name` newer than `afterId` has ended; returns it (fails after 30 s). */
async function endedRunAfter(name, afterId) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = history(name).find((r) => r.id > afterId && r.status !== 'running');
    if (run) return run;
    if (Date.now() > deadline) assert.fail(`no ended run of ${name} after run ${afterId}: ${JSON.stringify(history(name))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The uuid of the run's one log line, checked to be staged with the workflow's values. */
function loggedStagedUuid(name, run, tag) {
  const out = env.sb(['workflow', 'log', name, '--run', String(run.id)]);
  const lines = out.split('\n').filter((l) => /^\d{4}-\d\d-\d\d /.test(l));
  assert.equal(lines.length, 1, out);
  const m = /^\S+ \S+ js INFO (\S+)$/.exec(lines[0]);
  assert.ok(m && UUID_RE.test(m[1]), out);
  assert.deepEqual(env.stagedById(m[1]), [{ id: m[1], testcol1: tag, testcol2: `from ${tag}`, idelete: 0 }]);
  return m[1];
}

const lastId = (name) => (history(name)[0]?.id ?? 0);

async function newClient(user) {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(server.url, user.login, user.password));
  const rec = recordSoapCalls(client);
  await client.logon();
  return { client, rec };
}

describe('acc-js-sdk 1.2.0: NLWS.xtkWorkflow.start', () => {
  test('admin: discovery (xtk:schema|xtk:workflow) then xtk:workflow#Start; a run with trigger soap appears, done, its uuid staged', async () => {
    const { client, rec } = await newClient(ADMIN);
    const before = lastId('sdkAdminJob');
    const result = await client.NLWS.xtkWorkflow.start('sdkAdminJob');
    assert.equal(result ?? null, null);
    assert.deepEqual(rec.methods(), ['xtk:session#Logon', 'xtk:persist#GetEntityIfMoreRecent', 'xtk:workflow#Start']);
    assert.match(rec.calls[1].request, /xtk:schema\|xtk:workflow/);
    assert.match(rec.calls[2].request, /<strWorkflowId[^>]*>sdkAdminJob<\/strWorkflowId>/);
    const run = await endedRunAfter('sdkAdminJob', before);
    assert.equal(run.status, 'done', JSON.stringify(run));
    assert.equal(run.trigger, 'soap');
    loggedStagedUuid('sdkAdminJob', run, 'sdk admin job');
    // A second start on the same client: no second discovery.
    const before2 = lastId('sdkAdminJob');
    await client.NLWS.xtkWorkflow.start('sdkAdminJob');
    assert.equal(rec.methods().filter((m) => m === 'xtk:persist#GetEntityIfMoreRecent').length, 1);
    assert.equal((await endedRunAfter('sdkAdminJob', before2)).status, 'done');
  });

  test('admin: an unknown workflow → CampaignException with errorCode SYN-300003, no run', async () => {
    const { client } = await newClient(ADMIN);
    const e = await rejection(client.NLWS.xtkWorkflow.start('noSuchWorkflow'));
    assert.equal(e.errorCode, 'SYN-300003', `${e.message}`);
    assert.match(e.faultString, /noSuchWorkflow/);
  });

  test('writer (not admin): its own workflow runs; an admin workflow → errorCode SCR-200013, no run', async () => {
    const { client } = await newClient(WRITER);
    const beforeOwn = lastId('sdkWriterJob');
    await client.NLWS.xtkWorkflow.start('sdkWriterJob');
    const run = await endedRunAfter('sdkWriterJob', beforeOwn);
    assert.equal(run.status, 'done', JSON.stringify(run));
    assert.equal(run.trigger, 'soap');
    loggedStagedUuid('sdkWriterJob', run, 'sdk writer job');
    const beforeAdmin = lastId('sdkAdminJob');
    const e = await rejection(client.NLWS.xtkWorkflow.start('sdkAdminJob'));
    assert.equal(e.errorCode, 'SCR-200013', `${e.message}`);
    assert.equal(lastId('sdkAdminJob'), beforeAdmin, 'no run was started');
  });
});

describe("acc-js-sdk 1.2.0, generic route: client.makeSoapCall('xtk:workflow', 'Start', true, …)", () => {
  test('static, one string input, no output: no discovery; a run with trigger soap appears, done', async () => {
    const { client, rec } = await newClient(ADMIN);
    const before = lastId('sdkAdminJob');
    const r = await client.makeSoapCall('xtk:workflow', 'Start', true,
      [{ name: 'strWorkflowId', type: 'string', value: 'sdkAdminJob' }], [], 'xml');
    assert.deepEqual(rec.methods(), ['xtk:session#Logon', 'xtk:workflow#Start']);
    assert.deepEqual(r, []);
    const run = await endedRunAfter('sdkAdminJob', before);
    assert.equal(run.status, 'done', JSON.stringify(run));
    assert.equal(run.trigger, 'soap');
    loggedStagedUuid('sdkAdminJob', run, 'sdk admin job');
  });
});
