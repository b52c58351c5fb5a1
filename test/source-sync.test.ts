/**
 * Source syncs end to end: the default simulated estate (two Marketo instances, a Salesforce org, a
 * Dynamics org), instances configured through the API with schedules, syncs run by the sync
 * workflow on a real Temporal dev server into Postgres — counts equal each simulator's ground
 * truth; changes and deletes arrive incrementally; a backfill splits into windows and finishes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XDM_CLASSES } from '../domain/xdm/registry';
import type { XdmClassName } from '../domain/xdm/class-spec';
import { describeSyncSchedule, triggerSync } from '../control/sync-schedules';
import { DEFAULT_MUNCHKINS, type DefaultStack, type SimulatedSource } from '../simulators/default-stack';
import { sfId } from '../simulators/salesforce/data';
import { dynamicsGuid, marketoId } from '../simulators/world/ids';
import { buildWorld } from '../simulators/world/world';
import type { backfill } from '../workflows/backfill';
import { backfillProgressQuery, type SyncProgress } from '../contracts/sync';
import type { testApi } from './support/api';
import { startSourceStack } from './support/source-stack';
import { createSyncActivities } from '../activities/sync';
import { createLogger } from '../platform/logger';
import { drainIdentityQueue } from '../engine/identity/resolver';
import { countRows, temporalEnv, testDb, uniqueTaskQueue } from './support/env';

const taskQueue = uniqueTaskQueue('source-sync');
const WORLD = { people: 600, accounts: 60, campaigns: 6, lists: 4 };
let stack: DefaultStack;
let api: Awaited<ReturnType<typeof testApi>>;
let stop: (() => Promise<void>) | undefined;

before(async () => {
  ({ stack, api, stop } = await startSourceStack(taskQueue, { world: WORLD, schedule: '0 3 1 1 *', bulkStepSeconds: 0 }));
});

after(async () => {
  await stop?.();
});

async function stored(instanceId: string): Promise<Partial<Record<XdmClassName, number>>> {
  const out: Partial<Record<XdmClassName, number>> = {};
  for (const spec of Object.values(XDM_CLASSES)) {
    const [row] = await testDb()(spec.table).where('source_instance_id', instanceId).count<{ n: string }[]>({ n: '*' });
    const n = Number(row!.n);
    if (n) out[spec.name] = n;
  }
  return out;
}

async function syncNow(s: SimulatedSource): Promise<SyncProgress> {
  const env = await temporalEnv();
  const started = await triggerSync(env.client, s.config);
  assert.ok(started.workflowId, `a sync of ${s.config.instanceId} started`);
  return env.client.workflow.getHandle(started.workflowId).result();
}

const nonZero = (o: Partial<Record<string, number>>) => Object.fromEntries(Object.entries(o).filter(([, n]) => n));

describe('source syncs', () => {
  test('instances are added through the API; each gets a schedule; bad configurations get 4xx answers', async () => {
    for (const s of stack.sources) {
      const res = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: s.config });
      assert.equal(res.statusCode, 201, res.body);
      const schedule = await describeSyncSchedule((await temporalEnv()).client, s.config);
      assert.ok(schedule, `schedule of ${s.config.instanceId}`);
      assert.equal(schedule.paused, false);
    }
    const again = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: stack.sources[0]!.config });
    assert.equal(again.statusCode, 200, 'the same instance again is an update');

    const noSecrets = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...stack.sources[0]!.config, instanceId: 'other-org', credentialsRef: 'NOT_SET' } });
    assert.equal(noSecrets.statusCode, 400);
    assert.match(noSecrets.json().message, /TESSERA_SOURCE_NOT_SET_CLIENT_ID and TESSERA_SOURCE_NOT_SET_CLIENT_SECRET/);
    const borrowed = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...stack.sources[0]!.config, instanceId: 'other-org' } });
    assert.equal(borrowed.statusCode, 400, 'a credentialsRef belongs to one instance');
    assert.match(borrowed.json().message, new RegExp(`credentialsRef ${stack.sources[0]!.config.credentialsRef} belongs to ${stack.sources[0]!.config.sourceType}/${stack.sources[0]!.config.instanceId}`));
    const elsewhere = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...stack.sources[0]!.config, endpoint: 'https://collector.attacker.example' } });
    assert.equal(elsewhere.statusCode, 400, 'a source pointing at a non-vendor host is refused');
    assert.match(elsewhere.json().message, /collector\.attacker\.example is not a \w+ host/);
    const badId = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...stack.sources[0]!.config, instanceId: 'acme.na', schedule: 'hourly' } });
    assert.equal(badId.statusCode, 400);
    assert.match(badId.body, /instanceId/);
    assert.match(badId.body, /schedule/);
  });

  test('a first sync of every instance stores exactly the records each simulator holds', async () => {
    // The CRM first: Marketo finds its opportunities by their CRM ids too (with roles or not).
    const crm = stack.sources.filter((s) => s.config.sourceType === 'salesforce');
    const rest = stack.sources.filter((s) => s.config.sourceType !== 'salesforce');
    const synced = [...(await Promise.all(crm.map(syncNow))), ...(await Promise.all(rest.map(syncNow)))];
    const results = stack.sources.map((s) => synced[[...crm, ...rest].indexOf(s)]);
    for (const [i, s] of stack.sources.entries()) {
      assert.equal(results[i]!.status, 'completed');
      assert.deepEqual(await stored(s.config.instanceId), nonZero(s.simulator.groundTruth({ crmSynced: true })), `${s.config.sourceType}/${s.config.instanceId}`);
      const limits = s.simulator.stats();
      if (s.config.sourceType === 'marketo') {
        assert.ok(limits.maxCallsInWindow <= 100, `Marketo calls in 20 s: ${limits.maxCallsInWindow}`);
        assert.ok(limits.maxInFlight <= 10, `Marketo calls in flight: ${limits.maxInFlight}`);
      }
    }
    const runs = await testDb()('sync_run').where({ kind: 'sync' }).whereIn('instance_id', stack.sources.map((s) => s.config.instanceId));
    assert.equal(runs.length, 4);
    assert.ok(runs.every((r) => r.status === 'completed' && r.finished_at));
    // The Marketo leads carry their Salesforce ids: cross-system keys identity resolution links by.
    const sf = stack.sources.find((s) => s.config.sourceType === 'salesforce')!;
    const [linked] = await testDb()('xdm_person as m')
      .join('xdm_person as s', 's.record_key', 'm.external_key')
      .where('m.source_type', 'Marketo')
      .andWhere('s.source_instance_id', sf.config.instanceId)
      .count<{ n: string }[]>({ n: '*' });
    assert.ok(Number(linked!.n) > 0, 'Marketo leads point at stored Salesforce people');

    // Identity resolution, once the resolvers have passed every page, against the world's ground truth: no profile
    // holds two humans; a human is split only when nothing but a shared mailbox connects them.
    await drainIdentityQueue(testDb());
    const world = buildWorld(WORLD);
    const human = new Map<string, number>();
    const instanceOf = (type: string) => stack.sources.filter((s) => s.config.sourceType === type).map((s) => s.config.instanceId);
    for (const p of world.people) {
      for (const object of ['Contact', 'Lead'] as const) human.set(`${sfId(object, p.idx)}@${sf.config.instanceId}.Salesforce`, p.idx);
      instanceOf('marketo').forEach((m) => human.set(`${marketoId(p.idx, DEFAULT_MUNCHKINS.indexOf(m as (typeof DEFAULT_MUNCHKINS)[number]))}@${m}.Marketo`, p.idx));
      for (const d of instanceOf('dynamics')) for (const t of ['contact', 'lead']) human.set(`${dynamicsGuid(t, p.idx)}@${d}.Dynamics`, p.idx);
    }
    const profiles = await testDb()('person_profile').select('record_keys');
    const profilesOf = new Map<number, number>();
    for (const p of profiles) {
      const humans = new Set(p.record_keys.map((k: string) => human.get(k)).filter((h: number | undefined) => h !== undefined));
      assert.ok(humans.size <= 1, `over-merge: ${p.record_keys.join(', ')}`);
      for (const h of humans) profilesOf.set(h as number, (profilesOf.get(h as number) ?? 0) + 1);
    }
    const split = [...profilesOf].filter(([, n]) => n > 1).map(([h]) => world.people[h]!);
    assert.deepEqual(split.filter((p) => !p.quirks.includes('shared-mailbox')).map((p) => p.idx), [], 'only shared-mailbox people stay apart');
    const mine = stack.sources.map((s) => s.config.instanceId);
    const [row] = await testDb()('identity_record')
      .where({ entity: 'account' })
      .andWhere((q) => { for (const i of mine) q.orWhere('record_key', 'like', `%@${i}.%`); })
      .countDistinct<{ n: string }[]>({ n: 'profile_id' });
    assert.equal(Number(row!.n), world.accounts.length, 'one account profile per company across the CRMs and Marketo');
  });

  test('the next sync reads only what changed, deletes included', async () => {
    const before = await Promise.all(stack.sources.map((s) => stored(s.config.instanceId)));
    const deletedBefore = await testDb()('xdm_person').where('is_deleted', true).count<{ n: string }[]>({ n: '*' });
    const changes = stack.sources.map((s, i) => s.simulator.mutate({ update: 5, delete: 2, seed: 7 + i }));
    // Sources keep times to the second and a run reads up to the last whole second before it
    // started; changes of that very second belong to the next run.
    await new Promise((r) => setTimeout(r, 1100));
    const results = await Promise.all(stack.sources.map(syncNow));
    for (const [i, s] of stack.sources.entries()) {
      assert.deepEqual(await stored(s.config.instanceId), nonZero(s.simulator.groundTruth({ crmSynced: true })), `${s.config.instanceId} after changes`);
      const read = Object.values(results[i]!.streams).reduce((n, st) => n + st.records, 0);
      const total = Object.values(before[i]!).reduce((n, c) => n + (c ?? 0), 0);
      assert.ok(read < total / 2, `${s.config.instanceId}: the incremental run read ${read} of ${total} records`);
      assert.ok(changes[i]!.deleted > 0);
    }
    const deletedAfter = await testDb()('xdm_person').where('is_deleted', true).count<{ n: string }[]>({ n: '*' });
    assert.ok(Number(deletedAfter[0]!.n) > Number(deletedBefore[0]!.n), 'deleted people are flagged, not dropped');
  });

  test('a sync already running is joined, not duplicated', async () => {
    const env = await temporalEnv();
    const s = stack.sources.find((x) => x.config.sourceType === 'dynamics')!;
    const [a, b] = await Promise.all([triggerSync(env.client, s.config), triggerSync(env.client, s.config)]);
    await env.client.workflow.getHandle(a.workflowId!).result();
    const runs = await testDb()('sync_run').where({ instance_id: s.config.instanceId, kind: 'sync' });
    assert.equal(runs.length, 3, 'two triggers at once made one run');
    assert.ok(b.workflowId === a.workflowId || b.alreadyRunning);
  });

  test('a backfill started through the API is split into windows, reports progress and finishes', async () => {
    const sf = stack.sources.find((s) => s.config.sourceType === 'salesforce')!;
    const refused = await api.app.inject({ method: 'POST', url: `/v1/sources/salesforce/${sf.config.instanceId}/backfills`, payload: { from: '2026-07-01T00:00:00Z', to: '2026-11-01T00:00:00Z', streams: ['Nope'] } });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json().message, /unknown stream 'Nope'/);

    const res = await api.app.inject({ method: 'POST', url: `/v1/sources/salesforce/${sf.config.instanceId}/backfills`, payload: { from: '2026-07-01T00:00:00Z', to: '2026-11-01T00:00:00Z', streams: ['Contact', 'Account'] } });
    assert.equal(res.statusCode, 202, res.body);
    const started = res.json() as { backfillId: string; workflowId: string; windows: number };
    assert.equal(started.windows, 10, '123 days in 30-day windows is 5 windows per stream');
    const env = await temporalEnv();
    const handle = env.client.workflow.getHandle<typeof backfill>(started.workflowId);
    const done = await handle.result();
    assert.equal(done.windowsDone, 10);
    assert.equal(done.percent, 100);
    assert.ok(done.records > 0);
    const progress = await handle.query(backfillProgressQuery);
    assert.equal(progress.windowsDone, 10);
    const view = await api.app.inject({ method: 'GET', url: `/v1/backfills/${started.backfillId}` });
    assert.equal(view.statusCode, 200);
    assert.equal(view.json().status, 'COMPLETED');
    // Re-reading changes nothing: the store already holds every version.
    assert.deepEqual(await stored(sf.config.instanceId), nonZero(sf.simulator.groundTruth()));

    // The windows are kept with the backfill: a later change of the window setting does not re-plan it.
    const [row] = await testDb()('backfill').where({ id: started.backfillId });
    assert.equal(row.windows.length, 10);
    const changed = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...sf.config, settings: { ...sf.config.settings, maxWindowDays: 7 } } });
    assert.equal(changed.statusCode, 200, changed.body);
    try {
      const plan = await createSyncActivities({ db: testDb(), log: createLogger('test', 'silent') }).planBackfill({ backfillId: started.backfillId });
      assert.deepEqual(plan.windows.map((w) => [w.stream, w.from, w.to]), row.windows.map((w: { stream: string; from: string; to: string }) => [w.stream, w.from, w.to]));
      assert.ok(plan.windows.every((w) => w.done), 'every planned window is still found done');
    } finally {
      await api.app.inject({ method: 'POST', url: '/v1/sources', payload: sf.config });
    }
  });

  test('an instance whose credentials are refused fails its sync with a non-retryable error naming it', async () => {
    const s = stack.sources.find((x) => x.config.sourceType === 'dynamics')!;
    const ref = s.config.credentialsRef;
    const secretName = `TESSERA_SOURCE_${ref}_CLIENT_SECRET`;
    const good = process.env[secretName];
    process.env[secretName] = 'wrong-secret';
    // A configuration change (updated_at) makes the worker build a new connector with the new secret.
    await api.app.inject({ method: 'POST', url: '/v1/sources', payload: { ...s.config, label: 'Dynamics (wrong secret)' } });
    try {
      const env = await temporalEnv();
      const started = await triggerSync(env.client, s.config);
      await assert.rejects(env.client.workflow.getHandle(started.workflowId!).result(), (e: Error) => {
        let c: any = e;
        while (c.cause) c = c.cause;
        return c.type === 'SourceAuthFailed' && /dynamics|contoso/i.test(c.message);
      });
      const [run] = await testDb()('sync_run').where({ instance_id: s.config.instanceId, status: 'failed' });
      assert.match(run.error, /authentication/i);
    } finally {
      process.env[secretName] = good;
      await api.app.inject({ method: 'POST', url: '/v1/sources', payload: s.config });
    }
  });

  test('a source is deleted with its schedule, cursors and runs; the records it brought stay', async () => {
    const s = stack.sources.find((x) => x.config.sourceType === 'dynamics')!;
    const { sourceType, instanceId } = s.config;
    const records = await countRows('xdm_person', (q) => q.where({ source_instance_id: instanceId }));
    assert.ok(records > 0);
    const res = await api.app.inject({ method: 'DELETE', url: `/v1/sources/${sourceType}/${instanceId}` });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await api.app.inject({ method: 'GET', url: `/v1/sources/${sourceType}/${instanceId}` })).statusCode, 404);
    assert.equal(await describeSyncSchedule((await temporalEnv()).client, s.config), null);
    assert.equal(await countRows('sync_run', (q) => q.where({ instance_id: instanceId })), 0);
    assert.equal(await countRows('sync_cursor', (q) => q.where({ instance_id: instanceId })), 0);
    assert.equal(await countRows('xdm_person', (q) => q.where({ source_instance_id: instanceId })), records);
    assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/sources/${sourceType}/${instanceId}` })).statusCode, 404);
  });
});
