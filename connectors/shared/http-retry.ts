/**
 * The retry loop every connector's HTTP layer shares (connector-apis.md §5): attempts with full
 * jitter backoff between `baseDelayMs` and `maxDelayMs`, `Retry-After` honoured, and a
 * vendor-specific classifier deciding per attempt. Each attempt is one gated call, so retries
 * count against the instance's request budget like any other call.
 */
import { TesseraError } from '../../domain/errors';
import type { RequestGate } from '../sources/source-connector';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt: abort the request after this long. */
  timeoutMs: number;
}

/** Retry-After waits up to this long (or the policy's maxDelayMs, if longer) happen inside the call. */
const LONGEST_IN_CALL_WAIT_MS = 60_000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 120_000 };

/** What the classifier makes of one attempt. */
export type AttemptVerdict<T> =
  | { kind: 'done'; value: T }
  /** Try again, after `afterMs` when the source said so (Retry-After), else after backoff. `error` is thrown when attempts run out. */
  | { kind: 'retry'; error: Error; afterMs?: number };

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * Runs `attempt` through the gate until the classifier says done, a thrown error (fatal: not
 * retried), or attempts run out (the last verdict's error is thrown).
 */
export async function withRetries<T>(
  gate: RequestGate,
  policy: RetryPolicy,
  signal: AbortSignal,
  attempt: (attemptNo: number, signal: AbortSignal) => Promise<AttemptVerdict<T>>,
): Promise<T> {
  for (let n = 1; ; n++) {
    const verdict = await gate(async () => {
      const timeout = AbortSignal.timeout(policy.timeoutMs);
      return attempt(n, AbortSignal.any([signal, timeout]));
    }, signal);
    if (verdict.kind === 'done') return verdict.value;
    // A wait of minutes is Temporal's to schedule (the error carries retryAfterMs), not an activity's to sleep through.
    if (n >= policy.maxAttempts || signal.aborted || (verdict.afterMs ?? 0) > Math.max(policy.maxDelayMs, LONGEST_IN_CALL_WAIT_MS)) {
      // The source's own wait goes with the error, so Temporal's retry honours it.
      if (verdict.afterMs !== undefined && verdict.error instanceof TesseraError) {
        verdict.error.retryAfterMs = Math.max(verdict.error.retryAfterMs ?? 0, verdict.afterMs);
      }
      throw verdict.error;
    }
    await sleep(verdict.afterMs ?? backoffMs(policy, n), signal);
  }
}

/** True for errors fetch throws when the connection fails or the attempt's timeout fires (retryable). */
export function isNetworkError(err: unknown): boolean {
  const e = err as { name?: string; cause?: { code?: string } };
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' || (e instanceof TypeError && /fetch failed|terminated|other side closed/i.test(String((e as Error).message)))
    || ['ECONNRESET', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'EPIPE', 'ETIMEDOUT'].includes(e?.cause?.code ?? '');
}
