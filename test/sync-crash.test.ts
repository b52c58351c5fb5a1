/**
 * kill -9 of the worker at random points of a sync, 10 times: the final tables equal an
 * uninterrupted run's (nothing lost, nothing stored twice), and each crash costs at most two
 * re-fetched pages per stream in flight (the page being stored and the one read ahead of it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { upsertSourceInstance } from '../db/repositories/source-instances';
import { seededRandom } from '../simulators/shared/random';
import { startSalesforceSimulator, type SalesforceSimulator } from '../simulators/salesforce';
import { buildWorld } from '../simulators/world/world';
import type { sync } from '../workflows/sync';
import { closeTemporal, closeTestDb, requireEnv, temporalEnv, testDb, uniqueTaskQueue, workflowBundle, testWorker } from './support/env';

const ORG = '00D5e000000CrAsHQA';
const KILLS = 10;
let sim: SalesforceSimulator | undefined;
let child: ChildProcess | undefined;

after(async () => {
  child?.kill('SIGKILL');
  await sim?.stop();
  await closeTemporal();
  await closeTestDb();
});

/** Every stored row of the instance: record key → content hash, per table. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const spec of Object.values(XDM_CLASSES)) {
    const rows = await testDb()(spec.table).where('source_instance_id', ORG).select('record_key', testDb().raw("encode(content_hash, 'hex') AS hash"));
    for (const r of rows) out.set(`${spec.table}:${r.record_key}`, r.hash);
  }
  return out;
}

async function forgetInstance(): Promise<void> {
  const db = testDb();
  for (const spec of Object.values(XDM_CLASSES)) await db(spec.table).where('source_instance_id', ORG).delete();
  await db('landing_record').where('record_key', 'like', `%@${ORG}.Salesforce`).delete();
  await db('sync_cursor').where('instance_id', ORG).delete();
}

/** Page requests seen by the simulator so far (first pages and nextRecordsUrl follow-ups). */
function pageRequests(): number {
  const byRoute = sim!.stats().byRoute;
  return Object.entries(byRoute).filter(([route]) => /\/query(All)?(\/\{locator\})?$/.test(route)).reduce((n, [, c]) => n + c, 0);
}

function spawnWorker(queue: string, bundlePath: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'workers', 'main.ts')], {
    env: { ...process.env, DATABASE_URL: requireEnv('TESSERA_TEST_DATABASE_URL'), TESSERA_TASK_QUEUE: queue, TESSERA_WORKFLOW_BUNDLE: bundlePath, TESSERA_WORKER_QUEUES: 'core', TESSERA_WORKER_METRICS_PORT: '0', LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
}

test(`kill -9 of the worker ${KILLS} times during a sync: the same tables as an uninterrupted run, at most two pages re-fetched per crash and stream`, async (t) => {
  const credentials = { clientId: 'crash-client', clientSecret: randomBytes(16).toString('hex') };
  process.env.TESSERA_SOURCE_SF_CRASH_CLIENT_ID = credentials.clientId;
  process.env.TESSERA_SOURCE_SF_CRASH_CLIENT_SECRET = credentials.clientSecret;
  sim = await startSalesforceSimulator({ world: buildWorld({ seed: 9, people: 10_000, accounts: 400, campaigns: 8, lists: 0 }), credentials, orgId: ORG });
  sim.faults.add({ path: '/query', action: { kind: 'delay', ms: 60 } });
  await upsertSourceInstance(testDb(), {
    sourceType: 'salesforce', instanceId: ORG, endpoint: sim.url, authEndpoint: `${sim.url}/services/oauth2/token`,
    settings: { useBulk: false, pageSize: 200 }, credentialsRef: 'SF_CRASH', schedule: '0 3 1 1 *', enabled: true,
  });
  const env = await temporalEnv();
  const bundlePath = join(tmpdir(), `tessera-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, (await workflowBundle()).code);

  // 1. The reference: an uninterrupted run.
  const refQueue = uniqueTaskQueue('sync-ref');
  const worker = await testWorker(refQueue);
  const pagesBefore = pageRequests();
  await worker.runUntil(env.client.workflow.execute<typeof sync>('sync', { taskQueue: refQueue, workflowId: `crash-ref-${ORG}`, args: [{ sourceType: 'salesforce', instanceId: ORG, trigger: 'api' }] }));
  const referencePages = pageRequests() - pagesBefore;
  const reference = await snapshot();
  assert.deepEqual(reference.size, Object.values(sim.groundTruth()).reduce((a, b) => a + (b ?? 0), 0));
  const streams = (await testDb()('sync_cursor').where('instance_id', ORG).count<{ n: string }[]>({ n: '*' }))[0]!.n;
  await forgetInstance();

  // 2. The same sync while the worker is killed without warning, again and again.
  const queue = uniqueTaskQueue('sync-crash');
  const random = seededRandom(2026);
  const pagesBeforeCrashes = pageRequests();
  child = spawnWorker(queue, bundlePath);
  const handle = await env.client.workflow.start<typeof sync>('sync', { taskQueue: queue, workflowId: `crash-run-${ORG}`, args: [{ sourceType: 'salesforce', instanceId: ORG, trigger: 'api', heartbeatTimeout: '3s', maxPagesPerCall: 3 }] });
  let kills = 0;
  let finished = false;
  void handle.result().finally(() => (finished = true)).catch(() => undefined);
  while (kills < KILLS && !finished) {
    // Let the worker start and store some pages, then kill it at a random point.
    const pagesAtStart = pageRequests();
    for (let i = 0; i < 200 && pageRequests() - pagesAtStart < 2 && !finished; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, Math.floor(random() * 800)));
    if (finished) break;
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    kills++;
    child = spawnWorker(queue, bundlePath);
  }
  const result = await handle.result();
  child.kill('SIGKILL');
  assert.equal(result.status, 'completed');
  assert.equal(kills, KILLS, `the worker was killed ${kills} times before the sync finished`);

  const crashed = await snapshot();
  assert.equal(crashed.size, reference.size, 'no row lost');
  assert.deepEqual(crashed, reference, 'the same rows with the same content');
  const [landing] = await testDb()('landing_record').where('record_key', 'like', `%@${ORG}.Salesforce`).count<{ n: string }[]>({ n: '*' });
  assert.equal(Number(landing!.n), reference.size, 'each record landed once');
  const refetched = pageRequests() - pagesBeforeCrashes - referencePages;
  t.diagnostic(`${kills} kills, ${reference.size} rows identical to the reference run, ${refetched} pages re-fetched (${referencePages} pages in a run, ${streams} streams)`);
  assert.ok(refetched <= 2 * kills * Number(streams), `re-fetched ${refetched} pages over ${kills} crashes and ${streams} streams`);
});
