/**
 * What one record says about who it is: its own record node, the identities its fields carry
 * (normalised per namespace kind) and its scope. Values that identify nobody are refused with the
 * reason, so an operator can see why an email on a record did not link it to anything.
 */
import { identityKey, type IdentityKey } from './resolve';
import { canonicalEmail, canonicalWebDomain, MAX_DOMAIN, MAX_EMAIL, MAX_KEY, normaliseDuns, normaliseOpaqueId, normalisePhone, type Normalised } from './normalise';
import { RECORD_NAMESPACE, type BlockedValue, type Entity, type IdentityConfig, type NamespaceConfig, type RecordScope, type ValueKind } from './config';

/** The stored fields of one canonical record that identity extraction reads. */
export interface RecordFacts {
  recordKey: string;
  sourceType: string | null;
  sourceInstanceId: string | null;
  /** The person's main account (people only). */
  accountKey: string | null;
  record: Record<string, unknown>;
}

export interface ExtractedIdentity {
  key: IdentityKey;
  /** The record field it came from. */
  field: string;
}

export interface RefusedIdentity {
  namespace: string;
  field: string;
  value: string;
  reason: string;
}

export interface RecordIdentities {
  record: IdentityKey;
  scope: string | undefined;
  identities: ExtractedIdentity[];
  refused: RefusedIdentity[];
}

/** Blocked values indexed for lookup: (namespace or '*', match, value). */
export class BlockList {
  private readonly entries = new Map<string, string>();

  constructor(blocked: readonly BlockedValue[]) {
    for (const b of blocked) this.entries.set(`${b.namespace ?? '*'}\u0000${b.match}\u0000${b.value.toLowerCase()}`, b.reason);
  }

  reason(namespace: string, match: BlockedValue['match'], value: string): string | undefined {
    const v = value.toLowerCase();
    return this.entries.get(`${namespace}\u0000${match}\u0000${v}`) ?? this.entries.get(`*\u0000${match}\u0000${v}`);
  }
}

/** Normalises a value for a namespace kind and applies the block list. */
export function normaliseIdentity(ns: NamespaceConfig, raw: string, blocks: BlockList): Normalised {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw.trim())) return { ok: false, reason: 'control characters in an identity value' };
  const base = normaliseByKind(ns.kind, raw);
  if (!base.ok) return base;
  const v = base.value;
  const blockedValue = blocks.reason(ns.name, 'value', v);
  if (blockedValue) return { ok: false, reason: blockedValue };
  if (ns.kind === 'email') {
    const at = v.lastIndexOf('@');
    const local = v.slice(0, at).split('+')[0]!;
    const r = blocks.reason(ns.name, 'email-local-part', local) ?? blocks.reason(ns.name, 'value', local);
    if (r) return { ok: false, reason: `${r} ('${local}@')` };
  }
  if (ns.kind === 'web-domain') {
    const r = blocks.reason(ns.name, 'domain', v);
    if (r) return { ok: false, reason: `${r} ('${v}')` };
  }
  return base;
}

function normaliseByKind(kind: ValueKind, raw: string): Normalised {
  switch (kind) {
    case 'email': {
      const v = canonicalEmail(raw);
      if (v !== null) return { ok: true, value: v };
      return { ok: false, reason: raw.trim().length > MAX_EMAIL ? `an email address has at most ${MAX_EMAIL} characters` : 'not an email address' };
    }
    case 'web-domain': {
      const v = canonicalWebDomain(raw);
      return v === null ? { ok: false, reason: `not a web domain (at most ${MAX_DOMAIN} characters)` } : { ok: true, value: v };
    }
    case 'phone':
      return normalisePhone(raw);
    case 'duns':
      return normaliseDuns(raw);
    case 'record-key':
      return normaliseOpaqueId(raw, MAX_KEY);
    case 'opaque':
      return normaliseOpaqueId(raw);
  }
}

/** Every string at a dot path; arrays on the way are walked; `identityMap.X` reads each `id`. */
const pathParts = new Map<string, string[]>();

export function valuesAt(record: Record<string, unknown>, path: string): string[] {
  let parts = pathParts.get(path);
  if (!parts) pathParts.set(path, (parts = path.split('.')));
  if (parts[0] === 'identityMap' && parts.length === 2) {
    const map = record.identityMap as Record<string, unknown> | undefined;
    const list = map?.[parts[1]!];
    return Array.isArray(list) ? list.flatMap((e) => (e && typeof (e as { id?: unknown }).id === 'string' ? [(e as { id: string }).id] : [])) : [];
  }
  let level: unknown[] = [record];
  for (const p of parts) {
    const next: unknown[] = [];
    for (const v of level) {
      const items = Array.isArray(v) ? v : [v];
      for (const item of items) if (item && typeof item === 'object') next.push((item as Record<string, unknown>)[p]);
    }
    level = next;
  }
  return level.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v): v is string => typeof v === 'string');
}

/**
 * The SQL/JSON path that selects what `valuesAt(record, field)` reads, and whether the result's
 * arrays are flattened one level (what valuesAt does at the end of an ordinary path). Lax mode
 * walks one level of arrays at each step, as valuesAt does; `identityMap.X` reads the `id` of
 * each entry of the array X only.
 */
export function identityFieldPath(field: string): { path: string; flatten: boolean } {
  const parts = field.split('.');
  const quoted = parts.map((p) => JSON.stringify(p));
  if (parts[0] === 'identityMap' && parts.length === 2) return { path: `strict $.${quoted.join('.')}[*] ? (exists(@."id"))."id"`, flatten: false };
  return { path: `lax $.${quoted.join('.')}`, flatten: true };
}

/** The strings of one identity field's path result (see identityFieldPath). */
export function pathStrings(values: unknown, flatten: boolean): string[] {
  if (!Array.isArray(values)) return [];
  const out: string[] = [];
  for (const v of values) {
    if (typeof v === 'string') out.push(v);
    else if (flatten && Array.isArray(v)) for (const w of v) if (typeof w === 'string') out.push(w);
  }
  return out;
}

/** The fields of an entity's linking namespaces, in extraction order. */
export function identityFields(entity: Entity, config: IdentityConfig): string[] {
  return [...new Set(config.namespaces.filter((ns) => ns.entity === entity && ns.links).flatMap((ns) => ns.fields))];
}

export function recordScope(scope: RecordScope, facts: Omit<RecordFacts, 'record'>): string | undefined {
  const instance = `${facts.sourceType ?? ''}/${facts.sourceInstanceId ?? ''}`.toLowerCase();
  switch (scope) {
    case 'none':
      return undefined;
    case 'instance':
      return instance;
    case 'instance-account':
      return `${instance}|${facts.accountKey ?? ''}`;
  }
}

/** The identities of one record, for the namespaces of its entity. */
export function extractIdentities(entity: Entity, facts: RecordFacts, config: IdentityConfig, blocks: BlockList): RecordIdentities {
  return extractIdentitiesOf(entity, facts, (field) => valuesAt(facts.record, field), config, blocks);
}

/**
 * The same, from the values of each identity field (`valuesOf(field)` = `valuesAt(record, field)`),
 * for callers that read only those fields (a full recompute reads them with `identityFieldPaths`).
 */
export function extractIdentitiesOf(entity: Entity, facts: Omit<RecordFacts, 'record'>, valuesOf: (field: string) => readonly string[], config: IdentityConfig, blocks: BlockList): RecordIdentities {
  const record = identityKey(RECORD_NAMESPACE[entity], facts.recordKey);
  const identities = new Map<IdentityKey, ExtractedIdentity>();
  const refused: RefusedIdentity[] = [];
  for (const ns of config.namespaces) {
    if (ns.entity !== entity || !ns.links) continue;
    for (const field of ns.fields) {
      for (const raw of valuesOf(field)) {
        const n = normaliseIdentity(ns, raw, blocks);
        if (!n.ok) {
          refused.push({ namespace: ns.name, field, value: raw, reason: n.reason });
          continue;
        }
        const key = identityKey(ns.name, n.value);
        if (key !== record && !identities.has(key)) identities.set(key, { key, field });
      }
    }
  }
  return { record, scope: recordScope(config.settings.recordScope[entity], facts), identities: [...identities.values()], refused };
}

/**
 * What ingest stores of a record's identities (canonical row columns identities, identity_fields,
 * identity_refused): the identities in extraction order with their fields, and the refused values
 * with the reason, each value cut to REFUSED_VALUE_MAX characters. The record node and the scope
 * are not stored: both follow from the row's key and source columns.
 */
export interface StoredIdentities {
  keys: string[];
  fields: string[];
  refused: RefusedIdentity[] | null;
}

export const REFUSED_VALUE_MAX = 254;

export function storedIdentitiesOf(x: RecordIdentities): StoredIdentities {
  return {
    keys: x.identities.map((i) => i.key),
    fields: x.identities.map((i) => i.field),
    refused: x.refused.length ? x.refused.map((r) => (r.value.length > REFUSED_VALUE_MAX ? { ...r, value: `${cutAt(r.value, REFUSED_VALUE_MAX)}…` } : r)) : null,
  };
}

/** The first `n` UTF-16 units of a string, one fewer if that would split a surrogate pair. */
function cutAt(s: string, n: number): string {
  const code = s.charCodeAt(n - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}

/** A record's identities from its stored columns (the inverse of storedIdentitiesOf, refused values aside). */
export function identitiesFromStored(entity: Entity, facts: Omit<RecordFacts, 'record'>, keys: readonly string[], fields: readonly string[], config: IdentityConfig): RecordIdentities {
  return {
    record: identityKey(RECORD_NAMESPACE[entity], facts.recordKey),
    scope: recordScope(config.settings.recordScope[entity], facts),
    identities: keys.map((key, i) => ({ key: key as IdentityKey, field: fields[i]! })),
    refused: [],
  };
}

/** The resolver's view of the configured namespaces. */
export function linkingNamespaces(config: IdentityConfig): Record<string, { unique: boolean; priority: number }> {
  const out: Record<string, { unique: boolean; priority: number }> = {};
  for (const ns of config.namespaces) out[ns.name] = { unique: ns.unique, priority: ns.priority };
  return out;
}
