/**
 * Runs a call to an external instance within its shared request budget: waits (cancellably) for a
 * slot the rolling window and the in-flight cap allow, runs the call, releases the slot. While the
 * call runs its lease is renewed every third of its TTL, so a short TTL frees the slots of a
 * killed worker quickly without cutting long calls (a bulk download) short.
 */
import type { Knex } from 'knex';
import { release, renewLease, tryTake } from '../../db/repositories/request-budgets';
import { sleep } from '../../connectors/shared/http-retry';

export class BudgetWaitAborted extends Error {
  constructor(key: string) {
    super(`stopped waiting for request budget '${key}'`);
    this.name = 'BudgetWaitAborted';
  }
}

export async function withRequestBudget<T>(db: Knex, key: string, call: () => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
  let lease: string | undefined;
  let ttlMs = 0;
  while (!lease) {
    if (opts.signal?.aborted) throw new BudgetWaitAborted(key);
    const taken = await tryTake(db, key);
    if (taken.granted) {
      lease = taken.leaseId;
      ttlMs = taken.expiresAt.getTime() - taken.grantedAt.getTime();
    } else await sleep(taken.retryAfterMs, opts.signal).catch(() => { throw new BudgetWaitAborted(key); });
  }
  const leaseId = lease;
  const renewal = setInterval(() => void renewLease(db, leaseId).catch(() => undefined), Math.max(100, Math.floor(ttlMs / 3)));
  try {
    return await call();
  } finally {
    clearInterval(renewal);
    await release(db, leaseId);
  }
}
