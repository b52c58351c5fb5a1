/** Activity option presets, named by intent. Workflow-safe. */
import type { ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES, NON_RETRYABLE_SOURCE_ERROR_TYPES } from '../../contracts/error-types';

/** Postgres work on a batch or a slice of a file: heartbeats progress, retries transient failures for a while. */
export const DB_BATCH: ActivityOptions = {
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 50,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  },
};

/** Short bookkeeping writes (open, close, fail a run). */
export const BOOKKEEPING: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 30, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
};

/**
 * Reading a source stream: calls last up to a minute (plus one slow page); the activity heartbeats
 * every few seconds while alive, so a dead worker is noticed within the heartbeat timeout and the
 * next attempt resumes from the cursor. Authentication failures and refused requests are final.
 */
export const SOURCE_PAGES: ActivityOptions = {
  startToCloseTimeout: '15m',
  heartbeatTimeout: '30s',
  retry: {
    // Connectors already retry each HTTP call with backoff; this covers dead workers and longer outages (~30 min).
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 60,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, ...NON_RETRYABLE_SOURCE_ERROR_TYPES],
  },
};
