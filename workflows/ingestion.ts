/**
 * ingestFile: a CSV or JSONL file of one XDM class, ingested in slices from a durable checkpoint.
 * Inputs are ids only; the file's settings and progress live in Postgres (file_ingestion).
 */
import { CancellationScope, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { createFileIngestionActivities } from '../activities/file-ingestion';
import { BOOKKEEPING, DB_BATCH } from './shared/activity-options';
import { failureReason } from './shared/failure-reason';
import { fileIngestionProgressQuery, percentRead, type FileIngestionProgress, type FileIngestionTotals, type IngestFileInput } from '../contracts/file-ingestion';

type FileActivities = ReturnType<typeof createFileIngestionActivities>;
const bookkeeping = proxyActivities<FileActivities>(BOOKKEEPING);

/** Slices per workflow run before continuing as new (keeps the history short). */
const SLICES_PER_RUN = 200;

export async function ingestFile(input: IngestFileInput): Promise<FileIngestionTotals> {
  const files = proxyActivities<FileActivities>({ ...DB_BATCH, heartbeatTimeout: input.heartbeatTimeout ?? DB_BATCH.heartbeatTimeout });
  let totals: FileIngestionTotals | undefined;
  setHandler(fileIngestionProgressQuery, (): FileIngestionProgress | undefined => totals && { ...totals, percent: percentRead(totals) });

  let continueFresh = false;
  try {
    totals = await bookkeeping.openFileIngestion({ ingestionId: input.ingestionId });
    let slicesThisRun = 0;
    while (totals.status === 'running') {
      const slice = await files.ingestFileSlice({ ingestionId: input.ingestionId, maxRecords: input.sliceRecords ?? 100_000, batchSize: input.batchSize ?? 5_000 });
      totals = slice.totals;
      if (slice.done) break;
      if (++slicesThisRun >= (input.slicesPerRun ?? SLICES_PER_RUN) || workflowInfo().continueAsNewSuggested) {
        continueFresh = true;
        break;
      }
    }
    if (!continueFresh) return await bookkeeping.completeFileIngestion({ ingestionId: input.ingestionId });
  } catch (err) {
    await CancellationScope.nonCancellable(() => bookkeeping.failFileIngestion({ ingestionId: input.ingestionId, reason: failureReason(err) }));
    throw err;
  }
  // Outside the try: continuing as new is not a failure. The next run resumes from the checkpoint in Postgres.
  return continueAsNew<typeof ingestFile>(input);
}

