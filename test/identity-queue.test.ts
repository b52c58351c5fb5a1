/**
 * The identity queue against Postgres: a record that cannot be resolved is set aside alone, with
 * its error, and the records queued around it are resolved. (Requeueing is per entity: in the
 * shared test database it would put back other files' set-aside rows while they run, so it is not
 * exercised here.)
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { enqueueRecords } from '../db/repositories/identity-queue';
import { inPgTransaction } from '../db/pg-transaction';
import { ingestRecords } from '../engine/ingest/ingest-records';
import { drainIdentityQueue } from '../engine/identity/resolver';
import { closeTestDb, eventually, testDb, uniqueInstance } from './support/env';

after(async () => { await closeTestDb(); });

const person = (instance: string, id: string) => ({
  b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: instance, sourceID: id } },
  workEmail: { address: `${id}@${instance}.example` },
  extSourceSystemAudit: { lastUpdatedDate: '2026-03-01T00:00:00Z' },
});

test('a record that fails to resolve is set aside alone with its error; the records around it resolve', async () => {
  const db = testDb();
  const inst = uniqueInstance('00D');
  await ingestRecords(db, XDM_CLASSES.person, [person(inst, 'before')]);
  const bogus = `bogus@${inst}`;
  const [badId] = await inPgTransaction(db, (conn) => enqueueRecords(conn, 'person', 'event', [bogus], 'test', 'stream'));
  await ingestRecords(db, XDM_CLASSES.person, [person(inst, 'after')]);

  await drainIdentityQueue(db);
  await eventually('the bad row to be set aside', async () => Boolean((await db('identity_queue').where({ id: badId }).first())?.failed_at));
  const bad = await db('identity_queue').where({ id: badId }).first();
  assert.match(bad.error, /event records are not resolved by the person resolver/);
  for (const id of ['before', 'after']) {
    await eventually(`${id} to resolve`, async () => Boolean(await db('identity_record').where({ node: `b2b_person:${id}@${inst}.Salesforce` }).first()));
  }
});
