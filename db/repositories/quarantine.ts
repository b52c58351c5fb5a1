/** Reading and resolving quarantined records. Inserting them is part of storeIngestBatch. */
import type { Knex } from 'knex';
import type { FieldError, RawKind } from '../../domain/ingestion/outcome';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { PgConn } from '../pg-transaction';

export type QuarantineStatus = 'open' | 'replayed' | 'discarded';

export interface QuarantineRecordRow {
  id: string;
  batch_id: string;
  channel: string;
  xdm_class: XdmClassName;
  file_ingestion_id: string | null;
  row_number: string | null;
  record_key: string | null;
  raw_kind: RawKind;
  payload: unknown;
  payload_text: string | null;
  errors: FieldError[];
  status: QuarantineStatus;
  attempts: number;
  received_at: Date;
  last_attempt_at: Date;
  resolved_at: Date | null;
  resolved_batch_id: string | null;
}

export interface QuarantineFilter {
  ids?: string[];
  xdmClass?: XdmClassName;
  fileIngestionId?: string;
  status?: QuarantineStatus;
  /** Keyset paging: rows with id greater than this. */
  afterId?: string;
  limit: number;
}

function whereQuarantine(query: Knex.QueryBuilder, f: Omit<QuarantineFilter, 'limit'>): Knex.QueryBuilder {
  if (f.ids) query.whereIn('id', f.ids);
  if (f.xdmClass) query.where('xdm_class', f.xdmClass);
  if (f.fileIngestionId) query.where('file_ingestion_id', f.fileIngestionId);
  if (f.status) query.where('status', f.status);
  if (f.afterId) query.where('id', '>', f.afterId);
  return query;
}

export async function listQuarantine(db: Knex | Knex.Transaction, f: QuarantineFilter): Promise<QuarantineRecordRow[]> {
  const rows = (await whereQuarantine(db('quarantine_record').orderBy('id').limit(f.limit), f)) as QuarantineRecordRow[];
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

export async function countQuarantine(db: Knex, f: Omit<QuarantineFilter, 'limit' | 'afterId'>): Promise<number> {
  const [row] = (await whereQuarantine(db('quarantine_record').count({ count: '*' }), f)) as Array<{ count: string }>;
  return Number(row?.count ?? 0);
}

/** Marks replayed records resolved by the batch that stored them. */
export async function markReplayed(conn: PgConn, ids: string[], batchId: string): Promise<number> {
  if (!ids.length) return 0;
  const { rowCount } = await conn.query(
    `/* quarantine.replayed */ UPDATE quarantine_record SET status = 'replayed', resolved_at = now(), resolved_batch_id = $1::uuid,
       attempts = attempts + 1, last_attempt_at = now()
     WHERE id = ANY($2::bigint[]) AND status = 'open'`,
    [batchId, ids],
  );
  return rowCount ?? 0;
}

/** Records the new reasons of records that still fail after a replay attempt. */
export async function recordFailedReplay(conn: PgConn, failures: Array<{ id: string; errors: FieldError[] }>): Promise<void> {
  if (!failures.length) return;
  await conn.query(
    `/* quarantine.still_failing */ UPDATE quarantine_record q SET errors = f.e, attempts = q.attempts + 1, last_attempt_at = now()
     FROM json_to_recordset($1::json) AS f(id bigint, e jsonb) WHERE q.id = f.id`,
    [JSON.stringify(failures.map((f) => ({ id: f.id, e: f.errors })))],
  );
}

export async function discardQuarantine(db: Knex, ids: string[]): Promise<number> {
  const { rowCount } = await db.raw(
    `/* quarantine.discard */ UPDATE quarantine_record SET status = 'discarded', resolved_at = now() WHERE id = ANY(?::bigint[]) AND status = 'open'`,
    [ids],
  );
  return rowCount ?? 0;
}

/**
 * Open records matching the filter, locked for this transaction; rows another transaction is
 * replaying or discarding right now are skipped, so a record is never stored twice.
 */
export async function lockOpenQuarantine(conn: PgConn, f: { ids?: string[]; xdmClass?: XdmClassName; fileIngestionId?: string; limit: number }): Promise<QuarantineRecordRow[]> {
  const { rows } = await conn.query(
    `/* quarantine.lock_open */ SELECT * FROM quarantine_record
     WHERE status = 'open' AND ($1::bigint[] IS NULL OR id = ANY($1)) AND ($2::text IS NULL OR xdm_class = $2) AND ($3::uuid IS NULL OR file_ingestion_id = $3)
     ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED`,
    [f.ids ?? null, f.xdmClass ?? null, f.fileIngestionId ?? null, f.limit],
  );
  return (rows as QuarantineRecordRow[]).map((r) => ({ ...r, id: String(r.id) }));
}
