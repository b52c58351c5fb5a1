/**
 * Bulk extract jobs of the Marketo simulator: Created → Queued → Processing → Completed on the
 * simulator clock (`jobMs` per status step; at most 2 processing, 10 queued including
 * processing), files built once at completion (CSV, `null` literals, JSON-in-CSV attributes),
 * SHA-256 checksums, and the daily export meter (file bytes per US Central day).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FaultController } from '../shared/faults';
import { ACTIVITY_COLUMNS, DEFAULT_ACTIVITY_COLUMNS, LEAD_FIELDS, PROGRAM_MEMBER_FIELDS, mktoDate, type Cell, type MarketoData, type MktoLead } from './data';

export type ExportType = 'leads' | 'activities' | 'program/members';
export type JobStatus = 'Created' | 'Queued' | 'Processing' | 'Completed' | 'Failed' | 'Canceled';

export interface ExportJob {
  exportId: string;
  type: ExportType;
  status: JobStatus;
  format: 'CSV' | 'TSV';
  fields: string[];
  headerNames: string[];
  filter: Record<string, unknown>;
  createdAt: number;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  numberOfRecords?: number;
  fileSize?: number;
  fileChecksum?: string;
  errorMsg?: string;
  file?: Buffer;
  /** A data fault: answer 404 for the file this many more times. */
  fileMissing?: number;
}

export class BulkError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const DAY = 86_400_000;
const FILTER_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;

const CENTRAL = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Chicago', year: 'numeric', month: '2-digit', day: '2-digit' });
const centralDay = (ms: number): string => CENTRAL.format(new Date(ms));

export interface BulkOptions {
  jobMs: number;
  maxProcessing: number;
  maxQueued: number;
  dailyExportBytes: number;
  updatedAtFilter: boolean;
}

function cell(v: Cell | undefined, delimiter: string): string {
  if (v === null || v === undefined || v === '') return 'null';
  if (typeof v !== 'string') return String(v);
  if (v.includes(delimiter) || v.includes('"') || v.includes('\n') || v.includes('\r')) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

export class BulkJobs {
  readonly jobs = new Map<string, ExportJob>();
  private meter = new Map<string, number>();

  constructor(private readonly data: MarketoData, private readonly faults: FaultController, private readonly opts: BulkOptions, private readonly now: () => number) {}

  exportedToday(): number {
    return this.meter.get(centralDay(this.now())) ?? 0;
  }

  private checkQuota(): void {
    if (this.exportedToday() >= this.opts.dailyExportBytes) throw new BulkError('1029', `Export daily quota ${Math.round(this.opts.dailyExportBytes / 1_048_576)}MB exceeded`);
  }

  create(type: ExportType, body: unknown): ExportJob {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BulkError('1003', 'Request body must be a JSON object');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (!['fields', 'format', 'columnHeaderNames', 'filter'].includes(k)) throw new BulkError('1003', `Invalid parameter: ${k}`);
    const format = b.format === undefined ? 'CSV' : b.format;
    if (format !== 'CSV' && format !== 'TSV') throw new BulkError('1003', `Invalid format: ${String(format)}`);
    const filter = b.filter;
    if (!filter || typeof filter !== 'object' || Array.isArray(filter)) throw new BulkError('1003', 'filter is required');
    const f = filter as Record<string, unknown>;
    let fields: string[];
    const available: readonly string[] = type === 'leads' ? LEAD_FIELDS : type === 'activities' ? ACTIVITY_COLUMNS : PROGRAM_MEMBER_FIELDS;
    if (b.fields === undefined) {
      if (type !== 'activities') throw new BulkError('1003', 'fields is required');
      fields = [...DEFAULT_ACTIVITY_COLUMNS];
    } else {
      if (!Array.isArray(b.fields) || !b.fields.length || b.fields.some((x) => typeof x !== 'string')) throw new BulkError('1003', 'fields must be a non-empty array of strings');
      fields = b.fields as string[];
      for (const name of fields) if (!available.includes(name)) throw new BulkError('1003', `Invalid field: ${name}`);
      if (new Set(fields).size !== fields.length) throw new BulkError('1003', 'Duplicate fields');
    }
    const checkRange = (name: string, value: unknown, required: boolean): void => {
      if (value === undefined && !required) return;
      if (!value || typeof value !== 'object') throw new BulkError('1003', `${name} filter must have startAt and endAt`);
      const { startAt, endAt, ...rest } = value as Record<string, unknown>;
      if (Object.keys(rest).length) throw new BulkError('1003', `Invalid ${name} filter parameter: ${Object.keys(rest)[0]}`);
      if (typeof startAt !== 'string' || typeof endAt !== 'string' || !FILTER_DATE.test(startAt) || !FILTER_DATE.test(endAt)) throw new BulkError('1003', `Invalid date format in ${name} filter (ISO 8601 without milliseconds)`);
      const s = Date.parse(startAt), e = Date.parse(endAt);
      if (!Number.isFinite(s) || !Number.isFinite(e) || e < s) throw new BulkError('1003', `${name}.endAt must not be before startAt`);
      if (e - s > 31 * DAY) throw new BulkError('1003', `${name} date range exceeds 31 days`);
    };
    if (type === 'leads') {
      const keys = Object.keys(f);
      const allowed = ['createdAt', 'updatedAt', 'staticListId', 'staticListName', 'smartListId', 'smartListName'];
      for (const k of keys) if (!allowed.includes(k)) throw new BulkError('1003', `Invalid filter type: ${k}`);
      if (keys.length !== 1) throw new BulkError('1003', 'Exactly one lead filter type is required');
      if (keys[0] === 'updatedAt' && !this.opts.updatedAtFilter) throw new BulkError('1035', 'Unsupported filter type for target subscription: updatedAt');
      if (keys[0] === 'smartListId' || keys[0] === 'smartListName') throw new BulkError('1035', `Unsupported filter type for target subscription: ${keys[0]}`);
      if (keys[0] === 'createdAt' || keys[0] === 'updatedAt') checkRange(keys[0], f[keys[0]], true);
      if (keys[0] === 'staticListId' && !this.data.lists.some((l) => l.id === f.staticListId)) throw new BulkError('1003', 'Static list not found');
      if (keys[0] === 'staticListName' && !this.data.lists.some((l) => l.name === f.staticListName)) throw new BulkError('1003', 'Static list not found');
    } else if (type === 'activities') {
      for (const k of Object.keys(f)) if (!['createdAt', 'activityTypeIds', 'primaryAttributeValueIds', 'primaryAttributeValues'].includes(k)) throw new BulkError('1003', `Invalid filter type: ${k}`);
      checkRange('createdAt', f.createdAt, true);
      if (f.activityTypeIds !== undefined && (!Array.isArray(f.activityTypeIds) || f.activityTypeIds.some((x) => !Number.isInteger(x)))) throw new BulkError('1003', 'activityTypeIds must be an array of integers');
      if ((f.primaryAttributeValueIds !== undefined || f.primaryAttributeValues !== undefined) && f.activityTypeIds === undefined) throw new BulkError('1003', 'primaryAttributeValue filters require activityTypeIds');
      if (f.primaryAttributeValueIds !== undefined && f.primaryAttributeValues !== undefined) throw new BulkError('1003', 'Use primaryAttributeValueIds or primaryAttributeValues, not both');
    } else {
      for (const k of Object.keys(f)) if (!['programId', 'programIds', 'isExhausted', 'nurtureCadence', 'statusNames', 'updatedAt'].includes(k)) throw new BulkError('1003', `Invalid filter type: ${k}`);
      const ids = f.programIds ?? (f.programId !== undefined ? [f.programId] : undefined);
      if (f.programIds !== undefined && f.programId !== undefined) throw new BulkError('1003', 'Use programId or programIds, not both');
      if (!Array.isArray(ids) || !ids.length || ids.some((x) => !Number.isInteger(x))) throw new BulkError('1003', 'programId or programIds is required');
      if (ids.length > 10) throw new BulkError('1003', 'programIds accepts at most 10 programs');
      for (const id of ids) if (!this.data.programs.some((p) => p.f.id === id)) throw new BulkError('1003', `Program ${id} not found`);
      if (f.updatedAt !== undefined && !this.opts.updatedAtFilter) throw new BulkError('1035', 'Unsupported filter type for target subscription: updatedAt');
      checkRange('updatedAt', f.updatedAt, false);
      if (f.programIds !== undefined && !fields.includes('programId')) fields = ['programId', ...fields];
    }
    let headerNames = fields;
    if (b.columnHeaderNames !== undefined) {
      if (!b.columnHeaderNames || typeof b.columnHeaderNames !== 'object') throw new BulkError('1003', 'columnHeaderNames must be an object');
      const names = b.columnHeaderNames as Record<string, unknown>;
      headerNames = fields.map((x) => (typeof names[x] === 'string' ? (names[x] as string) : x));
    }
    this.checkQuota();
    const job: ExportJob = { exportId: randomUUID(), type, status: 'Created', format, fields, headerNames, filter: f, createdAt: this.now() };
    this.jobs.set(job.exportId, job);
    return job;
  }

  get(type: ExportType, exportId: string): ExportJob {
    const job = this.jobs.get(exportId);
    if (!job || job.type !== type) throw new BulkError('1003', `Export id not found: ${exportId}`);
    return job;
  }

  enqueue(job: ExportJob): void {
    this.tick();
    if (job.status !== 'Created') throw new BulkError('1029', `Job already queued: ${job.exportId}`);
    this.checkQuota();
    const inQueue = [...this.jobs.values()].filter((j) => j.status === 'Queued' || j.status === 'Processing').length;
    if (inQueue >= this.opts.maxQueued) throw new BulkError('1029', `Too many jobs (${this.opts.maxQueued}) in queue`);
    job.status = 'Queued';
    job.queuedAt = this.now();
    this.tick();
  }

  cancel(job: ExportJob): void {
    this.tick();
    if (job.status === 'Completed' || job.status === 'Failed' || job.status === 'Canceled') throw new BulkError('1029', `Job already ${job.status.toLowerCase()}`);
    job.status = 'Canceled';
    job.finishedAt = this.now();
  }

  /** Advances job states to the simulator's now. */
  tick(): void {
    const now = this.now();
    const jobs = [...this.jobs.values()];
    for (let pass = 0; pass < 2; pass++) {
      for (const job of jobs) {
        if (job.status === 'Processing' && now >= job.startedAt! + this.opts.jobMs) this.complete(job, now);
      }
      let processing = jobs.filter((j) => j.status === 'Processing').length;
      for (const job of jobs.filter((j) => j.status === 'Queued').sort((a, b) => a.queuedAt! - b.queuedAt!)) {
        if (processing >= this.opts.maxProcessing) break;
        if (now >= job.queuedAt! + this.opts.jobMs) {
          job.status = 'Processing';
          job.startedAt = now;
          processing++;
        }
      }
    }
  }

  private complete(job: ExportJob, now: number): void {
    const path = `/bulk/v1/${job.type}/export`;
    if (this.faults.dataFault('job-failed', 'GET', path)) {
      job.status = 'Failed';
      job.finishedAt = now;
      job.errorMsg = 'Failed to process export: internal error';
      return;
    }
    const delimiter = job.format === 'TSV' ? '\t' : ',';
    if (job.type === 'leads') {
      this.completeLeads(job, now, path, delimiter);
      return;
    }
    const rows = this.rows(job);
    const short = this.faults.dataFault('short-file', 'GET', path);
    const file = new FileBuilder(job.headerNames.map((h) => cell(h, delimiter)).join(delimiter) + '\n');
    const count = rows.length;
    for (let i = 0; i < count; i++) {
      if (short && i >= count - Math.max(1, Math.floor(count / 10))) break;
      let values = rows[i]!;
      if (this.faults.dataFault('malformed-row', 'GET', path)) values = this.corrupt(job, values);
      file.add(values.map((v) => cell(v, delimiter)).join(delimiter) + '\n');
    }
    this.finishFile(job, now, path, file.build(), short ? count : file.rows);
  }

  /** Lead files: each lead's row is built once per field list and reused by later exports. */
  private completeLeads(job: ExportJob, now: number, path: string, delimiter: string): void {
    const leads = this.leadsOf(job);
    const short = this.faults.dataFault('short-file', 'GET', path);
    const sig = `${delimiter}${job.fields.join(',')}`;
    const file = new FileBuilder(job.headerNames.map((h) => cell(h, delimiter)).join(delimiter) + '\n');
    const count = leads.length;
    const limit = short ? count - Math.max(1, Math.floor(count / 10)) : count;
    for (let i = 0; i < limit; i++) {
      const l = leads[i]!;
      if (this.faults.dataFault('malformed-row', 'GET', path)) {
        file.add(this.corrupt(job, this.leadValues(job, l)).map((v) => cell(v, delimiter)).join(delimiter) + '\n');
      } else {
        if (l.rowSig !== sig || l.row === undefined) {
          l.row = this.leadValues(job, l).map((v) => cell(v, delimiter)).join(delimiter) + '\n';
          l.rowSig = sig;
        }
        file.add(l.row);
      }
    }
    this.finishFile(job, now, path, file.build(), short ? count : file.rows);
  }

  private finishFile(job: ExportJob, now: number, path: string, file: Buffer, numberOfRecords: number): void {
    job.file = file;
    job.fileSize = file.length;
    job.numberOfRecords = numberOfRecords;
    job.fileChecksum = `sha256:${createHash('sha256').update(file).digest('hex')}`;
    if (this.faults.dataFault('file-missing', 'GET', path)) job.fileMissing = 1;
    job.status = 'Completed';
    job.finishedAt = now;
    const day = centralDay(now);
    this.meter.set(day, (this.meter.get(day) ?? 0) + file.length);
  }

  private leadValues(job: ExportJob, l: MktoLead): Cell[] {
    return job.fields.map((name) => (name === 'id' ? l.id : name === 'createdAt' ? mktoDate(l.createdAt) : name === 'updatedAt' ? mktoDate(l.updatedAt) : l.f[name] ?? null));
  }

  /** A malformed row: a broken email (leads) or an unparseable date. */
  private corrupt(job: ExportJob, values: Cell[]): Cell[] {
    const out = [...values];
    const email = job.fields.indexOf('email');
    if (job.type === 'leads' && email >= 0) out[email] = 'broken-email.example.com';
    else {
      const dateCol = ['activityDate', 'createdAt', 'membershipDate'].map((c) => job.fields.indexOf(c)).find((i) => i >= 0);
      if (dateCol !== undefined) out[dateCol] = '31/02/2026 25:61';
    }
    return out;
  }

  private rows(job: ExportJob): Cell[][] {
    const f = job.filter;
    const range = (v: unknown): [number, number] | null => {
      if (!v) return null;
      const r = v as { startAt: string; endAt: string };
      return [Date.parse(r.startAt), Date.parse(r.endAt)];
    };
    if (job.type === 'leads') return this.leadsOf(job).map((l) => this.leadValues(job, l));
    return this.otherRows(job, range);
  }

  private leadsOf(job: ExportJob): MktoLead[] {
    const f = job.filter;
    const range = (v: unknown): [number, number] | null => {
      if (!v) return null;
      const r = v as { startAt: string; endAt: string };
      return [Date.parse(r.startAt), Date.parse(r.endAt)];
    };
    {
      let leads: MktoLead[];
      const created = range(f.createdAt);
      const updated = range(f.updatedAt);
      const live = (l: MktoLead) => l.deletedAt === null;
      if (created) {
        const arr = this.data.leadsByCreated;
        let lo = 0, hi = arr.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (arr[mid]!.createdAt < created[0]) lo = mid + 1;
          else hi = mid;
        }
        leads = [];
        for (let i = lo; i < arr.length && arr[i]!.createdAt <= created[1]; i++) if (live(arr[i]!)) leads.push(arr[i]!);
      } else if (updated) leads = this.data.leadsByCreated.filter((l) => live(l) && l.updatedAt >= updated[0] && l.updatedAt <= updated[1]);
      else {
        const list = this.data.lists.find((l) => l.id === f.staticListId || l.name === f.staticListName)!;
        leads = list.members.map((id) => this.data.leadById.get(id)!).filter(live);
      }
      return leads;
    }
  }

  private otherRows(job: ExportJob, range: (v: unknown) => [number, number] | null): Cell[][] {
    const f = job.filter;
    if (job.type === 'activities') {
      const [from, to] = range(f.createdAt)!;
      const types = Array.isArray(f.activityTypeIds) ? new Set(f.activityTypeIds as number[]) : null;
      const arr = this.data.activities;
      let lo = 0, hi = arr.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (arr[mid]!.at < from) lo = mid + 1;
        else hi = mid;
      }
      const out: Cell[][] = [];
      for (let i = lo; i < arr.length && arr[i]!.at <= to; i++) {
        const a = arr[i]!;
        if (types && !types.has(a.typeId)) continue;
        if (this.data.leadById.get(a.leadId)?.deletedAt != null) continue;
        out.push(job.fields.map((c) => {
          switch (c) {
            case 'marketoGUID': return a.marketoGUID;
            case 'leadId': return a.leadId;
            case 'activityDate': return mktoDate(a.at);
            case 'activityTypeId': return a.typeId;
            case 'campaignId': return a.campaignId;
            case 'primaryAttributeValueId': return a.pavId;
            case 'primaryAttributeValue': return a.pav;
            case 'attributes': return JSON.stringify(a.attributes);
            default: return null;
          }
        }));
      }
      return out;
    }
    const ids = new Set((f.programIds ?? [f.programId]) as number[]);
    const updated = range(f.updatedAt);
    const statuses = Array.isArray(f.statusNames) ? new Set(f.statusNames as string[]) : null;
    return this.data.programMembers
      .filter((m) => ids.has(m.programId) && (!updated || (m.updatedAt >= updated[0] && m.updatedAt <= updated[1])) && (!statuses || statuses.has(String(m.f.statusName))))
      .filter((m) => this.data.leadById.get(m.leadId)?.deletedAt === null)
      .sort((a, b) => a.programId - b.programId || a.leadId - b.leadId)
      .map((m) => job.fields.map((name) => (name === 'programId' ? m.programId : name === 'leadId' ? m.leadId : name === 'createdAt' ? mktoDate(m.createdAt) : name === 'updatedAt' ? mktoDate(m.updatedAt) : m.f[name] ?? null)));
  }

  /** The status object of the status/create/enqueue responses. */
  static statusOf(job: ExportJob, spelling: 'Canceled' | 'Cancelled' = 'Canceled'): Record<string, unknown> {
    const out: Record<string, unknown> = { exportId: job.exportId, format: job.format, status: job.status === 'Canceled' ? spelling : job.status, createdAt: mktoDate(job.createdAt) };
    if (job.queuedAt !== undefined) out.queuedAt = mktoDate(job.queuedAt);
    if (job.startedAt !== undefined) out.startedAt = mktoDate(job.startedAt);
    if (job.finishedAt !== undefined) out.finishedAt = mktoDate(job.finishedAt);
    if (job.status === 'Completed') {
      out.numberOfRecords = job.numberOfRecords;
      out.fileSize = job.fileSize;
      out.fileChecksum = job.fileChecksum;
    }
    if (job.errorMsg) out.errorMsg = job.errorMsg;
    return out;
  }
}

/** An export file built from text rows, flushed to buffers every megabyte (no giant string). */
class FileBuilder {
  private parts: Buffer[] = [];
  private chunk: string;
  rows = 0;

  constructor(header: string) {
    this.chunk = header;
  }

  add(line: string): void {
    this.chunk += line;
    this.rows++;
    if (this.chunk.length > 1 << 20) {
      this.parts.push(Buffer.from(this.chunk, 'utf8'));
      this.chunk = '';
    }
  }

  build(): Buffer {
    this.parts.push(Buffer.from(this.chunk, 'utf8'));
    return Buffer.concat(this.parts);
  }
}
