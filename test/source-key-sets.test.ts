/**
 * Key sets: the distinct values stored from one instance at one record path, kept up to date from
 * what landed since the last refresh, paged through an index, with the values whose records changed
 * since a given instant — what Marketo's key-only streams walk instead of every stored record.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { keySetPage, refreshKeySet, type KeySetRef } from '../db/repositories/source-key-sets';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { closeTemporal, closeTestDb, testDb, uniqueInstance } from './support/env';
import { testApi } from './support/api';

let api: Awaited<ReturnType<typeof testApi>>;
before(async () => {
  api = await testApi();
});
after(async () => {
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

const lead = (instance: string, id: string, company: string, updated: string) => ({
  b2b: { personKey: { sourceType: 'Marketo', sourceInstanceID: instance, sourceID: id }, accountID: company },
  extSourceSystemAudit: { lastUpdatedDate: updated },
  workEmail: { address: `${id}@${instance.toLowerCase()}.example` },
});

async function ingest(records: unknown[]): Promise<void> {
  const res = await api.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: records });
  assert.equal(res.statusCode, 200, res.body);
}

async function walk(ref: KeySetRef, only: { changedSince?: string; suffix?: string } = {}, pageSize = 2): Promise<string[]> {
  const out: string[] = [];
  for (let after: string | null = null; ;) {
    if (after === null) await refreshKeySet(testDb(), ref);
    const page = await keySetPage(testDb(), ref, after, pageSize, only);
    out.push(...page);
    if (page.length < pageSize) return out;
    after = page[page.length - 1]!;
  }
}

test('a key set holds each distinct value once, in order, and pages through it', async () => {
  const inst = uniqueInstance('KS');
  await ingest([lead(inst, '1', 'c3', '2026-01-01T00:00:00Z'), lead(inst, '2', 'c1', '2026-01-01T00:00:00Z'), lead(inst, '3', 'c3', '2026-01-01T00:00:00Z'), lead(inst, '4', 'c2.mkto_org', '2026-01-01T00:00:00Z')]);
  await ingest([lead(uniqueInstance('KS'), '1', 'other-instance', '2026-01-01T00:00:00Z')]);
  const ref: KeySetRef = { sourceType: 'marketo', instanceId: inst, recordSourceType: 'Marketo', spec: XDM_CLASSES.person, path: ['b2b', 'accountID'] };
  assert.deepEqual(await walk(ref), ['c1', 'c2.mkto_org', 'c3']);
  assert.deepEqual(await walk(ref, { suffix: '.mkto_org' }), ['c2.mkto_org']);
});

test('after a refresh, only the values of records stored since an instant are "changed"; new values join the set', async () => {
  const inst = uniqueInstance('KS');
  const ref: KeySetRef = { sourceType: 'marketo', instanceId: inst, recordSourceType: 'Marketo', spec: XDM_CLASSES.person, path: ['b2b', 'accountID'] };
  await ingest([lead(inst, '1', 'a', '2026-01-01T00:00:00Z'), lead(inst, '2', 'b', '2026-01-01T00:00:00Z'), lead(inst, '3', 'c', '2026-01-01T00:00:00Z')]);
  assert.deepEqual(await walk(ref), ['a', 'b', 'c']);
  await new Promise((r) => setTimeout(r, 20));
  const since = new Date().toISOString();
  // Lead 2 changes (still at b), lead 4 is new (at d); lead 1 is sent again unchanged.
  await ingest([lead(inst, '2', 'b', '2026-02-01T00:00:00Z'), lead(inst, '4', 'd', '2026-02-01T00:00:00Z'), lead(inst, '1', 'a', '2026-01-01T00:00:00Z')]);
  assert.deepEqual(await walk(ref, { changedSince: since }), ['b', 'd']);
  assert.deepEqual(await walk(ref), ['a', 'b', 'c', 'd']);
  // A lead that moves to another company brings that company in as changed.
  const since2 = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await ingest([lead(inst, '3', 'e', '2026-03-01T00:00:00Z')]);
  assert.deepEqual(await walk(ref, { changedSince: since2 }), ['e']);
  assert.deepEqual(await walk(ref), ['a', 'b', 'c', 'd', 'e'], 'a value no record carries any more stays (the source is asked and answers nothing)');
});
