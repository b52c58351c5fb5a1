/**
 * Runs a call to an external instance within its shared request budget: waits (cancellably) for a
 * slot the rolling window and the in-flight cap allow, runs the call, releases the slot.
 */
import type { Knex } from 'knex';
import { release, tryTake } from '../../db/repositories/request-budgets';

export class BudgetWaitAborted extends Error {
  constructor(key: string) {
    super(`stopped waiting for request budget '${key}'`);
    this.name = 'BudgetWaitAborted';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export async function withRequestBudget<T>(db: Knex, key: string, call: () => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
  let lease: string | undefined;
  while (!lease) {
    if (opts.signal?.aborted) throw new BudgetWaitAborted(key);
    const taken = await tryTake(db, key);
    if (taken.granted) lease = taken.leaseId;
    else await sleep(taken.retryAfterMs, opts.signal).catch(() => { throw new BudgetWaitAborted(key); });
  }
  try {
    return await call();
  } finally {
    await release(db, lease);
  }
}
