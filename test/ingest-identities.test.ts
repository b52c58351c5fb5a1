/**
 * Identities extracted at ingest: the write stores each person's identities and refused values
 * (shown by the record API), the resolver resolves from what was stored — not from the record's
 * JSON — and a record stored under an older identity configuration is re-extracted from its JSON.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enqueueRecords } from '../db/repositories/identity-queue';
import { inPgTransaction } from '../db/pg-transaction';
import { closeTemporal, closeTestDb, eventually, testDb, uniqueInstance } from './support/env';
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

const person = (instance: string, id: string, fields: Record<string, unknown>) => ({
  b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: instance, sourceID: id } },
  extSourceSystemAudit: { lastUpdatedDate: '2026-03-01T00:00:00Z' },
  ...fields,
});

async function linksOf(node: string): Promise<string[]> {
  return (await testDb()('identity_link').where({ node }).orderBy('identity').select('identity')).map((r: { identity: string }) => r.identity);
}

test('a stored person carries its identities and the values refused with the reason, as the record API shows', async () => {
  const inst = uniqueInstance('00D');
  const res = await api.app.inject({
    method: 'POST',
    url: '/v1/ingest/person',
    payload: person(inst, 'ada', { workEmail: { address: `info@${inst}.example` }, personalEmail: { address: `Ada@${inst}.example` }, mobilePhone: { number: 'call me' } }),
  });
  assert.equal(res.statusCode, 200, res.body);
  const key = `ada@${inst}.Salesforce`;
  const rec = (await api.app.inject({ method: 'GET', url: `/v1/records/person/${encodeURIComponent(key)}` })).json();
  assert.deepEqual(rec.identities.values, [{ identity: `email:ada@${inst.toLowerCase()}.example`, field: 'personalEmail.address' }]);
  const refused = new Map(rec.identities.refused.map((r: { field: string; reason: string }) => [r.field, r.reason]));
  assert.match(String(refused.get('workEmail.address')), /role mailbox/);
  assert.ok(refused.has('mobilePhone.number'), JSON.stringify(rec.identities.refused));
  assert.deepEqual(await linksOf(`b2b_person:${key}`), [`email:ada@${inst.toLowerCase()}.example`]);
});

test('the resolver resolves from the identities stored at ingest; under a newer identity configuration it re-extracts from the record', async () => {
  const db = testDb();
  const inst = uniqueInstance('00D');
  const email = (local: string) => `email:${local}@${inst.toLowerCase()}.example`;
  const res = await api.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: person(inst, 'bo', { workEmail: { address: `bo@${inst}.example` } }) });
  assert.equal(res.statusCode, 200, res.body);
  const key = `bo@${inst}.Salesforce`;
  const node = `b2b_person:${key}`;
  assert.deepEqual(await linksOf(node), [email('bo')]);

  // What ingest stored is what the resolver reads: change only the stored identities and requeue.
  await db('xdm_person').where({ record_key: key }).update({ identities: [email('stored')], identity_fields: ['workEmail.address'] });
  await inPgTransaction(db, (conn) => enqueueRecords(conn, 'person', 'person', [key], 'test', 'stream'));
  await eventually('the stored identities to be resolved', async () => (await linksOf(node)).join() === email('stored'));

  // A configuration change (here: only its version) makes the stored identities stale: the record's JSON is read again.
  await db('identity_setting').where({ key: 'version' }).update({ value: db.raw(`to_jsonb((value #>> '{}')::bigint + 1)`) });
  await inPgTransaction(db, (conn) => enqueueRecords(conn, 'person', 'person', [key], 'test', 'stream'));
  await eventually('the record to be re-extracted from its JSON', async () => (await linksOf(node)).join() === email('bo'));
});
