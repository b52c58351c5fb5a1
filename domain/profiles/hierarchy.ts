/**
 * Account hierarchies: each account profile names its parent account (a subsidiary its parent
 * company, a division its business unit), and the platform needs each account's ultimate parent,
 * its depth and its path from the top — to roll up activity and revenue to the group.
 *
 * Source data is not a clean tree, so the resolution never trusts it to be one:
 * - an account whose parent is itself is treated as a root (its self-link is ignored) and
 *   reported as a cycle of one;
 * - a parent that has no entry of its own is still a root (we know it exists; a source named it);
 * - a cycle (A → B → A) is reported, and broken at its smallest id: that member acts as the root
 *   of the others, and accounts hanging below the cycle roll up to it too. Only cycle members
 *   have `inCycle`; the rest of the result is an ordinary forest.
 *
 * Everything is iterative: a chain of 100,000 accounts is walked with loops, never recursion.
 * Ids are compared as strings (code unit order), so the result does not depend on locale.
 */

export interface HierarchyNode {
  /** The parent as the source gave it; null for a root and for an account that is its own parent. */
  parentId: string | null;
  ultimateParentId: string;
  /** 0 for a root. */
  depth: number;
  /**
   * Root..self. Computed when read (O(depth)): a 100,000-deep chain would otherwise hold
   * 5 billion path entries.
   */
  path: string[];
  /** True exactly for the members of a reported cycle. */
  inCycle: boolean;
}

export interface HierarchyResult {
  nodes: Map<string, HierarchyNode>;
  /** Each cycle's members in parent order, rotated to start at the smallest id; sorted. */
  cycles: string[][];
}

export function resolveHierarchy(parentOf: ReadonlyMap<string, string | null>): HierarchyResult {
  // Every id, with its parent (self-parents dropped); parents without an entry become roots.
  const ids = new Set<string>(parentOf.keys());
  for (const p of parentOf.values()) if (p !== null) ids.add(p);
  const sorted = [...ids].sort(compareIds);
  const parent = new Map<string, string | null>();
  const cycles: string[][] = [];
  for (const id of sorted) {
    const p = parentOf.get(id) ?? null;
    if (p === id) cycles.push([id]);
    parent.set(id, p === id ? null : p);
  }

  // Cycles of the parent graph (each node has at most one parent, so every walk up either ends
  // at a root, meets an already finished node, or closes a cycle on itself).
  const state = new Map<string, 'walking' | 'done'>();
  const inCycle = new Set<string>(cycles.map((c) => c[0]!));
  for (const start of sorted) {
    const walk: string[] = [];
    let at: string | null = start;
    while (at !== null && !state.has(at)) {
      state.set(at, 'walking');
      walk.push(at);
      at = parent.get(at)!;
    }
    if (at !== null && state.get(at) === 'walking') {
      const members = walk.slice(walk.indexOf(at));
      let smallest = 0;
      for (let i = 1; i < members.length; i++) if (compareIds(members[i]!, members[smallest]!) < 0) smallest = i;
      const cycle = [...members.slice(smallest), ...members.slice(0, smallest)];
      for (const m of cycle) inCycle.add(m);
      cycles.push(cycle);
    }
    for (const n of walk) state.set(n, 'done');
  }
  cycles.sort((a, b) => compareIds(a[0]!, b[0]!));

  // The forest: every cycle is broken at its smallest member, which becomes a root.
  const treeParent = new Map(parent);
  for (const cycle of cycles) treeParent.set(cycle[0]!, null);

  const depth = new Map<string, number>();
  const top = new Map<string, string>();
  for (const start of sorted) {
    const pending: string[] = [];
    let at: string | null = start;
    while (at !== null && !depth.has(at)) {
      pending.push(at);
      at = treeParent.get(at)!;
    }
    let d = at === null ? -1 : depth.get(at)!;
    const root = at === null ? pending[pending.length - 1]! : top.get(at)!;
    for (let i = pending.length - 1; i >= 0; i--) {
      d++;
      depth.set(pending[i]!, d);
      top.set(pending[i]!, root);
    }
  }

  const pathOf = (id: string): string[] => {
    const up: string[] = [];
    for (let at: string | null = id; at !== null; at = treeParent.get(at)!) up.push(at);
    return up.reverse();
  };
  const nodes = new Map<string, HierarchyNode>();
  for (const id of sorted) {
    nodes.set(id, {
      parentId: parent.get(id)!,
      ultimateParentId: top.get(id)!,
      depth: depth.get(id)!,
      get path() {
        return pathOf(id);
      },
      inCycle: inCycle.has(id),
    });
  }
  return { nodes, cycles };
}

const compareIds = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
