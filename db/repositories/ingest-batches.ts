/**
 * Stores one validated batch: the batch row, the landing rows (raw, deduplicated by content),
 * the canonical upsert (latest version wins) and the quarantine rows — in the caller's
 * transaction. Rows are COPYed into session-local staging tables and moved with one set-based
 * statement per table, whatever the batch size (COPY is ~3x faster than any parameterised form).
 */
import type { AcceptedRecord, RejectedRecord } from '../../domain/ingestion/outcome';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import { ENTITY_TABLES } from '../../domain/identity/config';
import type { StoredIdentities } from '../../domain/identity/extract';
import { copyArray, copyRows, copyValue, type PgConn } from '../pg-transaction';
import { storableJson, storableString } from '../storable';

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
  /** channel sync: `<type>/<instance>/<stream>`, kept on quarantine rows. */
  syncStream?: string | null;
  receivedAt: Date;
  accepted: AcceptedRecord[];
  rejected: RejectedRecord[];
  /** Work out unchanged vs stale per record (the API reports it; files only need counts). */
  classifyNotApplied?: boolean;
  /**
   * Person and account records: their identities, extracted at ingest and stored with the row
   * (absent: stored as not extracted, and the resolver reads the record's JSON instead).
   */
  identities?: IdentityExtraction;
}

/** Extracts the identities of accepted records under one identity configuration version. */
export interface IdentityExtraction {
  configVersion: number;
  of(record: Pick<AcceptedRecord, 'key' | 'record'>): StoredIdentities;
}

/** Canonical tables whose rows carry their extracted identities (migration 20261207170000). */
const IDENTITY_TABLES = new Set(Object.values(ENTITY_TABLES).map((t) => t.records));

/** The class-specific columns of a canonical table, then its identity columns if it has them. */
function stagedColumns(spec: XdmClassSpec): Array<{ column: string; type: string }> {
  const identity = IDENTITY_TABLES.has(spec.table)
    ? [
        { column: 'identities', type: 'text[]' },
        { column: 'identity_fields', type: 'text[]' },
        { column: 'identity_refused', type: 'jsonb' },
        { column: 'identity_config', type: 'bigint' },
      ]
    : [];
  return [...spec.columns.map((c) => ({ column: c.column, type: c.type })), ...identity];
}

export interface StoreBatchResult {
  counts: Record<WriteOutcome, number> & { quarantined: number; landed: number };
  /** By record position: the outcome of each accepted record. */
  outcomes: Map<number, WriteOutcome>;
  /** By record position: the quarantine id of each rejected record. */
  quarantineIds: Map<number, string>;
  /** Keys of the records inserted or updated in the canonical table (what identity resolution reads). */
  appliedKeys: string[];
}

/** A batch whose rows are in the session's staging tables, ready to be applied. */
export interface StagedBatch {
  spec: XdmClassSpec;
  input: StoreBatchInput;
  winners: AcceptedRecord[];
  superseded: AcceptedRecord[];
}

/** Stages and applies a batch (the streaming path). */
export async function storeIngestBatch(conn: PgConn, spec: XdmClassSpec, input: StoreBatchInput): Promise<StoreBatchResult> {
  return applyStagedBatch(conn, await stageIngestBatch(conn, spec, input));
}

/**
 * Phase 1: COPY the accepted records into the session's staging tables. Takes no lock on any
 * shared row, so a later batch can stage while an earlier one is still being applied.
 */
export async function stageIngestBatch(conn: PgConn, spec: XdmClassSpec, input: StoreBatchInput): Promise<StagedBatch> {
  const { winners, superseded } = latestPerKey(input.accepted);
  if (input.accepted.length > 0) {
    await ensureStagingTables(conn, spec);
    await stageLanding(conn, input.accepted);
    await stageCanonical(conn, spec, winners, input.identities);
  }
  return { spec, input, winners, superseded };
}

/**
 * Phase 2: the batch row, landing rows, canonical upsert and quarantine rows. Rows are written in
 * key order, so concurrent batches lock shared keys in the same order and cannot deadlock.
 */
export async function applyStagedBatch(conn: PgConn, staged: StagedBatch): Promise<StoreBatchResult> {
  const { spec, input, winners, superseded } = staged;
  const counts = { inserted: 0, updated: 0, unchanged: 0, stale: 0, superseded: 0, quarantined: 0, landed: 0 };
  const outcomes = new Map<number, WriteOutcome>();
  const quarantineIds = new Map<number, string>();
  const appliedKeys: string[] = [];
  const n = input.accepted.length + input.rejected.length;

  await conn.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
  await conn.query(
    `/* ingest.batch */ INSERT INTO ingest_batch (id, channel, xdm_class, file_ingestion_id, received_at, record_count, accepted_count, quarantined_count)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [input.batchId, input.channel, spec.name, input.fileIngestionId ?? null, input.receivedAt, n, input.accepted.length, input.rejected.length],
  );

  if (input.accepted.length > 0) {
    counts.landed = await applyLanding(conn, spec, input);
    for (const r of superseded) outcomes.set(r.position, 'superseded');
    counts.superseded = superseded.length;
    const applied = await applyCanonical(conn, spec, input);
    appliedKeys.push(...applied.keys());
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
        const stored = await storedHashes(conn, spec, notApplied.map((r) => r.key.key));
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
    const ids = await insertQuarantine(conn, input, input.rejected);
    for (const [pos, id] of ids) quarantineIds.set(pos, id);
    counts.quarantined = input.rejected.length;
  }
  return { counts, outcomes, quarantineIds, appliedKeys };
}

/** A batch waiting longer than this for another transaction's row lock fails (retryable) instead of hanging. */
const LOCK_TIMEOUT = '60s';

/** Keeps, per record key, the newest version in the batch (ties, or no update date: the later one). */
function latestPerKey(records: AcceptedRecord[]): { winners: AcceptedRecord[]; superseded: AcceptedRecord[] } {
  const byKey = new Map<string, AcceptedRecord>();
  const superseded: AcceptedRecord[] = [];
  for (const r of records) {
    const prev = byKey.get(r.key.key);
    if (!prev) {
      byKey.set(r.key.key, r);
    } else if (!r.sourceUpdatedAt || !prev.sourceUpdatedAt || r.sourceUpdatedAt.getTime() >= prev.sourceUpdatedAt.getTime()) {
      superseded.push(prev);
      byKey.set(r.key.key, r);
    } else {
      superseded.push(r);
    }
  }
  return { winners: [...byKey.values()], superseded };
}

/**
 * Session-local staging tables (one per canonical table, one for landing), emptied at every
 * commit or rollback. `IF NOT EXISTS` every time: a table created in a transaction that then
 * rolled back is gone, so no "already created" cache can be trusted.
 */
async function ensureStagingTables(conn: PgConn, spec: XdmClassSpec): Promise<void> {
  const extra = stagedColumns(spec).map((c) => `, ${c.column} ${c.type}`).join('');
  await conn.query(
    `CREATE TEMP TABLE IF NOT EXISTS stage_landing (record_key text, payload json, content_hash bytea) ON COMMIT DELETE ROWS;
     CREATE TEMP TABLE IF NOT EXISTS stage_${spec.table} (record_key text, source_type text, source_instance_id text, source_id text,
       external_key text, is_deleted boolean, source_updated_at timestamptz, content_hash bytea, record jsonb${extra}) ON COMMIT DELETE ROWS`,
  );
}

const hashCell = (hex: string) => `\\\\x${hex}`;

/** The identity columns of one canonical row as COPY cells, each after a tab (all NULL when not extracted at ingest). */
export function identityCells(r: Pick<AcceptedRecord, 'key' | 'record'>, identities: IdentityExtraction | undefined): string {
  if (!identities) return '\t\\N\t\\N\t\\N\t\\N';
  const x = identities.of(r);
  return `\t${copyArray(x.keys)}\t${copyArray(x.fields)}\t${x.refused ? copyValue(JSON.stringify(x.refused)) : '\\N'}\t${identities.configVersion}`;
}

async function stageLanding(conn: PgConn, accepted: AcceptedRecord[]): Promise<void> {
  let lines = '';
  for (const r of accepted) lines += `${copyValue(r.key.key)}\t${copyValue(r.payloadText)}\t${hashCell(r.checksum)}\n`;
  await copyRows(conn, 'stage_landing (record_key, payload, content_hash)', lines);
}

async function applyLanding(conn: PgConn, spec: XdmClassSpec, input: StoreBatchInput): Promise<number> {
  const { rowCount } = await conn.query(
    `/* ingest.landing */ INSERT INTO landing_record (batch_id, xdm_class, record_key, payload, content_hash, received_at)
     SELECT $1, $2, record_key, payload, content_hash, $3 FROM stage_landing ORDER BY content_hash
     ON CONFLICT ON CONSTRAINT landing_record_content_uq DO NOTHING`,
    [input.batchId, spec.name, input.receivedAt],
  );
  return rowCount ?? 0;
}

async function stageCanonical(conn: PgConn, spec: XdmClassSpec, rows: AcceptedRecord[], identities: IdentityExtraction | undefined): Promise<void> {
  const withIdentities = IDENTITY_TABLES.has(spec.table);
  let lines = '';
  for (const r of rows) {
    let line =
      `${copyValue(r.key.key)}\t${copyValue(r.key.sourceType)}\t${copyValue(r.key.sourceInstanceID)}\t${copyValue(r.key.sourceID)}\t` +
      `${copyValue(r.externalKey)}\t${r.isDeleted ? 't' : 'f'}\t${r.sourceUpdatedAt ? r.sourceUpdatedAt.toISOString() : '\\N'}\t${hashCell(r.checksum)}\t${copyValue(JSON.stringify(r.record))}`;
    for (const c of spec.columns) line += `\t${copyValue(c.extract(r.record))}`;
    if (withIdentities) line += identityCells(r, identities);
    lines += `${line}\n`;
  }
  const colList = stagedColumns(spec).map((c) => `, ${c.column}`).join('');
  await copyRows(conn, `stage_${spec.table} (record_key, source_type, source_instance_id, source_id, external_key, is_deleted, source_updated_at, content_hash, record${colList})`, lines);
}

/**
 * The newest version wins: by source update time where both versions have one; where either
 * lacks it, the later arrival (this one) wins. Same content changes nothing.
 */
async function applyCanonical(conn: PgConn, spec: XdmClassSpec, input: StoreBatchInput): Promise<Map<string, boolean>> {
  const colNames = stagedColumns(spec).map((c) => c.column);
  const colList = colNames.map((c) => `, ${c}`).join('');
  const colUpdate = colNames.map((c) => `, ${c} = EXCLUDED.${c}`).join('');
  const { rows: out } = await conn.query(
    `/* ingest.upsert:${spec.table} */
     INSERT INTO ${spec.table} AS t (record_key, source_type, source_instance_id, source_id, external_key, is_deleted,
                                     source_updated_at, received_at, content_hash, batch_id, record${colList})
     SELECT record_key, source_type, source_instance_id, source_id, external_key, is_deleted,
            source_updated_at, $1, content_hash, $2, record${colList}
     FROM stage_${spec.table} ORDER BY record_key
     ON CONFLICT (record_key) DO UPDATE SET
       source_type = EXCLUDED.source_type, source_instance_id = EXCLUDED.source_instance_id, source_id = EXCLUDED.source_id,
       external_key = EXCLUDED.external_key, is_deleted = EXCLUDED.is_deleted, source_updated_at = EXCLUDED.source_updated_at,
       received_at = EXCLUDED.received_at, content_hash = EXCLUDED.content_hash, batch_id = EXCLUDED.batch_id, record = EXCLUDED.record,
       updated_at = now()${colUpdate}
     WHERE (t.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL OR t.source_updated_at <= EXCLUDED.source_updated_at)
       AND t.content_hash <> EXCLUDED.content_hash
     RETURNING record_key, (xmax = 0) AS inserted`,
    [input.receivedAt, input.batchId],
  );
  const applied = new Map<string, boolean>();
  for (const row of out as Array<{ record_key: string; inserted: boolean }>) applied.set(row.record_key, row.inserted);
  return applied;
}

async function storedHashes(conn: PgConn, spec: XdmClassSpec, keys: string[]): Promise<Map<string, string>> {
  const { rows } = await conn.query(`/* ingest.hashes:${spec.table} */ SELECT record_key, encode(content_hash, 'hex') AS hash FROM ${spec.table} WHERE record_key = ANY($1::text[])`, [keys]);
  return new Map((rows as Array<{ record_key: string; hash: string }>).map((r) => [r.record_key, r.hash]));
}

async function insertQuarantine(conn: PgConn, input: StoreBatchInput, rejected: RejectedRecord[]): Promise<Map<number, string>> {
  // Rejected input is whatever arrived: make every string storable (no NUL, no broken UTF-16).
  const rows = rejected.map((r) => ({
    pos: r.position,
    cls: r.xdmClass,
    key: r.recordKey === null ? null : storableString(r.recordKey),
    kind: r.rawKind,
    p: r.payload === undefined ? null : storableJson(r.payload),
    // A JSON null as the whole record would be no payload at all in a jsonb column: kept as text.
    pt: r.payloadText !== undefined ? storableString(r.payloadText) : r.payload === null ? 'null' : null,
    e: storableJson(r.errors),
  }));
  const { rows: out } = await conn.query(
    `/* ingest.quarantine */ INSERT INTO quarantine_record (batch_id, channel, xdm_class, file_ingestion_id, sync_stream, row_number, record_key, raw_kind, payload, payload_text, errors)
     SELECT $1::uuid, $2, r.cls, $3::uuid, $4, r.pos, r.key, r.kind, r.p, r.pt, r.e
     FROM json_to_recordset($5::json) AS r(pos bigint, cls text, key text, kind text, p jsonb, pt text, e jsonb)
     RETURNING id, row_number`,
    [input.batchId, input.channel, input.fileIngestionId ?? null, input.syncStream ?? null, JSON.stringify(rows)],
  );
  return new Map((out as Array<{ id: string; row_number: string }>).map((r) => [Number(r.row_number), String(r.id)]));
}
