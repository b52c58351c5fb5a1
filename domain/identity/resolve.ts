/**
 * Identity resolution: which identities (namespace, value) belong to one real person or company.
 *
 * Evidence is what each record says about itself *now*: "I am `record` and I have `identity`",
 * each link stamped with the sequence number at which it was first observed. Resolution replays
 * the links in (sequence, namespace priority, key) order and accepts a link unless it breaks a
 * linking rule — a do-not-link pair, two different values of a unique namespace, two records of
 * the same scope (e.g. two contacts of one CRM org at the same account), or the cluster cap. A refused link is kept as a decision naming the rule, so every cluster can be explained.
 *
 * Determinism and incrementality by construction:
 * - Identities connected by any link, accepted or refused, form one *evidence component*. Rules
 *   only look inside a component, so components resolve independently.
 * - A full recompute resolves every component; an incremental change re-resolves exactly the
 *   components it touches, from all their evidence. Both give the same answer by definition.
 * - A cluster's id is its earliest record (lowest first-seen sequence, then key; a cluster with
 *   no record is named after its earliest identity): stable across recomputes, kept by the older
 *   half of a split and by the older side of a merge.
 */

/** `namespace:value`; namespace names contain no ':'. */
export type IdentityKey = string;

export function identityKey(namespace: string, value: string): IdentityKey {
  if (namespace.includes(':')) throw new Error(`namespace '${namespace}' must not contain ':'`);
  return `${namespace}:${value}`;
}

export function namespaceOf(key: IdentityKey): string {
  return key.slice(0, key.indexOf(':'));
}

export interface NamespaceRule {
  /** At most one value of this namespace in a cluster (e.g. a CRM id, a DUNS number). */
  unique: boolean;
  /** Within one observation, links of higher-priority namespaces are tried first. */
  priority: number;
}

export interface LinkingRules {
  namespaces: Readonly<Record<string, NamespaceRule>>;
  /** Most identities one cluster may hold. */
  maxClusterSize: number;
  /** Pairs that must never end up in one cluster (an operator's "these are different"). */
  doNotLink: ReadonlyArray<readonly [IdentityKey, IdentityKey]>;
  /**
   * Namespaces whose links are explicit cross-references between records (a converted lead's
   * contact, a Marketo lead's CRM contact): they join records even of one scope — the source
   * itself says they are the same. Links through other namespaces (email, phone) never do.
   */
  scopeExempt?: ReadonlySet<string>;
}

/** "`record` has `identity`", first observed at `seq`. */
export interface Link {
  record: IdentityKey;
  identity: IdentityKey;
  seq: number;
}

export type RejectionRule = `unique:${string}` | 'record-scope' | 'cluster-cap' | 'do-not-link';

export interface Decision {
  link: Link;
  /** linked: joined two groups; redundant: already together; rejected: a rule stopped it. */
  outcome: 'linked' | 'redundant' | 'rejected';
  rule?: RejectionRule;
}

export interface Evidence {
  /** Every record's own identity, with the sequence at which the record was first seen. */
  records: ReadonlyMap<IdentityKey, number>;
  links: readonly Link[];
  /**
   * A record's scope: a cluster holds at most one record of each scope. Two contacts of one CRM
   * org at the same account are two people even when they share an email (a recycled mailbox),
   * while the same human as a contact at two accounts (different scopes) is one.
   */
  scopes?: ReadonlyMap<IdentityKey, string>;
}

export interface Resolution {
  /** Cluster id (the cluster's earliest record) of every identity in the evidence. */
  clusterOf: Map<IdentityKey, IdentityKey>;
  /** One decision per link, in the order they were taken. */
  decisions: Decision[];
}

const linkId = (l: Link) => `${l.record}\u0000${l.identity}`;

/** Resolves all the evidence from scratch. */
export function resolveAll(evidence: Evidence, rules: LinkingRules): Resolution {
  // Components never interact (rules look only inside one), and the link order restricted to a
  // component is that component's order: resolving everything as one pass gives the same result
  // as resolving each component, without finding the components first.
  const nodes = [...allNodes(evidence)];
  const firstSeen = new Map<IdentityKey, number>();
  const records = new Set<IdentityKey>();
  const scopes = new Map<IdentityKey, string>();
  for (const [k, seq] of evidence.records) {
    firstSeen.set(k, seq);
    records.add(k);
    const scope = evidence.scopes?.get(k);
    if (scope !== undefined) scopes.set(k, scope);
  }
  for (const l of evidence.links) {
    for (const k of [l.record, l.identity]) {
      const f = firstSeen.get(k);
      if (f === undefined || l.seq < f) firstSeen.set(k, l.seq);
    }
  }
  return sortResolution(resolveComponent({ nodes, links: [...evidence.links], firstSeen, records, scopes }, rules));
}

/**
 * Resolves the evidence components that contain `seeds` (and nothing else): what an incremental
 * resolution runs on the components a change touched, loaded whole from the store.
 */
export function resolveComponentsOf(evidence: Evidence, seeds: Iterable<IdentityKey>, rules: LinkingRules): Resolution {
  const out: Resolution = { clusterOf: new Map(), decisions: [] };
  for (const component of evidenceComponents(evidence, [...seeds])) {
    const part = resolveComponent(component, rules);
    for (const [k, v] of part.clusterOf) out.clusterOf.set(k, v);
    out.decisions.push(...part.decisions);
  }
  return sortResolution(out);
}

/** Nodes and links of one evidence component. */
interface Component {
  nodes: IdentityKey[];
  links: Link[];
  firstSeen: Map<IdentityKey, number>;
  records: Set<IdentityKey>;
  scopes: Map<IdentityKey, string>;
}

function allNodes(evidence: Evidence): Set<IdentityKey> {
  const nodes = new Set<IdentityKey>(evidence.records.keys());
  for (const l of evidence.links) {
    nodes.add(l.record);
    nodes.add(l.identity);
  }
  return nodes;
}

/** The evidence components containing `seeds` (connected through any link). */
function evidenceComponents(evidence: Evidence, seeds: IdentityKey[]): Component[] {
  const adjacency = new Map<IdentityKey, Link[]>();
  const add = (k: IdentityKey, l: Link) => {
    const list = adjacency.get(k);
    if (list) list.push(l);
    else adjacency.set(k, [l]);
  };
  for (const l of evidence.links) {
    add(l.record, l);
    add(l.identity, l);
  }
  const seen = new Set<IdentityKey>();
  const components: Component[] = [];
  for (const seed of seeds) {
    if (seen.has(seed)) continue;
    const nodes: IdentityKey[] = [];
    const links = new Map<string, Link>();
    const stack = [seed];
    seen.add(seed);
    while (stack.length) {
      const n = stack.pop()!;
      nodes.push(n);
      for (const l of adjacency.get(n) ?? []) {
        links.set(linkId(l), l);
        for (const m of [l.record, l.identity]) {
          if (!seen.has(m)) {
            seen.add(m);
            stack.push(m);
          }
        }
      }
    }
    const firstSeen = new Map<IdentityKey, number>();
    const records = new Set<IdentityKey>();
    const scopes = new Map<IdentityKey, string>();
    const see = (k: IdentityKey, seq: number) => firstSeen.set(k, Math.min(seq, firstSeen.get(k) ?? Infinity));
    for (const n of nodes) {
      const s = evidence.records.get(n);
      if (s !== undefined) {
        see(n, s);
        records.add(n);
        const scope = evidence.scopes?.get(n);
        if (scope !== undefined) scopes.set(n, scope);
      }
    }
    for (const l of links.values()) {
      see(l.record, l.seq);
      see(l.identity, l.seq);
    }
    components.push({ nodes, links: [...links.values()], firstSeen, records, scopes });
  }
  return components;
}

interface Group {
  size: number;
  members: IdentityKey[];
  /** namespace → the one value a unique namespace has in this group */
  unique: Map<string, IdentityKey>;
  /** scope → the one record of that scope in this group */
  scopes: Map<string, IdentityKey>;
  /** The member that names the group: its earliest record (identities only when it has none). */
  anchor: IdentityKey;
  anchorRank: [notRecord: number, seq: number];
}

/** Whether group a's anchor comes first: records before identities, then first seen, then key. */
function earlier(a: Group, b: Group): boolean {
  if (a.anchorRank[0] !== b.anchorRank[0]) return a.anchorRank[0] < b.anchorRank[0];
  if (a.anchorRank[1] !== b.anchorRank[1]) return a.anchorRank[1] < b.anchorRank[1];
  return a.anchor < b.anchor;
}

function resolveComponent(c: Component, rules: LinkingRules): Resolution {
  const priority = (k: IdentityKey) => rules.namespaces[namespaceOf(k)]?.priority ?? 0;
  const isUnique = (k: IdentityKey) => rules.namespaces[namespaceOf(k)]?.unique ?? false;
  const prio = new Map<Link, number>();
  for (const l of c.links) prio.set(l, priority(l.identity));
  const order = [...c.links].sort(
    (a, b) => a.seq - b.seq || prio.get(b)! - prio.get(a)! || cmp(a.identity, b.identity) || cmp(a.record, b.record),
  );

  const parent = new Map<IdentityKey, IdentityKey>();
  const groups = new Map<IdentityKey, Group>();
  for (const n of c.nodes) {
    parent.set(n, n);
    groups.set(n, {
      size: 1,
      members: [n],
      unique: isUnique(n) ? new Map([[namespaceOf(n), n]]) : new Map(),
      scopes: c.scopes.has(n) ? new Map([[c.scopes.get(n)!, n]]) : new Map(),
      anchor: n,
      anchorRank: [c.records.has(n) ? 0 : 1, c.firstSeen.get(n)!],
    });
  }
  const find = (k: IdentityKey): IdentityKey => {
    let r = k;
    while (parent.get(r) !== r) r = parent.get(r)!;
    let n = k;
    while (parent.get(n) !== r) {
      const next = parent.get(n)!;
      parent.set(n, r);
      n = next;
    }
    return r;
  };

  const dnl = new Map<IdentityKey, IdentityKey[]>();
  for (const [a, b] of rules.doNotLink) {
    dnl.set(a, [...(dnl.get(a) ?? []), b]);
    dnl.set(b, [...(dnl.get(b) ?? []), a]);
  }

  const decisions: Decision[] = [];
  for (const link of order) {
    const ra = find(link.record);
    const rb = find(link.identity);
    if (ra === rb) {
      decisions.push({ link, outcome: 'redundant' });
      continue;
    }
    const a = groups.get(ra)!;
    const b = groups.get(rb)!;
    const rule = violation(a, b, rb, ra, rules.scopeExempt?.has(namespaceOf(link.identity)) ?? false);
    if (rule) {
      decisions.push({ link, outcome: 'rejected', rule });
      continue;
    }
    // Merge the smaller group into the larger; the earlier anchor names the result.
    const [big, small, bigRoot, smallRoot] = a.size >= b.size ? [a, b, ra, rb] : [b, a, rb, ra];
    parent.set(smallRoot, bigRoot);
    big.size += small.size;
    big.members.push(...small.members);
    for (const [ns, v] of small.unique) big.unique.set(ns, v);
    for (const [scope, r] of small.scopes) big.scopes.set(scope, r);
    if (earlier(small, big)) {
      big.anchor = small.anchor;
      big.anchorRank = small.anchorRank;
    }
    groups.delete(smallRoot);
    decisions.push({ link, outcome: 'linked' });
  }

  function violation(a: Group, b: Group, rootB: IdentityKey, rootA: IdentityKey, crossReference: boolean): RejectionRule | undefined {
    const [small, otherRoot] = a.size <= b.size ? [a, rootB] : [b, rootA];
    for (const m of small.members) for (const p of dnl.get(m) ?? []) if (parent.has(p) && find(p) === otherRoot) return 'do-not-link';
    for (const [ns, v] of a.unique) {
      const w = b.unique.get(ns);
      if (w !== undefined && w !== v) return `unique:${ns}`;
    }
    if (!crossReference) {
      const [fewer, more] = a.scopes.size <= b.scopes.size ? [a.scopes, b.scopes] : [b.scopes, a.scopes];
      for (const [scope, r] of fewer) {
        const other = more.get(scope);
        if (other !== undefined && other !== r) return 'record-scope';
      }
    }
    if (a.size + b.size > rules.maxClusterSize) return 'cluster-cap';
    return undefined;
  }

  const clusterOf = new Map<IdentityKey, IdentityKey>();
  for (const n of c.nodes) clusterOf.set(n, groups.get(find(n))!.anchor);
  return { clusterOf, decisions };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A canonical order for decisions (by link), so resolutions compare equal whatever the component order. */
export function sortResolution(r: Resolution): Resolution {
  r.decisions.sort((x, y) => x.link.seq - y.link.seq || cmp(x.link.record, y.link.record) || cmp(x.link.identity, y.link.identity));
  return r;
}

/** A change to the evidence: records observed (their complete current identities) or removed. */
export type EvidenceChange =
  | { kind: 'observe'; record: IdentityKey; seq: number; identities: IdentityKey[]; scope?: string }
  | { kind: 'remove'; record: IdentityKey }
  | { kind: 'do-not-link'; pair: readonly [IdentityKey, IdentityKey] };

/**
 * The graph kept up to date change by change, re-resolving only the evidence components each
 * change touches. `resolution()` always equals `resolveAll(evidence(), rules)`.
 */
export class IdentityGraph {
  private readonly records = new Map<IdentityKey, number>();
  private readonly scopes = new Map<IdentityKey, string>();
  private readonly links = new Map<string, Link>();
  private readonly byRecord = new Map<IdentityKey, Set<string>>();
  private readonly adjacency = new Map<IdentityKey, Set<string>>();
  private readonly clusterOf = new Map<IdentityKey, IdentityKey>();
  private readonly decisions = new Map<string, Decision>();
  private readonly dnl: Array<readonly [IdentityKey, IdentityKey]>;

  constructor(private readonly rules: LinkingRules) {
    this.dnl = [...rules.doNotLink];
  }

  evidence(): Evidence {
    return { records: new Map(this.records), links: [...this.links.values()], scopes: new Map(this.scopes) };
  }

  currentRules(): LinkingRules {
    return { ...this.rules, doNotLink: [...this.dnl] };
  }

  resolution(): Resolution {
    return sortResolution({ clusterOf: new Map(this.clusterOf), decisions: [...this.decisions.values()] });
  }

  /** Applies one change; returns the identities whose cluster id changed (old → new, undefined when gone). */
  apply(change: EvidenceChange): Map<IdentityKey, { from?: IdentityKey; to?: IdentityKey }> {
    const touched = new Set<IdentityKey>();
    if (change.kind === 'do-not-link') {
      this.dnl.push(change.pair);
      touched.add(change.pair[0]).add(change.pair[1]);
    } else {
      touched.add(change.record);
      for (const id of this.byRecord.get(change.record) ?? []) touched.add(this.links.get(id)!.identity);
      if (change.kind === 'observe') for (const i of change.identities) touched.add(i);
    }
    // Everything connected to a touched identity before the change…
    const before = this.connected([...touched]);
    if (change.kind !== 'do-not-link') this.replaceRecord(change);
    // …and after it (new links may reach other components).
    const after = this.connected([...before].filter((k) => this.isNode(k)).concat([...touched].filter((k) => this.isNode(k))));
    const affected = new Set([...before, ...after]);

    const previous = new Map<IdentityKey, IdentityKey | undefined>();
    for (const k of affected) {
      previous.set(k, this.clusterOf.get(k));
      this.clusterOf.delete(k);
    }
    for (const id of [...this.decisions.keys()]) {
      const d = this.decisions.get(id)!;
      if (affected.has(d.link.record) || affected.has(d.link.identity)) this.decisions.delete(id);
    }
    const evidence = { records: this.records, links: [...this.linksOf(after)], scopes: this.scopes };
    for (const component of evidenceComponents(evidence, [...after])) {
      const part = resolveComponent(component, this.currentRules());
      for (const [k, v] of part.clusterOf) this.clusterOf.set(k, v);
      for (const d of part.decisions) this.decisions.set(linkId(d.link), d);
    }
    const changed = new Map<IdentityKey, { from?: IdentityKey; to?: IdentityKey }>();
    for (const [k, from] of previous) {
      const to = this.clusterOf.get(k);
      if (from !== to) changed.set(k, { from, to });
    }
    return changed;
  }

  private isNode(k: IdentityKey): boolean {
    return this.records.has(k) || (this.adjacency.get(k)?.size ?? 0) > 0;
  }

  private replaceRecord(change: Extract<EvidenceChange, { kind: 'observe' | 'remove' }>): void {
    const existing = this.byRecord.get(change.record) ?? new Set<string>();
    const keep = new Set(change.kind === 'observe' ? change.identities : []);
    for (const id of [...existing]) {
      const l = this.links.get(id)!;
      if (!keep.has(l.identity)) {
        // The source no longer says this: the link goes (a split, if it held a cluster together).
        this.links.delete(id);
        existing.delete(id);
        this.adjacency.get(l.record)?.delete(id);
        this.adjacency.get(l.identity)?.delete(id);
      }
    }
    if (change.kind === 'remove') {
      this.records.delete(change.record);
      this.scopes.delete(change.record);
      this.byRecord.delete(change.record);
      return;
    }
    if (!this.records.has(change.record)) this.records.set(change.record, change.seq);
    if (change.scope === undefined) this.scopes.delete(change.record);
    else this.scopes.set(change.record, change.scope);
    for (const identity of change.identities) {
      if (identity === change.record) continue;
      const l: Link = { record: change.record, identity, seq: change.seq };
      const id = linkId(l);
      if (this.links.has(id)) continue; // known since an earlier observation: keeps its first-seen seq
      this.links.set(id, l);
      existing.add(id);
      for (const k of [l.record, l.identity]) {
        const set = this.adjacency.get(k);
        if (set) set.add(id);
        else this.adjacency.set(k, new Set([id]));
      }
    }
    this.byRecord.set(change.record, existing);
  }

  /** Identities connected to `seeds` through any current link. */
  private connected(seeds: IdentityKey[]): Set<IdentityKey> {
    const seen = new Set<IdentityKey>(seeds);
    const stack = [...seeds];
    while (stack.length) {
      const n = stack.pop()!;
      for (const id of this.adjacency.get(n) ?? []) {
        const l = this.links.get(id)!;
        for (const m of [l.record, l.identity]) {
          if (!seen.has(m)) {
            seen.add(m);
            stack.push(m);
          }
        }
      }
    }
    return seen;
  }

  private *linksOf(nodes: Set<IdentityKey>): Iterable<Link> {
    const ids = new Set<string>();
    for (const n of nodes) for (const id of this.adjacency.get(n) ?? []) ids.add(id);
    for (const id of ids) yield this.links.get(id)!;
  }
}

/**
 * The stored id of each record's and link's evidence component (records and identities connected
 * by any link, accepted or refused): the first-seen sequence of the component's earliest record.
 * Every component holding a link has a record (a link starts at one); a record alone is its own.
 */
export function evidenceComponentIds(records: ReadonlyMap<IdentityKey, number>, links: Iterable<{ record: IdentityKey; identity: IdentityKey }>): Map<IdentityKey, number> {
  const parent = new Map<IdentityKey, IdentityKey>();
  const find = (k: IdentityKey): IdentityKey => {
    let r = k;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    for (let n = k, p = parent.get(n); p !== undefined && p !== r; n = p, p = parent.get(n)) parent.set(n, r);
    return r;
  };
  for (const k of records.keys()) if (!parent.has(k)) parent.set(k, k);
  for (const l of links) {
    for (const k of [l.record, l.identity]) if (!parent.has(k)) parent.set(k, k);
    const a = find(l.record);
    const b = find(l.identity);
    if (a !== b) parent.set(a, b);
  }
  const least = new Map<IdentityKey, number>();
  for (const [k, seq] of records) {
    const root = find(k);
    least.set(root, Math.min(seq, least.get(root) ?? Infinity));
  }
  const out = new Map<IdentityKey, number>();
  for (const k of parent.keys()) {
    const id = least.get(find(k));
    if (id !== undefined) out.set(k, id);
  }
  return out;
}
