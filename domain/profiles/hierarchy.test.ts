import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { resolveHierarchy, type HierarchyNode } from './hierarchy';

const plain = (n: HierarchyNode | undefined) => n && { ...n };

test('a tree: ultimate parent, depth and path of every account', () => {
  const r = resolveHierarchy(new Map([['group', null], ['emea', 'group'], ['france', 'emea'], ['us', 'group']]));
  assert.deepEqual(r.cycles, []);
  assert.deepEqual(plain(r.nodes.get('group')), { parentId: null, ultimateParentId: 'group', depth: 0, path: ['group'], inCycle: false });
  assert.deepEqual(plain(r.nodes.get('france')), { parentId: 'emea', ultimateParentId: 'group', depth: 2, path: ['group', 'emea', 'france'], inCycle: false });
  assert.deepEqual(plain(r.nodes.get('us')), { parentId: 'group', ultimateParentId: 'group', depth: 1, path: ['group', 'us'], inCycle: false });
  assert.equal(r.nodes.size, 4);
});

test('a parent without an entry of its own is still a root', () => {
  const r = resolveHierarchy(new Map([['sub', 'parent-not-loaded']]));
  assert.deepEqual(plain(r.nodes.get('parent-not-loaded')), { parentId: null, ultimateParentId: 'parent-not-loaded', depth: 0, path: ['parent-not-loaded'], inCycle: false });
  assert.deepEqual(plain(r.nodes.get('sub')), { parentId: 'parent-not-loaded', ultimateParentId: 'parent-not-loaded', depth: 1, path: ['parent-not-loaded', 'sub'], inCycle: false });
});

test('an account that is its own parent is a root, reported as a cycle of one', () => {
  const r = resolveHierarchy(new Map([['a', 'a'], ['b', 'a']]));
  assert.deepEqual(r.cycles, [['a']]);
  assert.deepEqual(plain(r.nodes.get('a')), { parentId: null, ultimateParentId: 'a', depth: 0, path: ['a'], inCycle: true });
  assert.deepEqual(plain(r.nodes.get('b')), { parentId: 'a', ultimateParentId: 'a', depth: 1, path: ['a', 'b'], inCycle: false });
});

test('a cycle is reported from its smallest id; it and everything below roll up to that id', () => {
  // c -> d -> b -> c is a cycle; e hangs below d, f below e.
  const r = resolveHierarchy(new Map([['f', 'e'], ['e', 'd'], ['c', 'd'], ['d', 'b'], ['b', 'c'], ['x', null]]));
  assert.deepEqual(r.cycles, [['b', 'c', 'd']]);
  for (const id of ['b', 'c', 'd', 'e', 'f']) assert.equal(r.nodes.get(id)?.ultimateParentId, 'b', id);
  assert.deepEqual(['b', 'c', 'd', 'e', 'f', 'x'].map((id) => r.nodes.get(id)?.inCycle), [true, true, true, false, false, false]);
  assert.deepEqual(plain(r.nodes.get('b')), { parentId: 'c', ultimateParentId: 'b', depth: 0, path: ['b'], inCycle: true });
  assert.deepEqual(r.nodes.get('c')?.path, ['b', 'd', 'c']);
  assert.deepEqual(plain(r.nodes.get('f')), { parentId: 'e', ultimateParentId: 'b', depth: 3, path: ['b', 'd', 'e', 'f'], inCycle: false });
});

test('several cycles are each reported once, sorted', () => {
  const r = resolveHierarchy(new Map([['z', 'y'], ['y', 'z'], ['m', 'n'], ['n', 'o'], ['o', 'm'], ['k', 'k']]));
  assert.deepEqual(r.cycles, [['k'], ['m', 'n', 'o'], ['y', 'z']]);
});

test('100,000-deep chains and cycles are walked without recursion', () => {
  const N = 100_000;
  const chain = new Map<string, string | null>();
  const id = (i: number) => `n${String(i).padStart(6, '0')}`;
  for (let i = 0; i < N; i++) chain.set(id(i), i === 0 ? null : id(i - 1));
  const r = resolveHierarchy(chain);
  const deepest = r.nodes.get(id(N - 1))!;
  assert.equal(deepest.depth, N - 1);
  assert.equal(deepest.ultimateParentId, id(0));
  assert.equal(deepest.path.length, N);
  assert.deepEqual(r.cycles, []);

  chain.set(id(0), id(N - 1)); // close the chain into one big cycle
  const c = resolveHierarchy(chain);
  assert.equal(c.cycles.length, 1);
  assert.equal(c.cycles[0]!.length, N);
  assert.equal(c.cycles[0]![0], id(0));
  assert.equal(c.nodes.get(id(N - 1))!.depth, N - 1);
  assert.ok([...c.nodes.values()].every((n) => n.inCycle && n.ultimateParentId === id(0)));
});

// --- property ---------------------------------------------------------------------------------

const ID = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j');
const parentMapArb = fc.array(fc.tuple(ID, fc.option(ID, { freq: 4 })), { maxLength: 12 }).map((entries) => new Map<string, string | null>(entries));

/** Cycles found the slow way: x is in a cycle when following parents from x comes back to x. */
function bruteCycles(parentOf: ReadonlyMap<string, string | null>): string[][] {
  const ids = new Set([...parentOf.keys(), ...[...parentOf.values()].filter((v): v is string => v !== null)]);
  const next = (x: string) => parentOf.get(x) ?? null;
  const found = new Map<string, string[]>();
  for (const x of ids) {
    let at: string | null = next(x);
    for (let i = 0; i < ids.size && at !== null && at !== x; i++) at = next(at);
    if (at !== x) continue;
    const members = [x];
    for (let y = next(x)!; y !== x; y = next(y)!) members.push(y);
    const min = [...members].sort()[0]!;
    const i = members.indexOf(min);
    found.set(min, [...members.slice(i), ...members.slice(0, i)]);
  }
  return [...found.values()].sort((p, q) => (p[0]! < q[0]! ? -1 : 1));
}

test('property: cycles are reported exactly, every path is a real parent chain ending at the ultimate parent', () => {
  fc.assert(
    fc.property(parentMapArb, (parentOf) => {
      const r = resolveHierarchy(parentOf);
      const cycles = bruteCycles(parentOf);
      assert.deepEqual(r.cycles, cycles);
      const cycleOf = new Map<string, string[]>();
      for (const c of cycles) for (const m of c) cycleOf.set(m, c);

      const ids = new Set([...parentOf.keys(), ...[...parentOf.values()].filter((v): v is string => v !== null)]);
      assert.deepEqual([...r.nodes.keys()].sort(), [...ids].sort());
      for (const [id, node] of r.nodes) {
        const given = parentOf.get(id) ?? null;
        assert.equal(node.parentId, given === id ? null : given);
        assert.equal(node.inCycle, cycleOf.has(id));
        const path = node.path;
        assert.equal(path.length, node.depth + 1);
        assert.equal(path[path.length - 1], id);
        assert.equal(path[0], node.ultimateParentId);
        for (let i = 1; i < path.length; i++) assert.equal(parentOf.get(path[i]!), path[i - 1], `${path[i]}'s parent is ${path[i - 1]}`);
        const top = path[0]!;
        const topParent = parentOf.get(top) ?? null;
        // The top of a path is a true root, or the smallest member of a cycle.
        if (cycleOf.has(top)) assert.equal(cycleOf.get(top)![0], top);
        else assert.equal(topParent, null);
        // Walking up from id by hand reaches the same top.
        let at: string | null = id;
        let last = id;
        for (let i = 0; i <= ids.size && at !== null && !cycleOf.has(at); i++) {
          last = at;
          at = parentOf.get(at) ?? null;
        }
        if (at !== null) assert.ok(cycleOf.has(at), 'a walk up that never ends is in a cycle');
        const expected = at === null ? last : cycleOf.get(at)![0];
        assert.equal(node.ultimateParentId, expected);
      }
    }),
    { numRuns: 2000 },
  );
});
