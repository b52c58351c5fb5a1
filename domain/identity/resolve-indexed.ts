/**
 * Full resolution over integer ids: the same answer as `resolveAll` (domain/identity/resolve.ts),
 * decision for decision, for a full recompute of millions of records.
 *
 * Identities are interned once (`EvidenceTable`); links, sequences, scopes and the union-find
 * live in typed arrays, and a group's rule state (its unique-namespace values, its scopes, its
 * do-not-link members) is allocated only for the groups that have any. Nothing is allocated
 * per link, so a million records resolve in about a second instead of spending most of it in
 * the garbage collector.
 */
import { namespaceOf, sortResolution, type Decision, type Evidence, type IdentityKey, type LinkingRules, type RejectionRule, type Resolution } from './resolve';

export const LINKED = 0;
export const REDUNDANT = 1;
export const REJECTED = 2;
export type IndexedOutcome = typeof LINKED | typeof REDUNDANT | typeof REJECTED;
export const OUTCOMES = ['linked', 'redundant', 'rejected'] as const;

/** Growable typed-array column. */
class Column<T extends Float64Array | Int32Array> {
  length = 0;
  constructor(private data: T, private readonly make: (n: number) => T) {}
  push(v: number): number {
    if (this.length === this.data.length) {
      const next = this.make(Math.max(1024, this.data.length * 2));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length] = v;
    return this.length++;
  }
  set(i: number, v: number): void {
    this.data[i] = v;
  }
  get(i: number): number {
    return this.data[i]!;
  }
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

const floats = (n: number) => new Float64Array(n);
const ints = (n: number) => new Int32Array(n);

/**
 * The evidence, interned: every identity key gets an index (`keys[i]`); records carry their
 * first-seen sequence and scope; links are (record, identity, first-seen sequence) triples.
 */
export class EvidenceTable {
  readonly keys: IdentityKey[] = [];
  private readonly index = new Map<IdentityKey, number>();
  /** Per node: the record's first-seen sequence, NaN when the node is not a record. */
  private readonly recordSeq = new Column(new Float64Array(1024), floats);
  /** Per node: index into `scopes`, -1 when none. */
  private readonly scope = new Column(new Int32Array(1024), ints);
  readonly scopes: string[] = [];
  private readonly scopeIndex = new Map<string, number>();
  private readonly linkRecord = new Column(new Int32Array(1024), ints);
  private readonly linkIdentity = new Column(new Int32Array(1024), ints);
  private readonly linkSeq = new Column(new Float64Array(1024), floats);

  /** The node's index, interning it when new. */
  node(key: IdentityKey): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.keys.length;
      this.keys.push(key);
      this.index.set(key, i);
      this.recordSeq.push(NaN);
      this.scope.push(-1);
    }
    return i;
  }

  indexOf(key: IdentityKey): number | undefined {
    return this.index.get(key);
  }

  addRecord(key: IdentityKey, seq: number, scope: string | undefined): number {
    const i = this.node(key);
    this.recordSeq.set(i, seq);
    if (scope !== undefined) {
      let s = this.scopeIndex.get(scope);
      if (s === undefined) {
        s = this.scopes.length;
        this.scopes.push(scope);
        this.scopeIndex.set(scope, s);
      }
      this.scope.set(i, s);
    }
    return i;
  }

  addLink(record: number, identity: IdentityKey, seq: number): number {
    this.linkRecord.push(record);
    this.linkIdentity.push(this.node(identity));
    return this.linkSeq.push(seq);
  }

  get nodeCount(): number {
    return this.keys.length;
  }

  get linkCount(): number {
    return this.linkSeq.length;
  }

  isRecord(i: number): boolean {
    return !Number.isNaN(this.recordSeq.get(i));
  }

  recordSeqOf(i: number): number {
    return this.recordSeq.get(i);
  }

  scopeOf(i: number): string | undefined {
    const s = this.scope.get(i);
    return s < 0 ? undefined : this.scopes[s];
  }

  columns() {
    return {
      recordSeq: this.recordSeq.view(),
      scope: this.scope.view(),
      linkRecord: this.linkRecord.view(),
      linkIdentity: this.linkIdentity.view(),
      linkSeq: this.linkSeq.view(),
    };
  }
}

export interface IndexedResolution {
  /** Per node: the node that names its cluster (its earliest record; identities only when it has none). */
  anchorOf: Int32Array;
  /** Per link: LINKED, REDUNDANT or REJECTED. */
  outcome: Uint8Array;
  /** The rule of each rejected link (by link index). */
  rules: Map<number, RejectionRule>;
}

/** A group's rule state, for the groups that have any: [namespace index, node] pairs in insertion order, scope → record, members with do-not-link pairs. */
interface GroupRules {
  unique: number[] | null;
  scopes: Map<number, number> | null;
  dnl: number[] | null;
}

/** Resolves every link of the table: exactly `resolveAll` on the same evidence. */
export function resolveIndexed(table: EvidenceTable, rules: LinkingRules): IndexedResolution {
  const n = table.nodeCount;
  const { recordSeq, scope, linkRecord, linkIdentity, linkSeq } = table.columns();
  const m = linkSeq.length;
  const keys = table.keys;

  // Namespaces: priority and uniqueness per node.
  const nsNames: string[] = [];
  const nsIndex = new Map<string, number>();
  const nodeNs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const ns = namespaceOf(keys[i]!);
    let k = nsIndex.get(ns);
    if (k === undefined) {
      k = nsNames.length;
      nsNames.push(ns);
      nsIndex.set(ns, k);
    }
    nodeNs[i] = k;
  }
  const nsPriority = nsNames.map((ns) => rules.namespaces[ns]?.priority ?? 0);
  const nsUnique = nsNames.map((ns) => rules.namespaces[ns]?.unique ?? false);
  const nsExempt = nsNames.map((ns) => rules.scopeExempt?.has(ns) ?? false);

  // First seen: a record's own sequence, lowered by any earlier link touching the node.
  const firstSeen = new Float64Array(n).fill(Infinity);
  for (let i = 0; i < n; i++) if (!Number.isNaN(recordSeq[i]!)) firstSeen[i] = recordSeq[i]!;
  for (let l = 0; l < m; l++) {
    const s = linkSeq[l]!;
    if (s < firstSeen[linkRecord[l]!]!) firstSeen[linkRecord[l]!] = s;
    if (s < firstSeen[linkIdentity[l]!]!) firstSeen[linkIdentity[l]!] = s;
  }

  // Link order: sequence, then higher-priority namespace, then identity, then record.
  const order = new Uint32Array(m);
  for (let l = 0; l < m; l++) order[l] = l;
  order.sort((a, b) => {
    const d = linkSeq[a]! - linkSeq[b]!;
    if (d !== 0) return d;
    const ia = linkIdentity[a]!;
    const ib = linkIdentity[b]!;
    const p = nsPriority[nodeNs[ib]!]! - nsPriority[nodeNs[ia]!]!;
    if (p !== 0) return p;
    if (ia !== ib) return keys[ia]! < keys[ib]! ? -1 : 1;
    const ra = linkRecord[a]!;
    const rb = linkRecord[b]!;
    return ra === rb ? 0 : keys[ra]! < keys[rb]! ? -1 : 1;
  });

  // Do-not-link pairs between nodes of the evidence.
  const dnlOf = new Map<number, number[]>();
  for (const [a, b] of rules.doNotLink) {
    const ia = table.indexOf(a);
    const ib = table.indexOf(b);
    if (ia === undefined || ib === undefined) continue;
    (dnlOf.get(ia) ?? dnlOf.set(ia, []).get(ia)!).push(ib);
    (dnlOf.get(ib) ?? dnlOf.set(ib, []).get(ib)!).push(ia);
  }

  // Union-find with per-root size, anchor and rule state.
  const parent = new Int32Array(n);
  const size = new Int32Array(n).fill(1);
  const anchor = new Int32Array(n);
  const groupRules: Array<GroupRules | undefined> = new Array(n);
  for (let i = 0; i < n; i++) {
    parent[i] = i;
    anchor[i] = i;
    const unique = nsUnique[nodeNs[i]!] ? [nodeNs[i]!, i] : null;
    const scopes = scope[i]! >= 0 ? new Map([[scope[i]!, i]]) : null;
    const dnl = dnlOf.has(i) ? [i] : null;
    if (unique || scopes || dnl) groupRules[i] = { unique, scopes, dnl };
  }
  const find = (k: number): number => findRoot(parent, k);
  /** Whether node a's rank comes before node b's: records first, then first seen, then key. */
  const earlier = (a: number, b: number): boolean => {
    const ra = Number.isNaN(recordSeq[a]!) ? 1 : 0;
    const rb = Number.isNaN(recordSeq[b]!) ? 1 : 0;
    if (ra !== rb) return ra < rb;
    if (firstSeen[a] !== firstSeen[b]) return firstSeen[a]! < firstSeen[b]!;
    return keys[a]! < keys[b]!;
  };

  const violation = (ra: number, rb: number, crossReference: boolean): RejectionRule | undefined => {
    const a = groupRules[ra];
    const b = groupRules[rb];
    const [small, otherRoot] = size[ra]! <= size[rb]! ? [a, rb] : [b, ra];
    for (const member of small?.dnl ?? []) for (const p of dnlOf.get(member)!) if (find(p) === otherRoot) return 'do-not-link';
    const au = a?.unique;
    const bu = b?.unique;
    if (au && bu) {
      for (let i = 0; i < au.length; i += 2) {
        for (let j = 0; j < bu.length; j += 2) if (bu[j] === au[i] && bu[j + 1] !== au[i + 1]) return `unique:${nsNames[au[i]!]!}`;
      }
    }
    if (!crossReference && a?.scopes && b?.scopes) {
      const [fewer, more] = a.scopes.size <= b.scopes.size ? [a.scopes, b.scopes] : [b.scopes, a.scopes];
      for (const [s, r] of fewer) {
        const other = more.get(s);
        if (other !== undefined && other !== r) return 'record-scope';
      }
    }
    if (size[ra]! + size[rb]! > rules.maxClusterSize) return 'cluster-cap';
    return undefined;
  };

  const outcome = new Uint8Array(m);
  const rejected = new Map<number, RejectionRule>();
  for (let o = 0; o < m; o++) {
    const l = order[o]!;
    const ra = find(linkRecord[l]!);
    const rb = find(linkIdentity[l]!);
    if (ra === rb) {
      outcome[l] = REDUNDANT;
      continue;
    }
    const rule = violation(ra, rb, nsExempt[nodeNs[linkIdentity[l]!]!]!);
    if (rule) {
      outcome[l] = REJECTED;
      rejected.set(l, rule);
      continue;
    }
    // The smaller group joins the larger (the record's on a tie); the earlier anchor names the result.
    const [bigRoot, smallRoot] = size[ra]! >= size[rb]! ? [ra, rb] : [rb, ra];
    parent[smallRoot] = bigRoot;
    size[bigRoot]! += size[smallRoot]!;
    groupRules[bigRoot] = mergeRules(groupRules[bigRoot], groupRules[smallRoot]);
    groupRules[smallRoot] = undefined;
    if (earlier(anchor[smallRoot]!, anchor[bigRoot]!)) anchor[bigRoot] = anchor[smallRoot]!;
    outcome[l] = LINKED;
  }

  const anchorOf = new Int32Array(n);
  for (let i = 0; i < n; i++) anchorOf[i] = anchor[find(i)]!;
  return { anchorOf, outcome, rules: rejected };
}

function mergeRules(big: GroupRules | undefined, small: GroupRules | undefined): GroupRules | undefined {
  if (!small) return big;
  if (!big) return small;
  if (small.unique) {
    if (!big.unique) big.unique = small.unique;
    else {
      for (let i = 0; i < small.unique.length; i += 2) {
        let found = false;
        for (let j = 0; j < big.unique.length; j += 2) {
          if (big.unique[j] === small.unique[i]) {
            big.unique[j + 1] = small.unique[i + 1]!;
            found = true;
            break;
          }
        }
        if (!found) big.unique.push(small.unique[i]!, small.unique[i + 1]!);
      }
    }
  }
  if (small.scopes) {
    if (!big.scopes) big.scopes = small.scopes;
    else for (const [s, r] of small.scopes) big.scopes.set(s, r);
  }
  if (small.dnl) big.dnl = big.dnl ? big.dnl.concat(small.dnl) : small.dnl;
  return big;
}

/** The table of an `Evidence` (records first, then links in their given order). */
export function tableOf(evidence: Evidence): EvidenceTable {
  const table = new EvidenceTable();
  for (const [k, seq] of evidence.records) table.addRecord(k, seq, evidence.scopes?.get(k));
  for (const l of evidence.links) table.addLink(table.node(l.record), l.identity, l.seq);
  return table;
}

/** The indexed answer in `resolveAll`'s shape (tests compare the two; small evidence only). */
export function resolutionOf(table: EvidenceTable, r: IndexedResolution): Resolution {
  const { linkRecord, linkIdentity, linkSeq } = table.columns();
  const clusterOf = new Map<IdentityKey, IdentityKey>();
  for (let i = 0; i < table.nodeCount; i++) clusterOf.set(table.keys[i]!, table.keys[r.anchorOf[i]!]!);
  const decisions: Decision[] = [];
  for (let l = 0; l < linkSeq.length; l++) {
    const link = { record: table.keys[linkRecord[l]!]!, identity: table.keys[linkIdentity[l]!]!, seq: linkSeq[l]! };
    const rule = r.rules.get(l);
    decisions.push(rule ? { link, outcome: 'rejected', rule } : { link, outcome: OUTCOMES[r.outcome[l]!]! });
  }
  return sortResolution({ clusterOf, decisions });
}

/** `evidenceComponentIds` over the table: per node, its component's id (NaN for a node in no component with a record). */
export function componentIdsIndexed(table: EvidenceTable): Float64Array {
  const n = table.nodeCount;
  const { recordSeq, linkRecord, linkIdentity } = table.columns();
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (k: number): number => findRoot(parent, k);
  for (let l = 0; l < linkRecord.length; l++) {
    const a = find(linkRecord[l]!);
    const b = find(linkIdentity[l]!);
    if (a !== b) parent[a] = b;
  }
  const least = new Float64Array(n).fill(Infinity);
  for (let i = 0; i < n; i++) {
    const seq = recordSeq[i]!;
    if (Number.isNaN(seq)) continue;
    const root = find(i);
    if (seq < least[root]!) least[root] = seq;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const id = least[find(i)]!;
    out[i] = id === Infinity ? NaN : id;
  }
  return out;
}

/** The root of k in a union-find over a typed array, compressing the path on the way. */
function findRoot(parent: Int32Array, k: number): number {
  let r = k;
  while (parent[r] !== r) r = parent[r]!;
  while (parent[k] !== r) {
    const next = parent[k]!;
    parent[k] = r;
    k = next;
  }
  return r;
}
