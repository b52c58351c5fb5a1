import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { materialise, parseMergePolicy, type Fragment, type MergePolicy } from './merge-policy';

const frag = (recordKey: string, sourceInstanceId: string | null, updatedAt: string, record: Record<string, unknown>): Fragment => ({
  recordKey,
  sourceInstanceId,
  updatedAt,
  record,
});

const MOST_RECENT: MergePolicy = { kind: 'most-recent' };

test('most-recent: each attribute comes from the newest fragment that has it', () => {
  const crm = frag('crm-1', 'sfdc', '2024-03-01T10:00:00Z', { person: { name: { firstName: 'Ada', lastName: 'Lovelace' } }, title: 'CTO' });
  const mkto = frag('mkto-9', 'marketo', '2024-05-01T10:00:00Z', { person: { name: { firstName: 'Ada B.' } }, phone: '+441234567890' });
  const p = materialise([crm, mkto], MOST_RECENT);
  assert.deepEqual(p.attributes, { person: { name: { firstName: 'Ada B.', lastName: 'Lovelace' } }, phone: '+441234567890', title: 'CTO' });
  assert.deepEqual(p.provenance, {
    'person.name.firstName': { recordKey: 'mkto-9', updatedAt: '2024-05-01T10:00:00Z' },
    'person.name.lastName': { recordKey: 'crm-1', updatedAt: '2024-03-01T10:00:00Z' },
    phone: { recordKey: 'mkto-9', updatedAt: '2024-05-01T10:00:00Z' },
    title: { recordKey: 'crm-1', updatedAt: '2024-03-01T10:00:00Z' },
  });
});

test('null, undefined and empty strings never win: a fragment without a value does not erase one', () => {
  const older = frag('a', null, '2024-01-01T00:00:00Z', { title: 'CTO', phone: '+1', tags: ['x'], address: { city: 'Paris' } });
  const newer = frag('b', null, '2024-06-01T00:00:00Z', { title: '', phone: null, tags: undefined, address: { city: null } });
  const p = materialise([newer, older], MOST_RECENT);
  assert.deepEqual(p.attributes, { title: 'CTO', phone: '+1', tags: ['x'], address: { city: 'Paris' } });
  assert.ok(Object.values(p.provenance).every((v) => v.recordKey === 'a'));
});

test('arrays, numbers and booleans are leaves: the winner replaces them whole', () => {
  const older = frag('a', null, '2024-01-01T00:00:00Z', { emails: ['a@x.com', 'b@x.com'], score: 10, optIn: true });
  const newer = frag('b', null, '2024-02-01T00:00:00Z', { emails: ['c@x.com'], score: 0, optIn: false });
  const p = materialise([older, newer], MOST_RECENT);
  assert.deepEqual(p.attributes, { emails: ['c@x.com'], score: 0, optIn: false });
  assert.deepEqual(Object.keys(p.provenance).sort(), ['emails', 'optIn', 'score']);
});

test('source-priority: the first listed instance that has the attribute wins, then unlisted ones, most recent first', () => {
  const policy: MergePolicy = { kind: 'source-priority', instances: ['sfdc', 'marketo'] };
  const sfdc = frag('s', 'sfdc', '2020-01-01T00:00:00Z', { title: 'CTO' });
  const marketo = frag('m', 'marketo', '2024-01-01T00:00:00Z', { title: 'VP', phone: '+2' });
  const csvOld = frag('c1', 'csv', '2023-01-01T00:00:00Z', { phone: '+3', city: 'Lyon' });
  const csvNew = frag('c2', null, '2025-01-01T00:00:00Z', { city: 'Nice', country: 'FR' });
  const p = materialise([csvNew, csvOld, marketo, sfdc], policy);
  assert.deepEqual(p.attributes, { title: 'CTO', phone: '+2', city: 'Nice', country: 'FR' });
  assert.equal(p.provenance.title?.recordKey, 's');
  assert.equal(p.provenance.phone?.recordKey, 'm');
  assert.equal(p.provenance.city?.recordKey, 'c2');
});

test('ties on time (and priority) go to the smallest record key, whatever the input order', () => {
  const t = '2024-01-01T00:00:00Z';
  const a = frag('key-a', null, t, { title: 'A' });
  const b = frag('key-b', null, t, { title: 'B' });
  assert.equal(materialise([a, b], MOST_RECENT).attributes.title, 'A');
  assert.equal(materialise([b, a], MOST_RECENT).attributes.title, 'A');
  // The same instant written differently is a tie too.
  const c = frag('key-0', null, '2024-01-01T01:00:00+01:00', { title: 'C' });
  assert.equal(materialise([a, b, c], MOST_RECENT).attributes.title, 'C');
});

test('timestamps compare as instants, to the microsecond; no offset means UTC', () => {
  const a = frag('a', null, '2024-01-01T12:00:00.123456Z', { v: 'a' });
  const b = frag('b', null, '2024-01-01T12:00:00.123457Z', { v: 'b' });
  assert.equal(materialise([a, b], MOST_RECENT).attributes.v, 'b');
  const offset = frag('a', null, '2024-01-01T12:00:00+02:00', { v: 'offset' }); // 10:00Z
  const local = frag('b', null, '2024-01-01T11:00:00', { v: 'no offset' }); // 11:00Z
  assert.equal(materialise([offset, local], MOST_RECENT).attributes.v, 'no offset');
  const broken = frag('0', null, 'yesterday', { v: 'broken' });
  assert.equal(materialise([broken, a], MOST_RECENT).attributes.v, 'a', 'an unreadable time ranks as oldest');
});

test('excluded attributes are left out, as top-level keys or dot paths; objects left empty disappear', () => {
  const f = frag('a', null, '2024-01-01T00:00:00Z', {
    _id: 'x',
    extSourceSystemAudit: { createdDate: '2024-01-01' },
    b2b: { personKey: { sourceKey: 'k' }, accountKey: { sourceKey: 'acc' } },
    meta: { only: null },
    title: 'CTO',
  });
  const p = materialise([f], MOST_RECENT, new Set(['_id', 'extSourceSystemAudit', 'b2b.personKey']));
  assert.deepEqual(p.attributes, { b2b: { accountKey: { sourceKey: 'acc' } }, title: 'CTO' });
  assert.deepEqual(Object.keys(p.provenance).sort(), ['b2b.accountKey.sourceKey', 'title']);
});

test('when fragments disagree on shape, the winning fragment decides leaf or object', () => {
  const leaf = frag('a', null, '2024-02-01T00:00:00Z', { address: 'Rue de la Paix, Paris' });
  const object = frag('b', null, '2024-01-01T00:00:00Z', { address: { city: 'Paris' } });
  assert.deepEqual(materialise([leaf, object], MOST_RECENT).attributes, { address: 'Rue de la Paix, Paris' });
  const newerObject = frag('c', null, '2024-03-01T00:00:00Z', { address: { street: 'Rue' } });
  const p = materialise([leaf, object, newerObject], MOST_RECENT);
  assert.deepEqual(p.attributes, { address: { street: 'Rue', city: 'Paris' } });
  assert.deepEqual(Object.keys(p.provenance).sort(), ['address.city', 'address.street']);
});

test('no fragments make an empty profile; a key called __proto__ is data, not a prototype', () => {
  assert.deepEqual(materialise([], MOST_RECENT), { attributes: {}, provenance: {} });
  const f = frag('a', null, '2024-01-01T00:00:00Z', JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}'));
  const p = materialise([f], MOST_RECENT);
  assert.equal(Object.getPrototypeOf(p.attributes), Object.prototype);
  assert.deepEqual(Object.keys(p.attributes).sort(), ['__proto__', 'ok']);
  assert.ok(Object.hasOwn(p.provenance, '__proto__.polluted'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// --- properties -------------------------------------------------------------------------------

const KEYS = ['a', 'b', 'c', 'd'];
const leaf = fc.oneof(
  fc.constantFrom(null, undefined, ''),
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -2, max: 2 }),
  fc.boolean(),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }),
);
const { value: recordArb } = fc.letrec<{ value: Record<string, unknown> }>((tie) => ({
  value: fc.dictionary(fc.constantFrom(...KEYS), fc.oneof({ maxDepth: 3 }, leaf, tie('value')), { maxKeys: 4 }),
}));
const fragmentArb = fc.record({
  recordKey: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5'),
  sourceInstanceId: fc.constantFrom(null, 'i1', 'i2', 'i3'),
  updatedAt: fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T01:00:00+01:00', '2024-01-02T00:00:00Z', '2024-01-02T00:00:00.000001Z', 'not a date'),
  record: recordArb,
});
const policyArb: fc.Arbitrary<MergePolicy> = fc.oneof(
  fc.constant({ kind: 'most-recent' as const }),
  fc.uniqueArray(fc.constantFrom('i1', 'i2', 'i3', 'i9'), { minLength: 1 }).map((instances) => ({ kind: 'source-priority' as const, instances })),
);
const excludeArb = fc.uniqueArray(fc.constantFrom('a', 'b.c', 'c.a.b', 'd.d'), { maxLength: 2 }).map((xs) => new Set(xs));

function valueAt(record: unknown, path: string): unknown {
  let node = record;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

test('property: shuffling the fragments gives the identical profile', () => {
  fc.assert(
    fc.property(fc.array(fragmentArb, { maxLength: 6 }), policyArb, excludeArb, fc.integer(), (fragments, policy, exclude, seed) => {
      const shuffled = fragments
        .map((f, i) => ({ f, k: (i * 7919 + seed) % 11 }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.f);
      const a = materialise(fragments, policy, exclude);
      const b = materialise([...shuffled].reverse(), policy, exclude);
      assert.deepEqual(b, a);
      assert.equal(JSON.stringify(b), JSON.stringify(a), 'same key order too');
    }),
    { numRuns: 500 },
  );
});

test('property: every provenance entry names a fragment that has that value at that path', () => {
  fc.assert(
    fc.property(fc.array(fragmentArb, { maxLength: 6 }), policyArb, excludeArb, (fragments, policy, exclude) => {
      const p = materialise(fragments, policy, exclude);
      for (const [path, source] of Object.entries(p.provenance)) {
        const value = valueAt(p.attributes, path);
        assert.ok(value !== undefined && value !== null && value !== '', `${path} has a value`);
        assert.ok(
          fragments.some((f) => f.recordKey === source.recordKey && f.updatedAt === source.updatedAt && Object.is(valueAt(f.record, path), value)),
          `${path} really comes from ${source.recordKey}`,
        );
        assert.ok(![...exclude].some((x) => path === x || path.startsWith(`${x}.`)), `${path} is not excluded`);
      }
    }),
    { numRuns: 500 },
  );
});

/** The record without excluded attributes, empty leaves, and objects left empty. */
function expectedAlone(value: unknown, path: string, exclude: ReadonlySet<string>): unknown {
  if ((path && exclude.has(path)) || value === null || value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const kept = expectedAlone(v, path ? `${path}.${k}` : k, exclude);
    if (kept !== undefined) out[k] = kept;
  }
  return Object.keys(out).length ? out : undefined;
}

test('property: with one fragment the profile is the record minus excluded and empty attributes', () => {
  fc.assert(
    fc.property(fragmentArb, policyArb, excludeArb, (fragment, policy, exclude) => {
      const p = materialise([fragment], policy, exclude);
      assert.deepEqual(p.attributes, expectedAlone(fragment.record, '', exclude) ?? {});
      assert.ok(Object.values(p.provenance).every((v) => v.recordKey === fragment.recordKey));
    }),
    { numRuns: 500 },
  );
});

test('parseMergePolicy accepts both kinds and copies the list', () => {
  assert.deepEqual(parseMergePolicy({ kind: 'most-recent' }), { kind: 'most-recent' });
  const instances = ['sfdc-prod', 'marketo'];
  const parsed = parseMergePolicy({ kind: 'source-priority', instances });
  assert.deepEqual(parsed, { kind: 'source-priority', instances: ['sfdc-prod', 'marketo'] });
  instances.push('later');
  assert.deepEqual(parsed, { kind: 'source-priority', instances: ['sfdc-prod', 'marketo'] });
});

test('parseMergePolicy says what is wrong', () => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /must be an object/],
    [['most-recent'], /must be an object/],
    ['most-recent', /must be an object/],
    [{}, /got no kind/],
    [{ kind: 'newest' }, /'most-recent' or 'source-priority' \(got kind "newest"\)/],
    [{ kind: 'source-priority' }, /needs 'instances'/],
    [{ kind: 'source-priority', instances: [] }, /non-empty list/],
    [{ kind: 'source-priority', instances: 'sfdc' }, /needs 'instances'/],
    [{ kind: 'source-priority', instances: ['sfdc', 3] }, /instances\[1\] must be a source instance id/],
    [{ kind: 'source-priority', instances: ['sfdc', ' '] }, /instances\[1\]/],
    [{ kind: 'source-priority', instances: ['sfdc', 'sfdc'] }, /'sfdc' is listed twice/],
    [{ kind: 'most-recent', instances: ['sfdc'] }, /unknown field 'instances' in a 'most-recent' merge policy/],
    [{ kind: 'source-priority', instances: ['a'], instance: 'b' }, /unknown field 'instance'/],
  ];
  for (const [input, message] of bad) assert.throws(() => parseMergePolicy(input), message, JSON.stringify(input));
});
