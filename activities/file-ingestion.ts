/** Activities of the ingestFile workflow: thin wrappers over ingestion/ and db/, inputs checked with zod. */
import { rm } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import { InvalidRequest } from '../domain/errors';
import { countSlice, fileIngestionTotals, getFileIngestion, markFinished } from '../db/repositories/file-ingestions';
import { ingestFileSlice, openFileIngestion } from '../engine/ingest/file-ingestion';
import type { Logger } from '../platform/logger';
import type { FileIngestionTotals } from '../contracts/file-ingestion';
import { withFailureConversion } from './failures';
import { parseActivityInput } from './parse-input';

const idInput = z.object({ ingestionId: z.uuid() });
const sliceInput = idInput.extend({ maxRecords: z.number().int().positive(), batchSize: z.number().int().min(1).max(50_000) });
const failInput = idInput.extend({ reason: z.string() });

export function createFileIngestionActivities(deps: { db: Knex; log: Logger }) {
  const { db, log } = deps;

  async function totals(id: string): Promise<FileIngestionTotals> {
    const row = await getFileIngestion(db, id);
    if (!row) throw new InvalidRequest(`no file ingestion ${id}`);
    return fileIngestionTotals(row);
  }

  return withFailureConversion({
    /** Checks the file (exists, not empty, header fits the class or mapping) and marks the ingestion running. Idempotent. */
    async openFileIngestion(input: { ingestionId: string }): Promise<FileIngestionTotals> {
      const { ingestionId } = parseActivityInput(idInput, input);
      const row = await openFileIngestion(db, ingestionId);
      log.info({ ingestionId, xdmClass: row.xdm_class, format: row.format, sizeBytes: Number(row.size_bytes) }, 'file ingestion open');
      return fileIngestionTotals(row);
    },

    /** Ingests up to maxRecords records from the checkpoint; heartbeats progress after every committed batch. */
    async ingestFileSlice(input: { ingestionId: string; maxRecords: number; batchSize: number }): Promise<{ done: boolean; totals: FileIngestionTotals }> {
      const { ingestionId, maxRecords, batchSize } = parseActivityInput(sliceInput, input);
      const ctx = Context.current();
      const slice = await ingestFileSlice(db, ingestionId, { maxRecords, batchSize, signal: ctx.cancellationSignal, onProgress: (p) => ctx.heartbeat(p) });
      return { done: slice.done, totals: fileIngestionTotals(await countSlice(db, ingestionId)) };
    },

    async completeFileIngestion(input: { ingestionId: string }): Promise<FileIngestionTotals> {
      const { ingestionId } = parseActivityInput(idInput, input);
      await markFinished(db, ingestionId, { status: 'completed' });
      // An uploaded file has served its purpose (its rows are stored, its rejects quarantined).
      const row = await getFileIngestion(db, ingestionId);
      if (row?.uploaded_by) await rm(row.path, { force: true });
      const done = await totals(ingestionId);
      log.info({ ingestionId, ...done }, 'file ingestion completed');
      return done;
    },

    async failFileIngestion(input: { ingestionId: string; reason: string }): Promise<void> {
      const { ingestionId, reason } = parseActivityInput(failInput, input);
      await markFinished(db, ingestionId, { status: 'failed', error: reason });
      log.warn({ ingestionId, reason }, 'file ingestion failed');
    },
  });
}
