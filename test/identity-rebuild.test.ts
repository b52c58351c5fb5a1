/**
 * The full recompute's own machinery, against Postgres: the narrow read selects exactly what
 * extraction would read from the record JSON, and the shadow tables swapped in carry the live
 * tables' indexes and constraints under their names.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { identityFieldPath, pathStrings, valuesAt } from '../domain/identity/extract';
import { rebuildIdentityGraph } from '../engine/identity/rebuild';
import { closeTestDb, testDb } from './support/env';

after(async () => { await closeTestDb(); });

const FIELDS = ['workEmail.address', 'identityMap.Email', 'identityMap.ECID', 'a.b.c', 'a', 'extSourceSystemAudit.externalKey.sourceKey'];
const key = fc.constantFrom('workEmail', 'address', 'identityMap', 'Email', 'ECID', 'id', 'a', 'b', 'c', 'extSourceSystemAudit', 'externalKey', 'sourceKey');
const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 3 }),
  object: fc.dictionary(key, tie('node'), { maxKeys: 3 }),
})).node;
const record = fc.dictionary(key, value, { maxKeys: 4 });

test('the SQL/JSON paths of a recompute read the same identity values as extraction reads from the JSON', async () => {
  const db = testDb();
  const paths = FIELDS.map(identityFieldPath);
  await fc.assert(
    fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 40 }), async (records) => {
      const { rows } = await db.raw(
        `SELECT ordinality, ${paths.map((_, i) => `jsonb_path_query_array(r, ?::jsonpath, '{}', true) AS v${i}`).join(', ')}
           FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS t(r, ordinality) ORDER BY ordinality`,
        [...paths.map((p) => p.path), JSON.stringify(records)],
      );
      rows.forEach((row: Record<string, unknown>, r: number) => {
        FIELDS.forEach((field, i) => assert.deepEqual(pathStrings(row[`v${i}`], paths[i]!.flatten), valuesAt(records[r]!, field), `${field} of ${JSON.stringify(records[r])}`));
      });
    }),
    { numRuns: 60 },
  );
});

test('the graph and profile tables swapped in by a rebuild keep the indexes and constraints of the live ones', async () => {
  const db = testDb();
  const tables = ['identity_record', 'identity_link', 'person_profile', 'account_profile', 'profile_account_link'];
  const catalogue = async () => ({
    indexes: (await db.raw(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(?) ORDER BY 2`, [tables])).rows,
    constraints: (await db.raw(`SELECT conrelid::regclass::text AS t, conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid::regclass::text = ANY(?) ORDER BY 2`, [tables])).rows,
    leftovers: (await db.raw(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE '%\\_next'`)).rows,
  });
  const before = await catalogue();
  assert.ok(before.indexes.length >= 8 && before.constraints.length >= 5);
  await rebuildIdentityGraph(db, { actor: 'test' });
  assert.deepEqual(await catalogue(), before);
});
