/** Error `type`s that no retry can fix (listed once; used by every activity preset). Workflow-safe. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'InvalidFile',
  'InvalidRequest',
  'ContractViolation',
  'AuthRejected',
  'QuotaExhausted',
  'GovernanceDenied',
  'StorageRejected',
] as const;
