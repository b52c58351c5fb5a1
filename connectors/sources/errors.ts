/**
 * How a source connector fails. activities/failures.ts turns these into Temporal failures by
 * `type` and `retryable`; per-record problems are never errors (they are UnmappableRows).
 */
import { TesseraError } from '../../domain/errors';

/**
 * A vendor's error text as Tessera repeats it (in errors, logs and workflow histories): its first
 * sentence of its first line, printable ASCII only, at most `max` characters — never a raw body
 * (it may echo what was sent, or be a page of HTML). A code is kept only if it looks like one.
 */
export function vendorSummary(code: string | undefined | null, text: string | undefined | null, max = 120): string {
  const c = code && /^[A-Za-z0-9_.:-]{1,64}$/.test(code) ? code : '';
  const t = (text ?? '').slice(0, 4096).split(/\r?\n/)[0]!.replace(/[^\x20-\x7e]/g, '').split(/(?<=\.)\s/)[0]!.trim().slice(0, max);
  return [c, t].filter(Boolean).join(': ');
}

/** Credentials refused (after one token refresh): stops the instance's sync; no retry can fix it. */
export class SourceAuthFailed extends TesseraError {
  readonly type = 'SourceAuthFailed';
  readonly retryable = false;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string) {
    super(`authentication to ${instanceLabel} failed: ${detail}. Check the instance's client id and secret.`);
    this.name = 'SourceAuthFailed';
  }
}

/** Rate limit or concurrency limit hit despite the budget: retry after `retryAfterMs`. */
export class SourceRateLimited extends TesseraError {
  readonly type = 'SourceRateLimited';
  readonly retryable = true;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string, retryAfterMs: number) {
    super(`${instanceLabel} is rate limiting: ${detail}; retrying in ${Math.ceil(retryAfterMs / 1000)} s`);
    this.name = 'SourceRateLimited';
    this.retryAfterMs = retryAfterMs;
  }
}

/** A daily quota (API calls, bulk export bytes) is used up: retry when it resets. */
export class SourceQuotaExhausted extends TesseraError {
  readonly type = 'SourceQuotaExhausted';
  readonly retryable = true;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string, retryAfterMs: number) {
    super(`${instanceLabel} quota exhausted: ${detail}; resuming after the reset`);
    this.name = 'SourceQuotaExhausted';
    this.retryAfterMs = retryAfterMs;
  }
}

/** 5xx, timeouts, dropped connections after the connector's own retries: Temporal retries the activity. */
export class SourceUnavailable extends TesseraError {
  readonly type = 'SourceUnavailable';
  readonly retryable = true;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string) {
    super(`${instanceLabel} is unavailable: ${detail}`);
    this.name = 'SourceUnavailable';
  }
}

/**
 * The source returned less than it said it would (a truncated bulk file, a count mismatch, an
 * empty page in the middle): never reported as success. Retryable (the page is read again).
 */
export class SourceIncompleteRead extends TesseraError {
  readonly type = 'SourceIncompleteRead';
  readonly retryable = true;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string) {
    super(`incomplete read from ${instanceLabel}: ${detail}`);
    this.name = 'SourceIncompleteRead';
  }
}

/** The source refused a request that will not succeed as sent (bad field, bad query, missing permission). */
export class SourceRequestRejected extends TesseraError {
  readonly type = 'SourceRequestRejected';
  readonly retryable = false;
  readonly origin = 'source';
  constructor(readonly instanceLabel: string, detail: string) {
    super(`${instanceLabel} rejected the request: ${detail}`);
    this.name = 'SourceRequestRejected';
  }
}
