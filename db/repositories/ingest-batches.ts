/**
 * Stores one validated batch: the batch row, the landing rows (raw, deduplicated by content),
 * the canonical upsert (latest version wins) and the quarantine rows — in the caller's
 * transaction, one set-based statement per table whatever the batch size.
 */
import type { Knex } from 'knex';
import type { AcceptedRecord, RejectedRecord } from '../../domain/ingestion/outcome';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';

export type IngestChannel = 'api' | 'file' | 'replay' | 'sync';

/** What happened to one accepted record in the canonical table. */
export type WriteOutcome =
  | 'inserted'
  | 'updated'
  /** Same content as stored: nothing changed. */
  | 'unchanged'
  /** Older than the stored version (by lastUpdatedDate): kept in landing, not applied. */
  | 'stale'
  /** A newer version of the same record came in the same batch. */
  | 'superseded';

export interface StoreBatchInput {
  batchId: string;
  channel: IngestChannel;
  fileIngestionId?: string | null;
  receivedAt: Date;
  accepted: AcceptedRecord[];
  rejected: RejectedRecord[];
  /** Work out unchanged vs stale per record (the API reports it; files only need counts). */
  classifyNotApplied?: boolean;
}

export interface StoreBatchResult {
  counts: Record<WriteOutcome, number> & { quarantined: number; landed: number };
  /** By record position: the outcome of each accepted record. */
  outcomes: Map<number, WriteOutcome>;
  /** By record position: the quarantine id of each rejected record. */
  quarantineIds: Map<number, string>;
}

const q = (s: string) => JSON.stringify(s);
const qn = (s: string | null | undefined) => (s == null ? 'null' : JSON.stringify(s));

export async function storeIngestBatch(tx: Knex.Transaction, spec: XdmClassSpec, input: StoreBatchInput): Promise<StoreBatchResult> {
  const counts = { inserted: 0, updated: 0, unchanged: 0, stale: 0, superseded: 0, quarantined: 0, landed: 0 };
  const outcomes = new Map<number, WriteOutcome>();
  const quarantineIds = new Map<number, string>();
  const n = input.accepted.length + input.rejected.length;

  await tx.raw(
    `/* ingest.batch */ INSERT INTO ingest_batch (id, channel, xdm_class, file_ingestion_id, received_at, record_count, accepted_count, quarantined_count)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [input.batchId, input.channel, spec.name, input.fileIngestionId ?? null, input.receivedAt, n, input.accepted.length, input.rejected.length],
  );

  if (input.accepted.length > 0) {
    counts.landed = await insertLanding(tx, spec, input);
    const { winners, superseded } = latestPerKey(input.accepted);
    for (const r of superseded) outcomes.set(r.position, 'superseded');
    counts.superseded = superseded.length;
    const applied = await upsertCanonical(tx, spec, input, winners);
    const notApplied: AcceptedRecord[] = [];
    for (const r of winners) {
      const inserted = applied.get(r.key.key);
      if (inserted === undefined) notApplied.push(r);
      else outcomes.set(r.position, inserted ? 'inserted' : 'updated');
      if (inserted === true) counts.inserted++;
      else if (inserted === false) counts.updated++;
    }
    if (notApplied.length) {
      if (input.classifyNotApplied) {
        const stored = await storedChecksums(tx, spec, notApplied.map((r) => r.key.key));
        for (const r of notApplied) {
          const outcome = stored.get(r.key.key) === r.checksum ? 'unchanged' : 'stale';
          outcomes.set(r.position, outcome);
          counts[outcome]++;
        }
      } else {
        counts.unchanged += notApplied.length;
      }
    }
  }

  if (input.rejected.length > 0) {
    const ids = await insertQuarantine(tx, input.batchId, input.channel, input.fileIngestionId ?? null, input.rejected);
    for (const [pos, id] of ids) quarantineIds.set(pos, id);
    counts.quarantined = input.rejected.length;
  }
  return { counts, outcomes, quarantineIds };
}

/** Keeps, per record key, the newest version in the batch (ties: the later one). */
function latestPerKey(records: AcceptedRecord[]): { winners: AcceptedRecord[]; superseded: AcceptedRecord[] } {
  const byKey = new Map<string, AcceptedRecord>();
  const superseded: AcceptedRecord[] = [];
  for (const r of records) {
    const prev = byKey.get(r.key.key);
    if (!prev) {
      byKey.set(r.key.key, r);
    } else if (r.sourceUpdatedAt.getTime() >= prev.sourceUpdatedAt.getTime()) {
      superseded.push(prev);
      byKey.set(r.key.key, r);
    } else {
      superseded.push(r);
    }
  }
  return { winners: [...byKey.values()], superseded };
}

async function insertLanding(tx: Knex.Transaction, spec: XdmClassSpec, input: StoreBatchInput): Promise<number> {
  const parts: string[] = [];
  for (const r of input.accepted) parts.push(`{"k":${q(r.key.key)},"c":"${r.checksum}","p":${r.payloadText}}`);
  const { rowCount } = await tx.raw(
    `/* ingest.landing */ INSERT INTO landing_record (batch_id, xdm_class, record_key, payload, checksum, received_at)
     SELECT ?::uuid, ?, r.k, r.p, r.c, ?::timestamptz FROM json_to_recordset(?::json) AS r(k text, c text, p jsonb)
     ON CONFLICT ON CONSTRAINT landing_record_content_uq DO NOTHING`,
    [input.batchId, spec.name, input.receivedAt, `[${parts.join(',')}]`],
  );
  return rowCount ?? 0;
}

async function upsertCanonical(tx: Knex.Transaction, spec: XdmClassSpec, input: StoreBatchInput, rows: AcceptedRecord[]): Promise<Map<string, boolean>> {
  const extra = spec.columns;
  const parts: string[] = [];
  for (const r of rows) {
    let extras = '';
    for (let i = 0; i < extra.length; i++) {
      const v = extra[i]!.extract(r.record);
      extras += `,"c${i}":${v == null ? 'null' : JSON.stringify(v)}`;
    }
    parts.push(
      `{"k":${q(r.key.key)},"st":${qn(r.key.sourceType)},"si":${qn(r.key.sourceInstanceID)},"sid":${qn(r.key.sourceID)},` +
        `"ek":${qn(r.externalKey)},"del":${r.isDeleted},"upd":"${r.sourceUpdatedAt.toISOString()}","cs":"${r.checksum}",` +
        `"rec":${JSON.stringify(r.record)}${extras}}`,
    );
  }
  const colNames = extra.map((c) => c.column);
  const colDefs = extra.map((c, i) => `, c${i} ${c.type}`).join('');
  const colSelect = extra.map((_, i) => `, r.c${i}`).join('');
  const colInsert = colNames.map((c) => `, ${c}`).join('');
  const colUpdate = colNames.map((c) => `, ${c} = EXCLUDED.${c}`).join('');
  const { rows: out } = await tx.raw(
    `/* ingest.upsert:${spec.table} */
     INSERT INTO ${spec.table} AS t (record_key, source_type, source_instance_id, source_id, external_key, is_deleted,
                                     source_updated_at, received_at, checksum, batch_id, record${colInsert})
     SELECT r.k, r.st, r.si, r.sid, r.ek, r.del, r.upd, ?::timestamptz, r.cs, ?::uuid, r.rec${colSelect}
     FROM json_to_recordset(?::json) AS r(k text, st text, si text, sid text, ek text, del boolean, upd timestamptz, cs text, rec jsonb${colDefs})
     ON CONFLICT (record_key) DO UPDATE SET
       source_type = EXCLUDED.source_type, source_instance_id = EXCLUDED.source_instance_id, source_id = EXCLUDED.source_id,
       external_key = EXCLUDED.external_key, is_deleted = EXCLUDED.is_deleted, source_updated_at = EXCLUDED.source_updated_at,
       received_at = EXCLUDED.received_at, checksum = EXCLUDED.checksum, batch_id = EXCLUDED.batch_id, record = EXCLUDED.record,
       updated_at = now()${colUpdate}
     WHERE t.source_updated_at <= EXCLUDED.source_updated_at AND t.checksum <> EXCLUDED.checksum
     RETURNING record_key, (xmax = 0) AS inserted`,
    [input.receivedAt, input.batchId, `[${parts.join(',')}]`],
  );
  const applied = new Map<string, boolean>();
  for (const row of out as Array<{ record_key: string; inserted: boolean }>) applied.set(row.record_key, row.inserted);
  return applied;
}

async function storedChecksums(tx: Knex.Transaction, spec: XdmClassSpec, keys: string[]): Promise<Map<string, string>> {
  const { rows } = await tx.raw(`/* ingest.checksums:${spec.table} */ SELECT record_key, checksum FROM ${spec.table} WHERE record_key = ANY(?::text[])`, [keys]);
  return new Map((rows as Array<{ record_key: string; checksum: string }>).map((r) => [r.record_key, r.checksum]));
}

async function insertQuarantine(
  tx: Knex.Transaction,
  batchId: string,
  channel: IngestChannel,
  fileIngestionId: string | null,
  rejected: RejectedRecord[],
): Promise<Map<number, string>> {
  const rows = rejected.map((r) => ({
    pos: r.position,
    cls: r.xdmClass,
    key: r.recordKey,
    kind: r.rawKind,
    p: r.payload === undefined ? null : r.payload,
    pt: r.payloadText ?? null,
    e: r.errors,
  }));
  const { rows: out } = await tx.raw(
    `/* ingest.quarantine */ INSERT INTO quarantine_record (batch_id, channel, xdm_class, file_ingestion_id, row_number, record_key, raw_kind, payload, payload_text, errors)
     SELECT ?::uuid, ?, r.cls, ?::uuid, r.pos, r.key, r.kind, r.p, r.pt, r.e
     FROM json_to_recordset(?::json) AS r(pos bigint, cls text, key text, kind text, p jsonb, pt text, e jsonb)
     RETURNING id, row_number`,
    [batchId, channel, fileIngestionId, JSON.stringify(rows)],
  );
  return new Map((out as Array<{ id: string; row_number: string }>).map((r) => [Number(r.row_number), String(r.id)]));
}
