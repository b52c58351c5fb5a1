/**
 * identityChange: an operator's split (do-not-link, unlink) or merge (allow-link) as a saga —
 * graph change → profile rematerialisation → segment re-evaluation → destination corrections.
 * Every step is idempotent (a retried step returns what it recorded). When a later step fails for
 * good, the graph change is compensated (reversed, and the profiles it touched rebuilt) and the
 * workflow fails, naming the step. The input is the change's id; the identities stay in Postgres.
 *
 * identityRebuild: a full recompute of the graph and the profiles (after a configuration change).
 */
import { ApplicationFailure, CancellationScope, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { createIdentityActivities } from '../activities/identity';
import { BOOKKEEPING, DB_BATCH } from './shared/activity-options';
import { failureReason } from './shared/failure-reason';
import { SA } from '../contracts/search-attributes';

type IdentityActivities = ReturnType<typeof createIdentityActivities>;
/** Saga steps are single transactions that may wait on the graph's locks (bounded by lock_timeout): no heartbeats. */
const steps = proxyActivities<IdentityActivities>({ ...DB_BATCH, heartbeatTimeout: undefined, startToCloseTimeout: '10m' });
const bookkeeping = proxyActivities<IdentityActivities>(BOOKKEEPING);

export interface IdentityChangeInput {
  changeId: string;
}

export interface IdentityChangeResult {
  changeId: string;
  profilesTouched: number;
  profilesEnded: number;
  segmentsQueued: number;
  destinationsQueued: number;
}

export async function identityChange(input: IdentityChangeInput): Promise<IdentityChangeResult> {
  const { changeId } = input;
  upsertSearchAttributes([
    { key: SA.jobKind, value: 'identity-change' },
    { key: SA.entityType, value: 'identity-change' },
    { key: SA.entityId, value: changeId },
  ]);

  let result: IdentityChangeResult;
  try {
    const graph = await steps.applyGraphChange({ changeId });
    await steps.rematerialiseProfiles({ changeId });
    const segments = await steps.reevaluateSegments({ changeId });
    const destinations = await steps.correctDestinations({ changeId });
    result = {
      changeId,
      profilesTouched: graph.touched.length,
      profilesEnded: Object.keys(graph.gone).length,
      segmentsQueued: segments.queued,
      destinationsQueued: destinations.queued,
    };
  } catch (err) {
    // Compensation reverses the graph change if it happened (and records the failure either way).
    const reason = failureReason(err);
    await CancellationScope.nonCancellable(() => steps.compensateIdentityChange({ changeId, error: reason }));
    throw ApplicationFailure.nonRetryable(`identity change ${changeId} was compensated: ${reason}`, 'IdentityChangeCompensated');
  }
  await bookkeeping.completeIdentityChange({ changeId });
  return result;
}

export async function identityRebuild(): Promise<Array<{ entity: string; records: number; profiles: number }>> {
  upsertSearchAttributes([{ key: SA.jobKind, value: 'identity-rebuild' }]);
  const results = await proxyActivities<IdentityActivities>({ ...DB_BATCH, startToCloseTimeout: '2h' }).rebuildIdentity();
  return results.map((r) => ({ entity: r.entity, records: r.records, profiles: r.profiles }));
}
