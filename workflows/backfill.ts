/**
 * backfill: re-reads a time range of some streams of an instance, started from the API or CLI
 * (`backfill/marketo/123-ABC-456/<id>`). The range is split into the windows the source allows
 * (Marketo bulk extract: 31 days); each window is a syncStream child with its own cursor, so a
 * continued or restarted backfill skips the windows already done. Streams go side by side, the
 * windows of a stream one after another, oldest first. Progress: the `backfillProgress` query.
 */
import { CancellationScope, executeChild, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { BackfillPlan, createSyncActivities } from '../activities/sync';
import { BOOKKEEPING } from './shared/activity-options';
import { SA } from '../contracts/search-attributes';
import { backfillProgressQuery, backfillScope, type BackfillInput, type BackfillProgress } from '../contracts/sync';
import { failureReason } from './shared/failure-reason';
import { syncStream } from './sync';

type SyncActivities = ReturnType<typeof createSyncActivities>;
const bookkeeping = proxyActivities<SyncActivities>(BOOKKEEPING);

export async function backfill(input: BackfillInput): Promise<BackfillProgress> {
  const { workflowId } = workflowInfo();
  const plan = await bookkeeping.planBackfill({ backfillId: input.backfillId });
  upsertSearchAttributes([
    { key: SA.jobKind, value: 'backfill' },
    { key: SA.isBackfill, value: true },
    { key: SA.sourceType, value: plan.sourceType },
    { key: SA.sourceInstance, value: plan.instanceId },
    { key: SA.entityType, value: 'source-instance' },
    { key: SA.entityId, value: `${plan.sourceType}/${plan.instanceId}` },
    { key: SA.windowStart, value: new Date(plan.rangeFrom) },
    { key: SA.windowEnd, value: new Date(plan.rangeTo) },
  ]);
  const progress = startingProgress(input.backfillId, plan);
  setHandler(backfillProgressQuery, () => ({ ...progress, percent: percent(progress) }));
  // Cursors of a window run up to the range's end; the run itself is recorded at its real start.
  const runStartedAt = plan.rangeTo;
  const startedAt = new Date().toISOString();
  await bookkeeping.openSyncRun({ sourceType: plan.sourceType, instanceId: plan.instanceId, workflowId, runStartedAt: startedAt, kind: 'backfill' });

  const streams = [...new Set(plan.windows.map((w) => w.stream))];
  const perStream: Record<string, { records: number; quarantined: number; windows: number }> = {};
  try {
    await Promise.all(streams.map(async (stream) => {
      perStream[stream] = { records: 0, quarantined: 0, windows: 0 };
      for (const w of plan.windows.filter((x) => x.stream === stream && !x.done)) {
        const window = { from: w.from, to: w.to };
        progress.current.push({ stream, window });
        const totals = await executeChild(syncStream, {
          workflowId: `${workflowId}/${stream}/${w.index}`,
          args: [{ sourceType: plan.sourceType, instanceId: plan.instanceId, stream, scope: backfillScope(input.backfillId, w.index), runStartedAt, window, heartbeatTimeout: input.heartbeatTimeout }],
          typedSearchAttributes: [
            { key: SA.jobKind, value: 'backfill-window' },
            { key: SA.isBackfill, value: true },
            { key: SA.sourceType, value: plan.sourceType },
            { key: SA.sourceInstance, value: plan.instanceId },
            { key: SA.entityType, value: stream },
            { key: SA.windowStart, value: new Date(w.from) },
            { key: SA.windowEnd, value: new Date(w.to) },
          ],
        });
        progress.current = progress.current.filter((c) => c.window !== window);
        progress.windowsDone++;
        progress.records += totals.records;
        progress.quarantined += totals.quarantined;
        perStream[stream]!.records += totals.records;
        perStream[stream]!.quarantined += totals.quarantined;
        perStream[stream]!.windows++;
      }
    }));
  } catch (err) {
    await CancellationScope.nonCancellable(() =>
      bookkeeping.finishSyncRun({ workflowId, runStartedAt: startedAt, status: 'failed', streams: perStream, notices: [], error: failureReason(err) }),
    );
    throw err;
  }
  await bookkeeping.finishSyncRun({ workflowId, runStartedAt: startedAt, status: 'completed', streams: perStream, notices: [] });
  return { ...progress, percent: 100 };
}

function startingProgress(backfillId: string, plan: BackfillPlan): BackfillProgress {
  const done = plan.windows.filter((w) => w.done);
  return {
    backfillId,
    windowsTotal: plan.windows.length,
    windowsDone: done.length,
    records: done.reduce((n, w) => n + w.records, 0),
    quarantined: done.reduce((n, w) => n + w.quarantined, 0),
    current: [],
    percent: 0,
  };
}

function percent(p: BackfillProgress): number {
  return p.windowsTotal === 0 ? 100 : Math.floor((100 * p.windowsDone) / p.windowsTotal);
}
