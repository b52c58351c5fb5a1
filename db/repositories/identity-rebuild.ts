/**
 * SQL of the full recompute (engine/identity/rebuild.ts): narrow reads of what identity
 * extraction needs, and the graph written into shadow tables that replace the live ones in one
 * short step, so the rebuild never deletes or index-maintains millions of live rows.
 */
import type { Knex } from 'knex';
import type { PgConn } from '../pg-transaction';

/** What a recompute reads of one stored record: no record JSON, only its identity fields' values. */
export interface NarrowRecord {
  record_key: string;
  source_type: string | null;
  source_instance_id: string | null;
  account_key: string | null;
  /** When it was stored (epoch seconds): the order in which new records get their sequence. */
  created: number;
  /** Its first-seen sequence in the graph, null when the graph does not hold it yet. */
  first_seen: number | null;
  /** One JSON array per identity path, in the order given. */
  values: unknown[];
}

const FETCH = 50_000;

/**
 * The live records of a canonical table, narrowly: each identity field's values selected by its
 * SQL/JSON path (parameters, never spliced), joined to the graph's first-seen sequence.
 */
export async function* narrowRecords(
  conn: PgConn,
  opts: { table: string; hasAccountKey: boolean; nodePrefix: string; paths: readonly string[]; instances?: readonly string[] },
): AsyncGenerator<NarrowRecord[]> {
  const accountKey = opts.hasAccountKey ? 't.account_key' : 'NULL::text AS account_key';
  const values = opts.paths.map((_, i) => `jsonb_path_query_array(t.record, $${i + 2}::jsonpath, '{}', true)`).join(', ');
  const params: unknown[] = [opts.nodePrefix, ...opts.paths];
  if (opts.instances) params.push(opts.instances);
  await conn.query(
    `/* identity_rebuild.narrow_records */ DECLARE identity_rebuild NO SCROLL CURSOR FOR
       SELECT t.record_key, t.source_type, t.source_instance_id, ${accountKey}, extract(epoch FROM t.created_at)::float8 AS created,
              r.first_seen::float8 AS first_seen, jsonb_build_array(${values || ''}) AS values
         FROM ${opts.table} t LEFT JOIN identity_record r ON r.node = $1 || t.record_key
        WHERE NOT t.is_deleted${opts.instances ? ` AND t.source_instance_id = ANY($${params.length}::text[])` : ''}`,
    params,
  );
  try {
    for (;;) {
      const { rows } = await conn.query(`FETCH ${FETCH} FROM identity_rebuild`);
      if (!rows.length) break;
      yield rows as NarrowRecord[];
    }
  } finally {
    await conn.query('CLOSE identity_rebuild');
  }
}

/** Links whose first-seen sequence is not their record's (observed after the record first was). */
export async function laterLinkSeqs(conn: PgConn, nodePrefix: string): Promise<Array<{ node: string; identity: string; seq: number }>> {
  return (
    await conn.query(
      `/* identity_rebuild.later_link_seqs */ SELECT l.node, l.identity, l.seq::float8 AS seq
         FROM identity_link l JOIN identity_record r ON r.node = l.node
        WHERE l.node LIKE $1 AND l.seq <> r.first_seen`,
      [`${nodePrefix}%`],
    )
  ).rows;
}

/** Reserves n sequence numbers; returns the first. */
export async function reserveSeqs(conn: PgConn, n: number): Promise<number> {
  if (n <= 0) return 0;
  const { rows } = await conn.query(`SELECT setval('identity_seq', nextval('identity_seq') + $1::bigint - 1)::float8 AS last`, [n]);
  return Number(rows[0].last) - n + 1;
}

export async function doNotLinkOf(conn: PgConn, entity: string): Promise<Array<[string, string]>> {
  return (await conn.query(`SELECT a, b FROM identity_do_not_link WHERE entity = $1`, [entity])).rows.map((r: { a: string; b: string }) => [r.a, r.b]);
}

/**
 * An empty, unindexed shadow of a live table (`<table>_next`), with its columns, defaults, checks
 * and comments. Transactional: a rebuild that fails leaves none.
 */
export async function createShadow(conn: PgConn, table: string): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS ${table}_next`);
  await conn.query(`CREATE TABLE ${table}_next (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)`);
}

/**
 * Builds the live table's indexes (and primary key) on its filled shadow, then swaps the shadow
 * in under the live names. The live table is locked only for the drop and renames at the end of
 * the caller's transaction (readers in flight finish first; new ones wait those few ms).
 * The index definitions are the catalogue's own (pg_indexes), so the swapped-in table is
 * indistinguishable from the migration's.
 */
export async function swapShadow(conn: PgConn, table: string): Promise<void> {
  const indexes = (
    await conn.query(
      `SELECT i.indexname AS name, i.indexdef AS def, c.conname AS constraint_name
         FROM pg_indexes i LEFT JOIN pg_constraint c ON c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass AND c.contype = 'p'
        WHERE i.schemaname = current_schema() AND i.tablename = $1`,
      [table],
    )
  ).rows as Array<{ name: string; def: string; constraint_name: string | null }>;
  for (const ix of indexes) {
    const def = ix.def.replace(/^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON (?:ONLY )?)(\S+)/, (_m, a: string, _n: string, b: string, t: string) => `${a}${ix.name}_next${b}${t}_next`);
    if (!def.includes(`${ix.name}_next`)) throw new Error(`cannot rebuild index ${ix.name}: unexpected definition`);
    await conn.query(def);
    if (ix.constraint_name) await conn.query(`ALTER TABLE ${table}_next ADD CONSTRAINT ${ix.constraint_name}_next PRIMARY KEY USING INDEX ${ix.name}_next`);
  }
  await conn.query(`ANALYZE ${table}_next`);
  await conn.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  await conn.query(`DROP TABLE ${table}`);
  await conn.query(`ALTER TABLE ${table}_next RENAME TO ${table}`);
  for (const ix of indexes) {
    if (ix.constraint_name) await conn.query(`ALTER TABLE ${table} RENAME CONSTRAINT ${ix.constraint_name}_next TO ${ix.constraint_name}`);
    else await conn.query(`ALTER INDEX ${ix.name}_next RENAME TO ${ix.name}`);
  }
}

/**
 * Every live record of a canonical table with what profiles are built from, streamed from a
 * connection of its own (a read-only transaction) with the next page fetched while the caller
 * works on the current one.
 */
export async function* storedFragments(
  db: Knex,
  table: string,
): AsyncGenerator<Array<{ record_key: string; source_instance_id: string | null; updated_at: Date; record: Record<string, unknown> }>> {
  const conn = (await db.client.acquireConnection()) as PgConn;
  try {
    await conn.query('BEGIN READ ONLY');
    await conn.query(
      `/* identity_rebuild.stored_fragments */ DECLARE profile_rebuild NO SCROLL CURSOR FOR
         SELECT record_key, source_instance_id, coalesce(source_updated_at, received_at) AS updated_at, record FROM ${table} WHERE NOT is_deleted`,
    );
    const page = () => conn.query(`FETCH ${FETCH / 2} FROM profile_rebuild`);
    let next = page();
    for (;;) {
      const { rows } = await next;
      if (!rows.length) break;
      next = page();
      yield rows;
    }
  } finally {
    await conn.query('ROLLBACK').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}

/**
 * The profile-change outbox for a rebuilt profile table (its filled shadow, before the swap):
 * every profile upserted, and the live ones the rebuild no longer has deleted. Returns how many
 * profiles the shadow holds.
 */
export async function recordRebuiltProfiles(conn: PgConn, entity: string, table: string, cause: string): Promise<number> {
  const upserted = await conn.query(`INSERT INTO profile_change (entity, profile_id, change, cause) SELECT $1, profile_id, 'upserted', $2 FROM ${table}_next`, [entity, cause]);
  await conn.query(
    `INSERT INTO profile_change (entity, profile_id, change, cause)
     SELECT $1, o.profile_id, 'deleted', $2 FROM ${table} o WHERE NOT EXISTS (SELECT 1 FROM ${table}_next t WHERE t.profile_id = o.profile_id)`,
    [entity, cause],
  );
  return upserted.rowCount ?? 0;
}
