/**
 * Deletes made in each simulated source reach the canonical tables and the profiles: a Salesforce
 * record purged from the recycle bin and one hard-deleted (seen only through the delete log), a
 * Marketo company and a static-list member removed and a Dynamics list member deleted (APIs that
 * report no deletes: found by the id-set reconciliation), and a Dynamics contact deleted (change
 * tracking). The reconciliation also holds a run that would delete too much, until forced.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { triggerSync } from '../control/sync-schedules';
import type { DefaultStack, SimulatedSource } from '../simulators/default-stack';
import type { MarketoSimulator } from '../simulators/marketo';
import type { SalesforceSimulator } from '../simulators/salesforce';
import type { DynamicsSimulator } from '../simulators/dynamics';
import { reconcileProgressQuery, reconcileScheduleId, type ReconcileProgress, type SyncProgress } from '../contracts/sync';
import type { reconcile } from '../workflows/reconcile';
import { drainIdentityQueue } from '../engine/identity/resolver';
import type { testApi } from './support/api';
import { startSourceStack } from './support/source-stack';
import { temporalEnv, testDb, uniqueTaskQueue } from './support/env';

const taskQueue = uniqueTaskQueue('source-deletes');
let stack: DefaultStack;
let api: Awaited<ReturnType<typeof testApi>>;
let stop: (() => Promise<void>) | undefined;

before(async () => {
  // Instance ids of its own: the test database is shared with source-sync.test.ts's default stack.
  const ids = { salesforceOrg: '00D5e000000DeLeTEA', munchkins: ['321-DEL-654', '789-DEL-987'] as const, dynamicsOrg: 'deletes' };
  ({ stack, api, stop } = await startSourceStack(taskQueue, { world: { people: 240, accounts: 24, campaigns: 3, lists: 3 }, schedule: '0 3 1 1 *', bulkStepSeconds: 0, ids }));
  for (const s of stack.sources) {
    const res = await api.app.inject({ method: 'POST', url: '/v1/sources', payload: s.config });
    assert.equal(res.statusCode, 201, res.body);
  }
});

after(async () => {
  await stop?.();
});

const source = (type: string, index = 0): SimulatedSource => stack.sources.filter((s) => s.config.sourceType === type)[index]!;

async function syncNow(s: SimulatedSource): Promise<SyncProgress> {
  const started = await triggerSync((await temporalEnv()).client, { sourceType: s.config.sourceType, instanceId: s.config.instanceId });
  assert.ok(started.workflowId);
  const done: SyncProgress = await (await temporalEnv()).client.workflow.getHandle(started.workflowId).result();
  assert.equal(done.status, 'completed', JSON.stringify(done));
  return done;
}

/**
 * A reconciliation marks only records that arrived well before it started (a sync storing while
 * the source is listed must not lose its records): the syncs here are seconds old, so their rows
 * are dated an hour back, as if the daily reconciliation came an hour after them.
 */
async function ageStoredRecords(): Promise<void> {
  for (const table of ['xdm_person', 'xdm_account', 'xdm_opportunity', 'xdm_opportunity_person', 'xdm_marketing_list', 'xdm_marketing_list_member']) {
    await testDb().raw(`UPDATE ${table} SET received_at = received_at - interval '1 hour' WHERE source_instance_id = ANY(?)`, [stack.sources.map((s) => s.config.instanceId)]);
  }
}

async function reconcileNow(s: SimulatedSource, body: Record<string, unknown> = {}): Promise<ReconcileProgress> {
  await ageStoredRecords();
  const res = await api.app.inject({ method: 'POST', url: `/v1/sources/${s.config.sourceType}/${s.config.instanceId}/reconcile`, payload: body });
  assert.equal(res.statusCode, 202, res.body);
  const handle = (await temporalEnv()).client.workflow.getHandle<typeof reconcile>(res.json().workflowId);
  const done = await handle.result();
  assert.deepEqual(await handle.query(reconcileProgressQuery), done);
  return done;
}

async function deleted(table: string, recordKey: string): Promise<boolean | undefined> {
  const row = await testDb()(table).where({ record_key: recordKey }).first('is_deleted');
  return row?.is_deleted;
}

async function inAnyProfile(table: 'person_profile' | 'account_profile', recordKey: string): Promise<boolean> {
  const { rows } = await testDb().raw(`SELECT 1 FROM ${table} WHERE record_keys @> ARRAY[?]::text[] LIMIT 1`, [recordKey]);
  return rows.length > 0;
}

describe('deletes made in the sources', () => {
  test('each instance has a reconciliation schedule beside its sync schedule, paused with it', async () => {
    const client = (await temporalEnv()).client;
    const mk = source('marketo');
    const handle = client.schedule.getHandle(reconcileScheduleId({ sourceType: 'marketo', instanceId: mk.config.instanceId }));
    const d = await handle.describe();
    assert.equal(d.state.paused, false);
    assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'reconcile');
    const paused = await api.app.inject({ method: 'POST', url: `/v1/sources/marketo/${mk.config.instanceId}/pause` });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal((await handle.describe()).state.paused, true);
    await api.app.inject({ method: 'POST', url: `/v1/sources/marketo/${mk.config.instanceId}/resume` });
    assert.equal((await handle.describe()).state.paused, false);
  });

  test('reach the canonical tables and the profiles, through change logs, delete logs and the reconciliation', async () => {
    for (const s of stack.sources) await syncNow(s);
    await drainIdentityQueue(testDb());

    // Salesforce: a contact deleted and purged from the recycle bin, an account hard-deleted.
    const sf = source('salesforce');
    const sfSim = sf.simulator as SalesforceSimulator;
    const sfKey = (id: string) => `${id}@${sf.config.instanceId}.Salesforce`;
    // The delete log answers by the minute, up to the run's start rounded down: deletes of the
    // current minute are the next run's. Dated three minutes back, they are this run's (within the
    // five minutes the window overlaps the last one, as a delete that committed late would be).
    sfSim.clock.advance(-180_000);
    sfSim.mutate({ update: 0, delete: 1, seed: 3 });
    const [sfContact] = sfSim.emptyRecycleBin({ object: 'Contact' });
    const [sfAccount] = sfSim.hardDelete({ object: 'Account', count: 1, seed: 5 });
    sfSim.clock.advance(180_000);
    assert.ok(sfContact && sfAccount);
    assert.equal(await deleted('xdm_person', sfKey(sfContact)), false);
    assert.ok(await inAnyProfile('person_profile', sfKey(sfContact)));

    // Marketo: a company and a static-list member removed (the APIs report neither).
    const mk = source('marketo');
    const mkSim = mk.simulator as MarketoSimulator;
    const company = await testDb()('xdm_account').where({ source_instance_id: mk.config.instanceId, is_deleted: false }).whereLike('source_id', '%.mkto_org').orderBy('source_id').first('source_id', 'record_key');
    const member = await testDb()('xdm_marketing_list_member').where({ source_instance_id: mk.config.instanceId, is_deleted: false }).orderBy('source_id').first('source_id', 'record_key');
    assert.ok(company && member, 'a first sync stored Marketo companies and list members');
    const [listId, leadId] = member.source_id.split('_').map(Number);
    assert.equal(mkSim.data.remove({ companies: [Number(company.source_id.replace('.mkto_org', ''))], listMembers: [{ listId, leadId }] }), 2);

    // Dynamics: a contact deleted (change tracking reports it) and a list member (no change tracking).
    const dyn = source('dynamics');
    const dynSim = dyn.simulator as DynamicsSimulator;
    assert.deepEqual(dynSim.mutate({ sets: ['contacts'], update: 0, delete: 1, seed: 7 }), { updated: 0, deleted: 1 });
    assert.deepEqual(dynSim.mutate({ sets: ['listmembers'], update: 0, delete: 1, seed: 7 }), { updated: 0, deleted: 1 });

    for (const s of stack.sources) await syncNow(s);
    // What syncs see: Salesforce's delete log and Dataverse's $deletedEntity.
    assert.equal(await deleted('xdm_person', sfKey(sfContact)), true, 'the purged contact is a deletion marker');
    assert.equal(await deleted('xdm_account', sfKey(sfAccount)), true, 'the hard-deleted account is a deletion marker');
    const deletedCount = async (table: string, instance: string) => Number((await testDb()(table).where({ source_instance_id: instance, is_deleted: true }).count<{ n: string }[]>({ n: '*' }))[0]!.n);
    assert.equal(await deletedCount('xdm_person', dyn.config.instanceId), 1, 'the deleted Dynamics contact');
    // What they cannot see, until the reconciliation.
    assert.equal(await deleted('xdm_account', company.record_key), false);
    assert.equal(await deleted('xdm_marketing_list_member', member.record_key), false);
    assert.equal(await deletedCount('xdm_marketing_list_member', dyn.config.instanceId), 0);

    const mkRun = await reconcileNow(mk);
    assert.equal(mkRun.status, 'completed', JSON.stringify(mkRun));
    assert.equal(mkRun.streams['companies']!.marked, 1);
    assert.equal(mkRun.streams['list-members']!.marked, 1);
    assert.equal(await deleted('xdm_account', company.record_key), true);
    assert.equal(await deleted('xdm_marketing_list_member', member.record_key), true);
    const dynRun = await reconcileNow(dyn);
    assert.equal(dynRun.status, 'completed', JSON.stringify(dynRun));
    assert.equal(dynRun.streams['listmembers']!.marked, 1);
    assert.equal(await deletedCount('xdm_marketing_list_member', dyn.config.instanceId), 1);
    assert.equal(await deletedCount('xdm_person', dyn.config.instanceId), 1, 'the contact change tracking reported is not marked twice');
    for (const [name, s] of Object.entries(dynRun.streams)) if (name !== 'listmembers') assert.equal(s.marked, 0, `${name} lost nothing`);

    // The profiles lose the deleted records.
    await drainIdentityQueue(testDb());
    assert.equal(await inAnyProfile('person_profile', sfKey(sfContact)), false);
    assert.equal(await inAnyProfile('account_profile', sfKey(sfAccount)), false);
    assert.equal(await inAnyProfile('account_profile', company.record_key), false);

    // The instance view shows the reconciliations.
    const view = (await api.app.inject({ method: 'GET', url: `/v1/sources/marketo/${mk.config.instanceId}` })).json();
    assert.ok(view.recentReconciliations.some((r: { stream: string; markedDeleted: number; phase: string }) => r.stream === 'list-members' && r.markedDeleted === 1 && r.phase === 'done'));
  });

  test('a reconciliation that would delete most of a stream is held until it is forced', async () => {
    const mk = source('marketo');
    const mkSim = mk.simulator as MarketoSimulator;
    const members = await testDb()('xdm_marketing_list_member').where({ source_instance_id: mk.config.instanceId, is_deleted: false }).select('source_id', 'record_key');
    assert.ok(members.length >= 40, `${members.length} list members`);
    const gone = members.slice(0, Math.ceil(members.length * 0.6));
    mkSim.data.remove({ listMembers: gone.map((m: { source_id: string }) => { const [listId, leadId] = m.source_id.split('_').map(Number); return { listId: listId!, leadId: leadId! }; }) });

    const held = await reconcileNow(mk, { streams: ['list-members'] });
    assert.equal(held.status, 'held');
    assert.match(held.streams['list-members']!.notice ?? '', new RegExp(`no longer lists ${gone.length} of ${members.length} stored records`));
    assert.equal(await deleted('xdm_marketing_list_member', gone[0].record_key), false, 'nothing is marked while held');

    const forced = await reconcileNow(mk, { streams: ['list-members'], force: true });
    assert.equal(forced.status, 'completed');
    assert.equal(forced.streams['list-members']!.marked, gone.length);
    assert.equal(await deleted('xdm_marketing_list_member', gone[0].record_key), true);

    const refused = await api.app.inject({ method: 'POST', url: `/v1/sources/marketo/${mk.config.instanceId}/reconcile`, payload: { streams: ['leads'] } });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json().message, /no id-set reconciliation for 'leads'/);
  });
});
