/**
 * Tessera's custom search attributes: the filters operators use in the Temporal UI
 * (e.g. `TesseraSourceInstance = '123-ABC-456' AND ExecutionStatus = 'Running'`).
 * Defined once as typed keys; the dev server, the docker-compose init job and the worker's
 * start-up check all register this same list. Values are stored unencrypted: never PII.
 * Workflow-safe: imports only @temporalio/common.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  tenant: defineSearchAttributeKey('TesseraTenant', SearchAttributeType.KEYWORD),
  sourceType: defineSearchAttributeKey('TesseraSourceType', SearchAttributeType.KEYWORD),
  sourceInstance: defineSearchAttributeKey('TesseraSourceInstance', SearchAttributeType.KEYWORD),
  entityType: defineSearchAttributeKey('TesseraEntityType', SearchAttributeType.KEYWORD),
  entityId: defineSearchAttributeKey('TesseraEntityId', SearchAttributeType.KEYWORD),
  jobKind: defineSearchAttributeKey('TesseraJobKind', SearchAttributeType.KEYWORD),
  trigger: defineSearchAttributeKey('TesseraTrigger', SearchAttributeType.KEYWORD),
  segmentId: defineSearchAttributeKey('TesseraSegmentId', SearchAttributeType.KEYWORD),
  destinationId: defineSearchAttributeKey('TesseraDestinationId', SearchAttributeType.KEYWORD),
  windowStart: defineSearchAttributeKey('TesseraWindowStart', SearchAttributeType.DATETIME),
  windowEnd: defineSearchAttributeKey('TesseraWindowEnd', SearchAttributeType.DATETIME),
  isBackfill: defineSearchAttributeKey('TesseraIsBackfill', SearchAttributeType.BOOL),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);
