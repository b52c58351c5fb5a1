import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { evidenceComponentIds, resolveAll, type Evidence, type LinkingRules } from './resolve';
import { componentIdsIndexed, resolutionOf, resolveIndexed, tableOf } from './resolve-indexed';

const NAMESPACES: LinkingRules['namespaces'] = {
  rec: { unique: false, priority: 10 },
  crm: { unique: true, priority: 8 },
  email: { unique: false, priority: 5 },
  duns: { unique: true, priority: 5 },
  phone: { unique: false, priority: 1 },
};

const recordKey = fc.integer({ min: 0, max: 9 }).map((i) => `rec:r${i}`);
const identityKey = fc.oneof(
  fc.integer({ min: 0, max: 5 }).map((i) => `email:e${i}`),
  fc.integer({ min: 0, max: 3 }).map((i) => `crm:c${i}`),
  fc.integer({ min: 0, max: 2 }).map((i) => `duns:d${i}`),
  fc.integer({ min: 0, max: 2 }).map((i) => `phone:p${i}`),
  fc.integer({ min: 0, max: 2 }).map((i) => `other:o${i}`),
  recordKey,
);

/** Evidence as the stores hold it: each record once, links unique per (record, identity), sequences with ties. */
const evidence: fc.Arbitrary<Evidence> = fc
  .uniqueArray(
    fc.record({ key: recordKey, seq: fc.integer({ min: 1, max: 6 }), scope: fc.option(fc.constantFrom('s1', 's2', 's3'), { nil: undefined }), identities: fc.uniqueArray(fc.tuple(identityKey, fc.integer({ min: 1, max: 8 })), { maxLength: 4, selector: ([k]) => k }) }),
    { maxLength: 10, selector: (r) => r.key },
  )
  .map((records) => ({
    records: new Map(records.map((r) => [r.key, r.seq])),
    scopes: new Map(records.flatMap((r) => (r.scope ? [[r.key, r.scope] as const] : []))),
    links: records.flatMap((r) => r.identities.filter(([k]) => k !== r.key).map(([identity, seq]) => ({ record: r.key, identity, seq: Math.max(seq, 1) }))),
  }));

const rules: fc.Arbitrary<LinkingRules> = fc.record({
  namespaces: fc.constant(NAMESPACES),
  maxClusterSize: fc.integer({ min: 2, max: 12 }),
  doNotLink: fc.array(fc.tuple(identityKey, identityKey), { maxLength: 3 }),
  scopeExempt: fc.constantFrom(new Set<string>(), new Set(['rec'])),
});

test('the indexed full resolution equals resolveAll, decision for decision', () => {
  fc.assert(
    fc.property(evidence, rules, (ev, r) => {
      const table = tableOf(ev);
      assert.deepEqual(resolutionOf(table, resolveIndexed(table, r)), resolveAll(ev, r));
    }),
    { numRuns: 2_000 },
  );
});

test('the indexed resolution does not depend on the order records and links arrive in', () => {
  fc.assert(
    fc.property(evidence, rules, fc.integer(), (ev, r, seed) => {
      const shuffled: Evidence = { ...ev, records: new Map([...ev.records].reverse()), links: [...ev.links].sort((a, b) => ((a.identity.length * 31 + seed) % 7) - ((b.identity.length * 31 + seed) % 7)) };
      const a = tableOf(ev);
      const b = tableOf(shuffled);
      assert.deepEqual(resolutionOf(b, resolveIndexed(b, r)), resolutionOf(a, resolveIndexed(a, r)));
    }),
    { numRuns: 500 },
  );
});

test('component ids: the earliest record of each evidence component, the same from strings and from the table', () => {
  fc.assert(
    fc.property(evidence, (ev) => {
      const byKey = evidenceComponentIds(ev.records, ev.links);
      const table = tableOf(ev);
      const ids = componentIdsIndexed(table);
      const indexed = new Map<string, number>();
      table.keys.forEach((k, i) => {
        if (!Number.isNaN(ids[i]!)) indexed.set(k, ids[i]!);
      });
      assert.deepEqual(indexed, byKey);
      // Two nodes share an id exactly when a path of links joins them.
      for (const l of ev.links) assert.equal(byKey.get(l.record), byKey.get(l.identity));
      for (const [k, seq] of ev.records) assert.ok(byKey.get(k)! <= seq);
    }),
    { numRuns: 1_000 },
  );
});
