/**
 * Tessera's error taxonomy. Code throws these plain errors; activities/failures.ts turns them
 * into Temporal ApplicationFailures (the `type` set explicitly so minification cannot change it)
 * and the API maps them to HTTP statuses. Per-record problems are never errors: they are
 * RecordOutcomes that go to quarantine.
 */
export type ErrorOrigin = 'source' | 'destination' | 'identity' | 'governance' | 'platform' | 'input';

export abstract class TesseraError extends Error {
  abstract readonly type: string;
  abstract readonly retryable: boolean;
  abstract readonly origin: ErrorOrigin;
  retryAfterMs?: number;
}

/** A file cannot be ingested as asked: missing, empty, unknown columns, bad mapping. Fix the input. */
export class InvalidFile extends TesseraError {
  readonly type = 'InvalidFile';
  readonly retryable = false;
  readonly origin = 'input';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'InvalidFile';
  }
}

/** A request that can never succeed as sent (unknown class, bad mapping, ...). */
export class InvalidRequest extends TesseraError {
  readonly type = 'InvalidRequest';
  readonly retryable = false;
  readonly origin = 'input';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequest';
  }
}

/** Another attempt moved a checkpoint first: re-read it and go on (retryable). */
export class CheckpointMoved extends TesseraError {
  readonly type = 'CheckpointMoved';
  readonly retryable = true;
  readonly origin = 'platform';
  constructor(what: string) {
    super(`the checkpoint of ${what} was moved by another attempt; resuming from the new checkpoint`);
    this.name = 'CheckpointMoved';
  }
}

/** Postgres cannot be reached: retry later (HTTP 503). */
export class DatabaseUnavailable extends TesseraError {
  readonly type = 'DatabaseUnavailable';
  readonly retryable = true;
  readonly origin = 'platform';
  constructor(cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'DatabaseUnavailable';
  }
}

/** Postgres refused a value (data exception or integrity violation): a bug or unsupported data, not retryable. */
export class StorageRejected extends TesseraError {
  readonly type = 'StorageRejected';
  readonly retryable = false;
  readonly origin = 'platform';
  constructor(cause: unknown) {
    super(`the database refused the data: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'StorageRejected';
  }
}

/** The thing asked for does not exist (HTTP 404); retrying cannot help. */
export class NotFound extends TesseraError {
  readonly type = 'NotFound';
  readonly retryable = false;
  readonly origin = 'input';
  constructor(message: string) {
    super(message);
    this.name = 'NotFound';
  }
}

/** A request refused as it stands (not retried): the message says what to change. */
abstract class Refusal extends TesseraError {
  readonly retryable = false;
  readonly origin = 'input';
}

/** The request conflicts with work in progress (a backfill too many, a source still syncing): retry later. */
export class Conflict extends Refusal {
  readonly type = 'Conflict';
  override name = 'Conflict';
}

/** The caller may not do this (an ingest token writing another source instance's records). */
export class NotPermitted extends Refusal {
  readonly type = 'NotPermitted';
  override name = 'NotPermitted';
}

/** A saga step that failed for good: the saga compensates instead of retrying it. */
export class SagaStepFailed extends TesseraError {
  readonly type = 'SagaStepFailed';
  readonly retryable = false;
  readonly origin = 'identity';
  constructor(message: string) {
    super(message);
    this.name = 'SagaStepFailed';
  }
}
