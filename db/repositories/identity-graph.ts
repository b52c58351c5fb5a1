/**
 * The identity graph in Postgres: record nodes, links with their decisions, do-not-link pairs
 * and the append-only decision log. Set-based statements only (arrays in, unnest out).
 */
import type { Knex } from 'knex';
import { cursorPages, listParam, withPgConn, type PgConn } from '../pg-transaction';

export interface LinkRow {
  node: string;
  identity: string;
  seq: number;
  field: string;
  outcome: 'linked' | 'redundant' | 'rejected';
  rule: string | null;
  observed_at: Date;
  /** The evidence component (the first-seen sequence of its earliest record). */
  component_id: number;
}

export interface RecordRow {
  node: string;
  record_key: string;
  scope: string | null;
  first_seen: number;
  profile_id: string;
  component_id: number;
}

export interface DecisionRow {
  entity: string;
  kind: 'observe' | 'remove' | 'link' | 'reject' | 'do-not-link' | 'allow-link';
  node: string;
  identity: string | null;
  seq: number | null;
  identities: string[] | null;
  scope: string | null;
  rule: string | null;
  profileId: string | null;
  previousProfileIds: string[] | null;
  actor: string;
  reason: string | null;
}

/** Lock-key space: profiles hash into this many keys, so a 5,000-record batch never holds more than this many locks. */
const LOCK_BUCKETS = 1024;
/** The whole graph: resolutions hold it shared, a rebuild exclusively. */
const GRAPH_LOCK = 7_420_001;

/**
 * Transaction-scoped advisory locks on profiles (hashed into LOCK_BUCKETS keys), taken in one
 * sorted statement: two writers of one profile (a person resolver's batch and an account
 * resolver's re-match of the same person) take turns. A deadlock is detected by Postgres (40P01)
 * and the caller retries.
 */
export async function lockProfiles(conn: PgConn, profileIds: Iterable<string>): Promise<void> {
  const list = [...new Set(profileIds)];
  if (!list.length) return;
  await conn.query(
    `SELECT pg_advisory_xact_lock(2, k) FROM (SELECT DISTINCT (hashtext(n) & ${LOCK_BUCKETS - 1}) AS k FROM unnest($1::text[]) n) s ORDER BY k`,
    [list],
  );
}

/**
 * One writer at a time per entity's graph (a resolver micro-batch, an operator's saga step): the
 * components it loads cannot change under it, so they load in one query, without a lock per node.
 * Taken after the graph lock (shared), always in that order.
 */
export async function lockEntityGraph(conn: PgConn, entity: string): Promise<void> {
  await conn.query(`SELECT pg_advisory_xact_lock(3, hashtext($1))`, [entity]);
}

/** Every incremental resolution holds the graph shared; a rebuild waits for them and holds it alone. */
export async function lockGraph(conn: PgConn, mode: 'shared' | 'exclusive'): Promise<void> {
  await conn.query(mode === 'shared' ? `SELECT pg_advisory_xact_lock_shared(${GRAPH_LOCK})` : `SELECT pg_advisory_xact_lock(${GRAPH_LOCK})`);
}

/**
 * Holds the graph exclusively across several transactions (a full recompute's graph and profile
 * commits): a session lock on a connection of its own, which `fn` runs its transactions on;
 * released when `fn` ends — or by Postgres when the session dies.
 */
export async function holdGraph<T>(db: Knex, fn: (conn: PgConn) => Promise<T>): Promise<T> {
  return withPgConn(db, async (conn) => {
    await conn.query(`SELECT pg_advisory_lock(${GRAPH_LOCK})`);
    try {
      return await fn(conn);
    } finally {
      await conn.query(`SELECT pg_advisory_unlock(${GRAPH_LOCK})`).catch(() => undefined);
    }
  });
}

const LINK_COLUMNS = 'node, identity, seq::float8 AS seq, field, outcome, rule, observed_at, component_id::float8 AS component_id';

/**
 * The stored rows of these records in their canonical table (person tables have an account key):
 * the identities extracted at ingest when they were extracted under `configVersion`, else the
 * record's JSON (extracted under another configuration, or before extraction at ingest) — the
 * only case in which record JSON is read.
 */
export async function storedIdentityRows(conn: PgConn, table: string, hasAccountKey: boolean, keys: string[], configVersion: number | undefined): Promise<StoredIdentityRow[]> {
  const accountKey = hasAccountKey ? 'account_key' : 'NULL::text AS account_key';
  return (
    await conn.query(
      `/* identity_graph.stored_identities */
       SELECT record_key, source_type, source_instance_id, is_deleted, ${accountKey}, identities, identity_fields,
              CASE WHEN (identity_config = $2::bigint) IS TRUE THEN NULL ELSE record END AS record
         FROM ${table} WHERE record_key = ANY($1::text[])`,
      [keys, configVersion ?? null],
    )
  ).rows;
}

export interface StoredIdentityRow {
  record_key: string;
  source_type: string | null;
  source_instance_id: string | null;
  is_deleted: boolean;
  account_key: string | null;
  identities: string[] | null;
  identity_fields: string[] | null;
  /** Set only when the stored identities are not current. */
  record: Record<string, unknown> | null;
}

/**
 * The person profiles that relation or opportunity records name now (through their person
 * records), and those their account links named before (a deleted or reassigned role).
 */
export async function peopleNamedBy(conn: PgConn, className: 'opportunity' | 'account-person' | 'opportunity-person', recordKeys: readonly string[]): Promise<string[]> {
  const sql =
    className === 'opportunity'
      ? `SELECT DISTINCT r.profile_id FROM xdm_opportunity_person op JOIN identity_record r ON r.node = 'b2b_person:' || op.person_key WHERE op.opportunity_key = ANY($1::text[])`
      : `SELECT DISTINCT r.profile_id FROM ${className === 'account-person' ? 'xdm_account_person' : 'xdm_opportunity_person'} x
           JOIN identity_record r ON r.node = 'b2b_person:' || x.person_key WHERE x.record_key = ANY($1::text[])`;
  const { rows } = await conn.query(`/* identity_graph.people_named_by */ ${sql} UNION SELECT person_profile_id FROM profile_account_link WHERE source_key = ANY($1::text[])`, [recordKeys]);
  return rows.map((r: { profile_id: string }) => r.profile_id);
}

/** record key → profile id, for these record nodes (`namespace:key`). */
export async function profileIdsOfNodes(conn: PgConn, nodes: string[]): Promise<Map<string, string>> {
  if (!nodes.length) return new Map();
  const { rows } = await conn.query(`/* identity_graph.profile_ids */ SELECT record_key, profile_id FROM identity_record WHERE node = ANY($1::text[])`, [nodes]);
  return new Map(rows.map((r: { record_key: string; profile_id: string }) => [r.record_key, r.profile_id]));
}

/** The decision log of an entity in processing order, a page at a time (a cursor in the caller's transaction). */
export async function* decisionLogPages(conn: PgConn, entity: string): AsyncGenerator<Array<{ kind: string; node: string; identity: string | null; seq: number | null; identities: string[] | null; scope: string | null }>> {
  yield* cursorPages(conn, 'decision_log', `/* identity_graph.decision_log */ SELECT kind, node, identity, seq::float8 AS seq, identities, scope FROM identity_decision WHERE entity = $1 ORDER BY id`, [entity], 20_000);
}

/** The links of these record nodes. */
export async function linksOfRecords(conn: PgConn, nodes: string[]): Promise<LinkRow[]> {
  if (!nodes.length) return [];
  return (await conn.query(`SELECT ${LINK_COLUMNS} FROM identity_link WHERE node = ANY($1::text[])`, [nodes])).rows;
}

/** The namespaces whose values are record nodes (a link's `node` side is always one). */
const RECORD_NODE = /^b2b_(person|account):/;

/**
 * Every link of the evidence components containing `seeds` (records and identities connected
 * through any link): the stored component ids of the seeds, then every link of those components
 * (two statements, each an index scan).
 */
export async function loadComponents(conn: PgConn, seeds: Iterable<string>): Promise<{ nodes: Set<string>; links: LinkRow[] }> {
  const nodes = new Set(seeds);
  const list = [...nodes];
  // Two statements, so the second is planned for the ids it gets (an index scan of each component).
  const ids = (
    await conn.query(
      `/* identity_graph.component_ids */ SELECT component_id FROM identity_link WHERE node = ANY($1::text[]) OR identity = ANY($2::text[])
       UNION SELECT component_id FROM identity_record WHERE node = ANY($1::text[])`,
      [list.filter((n) => RECORD_NODE.test(n)), list],
    )
  ).rows.map((r: { component_id: string }) => r.component_id);
  const links: LinkRow[] = ids.length
    ? (await conn.query(`/* identity_graph.components */ SELECT ${LINK_COLUMNS} FROM identity_link WHERE component_id = ANY($1::bigint[])`, [ids])).rows
    : [];
  for (const l of links) nodes.add(l.node).add(l.identity);
  return { nodes, links };
}

export async function recordsByNode(conn: PgConn, nodes: string[]): Promise<RecordRow[]> {
  if (!nodes.length) return [];
  return (
    await conn.query(`SELECT node, record_key, scope, first_seen::float8 AS first_seen, profile_id, component_id::float8 AS component_id FROM identity_record WHERE node = ANY($1::text[])`, [nodes])
  ).rows;
}

export async function doNotLinkPairs(conn: PgConn, nodes: string[]): Promise<Array<[string, string]>> {
  if (!nodes.length) return [];
  const rows = (await conn.query(`SELECT a, b FROM identity_do_not_link WHERE a = ANY($1::text[]) OR b = ANY($1::text[])`, [nodes])).rows;
  return rows.map((r: { a: string; b: string }) => [r.a, r.b]);
}

export async function nextSeqs(conn: PgConn, n: number): Promise<number[]> {
  if (n <= 0) return [];
  const rows = (await conn.query(`SELECT nextval('identity_seq')::float8 AS s FROM generate_series(1, $1::int)`, [n])).rows;
  return rows.map((r: { s: number }) => r.s);
}

export async function upsertRecords(conn: PgConn, entity: string, rows: Array<Omit<RecordRow, 'first_seen'> & { first_seen: number }>): Promise<void> {
  if (!rows.length) return;
  await conn.query(
    `INSERT INTO identity_record (node, entity, record_key, scope, first_seen, profile_id, component_id)
     SELECT n, $1, k, s, f, p, c FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::uuid[], $7::bigint[]) AS t(n, k, s, f, p, c)
     ON CONFLICT (node) DO UPDATE SET scope = excluded.scope, profile_id = excluded.profile_id, component_id = excluded.component_id, updated_at = now()`,
    [entity, rows.map((r) => r.node), rows.map((r) => r.record_key), rows.map((r) => r.scope), rows.map((r) => r.first_seen), rows.map((r) => r.profile_id), rows.map((r) => r.component_id)],
  );
}

export async function deleteRecords(conn: PgConn, nodes: string[]): Promise<void> {
  if (nodes.length) await conn.query(`DELETE FROM identity_record WHERE node = ANY($1::text[])`, [nodes]);
}

export async function deleteLinks(conn: PgConn, links: Array<{ node: string; identity: string }>): Promise<void> {
  if (!links.length) return;
  await conn.query(
    `DELETE FROM identity_link l USING unnest($1::text[], $2::text[]) AS d(n, i) WHERE l.node = d.n AND l.identity = d.i`,
    [links.map((l) => l.node), links.map((l) => l.identity)],
  );
}

/** Inserts new links and updates the decision and component of existing ones (their seq and provenance stay). */
export async function upsertLinks(conn: PgConn, links: LinkRow[]): Promise<void> {
  if (!links.length) return;
  await conn.query(
    `INSERT INTO identity_link (node, identity, seq, field, outcome, rule, observed_at, component_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::bigint[])
     ON CONFLICT (node, identity) DO UPDATE SET outcome = excluded.outcome, rule = excluded.rule, component_id = excluded.component_id`,
    [
      links.map((l) => l.node),
      links.map((l) => l.identity),
      links.map((l) => l.seq),
      links.map((l) => l.field),
      links.map((l) => l.outcome),
      links.map((l) => l.rule),
      links.map((l) => l.observed_at),
      links.map((l) => l.component_id),
    ],
  );
}

export async function appendDecisions(conn: PgConn, rows: DecisionRow[]): Promise<void> {
  if (!rows.length) return;
  await conn.query(
    `INSERT INTO identity_decision (entity, kind, node, identity, seq, identities, scope, rule, profile_id, previous_profile_ids, actor, reason)
     SELECT e, k, n, i, s, string_to_array(ids, chr(31)), sc, r, p,
            string_to_array(pp, chr(31))::uuid[], a, re
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[], $11::text[], $12::text[])
       AS t(e, k, n, i, s, ids, sc, r, p, pp, a, re)`,
    [
      rows.map((r) => r.entity),
      rows.map((r) => r.kind),
      rows.map((r) => r.node),
      rows.map((r) => r.identity),
      rows.map((r) => r.seq),
      rows.map((r) => (r.identities ? listParam(r.identities) : null)),
      rows.map((r) => r.scope),
      rows.map((r) => r.rule),
      rows.map((r) => r.profileId),
      rows.map((r) => (r.previousProfileIds ? listParam(r.previousProfileIds) : null)),
      rows.map((r) => r.actor),
      rows.map((r) => r.reason),
    ],
  );
}
