import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { currentEmployer, detectJobChange, keepHistory, type AccountLink } from './job-change';

const link = (accountProfileId: string, via: AccountLink['via'], over: Partial<AccountLink> = {}): AccountLink => ({
  accountProfileId,
  via,
  role: null,
  isPrimary: false,
  isActive: true,
  startDate: null,
  endDate: null,
  ...over,
});

test('currentEmployer: the active direct link wins over any relation', () => {
  assert.equal(currentEmployer([link('acme', 'relation', { isPrimary: true }), link('globex', 'direct')]), 'globex');
});

test('currentEmployer: without an active direct link, the active primary relation', () => {
  const links = [
    link('old', 'direct', { isActive: false }),
    link('partner', 'relation'),
    link('acme', 'relation', { isPrimary: true }),
    link('deal', 'opportunity', { isPrimary: true }),
  ];
  assert.equal(currentEmployer(links), 'acme');
});

test('currentEmployer: null when only inactive links, non-primary relations, opportunities or inferred links exist', () => {
  assert.equal(currentEmployer([]), null);
  assert.equal(
    currentEmployer([
      link('a', 'direct', { isActive: false }),
      link('b', 'relation', { isPrimary: true, isActive: false }),
      link('c', 'relation'),
      link('d', 'opportunity', { isPrimary: true }),
      link('e', 'inferred', { isPrimary: true }),
    ]),
    null,
  );
});

test('currentEmployer: several candidates are settled deterministically (primary, latest start, smallest id)', () => {
  const a = link('a', 'direct', { startDate: '2020-01-01' });
  const b = link('b', 'direct', { startDate: '2023-01-01' });
  const c = link('c', 'direct', { startDate: '2019-01-01', isPrimary: true });
  const d = link('d', 'direct');
  assert.equal(currentEmployer([a, b, c, d]), 'c');
  assert.equal(currentEmployer([d, a, b]), 'b');
  assert.equal(currentEmployer([b, a, d]), 'b');
  assert.equal(currentEmployer([link('y', 'direct'), link('x', 'direct')]), 'x');
});

test('detectJobChange: a change only when both employers exist and differ', () => {
  assert.deepEqual(detectJobChange('acme', 'globex'), { fromAccountProfileId: 'acme', toAccountProfileId: 'globex' });
  assert.equal(detectJobChange('acme', 'acme'), null);
  assert.equal(detectJobChange(null, 'globex'), null, 'a first employer is not a change');
  assert.equal(detectJobChange('acme', null), null, 'losing the link says nothing about a new job');
  assert.equal(detectJobChange(null, null), null);
});

test('keepHistory: the old employer stays as history, inactive and ended on the day', () => {
  const previous = [link('acme', 'direct', { role: 'CTO', startDate: '2019-03-01' }), link('acme', 'opportunity', { role: 'Decision maker' })];
  const current = [link('globex', 'direct', { startDate: '2024-05-01' })];
  assert.deepEqual(keepHistory(previous, current, '2024-05-31'), [
    current[0],
    link('acme', 'direct', { role: 'CTO', startDate: '2019-03-01', isActive: false, endDate: '2024-05-31' }),
    link('acme', 'opportunity', { role: 'Decision maker', isActive: false, endDate: '2024-05-31' }),
  ]);
});

test('keepHistory: an end date already known is kept', () => {
  const previous = [link('initech', 'direct', { isActive: false, endDate: '2018-12-31' })];
  assert.deepEqual(keepHistory(previous, [], '2024-05-31'), [link('initech', 'direct', { isActive: false, endDate: '2018-12-31' })]);
});

test('keepHistory: accounts still linked are not duplicated from the previous links', () => {
  const previous = [link('acme', 'relation', { isPrimary: true }), link('acme', 'direct')];
  const current = [link('acme', 'relation', { isPrimary: false, role: 'Advisor' }), link('globex', 'direct')];
  assert.deepEqual(keepHistory(previous, current, '2024-05-31'), current, 'acme is still linked: its current links are the truth');
});

test('keepHistory: de-duplicated by (account, via); current wins, then the first listed', () => {
  const current = [link('globex', 'direct', { role: 'first' }), link('globex', 'direct', { role: 'second' }), link('globex', 'relation')];
  const previous = [link('acme', 'direct', { role: 'old-1' }), link('acme', 'direct', { role: 'old-2' })];
  const out = keepHistory(previous, current, '2024-05-31');
  assert.deepEqual(
    out.map((l) => [l.accountProfileId, l.via, l.role, l.isActive]),
    [
      ['globex', 'direct', 'first', true],
      ['globex', 'relation', null, true],
      ['acme', 'direct', 'old-1', false],
    ],
  );
});

test('keepHistory: does not modify its inputs, and refuses a date that is not ISO', () => {
  const previous = [link('acme', 'direct')];
  const snapshot = structuredClone(previous);
  keepHistory(previous, [], '2024-05-31');
  assert.deepEqual(previous, snapshot);
  assert.throws(() => keepHistory(previous, [], '31/05/2024'), /'on' must be an ISO date/);
});

const linkArb: fc.Arbitrary<AccountLink> = fc.record({
  accountProfileId: fc.constantFrom('a', 'b', 'c', 'd'),
  via: fc.constantFrom('direct' as const, 'relation' as const, 'opportunity' as const, 'inferred' as const),
  role: fc.option(fc.constantFrom('CTO', 'Buyer')),
  isPrimary: fc.boolean(),
  isActive: fc.boolean(),
  startDate: fc.option(fc.constantFrom('2020-01-01', '2022-06-30')),
  endDate: fc.option(fc.constantFrom('2021-01-01', '2023-01-01')),
});

test('property: currentEmployer does not depend on link order and names an active employer link', () => {
  fc.assert(
    fc.property(fc.array(linkArb, { maxLength: 8 }), (links) => {
      const employer = currentEmployer(links);
      assert.equal(currentEmployer([...links].reverse()), employer);
      if (employer === null) return;
      const hasDirect = links.some((l) => l.isActive && l.via === 'direct');
      assert.ok(links.some((l) => l.accountProfileId === employer && l.isActive && (hasDirect ? l.via === 'direct' : l.via === 'relation' && l.isPrimary)));
    }),
  );
});

test('property: keepHistory keeps every current link, loses no account, and has one link per (account, via)', () => {
  fc.assert(
    fc.property(fc.array(linkArb, { maxLength: 8 }), fc.array(linkArb, { maxLength: 8 }), (previous, current) => {
      const out = keepHistory(previous, current, '2024-05-31');
      const keys = out.map((l) => `${l.accountProfileId}/${l.via}`);
      assert.equal(new Set(keys).size, keys.length);
      for (const l of current) assert.ok(out.some((o) => o.accountProfileId === l.accountProfileId && o.via === l.via));
      const accounts = new Set(out.map((l) => l.accountProfileId));
      for (const l of previous) assert.ok(accounts.has(l.accountProfileId));
      const currentAccounts = new Set(current.map((l) => l.accountProfileId));
      for (const o of out) {
        if (currentAccounts.has(o.accountProfileId)) assert.ok(current.includes(o), 'accounts still linked keep their current links');
        else assert.ok(!o.isActive && o.endDate !== null, 'history is inactive and ended');
      }
    }),
  );
});
