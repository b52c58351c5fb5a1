/**
 * Records Salesforce reports only as deleted (connector-apis.md §2.4): the sObject Get Deleted
 * resource `GET …/sobjects/{object}/deleted/?start=…&end=…` →
 * `{ deletedRecords: [{ id, deletedDate }], earliestDateAvailable, latestDateCovered }`.
 *
 * queryAll returns a deleted record only while it sits in the recycle bin; once the bin is emptied
 * (or the record was hard-deleted through the Bulk API) it is gone from every query, and only the
 * delete log still names it. Each run of a stream therefore ends with a deletes phase over
 * [the stream's deleted watermark − overlap, the run's high-water mark]:
 *
 * - The ids the log lists are looked up with queryAll (`Id IN (…)`, 150 at a time): a record still
 *   there (in the recycle bin, or undeleted since) is the query's business and gets no marker; a
 *   record that is gone becomes a deletion marker (key + isDeleted + the deletion date). So a
 *   soft delete is stored once, as the full row queryAll read, and markers are written only for
 *   what queryAll cannot see.
 * - Documented limits (REST API Developer Guide, sObject Get Deleted; SOAP API getDeleted()):
 *   results go back no more than 15 days before the day of the call; start must precede end by
 *   more than one minute; seconds are ignored; at most 600,000 ids (EXCEEDED_ID_LIMIT); a date
 *   Salesforce cannot answer for (too old, delete log purged) is INVALID_REPLICATION_DATE; the
 *   next start is `latestDateCovered`, which may lag `end` while long transactions run. The
 *   connector starts no earlier than 15 days minus a 5-minute margin before Salesforce's now (the
 *   `Date` of its last answer; a notice when that cuts the window), ends at the run's high-water
 *   mark, halves a window refused with EXCEEDED_ID_LIMIT, moves the start forward by
 *   halves on INVALID_REPLICATION_DATE (notice naming what could not be read), and stores
 *   `latestDateCovered` as the stream's deleted watermark.
 * - One page is one getDeleted call (the same window again on every page) and up to `pageSize`
 *   ids in (deletedDate, id) order; the state keeps the window and the last id done, so a crash
 *   re-reads at most one page.
 */
import { z } from 'zod';
import { SourceIncompleteRead } from '../errors';
import type { SourceRecord, UnmappableRow } from '../source-connector';
import { SalesforceRejected, type SalesforceClient } from './client';
import { normaliseDateTime, type SalesforceMapper } from './mapping';
import type { ObjectSpec } from './objects';

export const isoSchema = z.string().refine((v) => Number.isFinite(Date.parse(v)), 'expected an ISO date-time');

/** How far back Salesforce answers (REST API Developer Guide: "no more than 15 days previous to the day the call is executed"). */
export const DELETE_LOG_DAYS = 15;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** For Salesforce's clock moving on since its last answer was read (whole seconds), and the call's own latency. */
const CLOCK_MARGIN_MS = 5 * MINUTE;
/** start must precede end "by more than one minute", and seconds are ignored: two whole minutes. */
export const MIN_WINDOW_MS = 2 * MINUTE;
/**
 * Ids per `Id IN (…)` lookup: 150 quoted 18-character ids make a WHERE clause of about 3,200
 * characters, under the 4,000 Salesforce allows for a string in a WHERE clause.
 */
const LOOKUP_IDS = 150;

export const deletesStateSchema = z.strictObject({
  /** The window asked for, whole minutes (start inclusive; Salesforce ignores seconds). */
  start: isoSchema,
  end: isoSchema,
  /** Where the phase ends: the run's high-water mark (or the backfill window's end), whole minutes. */
  until: isoSchema,
  /** The last log entry of this window already done, in (deletedDate, id) order; null: none yet. */
  after: z.strictObject({ at: isoSchema, id: z.string() }).nullable(),
});
export type DeletesState = z.output<typeof deletesStateSchema>;

const deletedSchema = z.looseObject({
  deletedRecords: z.array(z.looseObject({ id: z.string(), deletedDate: z.string() })),
  earliestDateAvailable: z.string().nullish(),
  latestDateCovered: z.string().nullish(),
});
const lookupSchema = z.looseObject({
  totalSize: z.int().nonnegative(),
  done: z.boolean(),
  records: z.array(z.looseObject({ Id: z.string() })),
});

const SF_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;

export interface DeletesPlanInput {
  /** `describe().replicateable`: Get Deleted serves replicateable objects only. */
  replicateable: boolean;
  kind: 'run' | 'backfill';
  /** Runs: the stream's deleted watermark (null: never read). */
  prevDeleted: string | null;
  /** Backfills: the window. Runs: `to` is the high-water mark. */
  from: string | null;
  to: string;
  /** Now, in ms, by Salesforce's clock. */
  now: number;
}

export interface DeletedPage {
  records: SourceRecord[];
  unmappable: UnmappableRow[];
  /** The state of the next page; null when the phase is done. */
  next: DeletesState | null;
  /** When done: the new deleted watermark (null: nothing was read, keep the previous one). */
  covered: string | null;
}

export class DeletedRecords {
  constructor(
    private readonly spec: ObjectSpec,
    private readonly client: SalesforceClient,
    private readonly mapper: SalesforceMapper,
    private readonly overlapMs: number,
    /** Log entries looked up and marked per page. */
    private readonly pageSize: number,
  ) {}

  /** The first window of a deletes phase; null when there is nothing to read (the notices say why). */
  plan(p: DeletesPlanInput, notices: string[]): DeletesState | null {
    const name = this.spec.name;
    if (!p.replicateable) {
      notices.push(`${name} is not replicateable: records purged from the recycle bin or hard-deleted are not seen`);
      return null;
    }
    const earliest = earliestReadable(p.now);
    const until = floorMinute(Math.min(Date.parse(p.to), p.now));
    let start: number;
    if (p.kind === 'backfill') {
      if (until - earliest < MIN_WINDOW_MS) {
        notices.push(`${name}: Salesforce reports deletes of the last ${DELETE_LOG_DAYS} days only: records purged or hard-deleted in this window are not marked deleted`);
        return null;
      }
      start = floorMinute(Date.parse(p.from!));
      if (start < earliest) {
        notices.push(`${name}: Salesforce reports deletes of the last ${DELETE_LOG_DAYS} days only: records purged or hard-deleted before ${iso(earliest)} are not marked deleted`);
        start = earliest;
      }
    } else if (p.prevDeleted === null) {
      notices.push(`${name}: purged and hard-deleted records are read from ${iso(earliest)} (Salesforce keeps ${DELETE_LOG_DAYS} days); older ones are not marked deleted`);
      start = earliest;
    } else {
      const prev = Date.parse(p.prevDeleted);
      if (prev < earliest) {
        notices.push(`${name}: deletes were last read up to ${p.prevDeleted}, more than ${DELETE_LOG_DAYS} days ago: records purged or hard-deleted before ${iso(earliest)} may not be marked deleted`);
      }
      start = Math.max(floorMinute(prev - this.overlapMs), earliest);
    }
    if (until - start < MIN_WINDOW_MS) return null;
    return { start: iso(start), end: iso(until), until: iso(until), after: null };
  }

  /** One page of the phase: one getDeleted call, up to `pageSize` entries looked up and marked. */
  async page(d: DeletesState, now: () => number, signal: AbortSignal, notices: string[]): Promise<DeletedPage> {
    const name = this.spec.name;
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    let start = Date.parse(d.start);
    let end = Date.parse(d.end);
    const until = Date.parse(d.until);
    let after = d.after;
    // A run adopted long after it was planned: the window may have aged out since.
    const earliest = earliestReadable(now());
    if (start < earliest) {
      notices.push(`${name}: records purged or hard-deleted between ${iso(start)} and ${iso(earliest)} may not be marked deleted (older than the ${DELETE_LOG_DAYS} days Salesforce keeps)`);
      start = earliest;
      after = null;
      if (end - start < MIN_WINDOW_MS) {
        if (until - start < MIN_WINDOW_MS) return { records, unmappable, next: null, covered: iso(until) };
        end = until;
      }
    }
    const fetched = await this.fetchWindow(start, end, signal, notices);
    if (fetched === 'unsupported') return { records, unmappable, next: null, covered: null };
    if (fetched === 'refused') return { records, unmappable, next: null, covered: iso(end) };
    ({ start, end } = fetched);
    const body = fetched.body;

    const firstPage = after === null;
    const earliestAvailable = body.earliestDateAvailable ? parseDateTime(body.earliestDateAvailable, 'earliestDateAvailable', this.client.label) : null;
    if (firstPage && earliestAvailable !== null && earliestAvailable > start) {
      notices.push(`${name}: Salesforce's delete log starts at ${iso(earliestAvailable)}: records purged or hard-deleted between ${iso(start)} and then may not be marked deleted`);
    }
    const entries: Array<{ id: string; at: number; deletedDate: string }> = [];
    for (const e of body.deletedRecords) {
      const at = normaliseDateTime(e.deletedDate);
      if (at === null || !SF_ID.test(e.id)) {
        if (firstPage) {
          const r = this.mapper.deletionMarker(name, this.spec.xdmClass, e);
          if (!r.ok) unmappable.push({ xdmClass: this.spec.xdmClass, sourceKey: r.sourceKey, reason: r.reason, raw: e });
        }
        continue;
      }
      entries.push({ id: e.id, at: Date.parse(at), deletedDate: e.deletedDate });
    }
    entries.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const afterMs = after === null ? -Infinity : Date.parse(after.at);
    const pending = after === null ? entries : entries.filter((e) => e.at > afterMs || (e.at === afterMs && e.id > after!.id));
    const batch = pending.slice(0, this.pageSize);

    const present = await this.stillQueryable(batch.map((e) => e.id), signal);
    for (const e of batch) {
      if (present.has(e.id)) continue;
      const r = this.mapper.deletionMarker(name, this.spec.xdmClass, e);
      if (r.ok) records.push({ xdmClass: this.spec.xdmClass, record: r.record });
      else unmappable.push({ xdmClass: this.spec.xdmClass, sourceKey: r.sourceKey, reason: r.reason, raw: e });
    }

    if (pending.length > batch.length) {
      const last = batch[batch.length - 1]!;
      return { records, unmappable, next: { start: iso(start), end: iso(end), until: d.until, after: { at: iso(last.at), id: last.id } }, covered: null };
    }
    const latest = body.latestDateCovered ? parseDateTime(body.latestDateCovered, 'latestDateCovered', this.client.label) : null;
    // "If there's a value, it's less than or equal to endDate": without one the window is covered.
    const covered = latest === null ? end : Math.min(latest, end);
    if (end < until && covered >= end && until - covered >= MIN_WINDOW_MS) {
      // The window was narrowed (EXCEEDED_ID_LIMIT) and is done: the rest of the phase follows.
      return { records, unmappable, next: { start: iso(covered), end: iso(until), until: d.until, after: null }, covered: null };
    }
    return { records, unmappable, next: null, covered: iso(covered) };
  }

  /**
   * Calls getDeleted for [start, end], narrowing the window as Salesforce asks: EXCEEDED_ID_LIMIT
   * halves the end, INVALID_REPLICATION_DATE moves the start forward by halves (with a notice of
   * what could not be read). 'unsupported': the object has no Get Deleted resource; 'refused': no
   * part of the window could be read.
   */
  private async fetchWindow(
    start: number,
    end: number,
    signal: AbortSignal,
    notices: string[],
  ): Promise<{ body: z.output<typeof deletedSchema>; start: number; end: number } | 'unsupported' | 'refused'> {
    const name = this.spec.name;
    const asked = start;
    let refusal: string | null = null;
    for (;;) {
      let raw: unknown;
      try {
        raw = await this.client.json(`${this.client.dataPath}/sobjects/${name}/deleted/?start=${encodeURIComponent(minuteIso(start))}&end=${encodeURIComponent(minuteIso(end))}`, signal);
      } catch (e) {
        if (!(e instanceof SalesforceRejected)) throw e;
        if (e.status === 404 || e.errorCode === 'INVALID_TYPE' || e.errorCode === 'NOT_FOUND') {
          notices.push(`${name}: Salesforce has no Get Deleted resource for this object (${e.errorCode || e.status}): records purged from the recycle bin or hard-deleted are not seen`);
          return 'unsupported';
        }
        const mid = floorMinute(start + (end - start) / 2);
        if (e.errorCode === 'EXCEEDED_ID_LIMIT' && mid - start >= MIN_WINDOW_MS) {
          end = mid;
          continue;
        }
        if (e.errorCode === 'INVALID_REPLICATION_DATE') {
          refusal ??= [e.errorCode, e.vendorMessage].filter(Boolean).join(': ');
          if (end - mid >= MIN_WINDOW_MS) {
            start = mid;
            continue;
          }
          notices.push(`${name}: Salesforce refused the deletes of ${iso(asked)} – ${iso(end)} (${refusal}): records purged or hard-deleted then may not be marked deleted`);
          return 'refused';
        }
        throw e;
      }
      const parsed = deletedSchema.safeParse(raw);
      if (!parsed.success) throw new SourceIncompleteRead(this.client.label, `${name}: unexpected Get Deleted response (${parsed.error.issues[0]?.message})`);
      if (start > asked) {
        notices.push(`${name}: Salesforce refused the deletes from ${iso(asked)} (${refusal}); records purged or hard-deleted between ${iso(asked)} and ${iso(start)} may not be marked deleted`);
      }
      return { body: parsed.data, start, end };
    }
  }

  /** The ids queryAll still returns (in the recycle bin, or undeleted since): those need no marker. */
  private async stillQueryable(ids: string[], signal: AbortSignal): Promise<Set<string>> {
    const present = new Set<string>();
    for (let i = 0; i < ids.length; i += LOOKUP_IDS) {
      const chunk = ids.slice(i, i + LOOKUP_IDS);
      const soql = `SELECT Id FROM ${this.spec.name} WHERE Id IN (${chunk.map((id) => `'${id}'`).join(',')})`;
      const parsed = lookupSchema.safeParse(await this.client.json(`${this.client.dataPath}/queryAll?q=${encodeURIComponent(soql)}`, signal));
      if (!parsed.success) throw new SourceIncompleteRead(this.client.label, `${this.spec.name}: unexpected query response (${parsed.error.issues[0]?.message})`);
      const page = parsed.data;
      if (!page.done || page.records.length !== page.totalSize) {
        throw new SourceIncompleteRead(this.client.label, `${this.spec.name}: a lookup of ${chunk.length} ids announced ${page.totalSize} rows and returned ${page.records.length}`);
      }
      for (const r of page.records) present.add(r.Id);
    }
    return present;
  }
}

/** The oldest start Salesforce accepts now, whole minutes, with the clock margin. */
export function earliestReadable(now: number): number {
  return floorMinute(now - DELETE_LOG_DAYS * DAY) + MINUTE + CLOCK_MARGIN_MS;
}

function parseDateTime(value: string, field: string, label: string): number {
  const at = normaliseDateTime(value);
  if (at === null) throw new SourceIncompleteRead(label, `Get Deleted returned ${field} '${value.slice(0, 40)}', not a date-time`);
  return Date.parse(at);
}

function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE) * MINUTE;
}

/** `2026-11-01T12:03:00+00:00`: the form the REST API Developer Guide's examples use. */
function minuteIso(ms: number): string {
  return `${new Date(floorMinute(ms)).toISOString().slice(0, 16)}:00+00:00`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
