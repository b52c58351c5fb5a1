/**
 * Materialising a profile: the one view of a person or company built from every fragment (source
 * record) that identity resolution put in its cluster.
 *
 * Merging is per leaf attribute, not per record: a CRM that knows the job title and a marketing
 * tool that knows the phone number each contribute what they know, and a merge policy decides
 * only where two fragments disagree on the same leaf. Plain objects are merged key by key; arrays,
 * strings, numbers and booleans are leaves (an array is one value: mixing two sources' lists would
 * produce a list neither of them holds). null, undefined and '' are "no value" and never win, so a
 * source that lacks an attribute never erases another source's value.
 *
 * Policies:
 * - `most-recent`: the most recently updated fragment wins.
 * - `source-priority`: the first listed source instance that has the attribute wins; fragments of
 *   instances not listed (and fragments with no source instance) come after, most recent first.
 *
 * Determinism: fragments are ranked by one total order (policy rank, then updatedAt newest first,
 * then recordKey ascending), so the result never depends on the order fragments are listed in —
 * a profile rebuilt from the same fragments is the same profile. Each leaf records which fragment
 * supplied it (provenance), so every value on a profile can be explained.
 *
 * When fragments disagree on shape (one has `address: 'x'`, another `address: { city: 'y' }`),
 * the best-ranked fragment that has a value there decides whether it is a leaf or an object.
 */

export type MergePolicy =
  | { kind: 'most-recent' }
  | { kind: 'source-priority'; instances: string[] };

export interface Fragment {
  recordKey: string;
  sourceInstanceId: string | null;
  /** ISO-8601; a time without an offset is read as UTC, an unreadable one ranks as oldest. */
  updatedAt: string;
  record: Record<string, unknown>;
}

export interface Provenance {
  recordKey: string;
  updatedAt: string;
}

export interface MaterialisedProfile {
  /** Nested object, like an XDM record. */
  attributes: Record<string, unknown>;
  /** Dot path of each leaf attribute -> the fragment that supplied it. */
  provenance: Record<string, Provenance>;
}

/**
 * Builds the profile of `fragments` under `policy`. `exclude` names attributes left out, as
 * top-level keys or dot paths (`_id`, `extSourceSystemAudit`, `b2b.personKey`); excluding an
 * object excludes everything under it. Objects left with no value are left out entirely.
 */
export function materialise(fragments: readonly Fragment[], policy: MergePolicy, exclude: ReadonlySet<string> = new Set()): MaterialisedProfile {
  const order = fragmentOrder(policy);
  const ranked: Ranked[] = fragments.map((fragment) => ({ fragment, time: instant(fragment.updatedAt) }));
  const candidates: Candidate[] = [];
  for (const r of ranked) {
    const value = isPlainObject(r.fragment.record) ? prune(r.fragment.record, '', exclude) : undefined;
    if (value !== undefined) candidates.push({ from: r, value });
  }
  const provenance: Record<string, Provenance> = {};
  const attributes = candidates.length ? merge('', candidates, order, provenance) : {};
  return { attributes: attributes as Record<string, unknown>, provenance };
}

interface Ranked {
  fragment: Fragment;
  time: number;
}

interface Candidate {
  from: Ranked;
  value: unknown;
}

type Order = (a: Ranked, b: Ranked) => number;

/** The policy's total order on fragments: negative when `a` wins over `b`. */
function fragmentOrder(policy: MergePolicy): Order {
  const priority = new Map<string, number>();
  const listed = policy.kind === 'source-priority' ? policy.instances : [];
  listed.forEach((id, i) => priority.has(id) || priority.set(id, i));
  // Unlisted instances (and fragments without one) all share the rank after the last listed one.
  const rank = (f: Fragment) => (f.sourceInstanceId === null ? undefined : priority.get(f.sourceInstanceId)) ?? listed.length;
  return (a, b) =>
    rank(a.fragment) - rank(b.fragment) ||
    compareNumbers(b.time, a.time) ||
    compareStrings(a.fragment.recordKey, b.fragment.recordKey) ||
    // Only for fragments sharing a record key: still independent of the input order.
    compareStrings(a.fragment.updatedAt, b.fragment.updatedAt) ||
    compareStrings(a.fragment.sourceInstanceId ?? '', b.fragment.sourceInstanceId ?? '');
}

/** Merges the (pruned, so non-empty) values that `candidates` hold at `path`. */
function merge(path: string, candidates: Candidate[], order: Order, provenance: Record<string, Provenance>): unknown {
  // Two candidates the order cannot tell apart (same fragment identity twice) are told apart by
  // their values, so that the winner is still independent of the input order.
  const sorted = [...candidates].sort((a, b) => order(a.from, b.from) || compareStrings(stableKey(a.value), stableKey(b.value)));
  const best = sorted[0]!;
  if (!isPlainObject(best.value)) {
    setOwn(provenance, path, { recordKey: best.from.fragment.recordKey, updatedAt: best.from.fragment.updatedAt });
    return best.value;
  }
  const objects = sorted.filter((c) => isPlainObject(c.value)) as Array<{ from: Ranked; value: Record<string, unknown> }>;
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const c of objects) {
    for (const k of Object.keys(c.value)) {
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push(k);
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const under = objects.filter((c) => Object.hasOwn(c.value, key)).map((c) => ({ from: c.from, value: c.value[key] }));
    setOwn(out, key, merge(path ? `${path}.${key}` : key, under, order, provenance));
  }
  return out;
}

/** Records `from` as the provenance of every leaf of `value` (at `path`). */
function attribute(path: string, value: unknown, from: Provenance, provenance: Record<string, Provenance>): void {
  if (!isPlainObject(value)) return setOwn(provenance, path, from);
  for (const key of Object.keys(value)) attribute(path ? `${path}.${key}` : key, value[key], from, provenance);
}

/** `value` without excluded attributes and empty leaves; undefined when nothing is left. */
function prune(value: unknown, path: string, exclude: ReadonlySet<string>): unknown {
  if (path && exclude.has(path)) return undefined;
  if (value === null || value === undefined || value === '') return undefined;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(value)) {
    const kept = prune(v, path ? `${path}.${k}` : k, exclude);
    if (kept === undefined) continue;
    setOwn(out, k, kept);
    any = true;
  }
  return any ? out : undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Sets an own property even for `__proto__` (source data names its own fields). Only that key
 * needs defineProperty; plain assignment keeps the object in V8's fast mode for every other key.
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** A text of a value (keys in their order, so equal texts mean identical output), to order two otherwise equal candidates. */
function stableKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${stableKey(v[k])}`).join(',')}}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Date) return `date:${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()}`;
  return `${typeof v}:${String(v)}`;
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareNumbers = (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0);

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Milliseconds since the epoch, keeping sub-millisecond digits (Postgres timestamps have
 * microseconds: two updates in one millisecond still have an order). A time without an offset is
 * UTC, never the machine's zone, so the result is the same everywhere. -Infinity when unreadable.
 */
function instant(iso: string): number {
  const m = ISO_8601.exec(iso.trim());
  if (!m) return -Infinity;
  const [, date, time = '00:00', frac = '', zone = 'Z'] = m;
  let offset = zone.toUpperCase();
  if (offset !== 'Z') {
    const digits = offset.slice(1).replace(':', '');
    offset = `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2).padEnd(2, '0')}`;
  }
  const ms = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}.${frac.slice(0, 3).padEnd(3, '0')}${offset}`);
  if (Number.isNaN(ms)) return -Infinity;
  return frac.length > 3 ? ms + Number(`0.${frac.slice(3)}`) : ms;
}

/** Reads a merge policy from configuration (JSON); throws an Error saying what is wrong. */
export function parseMergePolicy(v: unknown): MergePolicy {
  const shape = `{ "kind": "most-recent" } or { "kind": "source-priority", "instances": ["<source instance id>", ...] }`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`a merge policy must be an object: ${shape}`);
  const o = v as Record<string, unknown>;
  const allowed = (keys: string[]) => {
    const unknown = Object.keys(o).filter((k) => !keys.includes(k));
    if (unknown.length) throw new Error(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} in a '${String(o.kind)}' merge policy (it has ${keys.map((k) => `'${k}'`).join(' and ')})`);
  };
  if (o.kind === 'most-recent') {
    allowed(['kind']);
    return { kind: 'most-recent' };
  }
  if (o.kind === 'source-priority') {
    allowed(['kind', 'instances']);
    if (!Array.isArray(o.instances) || o.instances.length === 0) {
      throw new Error(`a 'source-priority' merge policy needs 'instances': a non-empty list of source instance ids, highest priority first`);
    }
    const seen = new Set<string>();
    o.instances.forEach((id, i) => {
      if (typeof id !== 'string' || id.trim() === '') throw new Error(`instances[${i}] must be a source instance id (a non-empty string), not ${JSON.stringify(id) ?? String(id)}`);
      if (seen.has(id)) throw new Error(`source instance '${id}' is listed twice in 'instances': each instance has one priority`);
      seen.add(id);
    });
    return { kind: 'source-priority', instances: [...(o.instances as string[])] };
  }
  const got = o.kind === undefined ? 'no kind' : `kind ${JSON.stringify(o.kind) ?? String(o.kind)}`;
  throw new Error(`a merge policy's kind is 'most-recent' or 'source-priority' (got ${got}): ${shape}`);
}
