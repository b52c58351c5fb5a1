/**
 * Identity configuration in Postgres: seeded with the defaults on first use, read as one
 * IdentityConfig, changed by the API. A cached copy is kept per database and refreshed when the
 * configuration version (identity_setting 'version') moves.
 */
import type { Knex } from 'knex';
import {
  DEFAULT_IDENTITY_CONFIG,
  type BlockedValue,
  type IdentityConfig,
  type IdentitySettings,
  type NamespaceConfig,
} from '../../domain/identity/config';

type Queryable = Knex | Knex.Transaction;

const cache = new WeakMap<object, { version: number; config: IdentityConfig }>();

/** Seeds the defaults once (a later run keeps whatever operators changed). */
export async function ensureIdentityDefaults(db: Queryable): Promise<void> {
  const seeded = await db('identity_setting').where({ key: 'seeded' }).first();
  if (seeded) return;
  await db.transaction(async (tx) => {
    await tx.raw('LOCK TABLE identity_setting IN EXCLUSIVE MODE');
    if (await tx('identity_setting').where({ key: 'seeded' }).first()) return;
    await tx('identity_namespace').insert(DEFAULT_IDENTITY_CONFIG.namespaces.map(namespaceRow)).onConflict('name').ignore();
    await tx('identity_blocked_value').insert(DEFAULT_IDENTITY_CONFIG.blocked.map(blockedRow)).onConflict(['namespace', 'match', 'value']).ignore();
    await tx('identity_setting').insert([
      { key: 'settings', value: JSON.stringify(DEFAULT_IDENTITY_CONFIG.settings) },
      { key: 'version', value: '1' },
      { key: 'seeded', value: 'true' },
    ]).onConflict('key').ignore();
  });
}

function namespaceRow(n: NamespaceConfig) {
  return { name: n.name, entity: n.entity, label: n.label, kind: n.kind, priority: n.priority, is_unique: n.unique, links: n.links, fields: n.fields, description: n.description };
}

function blockedRow(b: BlockedValue) {
  return { namespace: b.namespace ?? '*', match: b.match, value: b.value.toLowerCase(), reason: b.reason };
}

async function configVersion(db: Queryable): Promise<number> {
  const row = await db('identity_setting').where({ key: 'version' }).first('value');
  return row ? Number(row.value) : 0;
}

/**
 * The configuration in force, with its version. The version is read again after the tables, and
 * the read repeated if it moved: a change bumps the version in its own transaction, so equal
 * versions mean the tables were read as of that version (ingest stamps extracted identities with it).
 */
export async function loadIdentityConfig(db: Queryable, cacheKey: object = db): Promise<IdentityConfig> {
  let version = await configVersion(db);
  if (version === 0) {
    await ensureIdentityDefaults(db);
    version = await configVersion(db);
  }
  for (;;) {
    const hit = cache.get(cacheKey);
    if (hit && hit.version === version) return hit.config;
    const config = await readConfig(db, version);
    const after = await configVersion(db);
    if (after === version) {
      cache.set(cacheKey, { version, config });
      return config;
    }
    version = after;
  }
}

async function readConfig(db: Queryable, version: number): Promise<IdentityConfig> {
  const [namespaces, blocked, settings] = await Promise.all([
    db('identity_namespace').orderBy('priority', 'desc').orderBy('name'),
    db('identity_blocked_value').orderBy(['namespace', 'match', 'value']),
    db('identity_setting').where({ key: 'settings' }).first('value'),
  ]);
  return {
    namespaces: namespaces.map((r: Record<string, unknown>) => ({
      name: r.name as string,
      entity: r.entity as NamespaceConfig['entity'],
      label: r.label as string,
      kind: r.kind as NamespaceConfig['kind'],
      priority: r.priority as number,
      unique: r.is_unique as boolean,
      links: r.links as boolean,
      fields: r.fields as string[],
      description: r.description as string,
    })),
    blocked: blocked.map((r: Record<string, string>) => ({ namespace: r.namespace === '*' ? null : r.namespace!, match: r.match as BlockedValue['match'], value: r.value!, reason: r.reason! })),
    settings: { ...DEFAULT_IDENTITY_CONFIG.settings, ...((settings?.value ?? {}) as Partial<IdentitySettings>) },
    version,
  };
}

async function bumpVersion(tx: Knex.Transaction): Promise<void> {
  await tx.raw(`UPDATE identity_setting SET value = to_jsonb((value #>> '{}')::bigint + 1), updated_at = now() WHERE key = 'version'`);
}

export async function upsertNamespace(db: Knex, ns: NamespaceConfig): Promise<void> {
  await ensureIdentityDefaults(db);
  await db.transaction(async (tx) => {
    await tx('identity_namespace').insert({ ...namespaceRow(ns), updated_at: tx.fn.now() }).onConflict('name').merge();
    await bumpVersion(tx);
  });
}

export async function replaceBlockedValues(db: Knex, add: BlockedValue[], remove: BlockedValue[]): Promise<void> {
  await ensureIdentityDefaults(db);
  await db.transaction(async (tx) => {
    for (const b of remove) await tx('identity_blocked_value').where({ namespace: b.namespace ?? '*', match: b.match, value: b.value.toLowerCase() }).delete();
    if (add.length) await tx('identity_blocked_value').insert(add.map(blockedRow)).onConflict(['namespace', 'match', 'value']).merge();
    await bumpVersion(tx);
  });
}

export async function updateIdentitySettings(db: Knex, settings: IdentitySettings): Promise<void> {
  await ensureIdentityDefaults(db);
  await db.transaction(async (tx) => {
    await tx('identity_setting').where({ key: 'settings' }).update({ value: JSON.stringify(settings), updated_at: tx.fn.now() });
    await bumpVersion(tx);
  });
}
