/** The Dynamics instance settings (`source_instance.settings`), validated with zod; every field has a default. */
import { z } from 'zod';

export const dynamicsSettingsSchema = z
  .strictObject({
    /** Web API version in `/api/data/{apiVersion}/`. */
    apiVersion: z.string().regex(/^v9\.\d$/).default('v9.2'),
    /** `Prefer: odata.maxpagesize` (Dataverse maximum and default: 5,000). */
    pageSize: z.int().min(1).max(5000).default(5000),
    /**
     * Which tables are read with change tracking is discovered from the org's table definitions
     * (`EntityDefinitions`, `ChangeTrackingEnabled`): tables with "Track changes" on are read with
     * delta links (deletes included), the others by a `modifiedon` watermark. This optional list
     * narrows it: only the entity sets listed here are read with change tracking (when their table
     * has it); every other set is read by watermark. For an application user that lacks the
     * organisation-level read change tracking needs on some table. Absent: every table that has it.
     */
    changeTracking: z.array(z.enum(['accounts', 'contacts', 'leads', 'opportunities', 'connections', 'campaigns', 'lists', 'listmembers'])).optional(),
    /** Watermark streams re-read this much before the last watermark (commit order vs modifiedon). */
    overlapMs: z.int().min(0).default(5 * 60_000),
    /** Longest backfill window (by modifiedon). */
    backfillMaxWindowDays: z.int().min(1).max(366).default(90),
    /** Renew the access token this long before `expires_in` runs out. */
    tokenRefreshMarginMs: z.int().min(0).default(5 * 60_000),
    retry: z
      .strictObject({
        maxAttempts: z.int().min(1).max(20).default(6),
        baseDelayMs: z.int().min(0).default(1_000),
        maxDelayMs: z.int().min(0).default(60_000),
        timeoutMs: z.int().min(1).default(120_000),
      })
      .prefault({}),
  })
  .prefault({});

export type DynamicsSettings = z.output<typeof dynamicsSettingsSchema>;
