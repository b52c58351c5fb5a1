/**
 * The one place where errors become Temporal failures: Tessera's typed errors keep their `type`
 * and retryability, an unreachable database is retryable, data Postgres refuses is not, anything
 * else is left to Temporal's default (retryable, typed by its class name).
 */
import { ApplicationFailure } from '@temporalio/common';
import { isDatabaseUnavailable, isDataRejected } from '../db/connection';
import { DatabaseUnavailable, StorageRejected, TesseraError } from '../domain/errors';

export function toApplicationFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  const e =
    err instanceof TesseraError ? err
    : isDatabaseUnavailable(err) ? new DatabaseUnavailable(err)
    : isDataRejected(err) ? new StorageRejected(err)
    : undefined;
  if (!e) return err;
  return ApplicationFailure.create({
    type: e.type,
    message: e.message,
    nonRetryable: !e.retryable,
    nextRetryDelay: e.retryAfterMs,
    details: [{ origin: e.origin }],
    cause: err instanceof Error && err !== e ? err : undefined,
  });
}

/** Wraps every function of an activity object so its errors are converted. */
export function withFailureConversion<T extends Record<string, (...args: any[]) => Promise<unknown>>>(activities: T): T {
  const out = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        throw toApplicationFailure(e);
      }
    };
    Object.defineProperty(out[name], 'name', { value: name });
  }
  return out as T;
}
