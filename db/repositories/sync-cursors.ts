/**
 * Stream cursors (sync_cursor). A cursor moves only inside the transaction that stores the page it
 * covers, and only from the version the page was read at: a second attempt racing the first
 * (a heartbeat timeout) cannot store the same page twice.
 */
import type { Knex } from 'knex';
import { CheckpointMoved } from '../../domain/errors';
import type { PgConn } from '../pg-transaction';

export interface CursorKey {
  sourceType: string;
  instanceId: string;
  stream: string;
  scope: string;
}

export interface CursorRow {
  state: Record<string, unknown> | null;
  version: number;
  run_started_at: Date | null;
  run_complete: boolean;
  run_pages: number;
  run_records: number;
  run_quarantined: number;
  notices: string[];
}

const KEY_WHERE = 'source_type = $1 AND instance_id = $2 AND stream = $3 AND scope = $4';
const keyParams = (k: CursorKey) => [k.sourceType, k.instanceId, k.stream, k.scope];

function normalise(row: Record<string, unknown>): CursorRow {
  return {
    state: (row.state as Record<string, unknown> | null) ?? null,
    version: Number(row.version),
    run_started_at: (row.run_started_at as Date | null) ?? null,
    run_complete: row.run_complete as boolean,
    run_pages: Number(row.run_pages),
    run_records: Number(row.run_records),
    run_quarantined: Number(row.run_quarantined),
    notices: (row.notices as string[]) ?? [],
  };
}

/**
 * The cursor for a run starting at `runStartedAt`, created if missing. A cursor whose previous run
 * completed starts the new run from its resting state (run counters reset); an unfinished run
 * (a crash, a failed run) is adopted and continues from where it stopped.
 */
export async function openCursor(db: Knex, k: CursorKey, runStartedAt: string): Promise<CursorRow> {
  const { rows } = await db.raw(
    `/* cursor.open */ INSERT INTO sync_cursor (source_type, instance_id, stream, scope, run_started_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (source_type, instance_id, stream, scope) DO UPDATE SET
       run_started_at = EXCLUDED.run_started_at,
       run_complete   = CASE WHEN sync_cursor.run_complete AND sync_cursor.run_started_at IS DISTINCT FROM EXCLUDED.run_started_at THEN false ELSE sync_cursor.run_complete END,
       run_pages      = CASE WHEN sync_cursor.run_complete AND sync_cursor.run_started_at IS DISTINCT FROM EXCLUDED.run_started_at THEN 0 ELSE sync_cursor.run_pages END,
       run_records    = CASE WHEN sync_cursor.run_complete AND sync_cursor.run_started_at IS DISTINCT FROM EXCLUDED.run_started_at THEN 0 ELSE sync_cursor.run_records END,
       run_quarantined = CASE WHEN sync_cursor.run_complete AND sync_cursor.run_started_at IS DISTINCT FROM EXCLUDED.run_started_at THEN 0 ELSE sync_cursor.run_quarantined END,
       notices        = CASE WHEN sync_cursor.run_complete AND sync_cursor.run_started_at IS DISTINCT FROM EXCLUDED.run_started_at THEN '{}' ELSE sync_cursor.notices END
     RETURNING *`,
    [k.sourceType, k.instanceId, k.stream, k.scope, runStartedAt],
  );
  return normalise(rows[0]);
}

export async function getCursor(db: Knex, k: CursorKey): Promise<CursorRow | undefined> {
  const { rows } = await db.raw(`/* cursor.get */ SELECT * FROM sync_cursor WHERE source_type = ? AND instance_id = ? AND stream = ? AND scope = ?`, keyParams(k));
  return rows[0] ? normalise(rows[0]) : undefined;
}

export interface CursorAdvance {
  /** The version the page was read at. */
  fromVersion: number;
  state: Record<string, unknown>;
  complete: boolean;
  records: number;
  quarantined: number;
  notices: string[];
}

/** Moves the cursor past one stored page, in the page's transaction; CheckpointMoved if another attempt moved it first. */
export async function advanceCursor(conn: PgConn, k: CursorKey, a: CursorAdvance): Promise<CursorRow> {
  const { rows } = await conn.query(
    `/* cursor.advance */ UPDATE sync_cursor SET state = $5::jsonb, version = version + 1, run_complete = $6, run_pages = run_pages + 1,
       run_records = run_records + $7, run_quarantined = run_quarantined + $8,
       notices = CASE WHEN cardinality($9::text[]) = 0 THEN notices
                 ELSE (SELECT coalesce(array_agg(n ORDER BY first), '{}') FROM (SELECT n, min(o) AS first FROM unnest(notices || $9::text[]) WITH ORDINALITY AS t(n, o) GROUP BY n ORDER BY min(o) DESC LIMIT 20) recent) END,
       updated_at = now()
     WHERE ${KEY_WHERE} AND version = $10
     RETURNING *`,
    [...keyParams(k), JSON.stringify(a.state), a.complete, a.records, a.quarantined, a.notices, a.fromVersion],
  );
  if (!rows[0]) throw new CheckpointMoved(`${k.sourceType}/${k.instanceId}/${k.stream} (${k.scope})`);
  return normalise(rows[0]);
}

/** Cursors of an instance (for status pages), newest first. */
export async function listCursors(db: Knex, sourceType: string, instanceId: string): Promise<Array<CursorRow & { stream: string; scope: string; updated_at: Date }>> {
  const { rows } = await db.raw(`/* cursor.list */ SELECT * FROM sync_cursor WHERE source_type = ? AND instance_id = ? ORDER BY stream, scope`, [sourceType, instanceId]);
  return rows.map((r: Record<string, unknown>) => ({ ...normalise(r), stream: r.stream as string, scope: r.scope as string, updated_at: r.updated_at as Date }));
}

/**
 * Forgets where a stream stands, for every scope of it: the next run reads it from the start (the
 * store is idempotent, so nothing is duplicated). The way out of a source position that can never
 * be read again (an export that always comes back short). Returns the cursors reset.
 */
export async function resetStreamCursors(db: Knex, sourceType: string, instanceId: string, stream: string): Promise<number> {
  const { rowCount } = await db.raw(
    `/* cursor.reset */ UPDATE sync_cursor SET state = NULL, version = version + 1, run_complete = false, run_pages = 0, run_records = 0, run_quarantined = 0,
       notices = ARRAY['reset by an operator'], updated_at = now()
     WHERE source_type = ? AND instance_id = ? AND stream = ?`,
    [sourceType, instanceId, stream],
  );
  return rowCount ?? 0;
}
