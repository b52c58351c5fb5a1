/** The Salesforce instance settings (`source_instance.settings`), validated with zod. */
import { z } from 'zod';
import { SALESFORCE_OBJECTS } from './objects';

export const salesforceSettingsSchema = z.strictObject({
  /** REST API version, e.g. `v62.0`. Bulk results must be read with the version that created the job. */
  apiVersion: z.string().regex(/^v\d{2,3}\.0$/, 'expected an API version like v62.0').default('v62.0'),
  /**
   * `Sforce-Query-Options: batchSize` for REST queries (Salesforce allows 200–2,000; not
   * guaranteed), and the deleted records looked up per page of the deletes phase.
   */
  pageSize: z.int().min(200).max(2000).default(2000),
  /** How far before the stored watermark an incremental run starts (long transactions commit older stamps). */
  overlapMinutes: z.number().min(0).max(24 * 60).default(5),
  /** Initial loads use Bulk API 2.0 when the object has at least this many rows (COUNT() query first). */
  bulkThreshold: z.int().min(1).default(50_000),
  /** Set false to read every object with REST queries only. */
  useBulk: z.boolean().default(true),
  /** `maxRecords` per Bulk API 2.0 results chunk. */
  bulkMaxRecords: z.int().min(1).max(1_000_000).default(50_000),
  /** How long the engine waits between polls of a running bulk job. */
  bulkPollMs: z.int().min(100).max(600_000).default(5_000),
  /** Stop (SourceQuotaExhausted) when Sforce-Limit-Info shows this share of the daily API cap used. */
  quotaStopPercent: z.number().min(1).max(100).default(90),
  /** Longest backfill window, by SystemModstamp. */
  maxWindowDays: z.int().min(1).max(365).default(30),
  /** The org has multi-currency enabled (CurrencyIsoCode exists on Account, Opportunity, Campaign). */
  multiCurrency: z.boolean().default(true),
  /** The org currency for amounts when multi-currency is off (Organization.DefaultCurrencyIsoCode). */
  defaultCurrency: z.string().regex(/^[A-Z]{3}$/).optional(),
  /** Objects to read (default: all eight). */
  objects: z.array(z.enum(SALESFORCE_OBJECTS)).min(1).optional(),
  /** Overrides of the shared HTTP retry policy. */
  retry: z
    .strictObject({
      maxAttempts: z.int().min(1).max(20),
      baseDelayMs: z.int().min(0),
      maxDelayMs: z.int().min(0),
      timeoutMs: z.int().min(1_000),
    })
    .partial()
    .optional(),
});

export type SalesforceSettings = z.output<typeof salesforceSettingsSchema>;
