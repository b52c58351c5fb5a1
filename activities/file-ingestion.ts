/** Activities of the ingestFile workflow: thin wrappers over ingestion/ and db/, inputs checked with zod. */
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import { InvalidRequest } from '../domain/errors';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { countSlice, getFileIngestion, markFinished, markStarted, type FileIngestionRow } from '../db/repositories/file-ingestions';
import { ingestFileSlice, inspectFile } from '../ingestion/file-ingestion';
import type { Logger } from '../platform/logger';
import type { FileIngestionTotals } from '../workflows/shared/file-ingestion-types';
import { withFailureConversion } from './failures';

const idInput = z.object({ ingestionId: z.uuid() });
const sliceInput = idInput.extend({ maxRecords: z.number().int().positive(), batchSize: z.number().int().min(1).max(50_000) });
const failInput = idInput.extend({ reason: z.string() });

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new InvalidRequest(`invalid activity input: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

function totalsOf(row: FileIngestionRow): FileIngestionTotals {
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

export function createFileIngestionActivities(deps: { db: Knex; log: Logger }) {
  const { db, log } = deps;

  async function load(id: string): Promise<FileIngestionRow> {
    const row = await getFileIngestion(db, id);
    if (!row) throw new InvalidRequest(`no file ingestion ${id}`);
    return row;
  }

  return withFailureConversion({
    /** Checks the file (exists, not empty, header fits the class or mapping) and marks the ingestion running. Idempotent. */
    async openFileIngestion(input: { ingestionId: string }): Promise<FileIngestionTotals> {
      const { ingestionId } = parse(idInput, input);
      const row = await load(ingestionId);
      if (row.status === 'pending') {
        const inspected = await inspectFile(row.path, row.format, XDM_CLASSES[row.xdm_class], row.mapping);
        await markStarted(db, ingestionId, inspected.header);
        log.info({ ingestionId, xdmClass: row.xdm_class, format: row.format, sizeBytes: inspected.sizeBytes }, 'file ingestion started');
      }
      return totalsOf(await load(ingestionId));
    },

    /** Ingests up to maxRecords records from the checkpoint; heartbeats progress after every committed batch. */
    async ingestFileSlice(input: { ingestionId: string; maxRecords: number; batchSize: number }): Promise<{ done: boolean; totals: FileIngestionTotals }> {
      const { ingestionId, maxRecords, batchSize } = parse(sliceInput, input);
      const ctx = Context.current();
      const slice = await ingestFileSlice(db, ingestionId, {
        maxRecords,
        batchSize,
        signal: ctx.cancellationSignal,
        onProgress: (p) => ctx.heartbeat(p),
      });
      await countSlice(db, ingestionId);
      return { done: slice.done, totals: totalsOf(await load(ingestionId)) };
    },

    async completeFileIngestion(input: { ingestionId: string }): Promise<FileIngestionTotals> {
      const { ingestionId } = parse(idInput, input);
      await markFinished(db, ingestionId, { status: 'completed' });
      const totals = totalsOf(await load(ingestionId));
      log.info({ ingestionId, ...totals }, 'file ingestion completed');
      return totals;
    },

    async failFileIngestion(input: { ingestionId: string; reason: string }): Promise<void> {
      const { ingestionId, reason } = parse(failInput, input);
      await markFinished(db, ingestionId, { status: 'failed', error: reason });
      log.warn({ ingestionId, reason }, 'file ingestion failed');
    },
  });
}

