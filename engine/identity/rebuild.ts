/**
 * Full recompute: every stored person and account resolved from scratch by the same resolver the
 * incremental path uses, keeping each record's and link's first-seen sequence (so ids stay what
 * they were). `fullResolution` only computes (tests compare it with the incremental graph);
 * `rebuildIdentityGraph` replaces the graph and all profiles with it (after a configuration change,
 * or for a first load).
 */
import type { Knex } from 'knex';
import { ENTITIES, ENTITY_TABLES, RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { extractIdentities, type ExtractedIdentity } from '../../domain/identity/extract';
import { profileIdOf } from '../../domain/identity/profile-id';
import { resolveAll, type Evidence, type IdentityKey, type Link, type Resolution } from '../../domain/identity/resolve';
import { copyArray, CopyBuffer, copyValue, inPgTransaction, type PgConn } from '../../db/pg-transaction';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import { lockGraph } from '../../db/repositories/identity-graph';
import { blockListOf, linkingRules } from './resolve-records';
import type { Fragment } from '../../domain/profiles/merge-policy';
import { writeProfilesInBulk } from './bulk-profiles';

export interface FullResolution {
  entity: Entity;
  evidence: Evidence;
  resolution: Resolution;
  /** record node → profile id */
  profileOf: Map<IdentityKey, string>;
  fields: Map<string, string>;
  scopes: Map<IdentityKey, string>;
  /** Each record's stored row, when asked for (a rebuild materialises profiles from them). */
  fragments?: Map<IdentityKey, Fragment>;
}

const FETCH = 20_000;

async function* storedRecords(conn: PgConn, entity: Entity, instances?: string[]) {
  const accountKey = entity === 'person' ? 'account_key' : 'NULL::text AS account_key';
  await conn.query(
    `DECLARE identity_rebuild NO SCROLL CURSOR FOR
       SELECT record_key, source_type, source_instance_id, ${accountKey}, record, coalesce(source_updated_at, received_at) AS updated_at,
              extract(epoch FROM created_at)::float8 AS created
         FROM ${ENTITY_TABLES[entity].records} WHERE NOT is_deleted${instances ? ' AND source_instance_id = ANY($1::text[])' : ''}`,
    instances ? [instances] : [],
  );
  try {
    for (;;) {
      const { rows } = await conn.query(`FETCH ${FETCH} FROM identity_rebuild`);
      if (!rows.length) break;
      yield rows as Array<{ record_key: string; source_type: string | null; source_instance_id: string | null; account_key: string | null; record: Record<string, unknown>; updated_at: Date; created: number }>;
    }
  } finally {
    await conn.query('CLOSE identity_rebuild');
  }
}

/**
 * Resolves every stored record of an entity (inside the caller's transaction, for a consistent
 * read). `instances` restricts it to the records of some source instances — a full recompute of
 * their components only when nothing outside them links to them (tests that own their instances).
 */
export async function fullResolution(conn: PgConn, config: IdentityConfig, entity: Entity, opts: { keepFragments?: boolean; instances?: string[] } = {}): Promise<FullResolution> {
  const ns = RECORD_NAMESPACE[entity];
  const heldRecords = await conn.query(`SELECT node, first_seen::float8 AS s FROM identity_record WHERE entity = $1`, [entity]);
  const heldLinks = await conn.query(`SELECT node, identity, seq::float8 AS s FROM identity_link WHERE node LIKE $1`, [`${ns}:%`]);
  const dnl = await conn.query(`SELECT a, b FROM identity_do_not_link WHERE entity = $1`, [entity]);

  const firstSeenHeld = new Map<string, number>(heldRecords.rows.map((r: { node: string; s: number }) => [r.node, r.s]));
  const seqHeld = new Map<string, number>(heldLinks.rows.map((r: { node: string; identity: string; s: number }) => [`${r.node}\u0000${r.identity}`, r.s]));
  const observed: Array<{ node: IdentityKey; scope: string | undefined; identities: ExtractedIdentity[]; created: number }> = [];
  const blocks = blockListOf(config);
  const fragments = opts.keepFragments ? new Map<IdentityKey, Fragment>() : undefined;
  for await (const rows of storedRecords(conn, entity, opts.instances)) {
    for (const r of rows) {
      const x = extractIdentities(entity, { recordKey: r.record_key, sourceType: r.source_type, sourceInstanceId: r.source_instance_id, accountKey: r.account_key, record: r.record }, config, blocks);
      observed.push({ node: x.record, scope: x.scope, identities: x.identities, created: r.created });
      fragments?.set(x.record, { recordKey: r.record_key, sourceInstanceId: r.source_instance_id, updatedAt: r.updated_at.toISOString(), record: r.record });
    }
  }
  // Records seen for the first time get sequence numbers now, in storage order (then key).
  const fresh = observed.filter((o) => !firstSeenHeld.has(o.node)).sort((a, b) => a.created - b.created || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  let next = fresh.length ? Number((await conn.query(`SELECT setval('identity_seq', nextval('identity_seq') + $1::bigint - 1)::float8 AS last`, [fresh.length])).rows[0].last) - fresh.length + 1 : 0;
  for (const o of fresh) firstSeenHeld.set(o.node, next++);
  const records = new Map<IdentityKey, number>();
  const scopes = new Map<IdentityKey, string>();
  const fields = new Map<string, string>();
  const links: Link[] = [];
  for (const o of observed) {
    const seen = firstSeenHeld.get(o.node)!;
    records.set(o.node, seen);
    if (o.scope !== undefined) scopes.set(o.node, o.scope);
    for (const i of o.identities) {
      const id = `${o.node}\u0000${i.key}`;
      links.push({ record: o.node, identity: i.key, seq: seqHeld.get(id) ?? seen });
      fields.set(id, i.field);
    }
  }
  const evidence: Evidence = { records, links, scopes };
  const resolution = resolveAll(evidence, linkingRules(config, dnl.rows.map((r: { a: string; b: string }) => [r.a, r.b] as const)));
  const profileOf = new Map<IdentityKey, string>();
  const anchorIds = new Map<IdentityKey, string>();
  for (const node of records.keys()) {
    const anchor = resolution.clusterOf.get(node) ?? node;
    let id = anchorIds.get(anchor);
    if (!id) anchorIds.set(anchor, (id = profileIdOf(anchor)));
    profileOf.set(node, id);
  }
  return { entity, evidence, resolution, profileOf, fields, scopes, ...(fragments ? { fragments } : {}) };
}

export interface RebuildResult {
  entity: Entity;
  records: number;
  links: number;
  profiles: number;
  ms: { resolve: number; graph: number; profiles: number };
}

/** Replaces the graph and the profiles of both entities with a full recompute. */
export async function rebuildIdentityGraph(db: Knex, opts: { actor?: string } = {}): Promise<RebuildResult[]> {
  const config = await loadIdentityConfig(db);
  const out: RebuildResult[] = [];
  for (const entity of ENTITIES) out.push(await rebuildEntity(db, config, entity, opts.actor ?? 'rebuild'));
  // Fresh statistics: the incremental path's plans depend on them after a bulk rewrite.
  await db.raw('ANALYZE identity_record, identity_link, identity_decision, person_profile, account_profile, profile_account_link');
  return out;
}

async function rebuildEntity(db: Knex, config: IdentityConfig, entity: Entity, actor: string): Promise<RebuildResult> {
  const t0 = performance.now();
  let resolveMs = 0;
  let full!: FullResolution;
  const written = await inPgTransaction(db, async (conn) => {
    // Resolutions in flight finish first, and none starts until the rebuild commits. Nothing else
    // waits: ingestion stores and queues (the resolvers catch up after the commit), and readers see
    // the previous graph and profiles until then (the rewrite takes row locks only, never a table's).
    await lockGraph(conn, 'exclusive');
    full = await fullResolution(conn, config, entity, { keepFragments: true });
    const tResolved = performance.now();
    const ns = `${RECORD_NAMESPACE[entity]}:%`;
    await conn.query(`DELETE FROM identity_link WHERE node LIKE $1`, [ns]);
    await conn.query(`DELETE FROM identity_record WHERE entity = $1`, [entity]);
    const outcome = new Map(full.resolution.decisions.map((d) => [`${d.link.record}\u0000${d.link.identity}`, d]));
    const now = new Date().toISOString();
    const records = new CopyBuffer(conn, 'identity_record (node, entity, record_key, scope, first_seen, profile_id)');
    const links = new CopyBuffer(conn, 'identity_link (node, identity, seq, field, outcome, rule, observed_at)');
    const log = new CopyBuffer(conn, 'identity_decision (entity, kind, node, identity, seq, identities, scope, rule, profile_id, actor)');
    for (const [node, seen] of full.evidence.records) {
      await records.add(`${copyValue(node)}\t${entity}\t${copyValue(node.slice(node.indexOf(':') + 1))}\t${copyValue(full.scopes.get(node) ?? null)}\t${seen}\t${full.profileOf.get(node)}\n`);
    }
    await records.flush();
    const byRecord = new Map<IdentityKey, Link[]>();
    for (const l of full.evidence.links) {
      const d = outcome.get(`${l.record}\u0000${l.identity}`)!;
      await links.add(`${copyValue(l.record)}\t${copyValue(l.identity)}\t${l.seq}\t${copyValue(full.fields.get(`${l.record}\u0000${l.identity}`)!)}\t${d.outcome}\t${copyValue(d.rule ?? null)}\t${now}\n`);
      const list = byRecord.get(l.record);
      if (list) list.push(l);
      else byRecord.set(l.record, [l]);
    }
    await links.flush();
    // The log: one observation per record as the rebuild saw it, and each rejected link with its rule.
    for (const [node, seen] of full.evidence.records) {
      const ids = (byRecord.get(node) ?? []).map((l) => l.identity);
      await log.add(`${entity}\tobserve\t${copyValue(node)}\t\\N\t${seen}\t${copyArray(ids)}\t${copyValue(full.scopes.get(node) ?? null)}\t\\N\t${full.profileOf.get(node)}\t${copyValue(actor)}\n`);
    }
    for (const d of full.resolution.decisions) {
      if (d.outcome !== 'rejected') continue;
      await log.add(`${entity}\treject\t${copyValue(d.link.record)}\t${copyValue(d.link.identity)}\t${d.link.seq}\t\\N\t\\N\t${copyValue(d.rule ?? null)}\t${full.profileOf.get(d.link.record)}\t${copyValue(actor)}\n`);
    }
    await log.flush();
    resolveMs = tResolved - t0;
    const t1 = performance.now();
    const profiles = await writeProfilesInBulk(conn, config, full, actor);
    return { profiles, graphMs: t1 - t0 - resolveMs, profilesMs: performance.now() - t1 };
  });
  return { entity, records: full.evidence.records.size, links: full.evidence.links.length, profiles: written.profiles, ms: { resolve: resolveMs, graph: written.graphMs, profiles: written.profilesMs } };
}
