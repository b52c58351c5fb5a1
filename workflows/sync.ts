/**
 * sync: one run of a source instance — every stream read from its cursor to the run's start time.
 * Started by the instance's Temporal Schedule (`sync/marketo/123-ABC-456`, overlap: skip) or by a
 * trigger of that schedule from the API. Each stream is a child workflow
 * (`<run id>/<stream>`), so the Temporal UI shows which entity is where; streams run in waves,
 * after the streams they depend on.
 *
 * syncStream: reads one stream (or one backfill window) to the end, an activity call at a time;
 * data and cursor move together in Postgres, so any retry or crash resumes at the next page.
 */
import {
  CancellationScope,
  continueAsNew,
  executeChild,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createSyncActivities } from '../activities/sync';
import { streamWaves } from '../domain/sync/stream-waves';
import { BOOKKEEPING, SOURCE_PAGES } from './shared/activity-options';
import { failureReason } from './shared/failure-reason';
import { SA } from '../contracts/search-attributes';
import {
  INCREMENTAL_SCOPE,
  streamProgressQuery,
  streamWorkflowId,
  syncProgressQuery,
  type StreamInput,
  type StreamTotals,
  type SyncInput,
  type SyncProgress,
} from '../contracts/sync';

type SyncActivities = ReturnType<typeof createSyncActivities>;
const bookkeeping = proxyActivities<SyncActivities>(BOOKKEEPING);

/** Activity calls per stream workflow run before continuing as new. */
const CALLS_PER_RUN = 200;

export async function sync(input: SyncInput): Promise<SyncProgress> {
  const { workflowId } = workflowInfo();
  const runStartedAt = input.runStartedAt ?? new Date().toISOString();
  const instance = `${input.sourceType}/${input.instanceId}`;
  upsertSearchAttributes([
    { key: SA.jobKind, value: 'sync' },
    { key: SA.sourceType, value: input.sourceType },
    { key: SA.sourceInstance, value: input.instanceId },
    { key: SA.entityType, value: 'source-instance' },
    { key: SA.entityId, value: instance },
    { key: SA.trigger, value: input.trigger ?? 'schedule' },
  ]);
  const progress: SyncProgress = { workflowId, runStartedAt, status: 'running', streams: {} };
  setHandler(syncProgressQuery, () => progress);

  const plan = await bookkeeping.openSyncRun({ sourceType: input.sourceType, instanceId: input.instanceId, workflowId, runStartedAt, kind: 'sync' });
  if (!plan.enabled) {
    // Paused since the run was scheduled (or triggered by hand): nothing to read.
    progress.status = 'completed';
    await bookkeeping.finishSyncRun({ workflowId, runStartedAt, status: 'completed', streams: {}, notices: ['instance disabled: nothing synced'] });
    return progress;
  }
  for (const s of plan.streams) progress.streams[s.name] = { stream: s.name, pages: 0, records: 0, quarantined: 0, complete: false, notices: [], state: 'waiting' };

  // A stream that fails does not stop the others (one object the org lacks must not block the
  // rest); streams that depend on it are skipped. The run fails at the end, naming each failure.
  const failures: Array<{ stream: string; err: unknown }> = [];
  for (const wave of streamWaves(plan.streams)) {
    await Promise.all(wave.map(async (s) => {
      const blockedBy = s.dependsOn.filter((d) => progress.streams[d]!.state !== 'done');
      if (blockedBy.length) {
        progress.streams[s.name] = { ...progress.streams[s.name]!, state: 'failed', notices: [`skipped: ${blockedBy.join(', ')} did not complete`] };
        return;
      }
      progress.streams[s.name]!.state = 'running';
      try {
        const totals = await executeChild(syncStream, {
          workflowId: streamWorkflowId(workflowId, s.name),
          args: [{ sourceType: input.sourceType, instanceId: input.instanceId, stream: s.name, scope: INCREMENTAL_SCOPE, runStartedAt, heartbeatTimeout: input.heartbeatTimeout, maxPagesPerCall: input.maxPagesPerCall }],
          typedSearchAttributes: [
            { key: SA.jobKind, value: 'sync-stream' },
            { key: SA.sourceType, value: input.sourceType },
            { key: SA.sourceInstance, value: input.instanceId },
            { key: SA.entityType, value: s.name },
          ],
        });
        progress.streams[s.name] = { ...totals, state: 'done' };
      } catch (err) {
        progress.streams[s.name]!.state = 'failed';
        failures.push({ stream: s.name, err });
      }
    }));
  }
  if (failures.length) {
    progress.status = 'failed';
    const error = failures.map((f) => `${f.stream}: ${failureReason(f.err)}`).join('; ');
    await CancellationScope.nonCancellable(() =>
      bookkeeping.finishSyncRun({ workflowId, runStartedAt, status: 'failed', streams: progress.streams, notices: allNotices(progress), error }),
    );
    throw failures[0]!.err;
  }
  progress.status = 'completed';
  await bookkeeping.finishSyncRun({ workflowId, runStartedAt, status: 'completed', streams: progress.streams, notices: allNotices(progress) });
  return progress;
}

export async function syncStream(input: StreamInput): Promise<StreamTotals> {
  const pages = proxyActivities<SyncActivities>({ ...SOURCE_PAGES, ...(input.heartbeatTimeout ? { heartbeatTimeout: input.heartbeatTimeout } : {}) });
  let totals: StreamTotals = { stream: input.stream, pages: 0, records: 0, quarantined: 0, complete: false, notices: [] };
  setHandler(streamProgressQuery, () => totals);

  for (let calls = 1; ; calls++) {
    const { heartbeatTimeout: _tuning, ...request } = input;
    const result = await pages.syncStreamPages(request);
    const { waitMs, ...rest } = result;
    totals = rest;
    if (totals.complete) return totals;
    if (waitMs !== undefined) await sleep(waitMs);
    if (calls >= CALLS_PER_RUN || workflowInfo().continueAsNewSuggested) break;
  }
  // The cursor in Postgres carries the position: the next run simply goes on reading.
  return continueAsNew<typeof syncStream>(input);
}

function allNotices(p: SyncProgress): string[] {
  return Object.values(p.streams).flatMap((s) => s.notices.map((n) => `${s.stream}: ${n}`));
}

