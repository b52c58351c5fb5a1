/** The Marketo instance settings (`source_instance.settings`), validated with zod, with defaults. */
import { z } from 'zod';

export const DEFAULT_LEAD_FIELDS = [
  'id', 'email', 'firstName', 'middleName', 'lastName', 'salutation', 'title', 'department', 'phone', 'mobilePhone', 'fax',
  'company', 'website', 'address', 'city', 'state', 'postalCode', 'country', 'leadSource', 'leadStatus', 'leadScore',
  'leadPartitionId', 'unsubscribed', 'unsubscribedReason', 'externalCompanyId', 'sfdcType', 'sfdcContactId', 'sfdcLeadId',
  'sfdcAccountId', 'createdAt', 'updatedAt',
] as const;

export const DEFAULT_PROGRAM_MEMBER_FIELDS = [
  'leadId', 'createdAt', 'updatedAt', 'membershipDate', 'statusName', 'reachedSuccess', 'reachedSuccessDate', 'isExhausted',
  'nurtureCadence', 'acquiredBy',
] as const;

const iso = z.iso.datetime({ offset: true });

export const marketoSettingsSchema = z.strictObject({
  /** Start of the initial load of bulk streams (ISO). Default: 2 years before the first run. */
  initialLoadFrom: iso.optional(),
  /** Bytes per Range request when downloading an export file (one page of records). */
  pageBytes: z.int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Lead fields to export (REST API names); `id`, `createdAt` and `updatedAt` are always added. */
  leadFields: z.array(z.string().regex(/^[A-Za-z0-9_]+$/)).min(1).optional(),
  /** Extra program-member fields (custom ones) to export. */
  programMemberFields: z.array(z.string().regex(/^[A-Za-z0-9_]+$/)).optional(),
  /** Activity type ids to export; all types when absent. */
  activityTypeIds: z.array(z.int().positive()).max(50).optional(),
  /**
   * Incremental lead extracts by `updatedAt` (the default) or `createdAt` when the subscription
   * lacks the updatedAt filter (error 1035 switches to createdAt automatically, with a notice).
   */
  leadsIncrementalBy: z.enum(['updatedAt', 'createdAt']).default('updatedAt'),
  /** Program members incrementally by `updatedAt` (≤31-day filter) or full re-extract per run. */
  programMembersIncrementalBy: z.enum(['updatedAt', 'full']).default('updatedAt'),
  /** Re-read this much before the previous run's high-water mark (clock skew, commit lag). */
  overlapMs: z.int().min(0).max(7 * 86_400_000).default(10 * 60_000),
  /** How long to wait between bulk job status polls (Adobe: status refreshes at most once a minute). */
  pollIntervalMs: z.int().min(0).max(3_600_000).default(60_000),
  /** Wait before retrying when the export queue is full (1029). */
  queueFullWaitMs: z.int().min(0).max(3_600_000).default(120_000),
  /** Back-off after 606 (rate window of 20 s). */
  rateLimitWaitMs: z.int().min(0).max(120_000).default(20_000),
  /** Asset API page size (programs), ≤ 200. */
  assetPageSize: z.int().min(1).max(200).default(200),
  /** REST page size (lists, list members, filter reads), ≤ 300. */
  restPageSize: z.int().min(1).max(300).default(300),
  /**
   * Filter-only streams (companies, named accounts, opportunity roles, opportunities): after the
   * first complete run, a run reads the keys whose referencing records changed since the previous
   * run plus this many other keys per key source, continuing where the previous run stopped and
   * wrapping around. 3,000 keys are 10 calls of 300 per source and run; at a 15-minute schedule
   * (96 runs a day) that re-reads up to 288,000 keys per source a day, so any key set up to that
   * size is re-read at least once a day, at about 960 calls per source a day (~2% of the usual
   * 50,000 daily calls). 0: changed keys only.
   */
  rotatingKeysPerRun: z.int().min(0).max(1_000_000).default(3_000),
  /**
   * Program-member exports in Marketo's queue at once (the one downloading and those made ahead).
   * Marketo processes 2 exports at a time and queues 10 per subscription, shared with every
   * integration and export type; a full queue (1029) only means fewer ahead.
   */
  programMemberExportsInFlight: z.int().min(1).max(10).default(4),
  /** The CRM the instance syncs with, whose ids leads carry (sfdcContactId...), for externalKey. */
  crmType: z.enum(['Salesforce']).default('Salesforce'),
  /** The CRM org id (Salesforce org id) used as sourceInstanceID of CRM keys; no CRM keys without it. */
  crmInstanceId: z.string().regex(/^[^@.\s]+$/).optional(),
  /** Bulk job failures tolerated per window before the run fails. */
  maxJobFailures: z.int().min(1).max(20).default(3),
  /** Retry policy of each HTTP call. */
  maxAttempts: z.int().min(1).max(10).default(5),
  baseDelayMs: z.int().min(0).max(60_000).default(1_000),
  maxDelayMs: z.int().min(0).max(600_000).default(60_000),
  timeoutMs: z.int().min(1000).max(600_000).default(120_000),
});

export type MarketoSettings = z.output<typeof marketoSettingsSchema>;
