/** File ingestions and their durable checkpoint (advanced in the same transaction as the records). */
import type { Knex } from 'knex';
import type { ColumnMapping } from '../../domain/ingestion/column-mapping';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { PgConn } from '../pg-transaction';
import type { FileIngestionTotals } from '../../contracts/file-ingestion';

export type FileFormat = 'csv' | 'jsonl';
export type FileIngestionStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface FileIngestionRow {
  id: string;
  xdm_class: XdmClassName;
  format: FileFormat;
  path: string;
  mapping: ColumnMapping | null;
  size_bytes: string;
  status: FileIngestionStatus;
  workflow_id: string;
  header: string[] | null;
  byte_offset: string;
  next_line: string;
  rows_read: string;
  accepted_count: string;
  quarantined_count: string;
  slices: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  updated_at: Date;
  uploaded_by: string | null;
}

export interface NewFileIngestion {
  id: string;
  xdmClass: XdmClassName;
  format: FileFormat;
  path: string;
  mapping: ColumnMapping | null;
  sizeBytes: number;
  workflowId: string;
  /** The token that uploaded the file (uploads only). */
  uploadedBy?: string | null;
}

/** Registers a file ingestion; registering the same id again is a no-op (the API and CLI may retry). */
/** The column mapping each of these file ingestions used (a quarantined CSV row replays with it). */
export async function mappingsOfFileIngestions(conn: PgConn, ids: string[]): Promise<Map<string, ColumnMapping | null>> {
  if (!ids.length) return new Map();
  const { rows } = await conn.query('/* file_ingestions.mappings */ SELECT id, mapping FROM file_ingestion WHERE id = ANY($1::uuid[])', [ids]);
  return new Map((rows as Array<{ id: string; mapping: ColumnMapping | null }>).map((f) => [f.id, f.mapping]));
}

export async function createFileIngestion(db: Knex, f: NewFileIngestion): Promise<void> {
  await db.raw(
    `/* file_ingestion.create */ INSERT INTO file_ingestion (id, xdm_class, format, path, mapping, size_bytes, workflow_id, uploaded_by)
     VALUES (?, ?, ?, ?, ?::jsonb, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    [f.id, f.xdmClass, f.format, f.path, f.mapping ? JSON.stringify(f.mapping) : null, f.sizeBytes, f.workflowId, f.uploadedBy ?? null],
  );
}

/** A token's uploads in the last 24 hours: how many, and their bytes. */
export async function uploadsSince(db: Knex, tokenId: string, since: Date): Promise<{ count: number; bytes: number }> {
  const { rows } = await db.raw(
    `/* file_ingestion.uploads_since */ SELECT count(*)::int AS count, coalesce(sum(size_bytes), 0)::float8 AS bytes FROM file_ingestion WHERE uploaded_by = ? AND created_at >= ?`,
    [tokenId, since],
  );
  return rows[0];
}

export async function getFileIngestion(db: Knex | Knex.Transaction, id: string): Promise<FileIngestionRow | undefined> {
  return db<FileIngestionRow>('file_ingestion').where({ id }).first();
}

export async function listFileIngestions(db: Knex, limit: number): Promise<FileIngestionRow[]> {
  return db<FileIngestionRow>('file_ingestion').orderBy('created_at', 'desc').limit(limit);
}

/**
 * Marks the ingestion running. For a CSV the header is recorded and the checkpoint moved past
 * it, once (a repeated call finds the header already there and keeps its checkpoint).
 */
export async function markStarted(db: Knex, id: string, header: { columns: string[]; endOffset: number; nextLine: number } | null): Promise<void> {
  await db.raw(
    `/* file_ingestion.start */ UPDATE file_ingestion SET status = 'running',
       header = COALESCE(header, ?::jsonb),
       byte_offset = CASE WHEN header IS NULL AND byte_offset = 0 THEN ? ELSE byte_offset END,
       next_line = CASE WHEN header IS NULL AND byte_offset = 0 THEN ? ELSE next_line END,
       started_at = COALESCE(started_at, now()), updated_at = now()
     WHERE id = ? AND status IN ('pending', 'running')`,
    [header ? JSON.stringify(header.columns) : null, header?.endOffset ?? 0, header?.nextLine ?? 1, id],
  );
}

export interface CheckpointAdvance {
  id: string;
  fromOffset: number;
  toOffset: number;
  nextLine: number;
  rows: number;
  accepted: number;
  quarantined: number;
}

/**
 * Moves the checkpoint from `fromOffset` to `toOffset` and adds the slice's counts — only if the
 * checkpoint still stands at `fromOffset` (compare-and-set). Returns false when another attempt
 * moved it first: the caller's transaction must then roll back.
 */
export async function advanceCheckpoint(conn: PgConn, a: CheckpointAdvance): Promise<boolean> {
  const { rowCount } = await conn.query(
    `/* file_ingestion.advance */ UPDATE file_ingestion SET byte_offset = $1, next_line = $2, rows_read = rows_read + $3, accepted_count = accepted_count + $4,
       quarantined_count = quarantined_count + $5, updated_at = now()
     WHERE id = $6 AND byte_offset = $7 AND status = 'running'`,
    [a.toOffset, a.nextLine, a.rows, a.accepted, a.quarantined, a.id, a.fromOffset],
  );
  return rowCount === 1;
}


export async function markFinished(db: Knex, id: string, outcome: { status: 'completed' | 'failed'; error?: string }): Promise<void> {
  await db.raw(
    `/* file_ingestion.finish */ UPDATE file_ingestion SET status = ?, error = ?, completed_at = now(), updated_at = now()
     WHERE id = ? AND status IN ('pending', 'running')`,
    [outcome.status, outcome.error ?? null, id],
  );
}

/** Counts one finished slice (an activity call) and returns the ingestion as it now stands. */
export async function countSlice(db: Knex, id: string): Promise<FileIngestionRow> {
  const { rows } = await db.raw(`/* file_ingestion.slice */ UPDATE file_ingestion SET slices = slices + 1, updated_at = now() WHERE id = ? RETURNING *`, [id]);
  return rows[0] as FileIngestionRow;
}

/** Progress and counts of an ingestion, as numbers. */
export function fileIngestionTotals(row: FileIngestionRow): FileIngestionTotals {
  return {
    status: row.status,
    sizeBytes: Number(row.size_bytes),
    byteOffset: Number(row.byte_offset),
    rows: Number(row.rows_read),
    accepted: Number(row.accepted_count),
    quarantined: Number(row.quarantined_count),
    slices: row.slices,
  };
}
