/** Request budgets (see the migration): configure, try to take one call, release it. */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { inPgTransaction } from '../pg-transaction';

export interface BudgetLimits {
  maxCalls: number;
  windowMs: number;
  maxInFlight: number;
  leaseTtlMs: number;
}

/** Creates or updates a budget's limits (idempotent). */
export async function configureBudget(db: Knex, key: string, limits: BudgetLimits): Promise<void> {
  await db.raw(
    `/* budget.configure */ INSERT INTO request_budget (budget_key, max_calls, window_ms, max_in_flight, lease_ttl_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (budget_key) DO UPDATE SET max_calls = EXCLUDED.max_calls, window_ms = EXCLUDED.window_ms,
       max_in_flight = EXCLUDED.max_in_flight, lease_ttl_ms = EXCLUDED.lease_ttl_ms, updated_at = now()`,
    [key, limits.maxCalls, limits.windowMs, limits.maxInFlight, limits.leaseTtlMs],
  );
}

export type TakeResult =
  | { granted: true; leaseId: string; grantedAt: Date; expiresAt: Date }
  | { granted: false; retryAfterMs: number; reason: 'rate' | 'in-flight' };

export class UnknownBudget extends Error {
  constructor(key: string) {
    super(`no request budget '${key}' is configured`);
    this.name = 'UnknownBudget';
  }
}

/**
 * Takes one call from the budget if the rolling window and the in-flight cap allow it, else says
 * how long to wait. The budget row lock serialises takers of one budget across all workers;
 * Postgres' clock is the only clock.
 */
export async function tryTake(db: Knex, key: string): Promise<TakeResult> {
  return inPgTransaction(db, async (conn) => {
    const { rows } = await conn.query(
      `/* budget.lock */ SELECT max_calls, window_ms, max_in_flight, lease_ttl_ms FROM request_budget WHERE budget_key = $1 FOR UPDATE`,
      [key],
    );
    const b = rows[0] as { max_calls: number; window_ms: number; max_in_flight: number; lease_ttl_ms: number } | undefined;
    if (!b) throw new UnknownBudget(key);
    // Read the clock only once the lock is held: grant times then increase with every grant.
    const { rows: clock } = await conn.query('SELECT clock_timestamp() AS now');
    const now = (clock[0] as { now: Date }).now;
    const windowStart = new Date(now.getTime() - b.window_ms);
    await conn.query(`/* budget.prune */ DELETE FROM request_budget_call WHERE budget_key = $1 AND called_at <= $2`, [key, windowStart]);
    await conn.query(`/* budget.expire */ DELETE FROM request_budget_lease WHERE budget_key = $1 AND expires_at <= $2`, [key, now]);

    const { rows: leases } = await conn.query(
      `/* budget.in_flight */ SELECT count(*)::int AS n, min(expires_at) AS first_expiry FROM request_budget_lease WHERE budget_key = $1`,
      [key],
    );
    const inFlight = leases[0] as { n: number; first_expiry: Date | null };
    if (inFlight.n >= b.max_in_flight) {
      // Usually a release comes first; the expiry is the latest it can take.
      const untilExpiry = inFlight.first_expiry ? inFlight.first_expiry.getTime() - now.getTime() : 50;
      return { granted: false, retryAfterMs: Math.max(5, Math.min(untilExpiry, 50)), reason: 'in-flight' };
    }
    const { rows: calls } = await conn.query(
      `/* budget.window */ SELECT count(*)::int AS n, min(called_at) AS oldest FROM request_budget_call WHERE budget_key = $1`,
      [key],
    );
    const window = calls[0] as { n: number; oldest: Date | null };
    if (window.n >= b.max_calls) {
      return { granted: false, retryAfterMs: Math.max(1, window.oldest!.getTime() + b.window_ms - now.getTime() + 1), reason: 'rate' };
    }
    const leaseId = randomUUID();
    const expiresAt = new Date(now.getTime() + b.lease_ttl_ms);
    await conn.query(`/* budget.call */ INSERT INTO request_budget_call (budget_key, called_at) VALUES ($1, $2)`, [key, now]);
    await conn.query(`/* budget.lease */ INSERT INTO request_budget_lease (lease_id, budget_key, granted_at, expires_at) VALUES ($1, $2, $3, $4)`, [leaseId, key, now, expiresAt]);
    return { granted: true, leaseId, grantedAt: now, expiresAt };
  });
}

/** Ends a call: frees its in-flight slot (the call still counts in its rate window). */
export async function release(db: Knex, leaseId: string): Promise<void> {
  await db.raw(`/* budget.release */ DELETE FROM request_budget_lease WHERE lease_id = ?`, [leaseId]);
}

/** Extends a call's lease by the budget's TTL from now: a live call keeps its slot, a dead worker's lapses. */
export async function renewLease(db: Knex, leaseId: string): Promise<void> {
  await db.raw(
    `/* budget.renew */ UPDATE request_budget_lease l SET expires_at = clock_timestamp() + b.lease_ttl_ms * interval '1 millisecond'
     FROM request_budget b WHERE l.lease_id = ? AND b.budget_key = l.budget_key`,
    [leaseId],
  );
}
