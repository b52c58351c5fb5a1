/**
 * One Salesforce object as a stream (connector-apis.md §2.2–2.4).
 *
 * - Runs read `queryAll` (live and soft-deleted rows: deletes bump SystemModstamp and come back
 *   with IsDeleted = true, mapped to isDeleted records) with
 *   `WHERE SystemModstamp > {watermark − overlap} AND SystemModstamp <= {runStartedAt}
 *    ORDER BY SystemModstamp, Id`, following nextRecordsUrl. The first run has no lower bound.
 * - The first run of an object with at least `bulkThreshold` rows (a COUNT() query) uses a Bulk
 *   API 2.0 queryAll job instead: the job id and the results locator live in the state, so a crash
 *   resumes polling or reading chunks; the engine sleeps between polls (`waitMs`). A Failed or
 *   refused job falls back to the REST query, with a notice.
 * - The resting state holds the watermark: the largest SystemModstamp seen (never runStartedAt).
 *   The overlap is applied when the next run starts, so rows committed late with an older
 *   stamp are still read (the store is idempotent on duplicates).
 * - A stale cursor (400 INVALID_QUERY_LOCATOR) restarts the query at the stamp of the last row
 *   stored (`SystemModstamp >= stamp`): nothing skipped, little re-read.
 * - Backfill windows are by SystemModstamp, `from` inclusive, `to` exclusive.
 * - Once the query is done, a deletes phase (deleted.ts) reads the delete log (sObject Get Deleted)
 *   from the stream's deleted watermark − overlap (at most 15 days back) to the run's high-water
 *   mark, and turns the records queryAll no longer returns (purged from the recycle bin,
 *   hard-deleted) into deletion markers. The resting state keeps its `latestDateCovered` as
 *   `deleted`, beside the query's `watermark`.
 * - Counts are checked (rows received vs totalSize / numberRecordsProcessed / Sforce-NumberOfRecords)
 *   and an empty page in the middle is an error: a gap is never reported as complete.
 */
import { z } from 'zod';
import { SourceIncompleteRead, SourceRequestRejected } from '../errors';
import type { PageResult, ReadRequest, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import { InvalidQueryLocator, SalesforceRejected, type SalesforceClient } from './client';
import { CsvError, parseCsv } from './csv';
import { DeletedRecords, deletesStateSchema, isoSchema } from './deleted';
import { normaliseDateTime, type Row, type SalesforceMapper } from './mapping';
import type { ObjectSpec } from './objects';
import type { SalesforceSettings } from './settings';

const restingSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('resting'),
  /** The largest SystemModstamp read. */
  watermark: isoSchema.nullable(),
  /** How far the delete log has been read (`latestDateCovered`); absent in states written before it was read. */
  deleted: isoSchema.nullable().optional(),
});

const runSchema = z.strictObject({
  v: z.literal(1),
  kind: z.enum(['run', 'backfill']),
  /** Lower bound on SystemModstamp (null: none). */
  from: isoSchema.nullable(),
  fromInclusive: z.boolean(),
  /** Upper bound: runStartedAt (inclusive) for runs, the window end (exclusive) for backfills. */
  to: isoSchema,
  toInclusive: z.boolean(),
  /** The resting watermark this run started from. */
  prevWatermark: isoSchema.nullable(),
  /** The resting deleted watermark this run started from (absent in states written before deletes were read). */
  prevDeleted: isoSchema.nullable().optional(),
  /** Largest SystemModstamp seen in this run. */
  watermark: isoSchema.nullable(),
  mode: z.enum(['rest', 'bulk']),
  /** REST: the nextRecordsUrl to read next (null: run the query). */
  next: z.string().nullable(),
  /** REST: the last row read (where a stale cursor restarts). */
  last: z.strictObject({ stamp: isoSchema, id: z.string() }).nullable(),
  /** REST: rows the current query announced (totalSize) and rows read from it so far. */
  total: z.int().nonnegative().nullable(),
  received: z.int().nonnegative(),
  restarts: z.int().nonnegative(),
  bulk: z
    .strictObject({
      jobId: z.string().min(1),
      /** The next results locator (null: the first chunk). */
      locator: z.string().nullable(),
      /** numberRecordsProcessed once the job completed. */
      expected: z.int().nonnegative().nullable(),
      received: z.int().nonnegative(),
    })
    .nullable(),
  /** The deletes phase, once the query is done: the delete-log window and position. */
  deletes: deletesStateSchema.nullable().optional(),
});

type RunState = z.output<typeof runSchema>;
const stateSchema = z.union([restingSchema, runSchema]);

/** The query envelope; records are checked one by one while mapping (no per-record copy). */
const queryPageSchema = z.looseObject({
  totalSize: z.int().nonnegative(),
  done: z.boolean(),
  nextRecordsUrl: z.string().optional(),
  records: z.array(z.unknown()),
});
const describeSchema = z.looseObject({
  fields: z.array(z.looseObject({ name: z.string() })),
  /** Whether Get Deleted / Get Updated serve the object; read as true when absent. */
  replicateable: z.boolean().optional(),
});
const jobSchema = z.looseObject({
  id: z.string().min(1),
  state: z.string(),
  numberRecordsProcessed: z.number().optional(),
  errorMessage: z.string().optional(),
});

const DAY = 86_400_000;

/** Fields every synced object must have: the key, the audit dates, the delete flag and the cursor. */
const REQUIRED_FIELDS = new Set(['Id', 'IsDeleted', 'CreatedDate', 'LastModifiedDate', 'SystemModstamp']);

export class SalesforceStream implements SourceStream {
  readonly name: string;
  readonly xdmClasses;
  readonly backfill: { maxWindowDays: number };
  private select: string;
  /** The spec's fields this org has (`describe`); until discovered, all of them. */
  private fields: ObjectSpec['fields'];
  /** Whether the org has the object at all: asked once per connector, with `describe`. */
  private discovery: Promise<Discovery> | null = null;
  private readonly deleted: DeletedRecords;

  constructor(
    private readonly spec: ObjectSpec,
    private readonly client: SalesforceClient,
    private readonly mapper: SalesforceMapper,
    private readonly settings: SalesforceSettings,
  ) {
    this.name = spec.name;
    this.xdmClasses = [spec.xdmClass] as const;
    this.backfill = { maxWindowDays: settings.maxWindowDays };
    this.fields = spec.fields;
    this.select = spec.fields.map(([f]) => f).join(', ');
    this.deleted = new DeletedRecords(spec, client, mapper, settings.overlapMinutes * 60_000, settings.pageSize);
  }

  /**
   * Reads the object's fields with `describe` and drops the spec's optional fields the org lacks
   * (CurrencyIsoCode without multi-currency, DunsNumber without Data.com); an object the org does
   * not have (AccountContactRelation without contacts-to-multiple-accounts) is reported, not read.
   */
  private discover(signal: AbortSignal): Promise<Discovery> {
    this.discovery ??= (async (): Promise<Discovery> => {
      let described: unknown;
      try {
        described = await this.client.json(`${this.client.dataPath}/sobjects/${this.spec.name}/describe`, signal);
      } catch (e) {
        if (e instanceof SalesforceRejected && (e.status === 404 || e.errorCode === 'INVALID_TYPE')) return { available: false, missing: [], replicateable: false };
        throw e;
      }
      const parsed = describeSchema.safeParse(described);
      if (!parsed.success) throw new SourceIncompleteRead(this.client.label, `${this.spec.name}: unexpected describe response (${parsed.error.issues[0]?.message})`);
      const names = new Set(parsed.data.fields.map((f) => f.name));
      const missing = this.spec.fields.map(([f]) => f).filter((f) => !names.has(f));
      const required = missing.filter((f) => REQUIRED_FIELDS.has(f));
      if (required.length) throw new SourceRequestRejected(this.client.label, `${this.spec.name} has no ${required.join(', ')} in this org`);
      this.fields = this.spec.fields.filter(([f]) => names.has(f));
      this.select = this.fields.map(([f]) => f).join(', ');
      return { available: true, missing, replicateable: parsed.data.replicateable ?? true };
    })().catch((e) => {
      this.discovery = null; // a transient failure is asked again next time
      throw e;
    });
    return this.discovery;
  }

  async readPage(req: ReadRequest): Promise<PageResult> {
    const notices: string[] = [];
    const org = await this.discover(req.signal);
    if (!org.available) {
      const resting = { v: 1 as const, kind: 'resting' as const, watermark: null, deleted: null };
      return { records: [], unmappable: [], state: resting, complete: true, notices: [`${this.spec.name} does not exist in this org (feature not enabled): not synced`] };
    }
    if (org.missing.length && (req.state === null || (req.state as { kind?: unknown }).kind === 'resting')) {
      notices.push(`fields not in this org, not synced: ${org.missing.join(', ')}`);
    }
    let st = this.readState(req.state);
    if (req.window) {
      if (st === null || st.kind !== 'backfill') {
        const from = Date.parse(req.window.from);
        const to = Date.parse(req.window.to);
        if (!(from < to)) throw new SourceRequestRejected(this.client.label, `backfill window ${req.window.from} – ${req.window.to} is empty`);
        if (to - from > this.settings.maxWindowDays * DAY) {
          throw new SourceRequestRejected(this.client.label, `backfill window longer than ${this.settings.maxWindowDays} days`);
        }
        st = newRun('backfill', iso(from), true, iso(to), false, null, null);
      }
    } else if (st === null || st.kind === 'resting') {
      const prev = st?.watermark ?? null;
      const from = prev === null ? null : iso(Date.parse(prev) - this.settings.overlapMinutes * 60_000);
      st = newRun('run', from, false, iso(Date.parse(req.runStartedAt)), true, prev, st?.deleted ?? null);
      if (from === null && this.settings.useBulk) {
        const started = await this.maybeStartBulk(st, req.signal, notices);
        if (started) return { records: [], unmappable: [], state: started, complete: false, waitMs: this.settings.bulkPollMs, notices };
      }
    } else if (st.kind === 'backfill') {
      throw new SourceRequestRejected(this.client.label, `stream ${this.name}: a backfill state was given without its window`);
    }
    const runStartedAt = Date.parse(req.runStartedAt);
    const now = () => this.client.serverNow() ?? Math.max(runStartedAt, Date.now());
    const run: Run = { state: st, replicateable: org.replicateable, now, signal: req.signal, notices };
    if (st.deletes) return this.deletesPage(run);
    if (st.mode === 'bulk') return this.bulkPage(run);
    return this.restPage(run);
  }

  private readState(state: StreamState | null): z.output<typeof stateSchema> | null {
    if (state === null) return null;
    const parsed = stateSchema.safeParse(state);
    if (!parsed.success) throw new SourceRequestRejected(this.client.label, `stream ${this.name}: unreadable state (${parsed.error.issues[0]?.message})`);
    return parsed.data;
  }

  /* ------------------------------------------------------------------------------------- */
  /* REST query                                                                              */
  /* ------------------------------------------------------------------------------------- */

  /** The SOQL of the run's query (or of its restart). */
  soql(st: Pick<RunState, 'from' | 'fromInclusive' | 'to' | 'toInclusive'>, orderBy = true): string {
    const where = [`SystemModstamp ${st.toInclusive ? '<=' : '<'} ${soqlDateTime(st.to)}`];
    if (st.from !== null) where.unshift(`SystemModstamp ${st.fromInclusive ? '>=' : '>'} ${soqlDateTime(st.from)}`);
    return `SELECT ${this.select} FROM ${this.spec.name} WHERE ${where.join(' AND ')}${orderBy ? ' ORDER BY SystemModstamp, Id' : ''}`;
  }

  private queryPath(soql: string): string {
    return `${this.client.dataPath}/queryAll?q=${encodeURIComponent(soql)}`;
  }

  private async restPage(run: Run): Promise<PageResult> {
    const { signal, notices } = run;
    let st = run.state;
    const headers = { 'sforce-query-options': `batchSize=${this.settings.pageSize}` };
    let body: unknown;
    if (st.next !== null) {
      try {
        body = await this.client.json(st.next, signal, { headers });
      } catch (err) {
        if (!(err instanceof InvalidQueryLocator)) throw err;
        // Restart at the last row stored: rows at that stamp are read again, none is skipped.
        st = { ...st, next: null, total: null, received: 0, restarts: st.restarts + 1 };
        if (st.last !== null) st = { ...st, from: st.last.stamp, fromInclusive: true };
        notices.push(`${this.name}: query cursor expired (INVALID_QUERY_LOCATOR); query restarted from SystemModstamp ${st.from ?? 'start'}`);
        body = await this.client.json(this.queryPath(this.soql(st)), signal, { headers });
      }
    } else {
      body = await this.client.json(this.queryPath(this.soql(st)), signal, { headers });
    }
    const parsed = queryPageSchema.safeParse(body);
    if (!parsed.success) throw new SourceIncompleteRead(this.client.label, `${this.name}: unexpected query response (${parsed.error.issues[0]?.message})`);
    const page = parsed.data;
    if (st.total !== null && page.totalSize !== st.total) {
      throw new SourceIncompleteRead(this.client.label, `${this.name}: totalSize changed from ${st.total} to ${page.totalSize} between pages`);
    }
    const { records, unmappable, watermark, last } = this.mapRows(page.records, st.watermark, st.last);
    const received = st.received + page.records.length;
    if (page.done) {
      if (received !== page.totalSize) {
        throw new SourceIncompleteRead(this.client.label, `${this.name}: the query announced ${page.totalSize} rows but returned ${received}`);
      }
      return this.queryDone({ ...run, state: { ...st, watermark } }, records, unmappable);
    }
    if (page.records.length === 0) throw new SourceIncompleteRead(this.client.label, `${this.name}: an empty page before the end of the query`);
    if (!page.nextRecordsUrl || !page.nextRecordsUrl.startsWith('/services/data/')) {
      throw new SourceIncompleteRead(this.client.label, `${this.name}: a page with done=false and no usable nextRecordsUrl`);
    }
    const state: RunState = { ...st, next: page.nextRecordsUrl, last, watermark, total: page.totalSize, received };
    return { records, unmappable, state, complete: false, notices };
  }

  private mapRows(rows: unknown[], watermarkIn: string | null, lastIn: RunState['last']) {
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    let maxMs = watermarkIn === null ? -Infinity : Date.parse(watermarkIn);
    let lastMs = NaN;
    let lastId: string | null = null;
    const { name, xdmClass } = this.spec;
    for (const item of rows) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        unmappable.push({ xdmClass, sourceKey: null, reason: `${name}: a record that is not an object`, raw: item });
        continue;
      }
      const row = item as Row;
      const r = this.mapper.map(name, xdmClass, row);
      let stamp: string | null;
      if (r.ok) {
        records.push({ xdmClass, record: r.record });
        stamp = (r.record.extSourceSystemAudit as { lastUpdatedDate: string | null }).lastUpdatedDate;
      } else {
        unmappable.push({ xdmClass, sourceKey: r.sourceKey, reason: r.reason, raw: row });
        stamp = typeof row.SystemModstamp === 'string' ? normaliseDateTime(row.SystemModstamp) : null;
      }
      if (stamp !== null) {
        const ms = Date.parse(stamp);
        if (ms > maxMs) maxMs = ms;
        if (typeof row.Id === 'string') {
          lastMs = ms;
          lastId = row.Id;
        }
      }
    }
    const last = lastId === null ? lastIn : { stamp: iso(lastMs), id: lastId };
    return { records, unmappable, watermark: maxMs === -Infinity ? null : iso(maxMs), last };
  }

  /* ------------------------------------------------------------------------------------- */
  /* Bulk API 2.0                                                                            */
  /* ------------------------------------------------------------------------------------- */

  /** Counts the rows of the initial load; creates a bulk job when there are enough. Returns the bulk state. */
  private async maybeStartBulk(st: RunState, signal: AbortSignal, notices: string[]): Promise<RunState | null> {
    const soql = `SELECT COUNT() FROM ${this.spec.name} WHERE SystemModstamp ${st.toInclusive ? '<=' : '<'} ${soqlDateTime(st.to)}`;
    const counted = queryPageSchema.safeParse(await this.client.json(`${this.client.dataPath}/queryAll?q=${encodeURIComponent(soql)}`, signal));
    if (!counted.success) throw new SourceIncompleteRead(this.client.label, `${this.name}: unexpected COUNT() response`);
    const count = counted.data.totalSize;
    if (count < this.settings.bulkThreshold) return null;
    let job: z.output<typeof jobSchema>;
    try {
      const created = jobSchema.safeParse(
        await this.client.json(`${this.client.dataPath}/jobs/query`, signal, {
          method: 'POST',
          body: { operation: 'queryAll', query: this.soql(st, false), contentType: 'CSV', columnDelimiter: 'COMMA', lineEnding: 'LF' },
        }),
      );
      if (!created.success) throw new SourceIncompleteRead(this.client.label, `${this.name}: unexpected bulk job response`);
      job = created.data;
    } catch (err) {
      if (!(err instanceof SourceRequestRejected)) throw err;
      notices.push(`${this.name}: Bulk API refused the query (${err.message}); reading with REST queries`);
      return null;
    }
    notices.push(`${this.name}: ${count} rows: Bulk API 2.0 job ${job.id}`);
    return { ...st, mode: 'bulk', bulk: { jobId: job.id, locator: null, expected: null, received: 0 } };
  }

  private async bulkPage(run: Run): Promise<PageResult> {
    const { signal, notices } = run;
    let st = run.state;
    const bulk = st.bulk!;
    const jobPath = `${this.client.dataPath}/jobs/query/${encodeURIComponent(bulk.jobId)}`;
    if (bulk.expected === null) {
      const polled = jobSchema.safeParse(await this.client.json(jobPath, signal));
      if (!polled.success) throw new SourceIncompleteRead(this.client.label, `${this.name}: unexpected bulk job status`);
      const job = polled.data;
      if (job.state === 'Failed' || job.state === 'Aborted') {
        notices.push(`${this.name}: bulk job ${job.id} ${job.state}${job.errorMessage ? ` (${job.errorMessage})` : ''}; reading with REST queries`);
        return this.restPage({ ...run, state: { ...st, mode: 'rest', bulk: null } });
      }
      if (job.state !== 'JobComplete') return { records: [], unmappable: [], state: st, complete: false, waitMs: this.settings.bulkPollMs, notices };
      if (job.numberRecordsProcessed === undefined) throw new SourceIncompleteRead(this.client.label, `${this.name}: bulk job ${job.id} completed without numberRecordsProcessed`);
      st = { ...st, bulk: { ...bulk, expected: job.numberRecordsProcessed } };
    }
    const b = st.bulk!;
    const query = new URLSearchParams({ maxRecords: String(this.settings.bulkMaxRecords) });
    if (b.locator !== null) query.set('locator', b.locator);
    let chunk: { rows: string[][]; locator: string } | undefined;
    await this.client.send(
      {
        path: `${jobPath}/results?${query}`,
        accept: 'text/csv',
        check: (res) => (chunk = this.readChunk(res.text, res.headers)),
      },
      signal,
    );
    const { rows, locator } = chunk!;
    const typed = rows.map((cells) => this.typedRow(cells));
    const received = b.received + typed.length;
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    const ok: Row[] = [];
    for (let i = 0; i < typed.length; i++) {
      const t = typed[i]!;
      if (typeof t !== 'string') {
        ok.push(t);
        continue;
      }
      const id = rows[i]![0] ?? '';
      const sourceKey = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(id) ? this.mapper.key(id).sourceKey : null;
      unmappable.push({ xdmClass: this.spec.xdmClass, sourceKey, reason: t, raw: rows[i]!.join(',') });
    }
    const mapped = this.mapRows(ok, st.watermark, null);
    records.push(...mapped.records);
    unmappable.push(...mapped.unmappable);
    if (locator === 'null') {
      if (received !== b.expected) {
        throw new SourceIncompleteRead(this.client.label, `${this.name}: bulk job ${b.jobId} processed ${b.expected} rows but its results held ${received}`);
      }
      return this.queryDone({ ...run, state: { ...st, watermark: mapped.watermark, bulk: { ...b, received } } }, records, unmappable);
    }
    if (rows.length === 0) throw new SourceIncompleteRead(this.client.label, `${this.name}: an empty bulk results chunk before the last locator`);
    return { records, unmappable, state: { ...st, watermark: mapped.watermark, bulk: { ...b, locator, received } }, complete: false, notices };
  }

  /* ------------------------------------------------------------------------------------- */
  /* Deletes phase (deleted.ts)                                                              */
  /* ------------------------------------------------------------------------------------- */

  /**
   * The query has read everything: the page completes the run, or (when the delete log has a
   * window to read) hands over to the deletes phase. `run.state.watermark` is the query's.
   */
  private queryDone(run: Run, records: SourceRecord[], unmappable: UnmappableRow[]): PageResult {
    const st = run.state;
    const deletes = this.deleted.plan(
      { replicateable: run.replicateable, kind: st.kind, prevDeleted: st.prevDeleted ?? null, from: st.from, to: st.to, now: run.now() },
      run.notices,
    );
    if (deletes === null) return this.completed(st, records, unmappable, st.prevDeleted ?? null, run.notices);
    return { records, unmappable, state: { ...st, deletes }, complete: false, notices: run.notices };
  }

  private async deletesPage(run: Run): Promise<PageResult> {
    const st = run.state;
    const page = await this.deleted.page(st.deletes!, run.now, run.signal, run.notices);
    if (page.next !== null) return { records: page.records, unmappable: page.unmappable, state: { ...st, deletes: page.next }, complete: false, notices: run.notices };
    return this.completed(st, page.records, page.unmappable, page.covered ?? st.prevDeleted ?? null, run.notices);
  }

  /** The run's last page: the resting state, and a bulk job's row count for the engine to check. */
  private completed(st: RunState, records: SourceRecord[], unmappable: UnmappableRow[], deleted: string | null, notices: string[]): PageResult {
    const expected = st.mode === 'bulk' ? st.bulk?.expected : null;
    return {
      records,
      unmappable,
      state: resting(st.prevWatermark, st.watermark, deleted),
      complete: true,
      notices,
      ...(expected !== null && expected !== undefined ? { expectedRecords: expected } : {}),
    };
  }

  /** Parses and checks one results chunk (header row, row count vs Sforce-NumberOfRecords, locator). */
  private readChunk(text: string, headers: Headers): { rows: string[][]; locator: string } {
    const label = this.client.label;
    const locator = headers.get('sforce-locator');
    const announced = Number(headers.get('sforce-numberofrecords'));
    if (locator === null || locator === '' || !Number.isInteger(announced)) {
      throw new SourceIncompleteRead(label, `${this.name}: a results chunk without Sforce-Locator / Sforce-NumberOfRecords`);
    }
    let rows: string[][];
    try {
      rows = parseCsv(text);
    } catch (err) {
      if (err instanceof CsvError) throw new SourceIncompleteRead(label, `${this.name}: results chunk cut off (${err.message})`);
      throw err;
    }
    const header = rows.shift();
    if (header === undefined) throw new SourceIncompleteRead(label, `${this.name}: an empty results chunk (no header row)`);
    if (header.length !== this.fields.length || header.some((h, i) => h !== this.fields[i]![0])) {
      throw new SourceRequestRejected(label, `${this.name}: results columns ${header.join(',')} are not the selected fields`);
    }
    if (rows.length !== announced) {
      throw new SourceIncompleteRead(label, `${this.name}: results chunk holds ${rows.length} rows, Sforce-NumberOfRecords says ${announced}`);
    }
    return { rows, locator };
  }

  /** A CSV row as the typed row the REST query would return; a string (the reason) when a cell is malformed. */
  private typedRow(cells: string[]): Row | string {
    const fields = this.fields;
    if (cells.length !== fields.length) return `a results row with ${cells.length} cells, expected ${fields.length}: ${cells.join(',').slice(0, 200)}`;
    const row: Row = {};
    for (let i = 0; i < fields.length; i++) {
      const [name, kind] = fields[i]!;
      const cell = cells[i]!;
      if (cell === '') {
        row[name] = kind === 'boolean' ? false : null;
      } else if (kind === 'string') {
        row[name] = cell;
      } else if (kind === 'number') {
        const n = Number(cell);
        if (!Number.isFinite(n)) return `${this.spec.name} ${cells[0]}: ${name} '${cell}' is not a number`;
        row[name] = n;
      } else {
        if (cell !== 'true' && cell !== 'false') return `${this.spec.name} ${cells[0]}: ${name} '${cell}' is not a boolean`;
        row[name] = cell === 'true';
      }
    }
    return row;
  }
}

interface Discovery {
  available: boolean;
  /** The spec's fields the org lacks. */
  missing: string[];
  replicateable: boolean;
}

/** What one readPage call works with. */
interface Run {
  state: RunState;
  replicateable: boolean;
  /** Now (ms) by Salesforce's clock as of its last answer (client.serverNow); before any answer, the later of the run's start and this worker's clock. */
  now(): number;
  signal: AbortSignal;
  notices: string[];
}

function newRun(
  kind: 'run' | 'backfill',
  from: string | null,
  fromInclusive: boolean,
  to: string,
  toInclusive: boolean,
  prevWatermark: string | null,
  prevDeleted: string | null,
): RunState {
  return {
    v: 1, kind, from, fromInclusive, to, toInclusive, prevWatermark, prevDeleted, watermark: null,
    mode: 'rest', next: null, last: null, total: null, received: 0, restarts: 0, bulk: null, deletes: null,
  };
}

function resting(prev: string | null, seen: string | null, deleted: string | null): StreamState {
  let watermark = prev;
  if (seen !== null && (watermark === null || Date.parse(seen) > Date.parse(watermark))) watermark = seen;
  return { v: 1, kind: 'resting', watermark, deleted };
}

/**
 * A SOQL date-time literal (`2026-11-01T12:00:00Z`): Salesforce keeps date-times to the second and
 * documents literals without a fraction, so bounds are floored to the second. A floored lower
 * bound reads a little more (harmless); a floored upper bound leaves the rest of that second to
 * the next run or window, whose lower bound is floored the same way.
 */
export function soqlDateTime(isoValue: string): string {
  const ms = Date.parse(isoValue);
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
