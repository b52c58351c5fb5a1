import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { IdentityGraph, resolveAll, type EvidenceChange, type LinkingRules } from './resolve';

const RULES: LinkingRules = {
  namespaces: {
    rec: { unique: false, priority: 10 },
    crm: { unique: true, priority: 8 },
    email: { unique: false, priority: 5 },
    duns: { unique: true, priority: 4 },
    phone: { unique: false, priority: 1 },
  },
  maxClusterSize: 5,
  doNotLink: [],
};

const record = fc.integer({ min: 0, max: 7 }).map((i) => `rec:r${i}`);
const identity = fc.oneof(
  fc.integer({ min: 0, max: 4 }).map((i) => `email:e${i}`),
  fc.integer({ min: 0, max: 3 }).map((i) => `crm:c${i}`),
  fc.integer({ min: 0, max: 2 }).map((i) => `duns:d${i}`),
  fc.integer({ min: 0, max: 2 }).map((i) => `phone:p${i}`),
  record,
);
const change: fc.Arbitrary<Omit<EvidenceChange, 'seq'> & { kind: string }> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      { kind: fc.constant('observe' as const), record, identities: fc.uniqueArray(identity, { maxLength: 4 }), scope: fc.constantFrom('s1', 's2', 's3') },
      { requiredKeys: ['kind', 'record', 'identities'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), record }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('do-not-link' as const), pair: fc.tuple(identity, identity) }) },
);

function withSeq(changes: Array<Record<string, unknown>>): EvidenceChange[] {
  return changes.map((c, i) => (c.kind === 'observe' ? { ...c, seq: i + 1 } : c) as EvidenceChange);
}

test('incremental resolution equals a full recompute after every change, and reports exactly what moved', () => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 40 }), (raw) => {
      const graph = new IdentityGraph(RULES);
      for (const c of withSeq(raw)) {
        const before = resolveAll(graph.evidence(), graph.currentRules()).clusterOf;
        const moved = graph.apply(c);
        const full = resolveAll(graph.evidence(), graph.currentRules());
        assert.deepEqual(graph.resolution(), full);
        const expected = new Map<string, { from?: string; to?: string }>();
        for (const k of new Set([...before.keys(), ...full.clusterOf.keys()])) {
          const from = before.get(k);
          const to = full.clusterOf.get(k);
          if (from !== to) expected.set(k, { from, to });
        }
        assert.deepEqual(moved, expected);
      }
    }),
    { numRuns: 300 },
  );
});

test('a full recompute does not depend on the order the evidence is listed in', () => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 30 }), fc.integer(), (raw, seed) => {
      const graph = new IdentityGraph(RULES);
      for (const c of withSeq(raw)) graph.apply(c);
      const ev = graph.evidence();
      const shuffled = [...ev.links].sort((a, b) => ((a.seq * 7919 + seed) % 13) - ((b.seq * 7919 + seed) % 13));
      assert.deepEqual(resolveAll({ ...ev, links: shuffled }, graph.currentRules()), resolveAll(ev, graph.currentRules()));
    }),
  );
});

test('rules are never broken: unique namespaces, the cap, do-not-link', () => {
  fc.assert(
    fc.property(fc.array(change, { maxLength: 40 }), (raw) => {
      const graph = new IdentityGraph(RULES);
      for (const c of withSeq(raw)) graph.apply(c);
      const { clusterOf } = graph.resolution();
      const members = new Map<string, string[]>();
      for (const [k, c] of clusterOf) members.set(c, [...(members.get(c) ?? []), k]);
      for (const [id, ms] of members) {
        assert.ok(ms.length <= RULES.maxClusterSize, `cluster ${id} has ${ms.length} identities`);
        assert.ok(ms.includes(id), 'a cluster is named after one of its members');
        for (const ns of ['crm', 'duns']) assert.ok(ms.filter((m) => m.startsWith(`${ns}:`)).length <= 1, `one ${ns} per cluster`);
        const scopes = ms.flatMap((m) => (graph.evidence().scopes?.has(m) ? [graph.evidence().scopes!.get(m)!] : []));
        assert.equal(new Set(scopes).size, scopes.length, 'one record of each scope per cluster');
      }
      for (const [a, b] of graph.currentRules().doNotLink) {
        if (a !== b && clusterOf.has(a) && clusterOf.has(b)) assert.notEqual(clusterOf.get(a), clusterOf.get(b), `${a} / ${b} kept apart`);
      }
    }),
  );
});

test('two CRM ids sharing an email stay two profiles; the refused link names the rule', () => {
  const g = new IdentityGraph(RULES);
  g.apply({ kind: 'observe', record: 'rec:r1', seq: 1, identities: ['crm:A', 'email:ada'] });
  g.apply({ kind: 'observe', record: 'rec:r2', seq: 2, identities: ['crm:B', 'email:ada'] });
  const r = g.resolution();
  assert.equal(r.clusterOf.get('rec:r1'), 'rec:r1');
  assert.equal(r.clusterOf.get('rec:r2'), 'rec:r2');
  const refused = r.decisions.find((d) => d.outcome === 'rejected');
  assert.deepEqual(refused, { link: { record: 'rec:r2', identity: 'email:ada', seq: 2 }, outcome: 'rejected', rule: 'unique:crm' });
});

test('when a source drops the identifier that joined two records, they split; the older half keeps the id', () => {
  const g = new IdentityGraph(RULES);
  g.apply({ kind: 'observe', record: 'rec:r1', seq: 1, identities: ['email:ada'] });
  g.apply({ kind: 'observe', record: 'rec:r2', seq: 2, identities: ['email:ada', 'phone:p'] });
  assert.equal(g.resolution().clusterOf.get('rec:r2'), 'rec:r1', 'merged under the older record');
  const moved = g.apply({ kind: 'observe', record: 'rec:r2', seq: 3, identities: ['phone:p'] });
  const r = g.resolution();
  assert.equal(r.clusterOf.get('rec:r1'), 'rec:r1');
  assert.equal(r.clusterOf.get('rec:r2'), 'rec:r2');
  assert.equal(r.clusterOf.get('phone:p'), 'rec:r2');
  assert.deepEqual([...moved.keys()].sort(), ['phone:p', 'rec:r2']);
});

test('do-not-link splits a cluster and survives later evidence', () => {
  const g = new IdentityGraph(RULES);
  g.apply({ kind: 'observe', record: 'rec:r1', seq: 1, identities: ['email:shared'] });
  g.apply({ kind: 'observe', record: 'rec:r2', seq: 2, identities: ['email:shared'] });
  g.apply({ kind: 'do-not-link', pair: ['rec:r1', 'rec:r2'] });
  g.apply({ kind: 'observe', record: 'rec:r2', seq: 4, identities: ['email:shared', 'phone:p'] });
  g.apply({ kind: 'observe', record: 'rec:r1', seq: 5, identities: ['email:shared', 'phone:p'] });
  const r = g.resolution();
  assert.notEqual(r.clusterOf.get('rec:r1'), r.clusterOf.get('rec:r2'));
  assert.ok(r.decisions.some((d) => d.outcome === 'rejected' && d.rule === 'do-not-link'));
});

test('a cluster stops growing at the cap; the link that would pass it is refused', () => {
  const g = new IdentityGraph({ ...RULES, maxClusterSize: 3 });
  for (let i = 1; i <= 4; i++) g.apply({ kind: 'observe', record: `rec:r${i}`, seq: i, identities: ['email:all'] });
  const r = g.resolution();
  assert.equal(r.clusterOf.get('rec:r2'), 'rec:r1');
  assert.equal(r.clusterOf.get('rec:r3'), 'rec:r3');
  assert.ok(r.decisions.some((d) => d.rule === 'cluster-cap' && d.link.record === 'rec:r3'));
});

test('two records of one scope sharing an email stay apart (a recycled mailbox); other scopes join', () => {
  const g = new IdentityGraph(RULES);
  g.apply({ kind: 'observe', record: 'rec:leaver', seq: 1, identities: ['email:jo@acme.com'], scope: 'org|acme' });
  g.apply({ kind: 'observe', record: 'rec:new-hire', seq: 2, identities: ['email:jo@acme.com'], scope: 'org|acme' });
  g.apply({ kind: 'observe', record: 'rec:at-subsidiary', seq: 3, identities: ['email:jo@acme.com'], scope: 'org|acme-labs' });
  const r = g.resolution();
  assert.notEqual(r.clusterOf.get('rec:leaver'), r.clusterOf.get('rec:new-hire'));
  assert.equal(r.clusterOf.get('rec:at-subsidiary'), r.clusterOf.get('rec:leaver'));
  assert.ok(r.decisions.some((d) => d.rule === 'record-scope' && d.link.record === 'rec:new-hire'));
});

test('an explicit cross-reference joins two records of one scope (a converted lead and its contact); email still does not', () => {
  const g = new IdentityGraph({ ...RULES, scopeExempt: new Set(['rec']) });
  g.apply({ kind: 'observe', record: 'rec:contact', seq: 1, identities: ['email:jo@acme.com'], scope: 'org|acme' });
  g.apply({ kind: 'observe', record: 'rec:lead', seq: 2, identities: ['rec:contact', 'email:jo@acme.com'], scope: 'org|acme' });
  g.apply({ kind: 'observe', record: 'rec:new-hire', seq: 3, identities: ['email:jo@acme.com'], scope: 'org|acme' });
  const r = g.resolution();
  assert.equal(r.clusterOf.get('rec:lead'), r.clusterOf.get('rec:contact'));
  assert.notEqual(r.clusterOf.get('rec:new-hire'), r.clusterOf.get('rec:contact'));
});
