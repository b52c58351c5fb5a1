/**
 * The identity resolvers as Temporal workflows: started from control/, an ingest answer waits for
 * them and names its profile (read your writes); paused, the answer gives the queue position and
 * the records wait; resumed, they are resolved. Then kill -9 of the worker while the resolver
 * works through a backlog: every record resolved exactly once (one observation each in the
 * decision log), and the graph equals a full recompute and a decision-log replay.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Worker } from '@temporalio/worker';
import { RESOLVER_ENTITIES, resolverWorkflowId } from '../contracts/resolver';
import { ensureResolvers } from '../control/resolvers';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { ingestRecords } from '../engine/ingest/ingest-records';
import { queueForResolution } from '../engine/identity/resolve-stored';
import { validateRecord } from '../domain/ingestion/validate-record';
import { storeIngestBatch } from '../db/repositories/ingest-batches';
import { inPgTransaction } from '../db/pg-transaction';
import { seededRandom } from '../simulators/shared/random';
import { testApi } from './support/api';
import { closeTemporal, closeTestDb, countRows, eventually as until, requireEnv, temporalEnv, testDb, testWorker, uniqueInstance, uniqueTaskQueue, workflowBundle } from './support/env';
import { assertGraphMatchesRecompute } from './support/identity-check';

const taskQueue = uniqueTaskQueue('resolver-workflow');
let api: Awaited<ReturnType<typeof testApi>>;
let worker: Worker;
let running: Promise<void>;
let child: ChildProcess | undefined;

before(async () => {
  // No in-process resolver: only the workflows drain the queue here.
  api = await testApi({ taskQueue, resolvers: false, resolveWaitMs: 15_000 });
  worker = await testWorker(taskQueue);
  running = worker.run();
});

after(async () => {
  child?.kill('SIGKILL');
  await stopResolvers();
  if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

async function stopResolvers(): Promise<void> {
  const env = await temporalEnv();
  for (const entity of RESOLVER_ENTITIES) await env.client.workflow.getHandle(resolverWorkflowId(entity)).terminate('test over').catch(() => undefined);
}

const person = (instance: string, id: string, email: string, extra: object = {}) => ({
  b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: instance, sourceID: id } },
  workEmail: { address: email },
  extSourceSystemAudit: { lastUpdatedDate: '2026-03-01T00:00:00Z' },
  ...extra,
});
const inject = (method: 'GET' | 'POST', url: string, payload?: object) => api.app.inject({ method, url, ...(payload ? { payload } : {}) });

describe('the identity resolver workflows', () => {
  test('an ingest answer waits for the resolver and names the profile; paused, it gives the queue position; resumed, the records resolve', async () => {
    const env = await temporalEnv();
    assert.deepEqual(await ensureResolvers(env.client, taskQueue), RESOLVER_ENTITIES.map(resolverWorkflowId));
    assert.deepEqual(await ensureResolvers(env.client, taskQueue), RESOLVER_ENTITIES.map(resolverWorkflowId), 'a second start joins the running resolvers');

    const inst = uniqueInstance('00D');
    let res = await inject('POST', '/v1/ingest/person', [person(inst, '003A', `ann@${inst}.example`), person(inst, '003B', `bob@${inst}.example`)]);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().resolution.status, 'resolved');
    const [a, b] = res.json().results;
    assert.ok(a.profileId && b.profileId && a.profileId !== b.profileId, 'each record names its own profile');

    // The same email from Marketo joins Ann's profile; the answer already says so.
    res = await inject('POST', '/v1/ingest/person', { ...person(inst, '1', `ANN@${inst}.example`), b2b: { personKey: { sourceType: 'Marketo', sourceInstanceID: `mk-${inst}`, sourceID: '1' } } });
    assert.equal(res.json().results[0].profileId, a.profileId);

    const status = (await inject('GET', '/v1/identity/resolvers')).json().resolvers;
    assert.deepEqual(status.map((s: { entity: string; workflow: string }) => [s.entity, s.workflow]), [['account', 'running'], ['person', 'running']]);
    assert.ok(status[1].totals.records >= 3);

    // Paused: records are still stored and queued; the answer says where they wait.
    assert.equal((await inject('POST', '/v1/identity/resolvers/person/pause')).statusCode, 202);
    await until('the pause to take effect', async () => {
      const s = await env.client.workflow.getHandle(resolverWorkflowId('person')).query<{ paused: boolean; draining: boolean }>('status');
      return s.paused && !s.draining;
    });
    const waiting = await testApi({ taskQueue, resolvers: false, resolveWaitMs: 300 });
    try {
      res = await waiting.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: person(inst, '003C', `cy@${inst}.example`) });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().resolution.status, 'pending');
      assert.equal(typeof res.json().resolution.queuePosition, 'number');
      assert.equal(res.json().results[0].profileId, undefined, 'no profile yet');
      assert.equal(res.json().results[0].outcome, 'inserted', 'but the record is stored');
    } finally {
      await waiting.close();
    }
    const paused = (await inject('GET', '/v1/identity/resolvers')).json().resolvers[1];
    assert.equal(paused.workflow, 'paused');
    assert.ok(paused.queue.depth >= 1);

    assert.equal((await inject('POST', '/v1/identity/resolvers/person/resume')).statusCode, 202);
    await until('the record to resolve', async () => Boolean(await testDb()('identity_record').where({ node: `b2b_person:003C@${inst}.Salesforce` }).first()));

    const metrics = await inject('GET', '/metrics');
    for (const line of [/^tessera_resolver_queue_depth\{entity="person"\} \d+$/m, /^tessera_records_ingested_total\{channel="api",outcome="accepted"\} \d+$/m, /^tessera_identity_merges\{entity="person"\} \d+$/m]) {
      assert.ok(line.test(metrics.body), `/metrics has ${line}`);
    }
  });

  test('a streamed record overtakes a bulk backlog: its answer names its profile while the backlog is still being worked off', async () => {
    const inst = uniqueInstance('00D');
    const spec = XDM_CLASSES.person;
    const receivedAt = new Date();
    const backlog = Array.from({ length: 10_000 }, (_, i) => person(inst, `bulk${i}`, `bulk${i}@${inst}.example`));
    const accepted = backlog.flatMap((raw, position) => {
      const o = validateRecord(spec, raw, JSON.stringify(raw), { position, receivedAt });
      return o.kind === 'accepted' ? [o.value] : [];
    });
    await inPgTransaction(testDb(), async (tx) => {
      const stored = await storeIngestBatch(tx, spec, { batchId: randomUUID(), channel: 'file', receivedAt, accepted, rejected: [], classifyNotApplied: true });
      await queueForResolution(tx, 'person', stored.appliedKeys, 'file:test');
    });
    const res = await inject('POST', '/v1/ingest/person', person(inst, 'streamed', `streamed@${inst}.example`));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().resolution.status, 'resolved', res.body);
    assert.ok(res.json().results[0].profileId);
    const left = await countRows('identity_queue', (q) => q.where({ lane: 'bulk' }).whereLike('record_key', `%@${inst}.%`));
    assert.ok(left > 0, `the bulk backlog is still queued (${left} left) when the streamed record's answer comes back`);
    await until('the backlog to be worked off', async () => (await countRows('identity_queue', (q) => q.whereLike('record_key', `%@${inst}.%`))) === 0, 120_000);
  });

  test('kill -9 of the worker while the resolver drains a backlog: each record resolved once, the graph equals a full recompute', async (t) => {
    // The resolvers move to a worker process that is killed without warning, again and again
    // (micro-batches of 200, so the kills land in the middle of the backlog).
    await stopResolvers();
    worker.shutdown();
    await running;
    const queue = uniqueTaskQueue('resolver-crash');
    const bundlePath = join(tmpdir(), `tessera-bundle-resolver-${process.pid}.js`);
    writeFileSync(bundlePath, (await workflowBundle()).code);
    const spawnWorker = () =>
      spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'workers', 'main.ts')], {
        env: { ...process.env, DATABASE_URL: requireEnv('TESSERA_TEST_DATABASE_URL'), TESSERA_TASK_QUEUE: queue, TESSERA_WORKFLOW_BUNDLE: bundlePath, TESSERA_WORKER_QUEUES: 'core', TESSERA_WORKER_METRICS_PORT: '0', TESSERA_RESOLVER_MAX_BATCH: '200', LOG_LEVEL: 'error' },
        stdio: 'ignore',
      });

    // A backlog: 5,000 people in 50 writes, a third of them sharing an email with another.
    const inst = uniqueInstance('00D');
    const mk = uniqueInstance('mkto');
    for (let w = 0; w < 50; w++) {
      const batch = Array.from({ length: 100 }, (_, i) => {
        const n = w * 100 + i;
        return n % 3 === 0
          ? { ...person(inst, `M${n}`, `p${n - 1}@${inst}.example`), b2b: { personKey: { sourceType: 'Marketo', sourceInstanceID: mk, sourceID: `M${n}` } } }
          : person(inst, `P${n}`, `p${n}@${inst}.example`);
      });
      await ingestRecords(testDb(), XDM_CLASSES.person, batch);
    }
    const backlog = () => countRows('identity_queue', (q) => q.where('record_key', 'like', `%@${inst}.%`).orWhere('record_key', 'like', `%@${mk}.%`));
    assert.equal(await backlog(), 5000);

    const env = await temporalEnv();
    child = spawnWorker();
    await ensureResolvers(env.client, queue);
    const random = seededRandom(7);
    let kills = 0;
    while (kills < 2 && (await backlog()) > 0) {
      const before = await backlog();
      await until('the resolver to make progress', async () => (await backlog()) < before || before === 0, 60_000);
      await new Promise((r) => setTimeout(r, Math.floor(random() * 100)));
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      kills++;
      child = spawnWorker();
    }
    await until('the backlog to drain', async () => (await backlog()) === 0, 120_000);
    t.diagnostic(`${kills} kills while 5,000 records were resolved`);
    assert.equal(kills, 2, 'the worker was killed twice before the backlog drained');

    // Nothing applied twice: each record was observed once; nothing lost: every record is in the graph.
    const observed = await testDb()('identity_decision')
      .where('kind', 'observe')
      .andWhere((q) => q.where('node', 'like', `%@${inst}.%`).orWhere('node', 'like', `%@${mk}.%`))
      .select('node')
      .count<{ node: string; count: string }[]>({ count: '*' })
      .groupBy('node');
    assert.equal(observed.length, 5000);
    assert.deepEqual(observed.filter((o) => Number(o.count) !== 1), [], 'one observation per record');
    await assertGraphMatchesRecompute([inst, mk]);
    child.kill('SIGKILL');
    child = undefined;
  });
});
