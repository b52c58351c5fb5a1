/**
 * Error `type`s that no retry can fix (domain/errors.ts classes whose `retryable` is false).
 * activities/failures.ts already marks them non-retryable when thrown; the presets list them too,
 * so a failure converted elsewhere is not retried either. Workflow-safe.
 */
export const NON_RETRYABLE_ERROR_TYPES = ['InvalidFile', 'InvalidRequest', 'StorageRejected', 'NotFound', 'SagaStepFailed'] as const;

/** Source errors no retry can fix (connectors/sources/errors.ts): wrong credentials, a request the source refuses. */
export const NON_RETRYABLE_SOURCE_ERROR_TYPES = ['SourceAuthFailed', 'SourceRequestRejected'] as const;
