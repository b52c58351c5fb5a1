/**
 * identityResolver: the single writer of one entity's identity graph and profiles. It runs for
 * as long as Tessera does, draining the change queue the write path fills:
 *   wait until not paused → drain the queue for a few minutes (one heartbeating activity that
 *   resolves micro-batches) → add up what it did → again; continue as new before the history
 *   grows long.
 * Operators see it in the Temporal UI (`TesseraJobKind = 'identity-resolver'`), pause and resume
 * it with signals, and read its totals with the `status` query.
 */
import {
  ActivityCancellationType,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createResolverActivities } from '../activities/resolver';
import {
  addUpTotals,
  NO_TOTALS,
  RESOLVER_PAUSE_SIGNAL,
  RESOLVER_RESUME_SIGNAL,
  RESOLVER_STATUS_QUERY,
  type IdentityResolverInput,
  type ResolverStatus,
  type ResolverTotals,
} from '../contracts/resolver';
import { SA } from '../contracts/search-attributes';

export const pauseResolver = defineSignal(RESOLVER_PAUSE_SIGNAL);
export const resumeResolver = defineSignal(RESOLVER_RESUME_SIGNAL);
export const resolverStatus = defineQuery<ResolverStatus>(RESOLVER_STATUS_QUERY);

/** One activity run drains for this long; its heartbeats show it alive in between. */
const RUN_MS = 5 * 60_000;
/** Runs per history, well under Temporal's history limits. */
const RUNS_PER_HISTORY = 200;

const { drainResolverQueue } = proxyActivities<ReturnType<typeof createResolverActivities>>({
  startToCloseTimeout: RUN_MS + 5 * 60_000,
  // A silent worker is given up after this; its lease (15 s from its last micro-batch) has lapsed
  // or soon will, and the next attempt takes over.
  heartbeatTimeout: '10s',
  // A pause cancels the run; the workflow waits until it has stopped and released the lease.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

export async function identityResolver(input: IdentityResolverInput): Promise<void> {
  const { entity } = input;
  upsertSearchAttributes([
    { key: SA.jobKind, value: 'identity-resolver' },
    { key: SA.entityType, value: entity },
  ]);
  let paused = input.paused ?? false;
  const totals: ResolverTotals = { ...NO_TOTALS, ...input.totals };
  let run: CancellationScope | undefined;
  let draining = false;

  setHandler(pauseResolver, () => {
    paused = true;
    run?.cancel();
  });
  setHandler(resumeResolver, () => {
    paused = false;
  });
  setHandler(resolverStatus, () => ({ entity, paused, draining, totals }));

  for (let runs = 0; runs < RUNS_PER_HISTORY && !workflowInfo().continueAsNewSuggested; runs++) {
    await condition(() => !paused);
    run = new CancellationScope();
    draining = true;
    try {
      const done = await run.run(() => drainResolverQueue({ entity, runForMs: RUN_MS }));
      addUpTotals(totals, { ...done, runs: 1 });
    } catch (err) {
      if (!(paused && isCancellation(err))) throw err;
    } finally {
      run = undefined;
      draining = false;
    }
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof identityResolver>({ entity, totals, paused });
}
