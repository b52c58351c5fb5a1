/**
 * reconcile: the periodic id-set reconciliation of a source instance, for the streams whose source
 * API reports no deletes (Marketo companies, opportunities and list membership; Dataverse tables
 * without change tracking). Started by the instance's schedule `reconcile/<type>/<instance>`
 * (daily by default, overlap: skip) or from the API / CLI.
 *
 * For each stream, one after another: list the ids the source holds now, then mark the stored
 * records it no longer has as deleted. A run that would delete more than half of a stream's
 * records is held (status `held`, a notice) until it is run again with `force`. Progress: the
 * `reconcileProgress` query.
 */
import { CancellationScope, continueAsNew, isCancellation, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { createReconcileActivities } from '../activities/reconcile';
import { SA } from '../contracts/search-attributes';
import { reconcileProgressQuery, type ReconcileInput, type ReconcileProgress } from '../contracts/sync';
import { BOOKKEEPING, SOURCE_PAGES } from './shared/activity-options';
import { failureReason } from './shared/failure-reason';

type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
const bookkeeping = proxyActivities<ReconcileActivities>(BOOKKEEPING);

/** Activity calls per workflow run before continuing as new (the position is in Postgres). */
const CALLS_PER_RUN = 500;

export async function reconcile(input: ReconcileInput): Promise<ReconcileProgress> {
  const { workflowId, firstExecutionRunId: runId } = workflowInfo();
  const source = proxyActivities<ReconcileActivities>({ ...SOURCE_PAGES, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) });
  upsertSearchAttributes([
    { key: SA.jobKind, value: 'reconcile' },
    { key: SA.sourceType, value: input.sourceType },
    { key: SA.sourceInstance, value: input.instanceId },
    { key: SA.entityType, value: 'source-instance' },
    { key: SA.entityId, value: `${input.sourceType}/${input.instanceId}` },
    { key: SA.trigger, value: input.trigger ?? 'schedule' },
  ]);
  const progress: ReconcileProgress = { workflowId, status: 'running', streams: {} };
  setHandler(reconcileProgressQuery, () => progress);

  const plan = await bookkeeping.reconcilableStreams({ sourceType: input.sourceType, instanceId: input.instanceId });
  if (!plan.enabled) {
    progress.status = 'completed';
    return progress;
  }
  const streams = input.streams?.length ? plan.streams.filter((s) => input.streams!.includes(s)) : plan.streams;
  for (const stream of streams) progress.streams[stream] = { stream, phase: 'waiting', listed: 0, stored: null, marked: 0, notice: null };

  // A stream that fails does not stop the others; the run fails at the end, naming each failure.
  const failures: Array<{ stream: string; err: unknown }> = [];
  let calls = 0;
  for (const stream of streams) {
    try {
      for (;;) {
        const step = await source.reconcileStreamStep({ sourceType: input.sourceType, instanceId: input.instanceId, workflowId, runId, stream, force: input.force ?? false });
        progress.streams[stream] = step;
        if (step.phase === 'done' || step.phase === 'held') break;
        if (++calls >= CALLS_PER_RUN || workflowInfo().continueAsNewSuggested) {
          // Streams finished so far are found finished again (their state is in Postgres).
          return continueAsNew<typeof reconcile>(input);
        }
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      const reason = failureReason(err);
      progress.streams[stream] = { ...progress.streams[stream]!, phase: 'failed', notice: reason };
      await CancellationScope.nonCancellable(() => bookkeeping.failReconcileStream({ workflowId, runId, stream, reason }));
      failures.push({ stream, err });
    }
  }
  if (failures.length) {
    progress.status = 'failed';
    throw failures[0]!.err;
  }
  progress.status = Object.values(progress.streams).some((s) => s.phase === 'held') ? 'held' : 'completed';
  return progress;
}
