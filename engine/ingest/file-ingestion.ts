/**
 * File ingestion: inspect a file before starting, then ingest it slice by slice from its
 * durable checkpoint. Every batch of records and the checkpoint that covers it commit in one
 * transaction, so a crash at any point loses nothing and stores nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Knex } from 'knex';
import { compileMapping, type ColumnMapping, type CompiledMapping } from '../../domain/ingestion/column-mapping';
import { csvRowOutcome, jsonLineOutcome } from '../../domain/ingestion/file-row';
import type { AcceptedRecord, RejectedRecord } from '../../domain/ingestion/outcome';
import { CheckpointMoved, InvalidFile, InvalidRequest } from '../../domain/errors';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { advanceCheckpoint, getFileIngestion, markStarted, type FileIngestionRow } from '../../db/repositories/file-ingestions';
import { applyStagedBatch, stageIngestBatch } from '../../db/repositories/ingest-batches';
import { identityExtractions } from '../identity/ingest-identities';
import { inPgTransaction } from '../../db/pg-transaction';
import { queueForResolution } from '../identity/resolve-stored';
import { ingestMetrics } from '../../platform/metrics';
import { readRecordBatches, type FileFormat, type RecordBatch } from './file-records';

export interface CsvHeader {
  columns: string[];
  endOffset: number;
  nextLine: number;
}

export interface FileInspection {
  sizeBytes: number;
  header: CsvHeader | null;
}

/** Checks that a file can be ingested as asked; throws InvalidFile listing every problem. */
export async function inspectFile(path: string, format: FileFormat, spec: XdmClassSpec, mapping: ColumnMapping | null): Promise<FileInspection> {
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InvalidFile([`${path} is not a file`]);
    size = st.size;
  } catch (e) {
    if (e instanceof InvalidFile) throw e;
    throw new InvalidFile([`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`]);
  }
  if (size === 0) throw new InvalidFile(['the file is empty']);
  if (format === 'jsonl' && mapping) throw new InvalidFile(['a column mapping applies to CSV files only; JSONL lines must already be XDM records']);

  const first: RecordBatch['records'] = [];
  for await (const batch of readRecordBatches(path, { format, fromOffset: 0, fromLine: 1, batchSize: 2 })) {
    first.push(...batch.records);
    break;
  }
  if (first.length === 0) throw new InvalidFile(['the file has no records (only empty lines)']);
  if (format === 'jsonl') return { sizeBytes: size, header: null };

  const head = first[0]!;
  if (head.error || !head.fields) throw new InvalidFile([`the header line cannot be read: ${head.error}`]);
  const columns = head.fields.map((c) => c.trim());
  const problems: string[] = [];
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    if (!c) problems.push(`column ${i + 1} of the header has no name`);
    else if (seen.has(c)) problems.push(`column '${c}' appears twice in the header`);
    seen.add(c);
  });
  if (first.length < 2) problems.push('the file has a header but no data rows');
  problems.push(...compileMapping(spec, columns, mapping).problems);
  if (problems.length) throw new InvalidFile(problems);
  return { sizeBytes: size, header: { columns, endOffset: head.endOffset, nextLine: head.nextLine } };
}

/** Batch transactions writing at once (Postgres runs each on its own core). */
const COMMITS_IN_FLIGHT = 2;

export interface SliceOptions {
  /** Stop after about this many records (a whole batch more at most) and report `done: false`. */
  maxRecords: number;
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: (p: SliceProgress) => void;
}

export interface SliceProgress {
  byteOffset: number;
  rows: number;
  accepted: number;
  quarantined: number;
}

export interface SliceResult extends SliceProgress {
  done: boolean;
}

/**
 * Opens an ingestion: checks the file (InvalidFile lists every problem), records a CSV's header
 * and marks it running. Idempotent: an ingestion already running, completed or failed is returned as it is.
 */
export async function openFileIngestion(db: Knex, ingestionId: string): Promise<FileIngestionRow> {
  const fi = await getFileIngestion(db, ingestionId);
  if (!fi) throw new InvalidRequest(`no file ingestion ${ingestionId}`);
  if (fi.status !== 'pending') return fi;
  const inspected = await inspectFile(fi.path, fi.format, XDM_CLASSES[fi.xdm_class], fi.mapping);
  await markStarted(db, ingestionId, inspected.header);
  return (await getFileIngestion(db, ingestionId))!;
}

/** Ingests up to about `maxRecords` records of an open ingestion from its checkpoint. */
export async function ingestFileSlice(db: Knex, ingestionId: string, opts: SliceOptions): Promise<SliceResult> {
  const fi = await getFileIngestion(db, ingestionId);
  if (!fi) throw new InvalidRequest(`no file ingestion ${ingestionId}`);
  const spec = XDM_CLASSES[fi.xdm_class];
  const progress: SliceProgress = { byteOffset: Number(fi.byte_offset), rows: 0, accepted: 0, quarantined: 0 };
  if (fi.status === 'completed' || fi.status === 'failed') return { ...progress, done: true };
  if (fi.status !== 'running') throw new InvalidRequest(`file ingestion ${ingestionId} is ${fi.status}; open it first`);
  const mapping = fi.format === 'csv' ? compiledOrThrow(spec, fi.header ?? [], fi.mapping) : null;
  const identities = (await identityExtractions(db))(spec);

  let offset = Number(fi.byte_offset);
  // Up to COMMITS_IN_FLIGHT batch transactions run at once, each on its own connection: batch
  // N+1 COPYs its rows into staging while batch N applies. N+1 then waits (transaction open) for
  // N to commit before it writes shared tables and moves the checkpoint, so checkpoints advance
  // strictly in file order; if N fails, N+1 rolls back too and the retry resumes from the last
  // committed checkpoint.
  const inFlight: Array<Promise<void>> = [];
  let read = 0;
  let reachedEnd = true;
  const reader = readRecordBatches(fi.path, { format: fi.format, fromOffset: offset, fromLine: Number(fi.next_line), batchSize: opts.batchSize, signal: opts.signal });
  try {
    for await (const batch of reader) {
      // Validate the next batch while Postgres stores the previous ones.
      const receivedAt = new Date();
      const accepted: AcceptedRecord[] = [];
      const rejected: RejectedRecord[] = [];
      for (const r of batch.records) {
        const outcome = mapping ? csvRowOutcome(spec, fi.header!, mapping, r, receivedAt) : jsonLineOutcome(spec, r, receivedAt);
        if (outcome.kind === 'accepted') accepted.push(outcome.value);
        else rejected.push(outcome.value);
      }
      while (inFlight.length >= COMMITS_IN_FLIGHT) await inFlight.shift();
      const from = offset;
      offset = batch.endOffset;
      const committed = commit(from, batch, receivedAt, accepted, rejected, inFlight[inFlight.length - 1]);
      committed.catch(() => undefined); // awaited in order below; avoid an unhandled-rejection warning meanwhile
      inFlight.push(committed);
      read += batch.records.length;
      if (read >= opts.maxRecords) {
        reachedEnd = false; // a later slice goes on from the checkpoint (and finds the end if this was it)
        break;
      }
    }
    while (inFlight.length) await inFlight.shift();
  } finally {
    await Promise.allSettled(inFlight);
    await reader.return(undefined);
  }
  return { ...progress, done: reachedEnd };

  async function commit(from: number, batch: RecordBatch, receivedAt: Date, accepted: AcceptedRecord[], rejected: RejectedRecord[], previous?: Promise<void>) {
    await inPgTransaction(db, async (tx) => {
      const staged = await stageIngestBatch(tx, spec, { batchId: randomUUID(), channel: 'file', fileIngestionId: ingestionId, receivedAt, accepted, rejected, identities });
      // Take row locks only once the batch before this one has committed (or roll back with it):
      // two batches of one file never wait on each other's locks.
      if (previous) await previous;
      const stored = await applyStagedBatch(tx, staged);
      await queueForResolution(tx, spec.name, stored.appliedKeys, `file:${ingestionId}`);
      const moved = await advanceCheckpoint(tx, {
        id: ingestionId,
        fromOffset: from,
        toOffset: batch.endOffset,
        nextLine: batch.nextLine,
        rows: batch.records.length,
        accepted: accepted.length,
        quarantined: rejected.length,
      });
      if (!moved) throw new CheckpointMoved(`file ingestion ${ingestionId}`);
    });
    ingestMetrics.count('file', accepted.length, rejected.length);
    progress.byteOffset = batch.endOffset;
    progress.rows += batch.records.length;
    progress.accepted += accepted.length;
    progress.quarantined += rejected.length;
    opts.onProgress?.(progress);
  }
}

function compiledOrThrow(spec: XdmClassSpec, header: string[], mapping: ColumnMapping | null): CompiledMapping {
  const compiled = compileMapping(spec, header, mapping);
  if (!compiled.mapping) throw new InvalidFile(compiled.problems);
  return compiled.mapping;
}
