/** Reading stored records back: the canonical version and the landing history of one record. */
import type { Knex } from 'knex';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';

export interface StoredRecord {
  record_key: string;
  is_deleted: boolean;
  source_updated_at: Date | null;
  received_at: Date;
  external_key: string | null;
  record: Record<string, unknown>;
  /** Person and account records: the identities extracted at ingest (migration 20261207170000). */
  identities?: string[] | null;
  identity_fields?: string[] | null;
  identity_refused?: Array<{ namespace: string; field: string; value: string; reason: string }> | null;
  identity_config?: string | null;
}

/** Distinct values at a record path among one source instance's records, after `after`, in order. */
export async function knownValuesAt(db: Knex, spec: XdmClassSpec, instanceId: string, path: string[], after: string | null, limit: number): Promise<string[]> {
  const { rows } = await db.raw(
    `/* records.known_values:${spec.table} */ SELECT DISTINCT v FROM (SELECT record #>> ?::text[] AS v FROM ${spec.table} WHERE source_instance_id = ?) s
     WHERE v IS NOT NULL AND v <> '' AND (?::text IS NULL OR v > ?::text) ORDER BY v LIMIT ?`,
    [path, instanceId, after, after, limit],
  );
  return rows.map((r: { v: string }) => r.v);
}

export async function getCanonicalRecord(db: Knex, spec: XdmClassSpec, key: string): Promise<StoredRecord | undefined> {
  return db<StoredRecord>(spec.table).where({ record_key: key }).first();
}

/** A record's landing history, oldest first, a page at a time (`after`: the last entry of the previous page). */
export async function landingHistory(
  db: Knex,
  spec: XdmClassSpec,
  key: string,
  page: { after?: string; limit: number } = { limit: 100 },
): Promise<{ entries: Array<{ batchId: string; contentHash: string; receivedAt: Date }>; next: string | null }> {
  const q = db('landing_record')
    .select('batch_id', db.raw("encode(content_hash, 'hex') AS content_hash"), 'received_at', db.raw('received_at::text AS at_text'))
    .where({ xdm_class: spec.name, record_key: key })
    .orderBy(['received_at', 'batch_id'])
    .limit(page.limit);
  if (page.after) {
    // The cursor is the last entry's exact time (as Postgres wrote it, microseconds kept) and batch.
    const [at = '', batchId = ''] = page.after.split('|');
    q.whereRaw('(received_at, batch_id) > (?::timestamptz, ?::uuid)', [at, batchId]);
  }
  const rows: Array<{ batch_id: string; content_hash: string; received_at: Date; at_text: string }> = await q;
  const last = rows.at(-1);
  return {
    entries: rows.map((h) => ({ batchId: h.batch_id, contentHash: h.content_hash, receivedAt: h.received_at })),
    next: rows.length === page.limit && last ? `${last.at_text}|${last.batch_id}` : null,
  };
}
