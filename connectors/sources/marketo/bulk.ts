/**
 * Bulk extract streams (leads, activities, program members): one export job per unit of work
 * (a ≤31-day window, or a batch of ≤10 programs), walked one after another in the stream state:
 *
 *   create → enqueue → status (waitMs between polls, no sleeping here) → file in Range chunks
 *   (one chunk per page) → CSV parsed incrementally → rows mapped → next unit.
 *
 * The state carries the job id, its status, the byte offset, the bytes of an incomplete row, the
 * header and the running SHA-256 of the file, so a crash resumes the download where the last
 * stored page ended, and a body cut mid-transfer resumes with Range. At the end of each file the
 * row count must equal `numberOfRecords`, the byte count `fileSize` and the hash `fileChecksum`;
 * anything short is a SourceIncompleteRead, never a silent gap. The job queue (1029) and the daily
 * export quota (1029) are waited out with `waitMs`, not failed.
 *
 * Time windows are pipelined: when a window's file starts downloading, the next window's export is
 * created and enqueued (`ahead`), so Marketo builds it while this one downloads. One export ahead
 * at most, within Marketo's queue (2 processing, 10 queued per subscription): a full queue (1029)
 * only means no export ahead this time.
 *
 * Program members are exported ≤10 programs per job (the documented `programIds` limit). While the
 * current job waits in Marketo's queue or its file downloads, the next batches' exports are created
 * and enqueued (`programsAhead`) up to `programMemberExportsInFlight` jobs in all, so Marketo runs
 * two at a time instead of one after another; each is in the state with its listing offset, and
 * becomes the current job in turn.
 */
import { z } from 'zod';
import type { ConnectorContext, PageResult, ReadRequest, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import { SourceIncompleteRead, SourceUnavailable } from '../errors';
import { forEachCsvRow } from './csv';
import { msUntilCentralMidnight, toMarketoFilterDate } from './dates';
import { MarketoApiError, type MarketoHttp } from './http';
import { makeActivityMapper, makeLeadMapper, makeProgramMemberMapper, mapDeletedLead, type MappingContext, type RowMapper } from './mapping';
import { DEFAULT_LEAD_FIELDS, DEFAULT_PROGRAM_MEMBER_FIELDS, type MarketoSettings } from './settings';
import { Sha256 } from './sha256';

const DAY = 86_400_000;
export const MAX_WINDOW_DAYS = 31;
const PROGRAM_BATCH = 10;

const isoString = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected an ISO date-time');

const jobSchema = z.object({
  exportId: z.string().min(1),
  status: z.enum(['Created', 'Queued', 'Processing', 'Completed']),
  /** The unit's window end (exclusive, ISO) for time-windowed units. */
  windowTo: isoString.nullable(),
  offset: z.int().min(0),
  carry: z.string(),
  header: z.array(z.string()).nullable(),
  rows: z.int().min(0),
  hash: z.object({ h: z.string().length(64), n: z.int().min(0), tail: z.string() }).nullable(),
  fileSize: z.int().min(0).nullable(),
  numberOfRecords: z.int().min(0).nullable(),
  fileChecksum: z.string().nullable(),
});
type JobState = z.infer<typeof jobSchema>;

export const bulkStateSchema = z.object({
  v: z.literal(1),
  mode: z.enum(['initial', 'incremental', 'backfill']),
  phase: z.enum(['bulk', 'deletes', 'done']),
  filterField: z.enum(['createdAt', 'updatedAt']),
  /** The subscription refused the updatedAt filter (1035): incremental runs use createdAt. */
  noUpdatedAt: z.boolean(),
  rangeFrom: isoString,
  rangeTo: isoString,
  /** Start of the next (or current) time window. */
  cursor: isoString,
  /** Program members: offset of the next batch in the program listing, and the current batch. */
  programOffset: z.int().min(0),
  programIds: z.array(z.int()).nullable(),
  job: jobSchema.nullable(),
  /** Unit failures (failed job, missing file, checksum mismatch) of the current unit. */
  failures: z.int().min(0),
  /** Rows the completed files of this run held, and deleted leads read: the run's expectedRecords. */
  expected: z.int().min(0),
  deleted: z.int().min(0),
  deletesToken: z.string().nullable(),
  /** Resting state: the high-water mark the next incremental run starts from. */
  watermark: isoString.nullable(),
  /** The next window's export, created (and enqueued) while the current file downloads. */
  ahead: z.object({ exportId: z.string().min(1), status: z.enum(['Created', 'Queued']), windowTo: isoString }).nullable().default(null),
  /** Program members: exports made for the batches after the current one, in listing order. */
  programsAhead: z
    .array(z.object({ offset: z.int().min(0), programIds: z.array(z.int()).min(1).max(PROGRAM_BATCH), exportId: z.string().min(1), status: z.enum(['Created', 'Queued']) }))
    .default([]),
});
export type BulkState = z.infer<typeof bulkStateSchema>;

interface BulkKind {
  name: 'leads' | 'activities' | 'program-members';
  /** URL segment: leads, activities, program/members. */
  type: string;
  xdmClass: XdmClassName;
  backfill: boolean;
  /** Reads Get Deleted Leads after the bulk units of initial/incremental runs. */
  deletes: boolean;
  makeMapper(header: readonly string[], ctx: MappingContext): RowMapper;
}

const KINDS: Record<BulkKind['name'], BulkKind> = {
  leads: { name: 'leads', type: 'leads', xdmClass: 'person', backfill: true, deletes: true, makeMapper: makeLeadMapper },
  activities: { name: 'activities', type: 'activities', xdmClass: 'experience-event', backfill: true, deletes: false, makeMapper: makeActivityMapper },
  'program-members': { name: 'program-members', type: 'program/members', xdmClass: 'campaign-member', backfill: false, deletes: false, makeMapper: makeProgramMemberMapper },
};

interface Unit {
  filter: Record<string, unknown>;
  windowTo: string | null;
}

const floorSec = (ms: number): number => Math.floor(ms / 1000) * 1000;

const programsPage = z.array(z.object({ id: z.int() }).loose());
/** The program ids of a programs.json page (asset API: no `result` when nothing matches). */
function programIdsOf(result: unknown[] | undefined, label: string): number[] {
  const parsed = programsPage.safeParse(result ?? []);
  if (!parsed.success) throw new SourceIncompleteRead(label, `programs.json returned a program without an integer id (${parsed.error.issues[0]?.message})`);
  return parsed.data.map((p) => p.id);
}

export function createBulkStream(kindName: BulkKind['name'], ctx: ConnectorContext, http: MarketoHttp, settings: MarketoSettings, mapping: MappingContext): SourceStream {
  const kind = KINDS[kindName];
  const label = http.label;
  const base = `/bulk/v1/${kind.type}/export`;

  const leadFields = (): string[] => {
    const fields = new Set<string>(settings.leadFields ?? DEFAULT_LEAD_FIELDS);
    for (const f of ['id', 'createdAt', 'updatedAt']) fields.add(f);
    return [...fields];
  };

  function initial(req: ReadRequest): BulkState {
    const to = floorSec(Date.parse(req.window?.to ?? req.runStartedAt));
    const from = floorSec(req.window ? Date.parse(req.window.from) : settings.initialLoadFrom ? Date.parse(settings.initialLoadFrom) : to - 730 * DAY);
    return {
      v: 1,
      mode: req.window ? 'backfill' : 'initial',
      phase: 'bulk',
      filterField: 'createdAt',
      noUpdatedAt: false,
      rangeFrom: new Date(from).toISOString(),
      rangeTo: new Date(to).toISOString(),
      cursor: new Date(from).toISOString(),
      programOffset: 0,
      programIds: null,
      job: null,
      failures: 0,
      expected: 0,
      deleted: 0,
      deletesToken: null,
      watermark: null,
      ahead: null,
      programsAhead: [],
    };
  }

  function incremental(resting: BulkState, req: ReadRequest): BulkState {
    const to = floorSec(Date.parse(req.runStartedAt));
    const from = Math.min(to, floorSec(Date.parse(resting.watermark ?? resting.rangeTo) - settings.overlapMs));
    const filterField = kind.name === 'leads' ? (resting.noUpdatedAt || settings.leadsIncrementalBy === 'createdAt' ? 'createdAt' : 'updatedAt') : kind.name === 'program-members' ? 'updatedAt' : 'createdAt';
    return { ...initial({ ...req, window: undefined }), mode: 'incremental', filterField, noUpdatedAt: resting.noUpdatedAt, rangeFrom: new Date(from).toISOString(), rangeTo: new Date(to).toISOString(), cursor: new Date(from).toISOString() };
  }

  /** The next unit of work, or null when the bulk phase is done. Advances nothing. */
  async function nextUnit(st: BulkState, signal: AbortSignal): Promise<Unit | null> {
    if (kind.name === 'program-members') {
      if (st.programIds === null) {
        const env = await http.call('GET', '/rest/asset/v1/programs.json', { query: { offset: st.programOffset, maxReturn: PROGRAM_BATCH }, signal });
        const ids = programIdsOf(env.result, label);
        if (!ids.length) return null;
        st.programIds = ids;
      }
      if (!st.programIds.length) return null;
      return programUnit(st, st.programIds);
    }
    return windowFrom(st, Date.parse(st.cursor));
  }

  /** The export of one batch of ≤10 programs (members changed in the run's range, on incremental runs). */
  function programUnit(st: BulkState, programIds: number[]): Unit {
    const filter: Record<string, unknown> = { programIds };
    const span = Date.parse(st.rangeTo) - Date.parse(st.rangeFrom);
    if (st.mode === 'incremental' && !st.noUpdatedAt && settings.programMembersIncrementalBy === 'updatedAt' && span <= MAX_WINDOW_DAYS * DAY && span >= 1000) {
      filter.updatedAt = { startAt: toMarketoFilterDate(Date.parse(st.rangeFrom)), endAt: toMarketoFilterDate(Date.parse(st.rangeTo) - 1000) };
    }
    return { filter, windowTo: null };
  }

  /**
   * Program members: creates and enqueues the exports of the next program batches while the current
   * one is queued or downloading, up to `programMemberExportsInFlight` in all. Best effort: a full
   * queue or a refusal (1029, 1035...) stops it for now; those batches are exported in turn.
   */
  async function programsAhead(st: BulkState, signal: AbortSignal): Promise<void> {
    if (kind.name !== 'program-members' || !st.job || !st.programIds?.length) return;
    try {
      // One made ahead but not enqueued (queue full then): enqueue it before making more.
      for (const a of st.programsAhead) {
        if (a.status !== 'Created') continue;
        await http.call('POST', `${base}/${a.exportId}/enqueue.json`, { signal });
        a.status = 'Queued';
      }
      while (1 + st.programsAhead.length < settings.programMemberExportsInFlight) {
        const last = st.programsAhead[st.programsAhead.length - 1];
        const [prevOffset, prevCount] = last ? [last.offset, last.programIds.length] : [st.programOffset, st.programIds.length];
        if (prevCount < PROGRAM_BATCH) return; // the listing ended with that batch
        const offset = prevOffset + prevCount;
        const env = await http.call('GET', '/rest/asset/v1/programs.json', { query: { offset, maxReturn: PROGRAM_BATCH }, signal });
        const programIds = programIdsOf(env.result, label);
        if (!programIds.length) return;
        const created = await http.call('POST', `${base}/create.json`, { json: createBody(programUnit(st, programIds)), signal });
        const exportId = String((created.result?.[0] as { exportId?: unknown } | undefined)?.exportId ?? '');
        if (!exportId) return;
        const entry: BulkState['programsAhead'][number] = { offset, programIds, exportId, status: 'Created' };
        st.programsAhead.push(entry);
        await http.call('POST', `${base}/${exportId}/enqueue.json`, { signal });
        entry.status = 'Queued';
      }
    } catch (err) {
      if (err instanceof MarketoApiError) return; // 1029 queue full or quota, 1035: the batch is exported in turn
      throw err;
    }
  }

  /** The time window starting at `from` (≤ 31 days, to the end of the range), or null past the end. */
  function windowFrom(st: BulkState, from: number): Unit | null {
    const end = Date.parse(st.rangeTo);
    if (from + 1000 > end) return null;
    const to = Math.min(from + MAX_WINDOW_DAYS * DAY, end);
    const filter: Record<string, unknown> = { [st.filterField]: { startAt: toMarketoFilterDate(from), endAt: toMarketoFilterDate(to - 1000) } };
    if (kind.name === 'activities' && settings.activityTypeIds?.length) filter.activityTypeIds = settings.activityTypeIds;
    return { filter, windowTo: new Date(to).toISOString() };
  }

  /**
   * Creates and enqueues the next window's export while the current file downloads (time windows
   * only, one ahead at most). Best effort: a full queue (1029) or any refusal leaves it for later;
   * the unit is then created in turn as before.
   */
  async function exportAhead(st: BulkState, signal: AbortSignal): Promise<void> {
    const job = st.job;
    if (st.ahead || !job?.windowTo || kind.name === 'program-members') return;
    const unit = windowFrom(st, Date.parse(job.windowTo));
    if (!unit) return;
    try {
      const created = await http.call('POST', `${base}/create.json`, { json: createBody(unit), signal });
      const exportId = String((created.result?.[0] as { exportId?: unknown } | undefined)?.exportId ?? '');
      if (!exportId) return;
      st.ahead = { exportId, status: 'Created', windowTo: unit.windowTo! };
      await http.call('POST', `${base}/${exportId}/enqueue.json`, { signal });
      st.ahead.status = 'Queued';
    } catch (err) {
      if (err instanceof MarketoApiError) return; // 1029 queue full, or refused: the export is made in turn
      throw err;
    }
  }

  function createBody(unit: Unit): Record<string, unknown> {
    if (kind.name === 'leads') return { fields: leadFields(), format: 'CSV', filter: unit.filter };
    if (kind.name === 'program-members') return { fields: [...new Set([...DEFAULT_PROGRAM_MEMBER_FIELDS, ...(settings.programMemberFields ?? [])])], format: 'CSV', filter: unit.filter };
    return { format: 'CSV', filter: unit.filter };
  }

  /** Moves past the finished unit. */
  function finishUnit(st: BulkState): void {
    const job = st.job;
    if (job?.numberOfRecords) st.expected += job.numberOfRecords;
    if (kind.name === 'program-members') {
      const n = st.programIds?.length ?? 0;
      st.programOffset += n;
      st.programIds = n < PROGRAM_BATCH ? [] : null;
    } else if (job?.windowTo) {
      st.cursor = job.windowTo;
    }
    st.job = null;
    st.failures = 0;
    // The export made ahead for the program batch that starts here becomes the current job.
    const nextBatch = st.programsAhead[0];
    if (kind.name === 'program-members' && nextBatch) {
      if (st.programIds === null && nextBatch.offset === st.programOffset) {
        st.programsAhead.shift();
        st.programIds = nextBatch.programIds;
        st.job = { exportId: nextBatch.exportId, status: nextBatch.status, windowTo: null, offset: 0, carry: '', header: null, rows: 0, hash: null, fileSize: null, numberOfRecords: null, fileChecksum: null };
      } else {
        st.programsAhead = []; // not the next batch (cannot happen): its exports are left to expire
      }
    }
    // The export made ahead for the window that starts here becomes the current job.
    const ahead = st.ahead;
    st.ahead = null;
    if (ahead && windowFrom(st, Date.parse(st.cursor))?.windowTo === ahead.windowTo) {
      st.job = { exportId: ahead.exportId, status: ahead.status, windowTo: ahead.windowTo, offset: 0, carry: '', header: null, rows: 0, hash: null, fileSize: null, numberOfRecords: null, fileChecksum: null };
    }
  }

  function unitFailed(st: BulkState, reason: string, notices: string[]): void {
    st.failures++;
    if (st.failures >= settings.maxJobFailures) throw new SourceIncompleteRead(label, `${kind.name}: ${reason} (${st.failures} times for the same unit)`);
    notices.push(`${kind.name}: ${reason}; creating a new export`);
    st.job = null;
  }

  const page = (st: BulkState, extra: Partial<PageResult> = {}, records: SourceRecord[] = [], unmappable: UnmappableRow[] = []): PageResult => ({
    records,
    unmappable,
    state: st as unknown as StreamState,
    complete: false,
    ...extra,
  });

  function waitFor1029(st: BulkState, err: MarketoApiError, notices: string[]): PageResult {
    if (/quota/i.test(err.detail)) {
      notices.push(`${kind.name}: daily bulk export quota used up (1029 ${err.detail}); resuming after midnight US Central`);
      return page(st, { waitMs: msUntilCentralMidnight(Date.now()) + 60_000, notices });
    }
    notices.push(`${kind.name}: export queue full (1029 ${err.detail}); waiting`);
    return page(st, { waitMs: settings.queueFullWaitMs, notices });
  }

  async function pollStatus(job: JobState, signal: AbortSignal): Promise<{ status: string; errorMsg?: string }> {
    const env = await http.call('GET', `${base}/${job.exportId}/status.json`, { signal });
    const r = (env.result?.[0] ?? {}) as Record<string, unknown>;
    const status = String(r.status ?? '');
    if (status === 'Completed') {
      const fileSize = Number(r.fileSize);
      const n = Number(r.numberOfRecords);
      if (!Number.isInteger(fileSize) || fileSize < 0 || !Number.isInteger(n) || n < 0) throw new SourceIncompleteRead(label, `${kind.name}: completed export ${job.exportId} without fileSize/numberOfRecords`);
      job.fileSize = fileSize;
      job.numberOfRecords = n;
      job.fileChecksum = typeof r.fileChecksum === 'string' ? r.fileChecksum : null;
    }
    return { status, ...(typeof r.errorMsg === 'string' ? { errorMsg: r.errorMsg } : {}) };
  }

  async function download(st: BulkState, signal: AbortSignal, notices: string[]): Promise<PageResult> {
    const job = st.job!;
    const size = job.fileSize!;
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    if (size === 0 || (job.numberOfRecords === 0 && job.offset === 0 && size < 4096)) {
      // Nothing to read beyond (at most) a header row.
      finishUnit(st);
      return page(st, { notices });
    }
    if (job.offset === 0) {
      await exportAhead(st, signal);
      await programsAhead(st, signal);
    }
    const to = Math.min(job.offset + settings.pageBytes, size) - 1;
    const res = await http.range(`${base}/${job.exportId}/file.json`, job.offset, to, signal);
    if (res.notFound) {
      unitFailed(st, `export ${job.exportId} is Completed but its file is missing (404)`, notices);
      return page(st, { notices });
    }
    if (res.total !== null && res.total !== size) throw new SourceIncompleteRead(label, `${kind.name}: export ${job.exportId} file is ${res.total} bytes, status said ${size}`);
    if (res.bytes.length === 0) throw new SourceIncompleteRead(label, `${kind.name}: empty range at byte ${job.offset} of ${size} (export ${job.exportId})`);
    if (res.truncated) notices.push(`${kind.name}: download of export ${job.exportId} cut at byte ${job.offset + res.bytes.length} of ${size}; resuming with Range`);
    const hash = Sha256.restore(job.hash);
    hash.update(res.bytes);
    const offset = job.offset + res.bytes.length;
    const final = offset >= size;
    const carry = job.carry ? Buffer.from(job.carry, 'base64') : null;
    const input = carry?.length ? Buffer.concat([carry, res.bytes]) : res.bytes;
    let header = job.header;
    let map: RowMapper | null = header ? kind.makeMapper(header, mapping) : null;
    let rowCount = 0;
    const rest = forEachCsvRow(input, final, (row) => {
      if (!map) {
        header = row.map((h) => h ?? '');
        map = kind.makeMapper(header, mapping);
        return;
      }
      rowCount++;
      const r = map(row);
      if (r.record) records.push(r.record);
      else unmappable.push(r.unmappable);
    });
    if (!header) {
      job.offset = offset;
      job.carry = rest.toString('base64');
      job.hash = hash.save();
      return page(st, { notices });
    }
    job.header = header;
    job.rows += rowCount;
    job.offset = offset;
    job.carry = rest.toString('base64');
    job.hash = hash.save();
    if (final) {
      if (job.rows !== job.numberOfRecords) {
        throw new SourceIncompleteRead(label, `${kind.name}: export ${job.exportId} file holds ${job.rows} rows, Marketo reported ${job.numberOfRecords}`);
      }
      if (job.fileChecksum) {
        const want = job.fileChecksum.replace(/^sha256:/i, '').toLowerCase();
        const got = hash.digestHex();
        if (want !== got) {
          // The rows already stored are re-read with the new export; the store is idempotent.
          unitFailed(st, `export ${job.exportId} checksum mismatch (file sha256 ${got}, expected ${want})`, notices);
          return page(st, { notices }, records, unmappable);
        }
      }
      finishUnit(st);
    }
    return page(st, notices.length ? { notices } : {}, records, unmappable);
  }

  async function readDeletes(st: BulkState, signal: AbortSignal, notices: string[]): Promise<PageResult> {
    if (!st.deletesToken) {
      const env = await http.call('GET', '/rest/v1/activities/pagingtoken.json', { query: { sinceDatetime: toMarketoFilterDate(Date.parse(st.rangeFrom)) }, signal });
      if (!env.nextPageToken) throw new SourceIncompleteRead(label, 'pagingtoken.json returned no nextPageToken');
      st.deletesToken = env.nextPageToken;
    }
    const env = await http.call('GET', '/rest/v1/activities/deletedleads.json', { query: { nextPageToken: st.deletesToken, batchSize: settings.restPageSize }, signal });
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    for (const item of env.result ?? []) {
      const r = mapDeletedLead(mapping, item as Record<string, unknown>);
      if (r.record) records.push(r.record);
      else unmappable.push(r.unmappable);
    }
    st.deleted += records.length + unmappable.length;
    if (env.moreResult) {
      if (!env.nextPageToken) throw new SourceIncompleteRead(label, 'deletedleads.json said moreResult without a nextPageToken');
      st.deletesToken = env.nextPageToken;
      return page(st, notices.length ? { notices } : {}, records, unmappable);
    }
    return finish(st, notices, records, unmappable);
  }

  function finish(st: BulkState, notices: string[], records: SourceRecord[] = [], unmappable: UnmappableRow[] = []): PageResult {
    const resting: BulkState = {
      ...st,
      phase: 'done',
      job: null,
      programIds: null,
      programOffset: 0,
      deletesToken: null,
      ahead: null,
      programsAhead: [],
      watermark: st.mode === 'backfill' ? st.watermark : st.rangeTo,
      cursor: st.rangeTo,
    };
    return { records, unmappable, state: resting as unknown as StreamState, complete: true, expectedRecords: st.expected + st.deleted, ...(notices.length ? { notices } : {}) };
  }

  async function readPage(req: ReadRequest): Promise<PageResult> {
    const signal = req.signal;
    let st: BulkState;
    if (req.state === null) st = initial(req);
    else {
      const parsed = bulkStateSchema.safeParse(req.state);
      if (!parsed.success) throw new SourceIncompleteRead(label, `${kind.name}: unreadable stream state (${parsed.error.issues[0]?.message}); reset the stream`);
      st = parsed.data.phase === 'done' ? incremental(parsed.data, req) : parsed.data;
    }
    const notices: string[] = [];
    for (let step = 0; step < 12; step++) {
      if (st.phase === 'deletes') return readDeletes(st, signal, notices);
      if (st.phase === 'done') return finish(st, notices);
      if (!st.job) {
        const unit = await nextUnit(st, signal);
        if (!unit) {
          st.phase = kind.deletes && st.mode !== 'backfill' ? 'deletes' : 'done';
          continue;
        }
        let created;
        try {
          created = await http.call('POST', `${base}/create.json`, { json: createBody(unit), signal });
        } catch (err) {
          if (err instanceof MarketoApiError && err.code === '1035' && st.filterField === 'updatedAt' && kind.name === 'leads') {
            notices.push('leads: this subscription has no updatedAt bulk filter (1035); incremental runs use createdAt (updates to existing leads are not seen)');
            st.filterField = 'createdAt';
            st.noUpdatedAt = true;
            continue;
          }
          if (err instanceof MarketoApiError && err.code === '1035' && kind.name === 'program-members') {
            notices.push('program-members: no updatedAt filter (1035); re-extracting whole programs');
            st.noUpdatedAt = true;
            continue;
          }
          if (err instanceof MarketoApiError && err.code === '1029') return waitFor1029(st, err, notices);
          throw err;
        }
        const exportId = String((created.result?.[0] as { exportId?: unknown } | undefined)?.exportId ?? '');
        if (!exportId) throw new SourceUnavailable(label, `${kind.name}: create.json returned no exportId`);
        st.job = { exportId, status: 'Created', windowTo: unit.windowTo, offset: 0, carry: '', header: null, rows: 0, hash: null, fileSize: null, numberOfRecords: null, fileChecksum: null };
      }
      const job = st.job;
      if (job.status === 'Created') {
        try {
          await http.call('POST', `${base}/${job.exportId}/enqueue.json`, { signal });
          job.status = 'Queued';
        } catch (err) {
          if (err instanceof MarketoApiError && err.code === '1029' && /already/i.test(err.detail)) job.status = 'Queued';
          else if (err instanceof MarketoApiError && err.code === '1029') return waitFor1029(st, err, notices);
          else throw err;
        }
      }
      if (job.status === 'Queued' || job.status === 'Processing') {
        const { status, errorMsg } = await pollStatus(job, signal);
        if (status === 'Completed') job.status = 'Completed';
        else if (status === 'Failed') {
          unitFailed(st, `export ${job.exportId} failed${errorMsg ? `: ${errorMsg}` : ''}`, notices);
          continue;
        } else if (status === 'Canceled' || status === 'Cancelled') {
          unitFailed(st, `export ${job.exportId} was cancelled`, notices);
          continue;
        } else if (status === 'Queued' || status === 'Processing' || status === 'Created') {
          job.status = status === 'Created' ? 'Created' : status;
          await programsAhead(st, signal);
          return page(st, { waitMs: settings.pollIntervalMs, ...(notices.length ? { notices } : {}) });
        } else throw new SourceUnavailable(label, `${kind.name}: export ${job.exportId} has unknown status '${status}'`);
      }
      return download(st, signal, notices);
    }
    return page(st, notices.length ? { notices } : {});
  }

  return {
    name: kind.name,
    xdmClasses: [kind.xdmClass],
    backfill: kind.backfill ? { maxWindowDays: MAX_WINDOW_DAYS } : null,
    readPage,
  };
}
