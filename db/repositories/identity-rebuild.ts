/**
 * SQL of the full recompute (engine/identity/rebuild.ts): narrow reads of what identity
 * extraction needs, and the graph written into shadow tables that replace the live ones in one
 * short step, so the rebuild never deletes or index-maintains millions of live rows.
 */
import type { Knex } from 'knex';
import { cursorPages, type PgConn } from '../pg-transaction';

/**
 * What a recompute reads of one stored record: no record JSON — its identities extracted at ingest
 * when they are current, else only its identity fields' values.
 */
export interface NarrowRecord {
  record_key: string;
  source_type: string | null;
  source_instance_id: string | null;
  account_key: string | null;
  /** When it was stored (epoch seconds): the order in which new records get their sequence. */
  created: number;
  /** Its first-seen sequence in the graph, null when the graph does not hold it yet. */
  first_seen: number | null;
  /** The identities extracted at ingest and their fields, when extracted under the configuration version given; else null. */
  identities: string[] | null;
  identity_fields: string[] | null;
  /** When `identities` is null: one JSON array per identity path, in the order given. */
  values: unknown[] | null;
}

const FETCH = 50_000;

/**
 * The live records of a canonical table, narrowly: the identities extracted at ingest under
 * `configVersion`, or else each identity field's values selected by its SQL/JSON path
 * (parameters, never spliced); joined to the graph's first-seen sequence, a page at a time (the
 * next fetched while the caller resolves the current one).
 */
export async function* narrowRecords(
  conn: PgConn,
  opts: { table: string; hasAccountKey: boolean; nodePrefix: string; paths: readonly string[]; configVersion: number | undefined; instances?: readonly string[] },
): AsyncGenerator<NarrowRecord[]> {
  const accountKey = opts.hasAccountKey ? 't.account_key' : 'NULL::text AS account_key';
  const values = opts.paths.map((_, i) => `jsonb_path_query_array(t.record, $${i + 3}::jsonpath, '{}', true)`).join(', ');
  const params: unknown[] = [opts.nodePrefix, opts.configVersion ?? null, ...opts.paths];
  if (opts.instances) params.push(opts.instances);
  yield* cursorPages<NarrowRecord>(
    conn,
    'identity_rebuild',
    `/* identity_rebuild.narrow_records */
       SELECT t.record_key, t.source_type, t.source_instance_id, ${accountKey}, extract(epoch FROM t.created_at)::float8 AS created,
              r.first_seen::float8 AS first_seen,
              CASE WHEN c.fresh THEN t.identities END AS identities, CASE WHEN c.fresh THEN t.identity_fields END AS identity_fields,
              CASE WHEN NOT c.fresh THEN jsonb_build_array(${values || ''}) END AS values
         FROM ${opts.table} t LEFT JOIN identity_record r ON r.node = $1 || t.record_key
        CROSS JOIN LATERAL (SELECT (t.identity_config = $2::bigint) IS TRUE AS fresh) c
        WHERE NOT t.is_deleted${opts.instances ? ` AND t.source_instance_id = ANY($${params.length}::text[])` : ''}`,
    params,
    FETCH,
  );
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

/** Index builds of this transaction sort in memory (a rebuild's shadows hold millions of rows). */
export async function allowLargeSorts(conn: PgConn): Promise<void> {
  await conn.query(`SET LOCAL maintenance_work_mem = '512MB'`);
}

/**
 * An empty, unindexed shadow of a live table (`<table>_next`), with its columns, defaults, checks
 * and comments. Transactional: a rebuild that fails leaves none.
 */
export async function createShadow(conn: PgConn, table: string): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS ${table}_next`);
  await conn.query(`CREATE TABLE ${table}_next (LIKE ${table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)`);
}

/** A filled shadow, indexed like its live table and ready to be swapped in. */
export interface IndexedShadow {
  table: string;
  indexes: Array<{ name: string; constraint_name: string | null }>;
}

/**
 * Builds the live table's indexes (and primary key) on its filled shadow. The definitions are the
 * catalogue's own (pg_indexes), so the swapped-in table is indistinguishable from the migration's.
 * Takes no lock on the live table.
 */
export async function indexShadow(conn: PgConn, table: string): Promise<IndexedShadow> {
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
  return { table, indexes: indexes.map(({ name, constraint_name }) => ({ name, constraint_name })) };
}

/** How long the swap waits for the live tables' readers before it lets them go and tries again. */
const SWAP_LOCK_TIMEOUT_MS = 1_000;
const SWAP_ATTEMPTS = 30;

/**
 * Swaps indexed shadows in under the live names, together. The live tables are locked in one
 * statement at the end of the caller's transaction, only for the drops and renames; if readers
 * keep one of them past SWAP_LOCK_TIMEOUT_MS (or a reader's lock order meets ours: a deadlock),
 * the attempt is rolled back to a savepoint, so the readers go on, and tried again.
 */
export async function swapShadows(conn: PgConn, shadows: readonly IndexedShadow[]): Promise<void> {
  const tables = shadows.map((s) => s.table).join(', ');
  for (let attempt = 1; ; attempt++) {
    await conn.query('SAVEPOINT shadow_swap');
    try {
      await conn.query(`SET LOCAL lock_timeout = '${SWAP_LOCK_TIMEOUT_MS}ms'`);
      await conn.query(`LOCK TABLE ${tables} IN ACCESS EXCLUSIVE MODE`);
      await conn.query(`SET LOCAL lock_timeout = 0`);
      await conn.query('RELEASE SAVEPOINT shadow_swap');
      break;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if ((code !== '55P03' && code !== '40P01') || attempt >= SWAP_ATTEMPTS) throw e;
      await conn.query('ROLLBACK TO SAVEPOINT shadow_swap');
      await new Promise((r) => setTimeout(r, 100 * Math.min(attempt, 10)));
    }
  }
  for (const { table, indexes } of shadows) {
    await conn.query(`DROP TABLE ${table}`);
    await conn.query(`ALTER TABLE ${table}_next RENAME TO ${table}`);
    for (const ix of indexes) {
      if (ix.constraint_name) await conn.query(`ALTER TABLE ${table} RENAME CONSTRAINT ${ix.constraint_name}_next TO ${ix.constraint_name}`);
      else await conn.query(`ALTER INDEX ${ix.name}_next RENAME TO ${ix.name}`);
    }
  }
}

/**
 * Every live record of a canonical table with what profiles are built from, streamed from a
 * connection of its own (a read-only transaction) with the next page fetched while the caller
 * works on the current one. `recordAs: 'text'` leaves the JSON unparsed (for a worker thread).
 */
export async function* storedFragments<R extends 'json' | 'text'>(
  db: Knex,
  table: string,
  recordAs: R,
): AsyncGenerator<Array<{ record_key: string; source_instance_id: string | null; updated_at: Date; record: R extends 'text' ? string : Record<string, unknown> }>> {
  const conn = (await db.client.acquireConnection()) as PgConn;
  try {
    await conn.query('BEGIN READ ONLY');
    yield* cursorPages(
      conn,
      'profile_rebuild',
      `/* identity_rebuild.stored_fragments */ SELECT record_key, source_instance_id, coalesce(source_updated_at, received_at) AS updated_at, record${recordAs === 'text' ? '::text' : ''} AS record
         FROM ${table} WHERE NOT is_deleted`,
      [],
      FETCH / 2,
    );
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

/**
 * Every person's account links from the sources, into an indexed shadow (swapped in with the
 * person profiles' shadow): direct (the person record's account), relations and opportunity
 * contact roles, plus the history kept at earlier job changes for the people the rebuilt profiles
 * still have. Each row's key is unique by construction (one per
 * source record and kind); the primary key built on the shadow checks it.
 */
export async function rebuildAccountLinks(conn: PgConn, personNodePrefix: string): Promise<IndexedShadow> {
  await createShadow(conn, 'profile_account_link');
  await conn.query(
    `/* identity_rebuild.history_links */ INSERT INTO profile_account_link_next
     SELECT l.* FROM profile_account_link l WHERE l.source_key LIKE 'history:%' AND EXISTS (SELECT 1 FROM person_profile_next p WHERE p.profile_id = l.person_profile_id)`,
  );
  await conn.query(
    `/* identity_rebuild.direct_links */ INSERT INTO profile_account_link_next (person_profile_id, account_record_key, via, source_key, is_primary, is_active)
     SELECT r.profile_id, p.account_key, 'direct', p.record_key, true, true
       FROM xdm_person p JOIN identity_record r ON r.node = $1 || p.record_key
      WHERE p.account_key IS NOT NULL AND NOT p.is_deleted`,
    [personNodePrefix],
  );
  await conn.query(
    `/* identity_rebuild.relation_links */ INSERT INTO profile_account_link_next (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date, end_date)
     SELECT r.profile_id, x.account_key, 'relation', x.record_key,
            coalesce((SELECT string_agg(v, ';') FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(x.record->'personRoles') = 'array' THEN x.record->'personRoles' END) v), x.record->>'personRole'),
            coalesce(x.is_primary, false), coalesce(x.is_active, true),
            tessera_day(x.record->>'relationStartDate'), tessera_day(x.record->>'relationEndDate')
       FROM xdm_account_person x JOIN identity_record r ON r.node = $1 || x.person_key
      WHERE x.account_key IS NOT NULL AND NOT x.is_deleted`,
    [personNodePrefix],
  );
  await conn.query(
    `/* identity_rebuild.opportunity_links */ INSERT INTO profile_account_link_next (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active)
     SELECT r.profile_id, o.account_key, 'opportunity', op.record_key, op.person_role, coalesce((op.record->>'isPrimary')::boolean, false), NOT coalesce(o.is_closed, false)
       FROM xdm_opportunity_person op JOIN xdm_opportunity o ON o.record_key = op.opportunity_key
       JOIN identity_record r ON r.node = $1 || op.person_key
      WHERE NOT op.is_deleted AND NOT o.is_deleted AND o.account_key IS NOT NULL`,
    [personNodePrefix],
  );
  return indexShadow(conn, 'profile_account_link');
}

/** People with no current account link (lead-to-account matching's candidates). */
export async function unlinkedPeople(conn: PgConn): Promise<Array<{ profile_id: string; record_keys: string[]; attributes: Record<string, unknown> }>> {
  return (
    await conn.query(
      `SELECT p.profile_id, p.record_keys, p.attributes FROM person_profile p
        WHERE NOT EXISTS (SELECT 1 FROM profile_account_link l WHERE l.person_profile_id = p.profile_id AND NOT l.source_key LIKE 'history:%')`,
    )
  ).rows;
}

/** Fresh statistics after a rebuild's bulk writes (the incremental path's plans depend on them). */
export async function analyzeAfterRebuild(db: Knex): Promise<void> {
  await db.raw('ANALYZE identity_decision, profile_account_link');
}
