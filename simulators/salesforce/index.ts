/**
 * A Salesforce org simulator (connector-apis.md §2 and §6.2) serving a projection of the synthetic
 * world: OAuth 2.0 client credentials, REST query / queryAll with a strict SOQL subset and
 * server-side cursors (nextRecordsUrl), Bulk API 2.0 query jobs progressing on the sim clock with
 * CSV results read by locator, the replication API (`sobjects/{object}/updated|deleted`),
 * `sobjects/{object}/describe`, /limits, `Sforce-Limit-Info` on every API response, and the
 * vendor's error envelope `[{"message","errorCode"}]`. Date-times are kept to the second
 * (`….000+0000`), as Salesforce stores them. Not simulated: the JWT bearer grant, merged records
 * (MasterRecordId), cascading deletes.
 *
 * Deletes: a delete (mutate) flags the row IsDeleted (the recycle bin: queryAll still returns it)
 * and writes the delete log; `emptyRecycleBin` removes deleted rows for good and `hardDelete`
 * removes live rows without the bin (Bulk API hardDelete): both vanish from every query and stay
 * in the delete log, which `sobjects/{object}/deleted` serves as Salesforce documents it: 15 days
 * back from the sim clock, start more than one minute before end, seconds ignored, at most
 * 600,000 ids, `latestDateCovered` and `earliestDateAvailable`. With `deleteLogLimit`, the log is
 * purged as Salesforce's background job does (oldest entries older than two hours first, while
 * it holds more than the limit), and a start before what was purged is INVALID_REPLICATION_DATE.
 *
 * Faults (besides the shell's http / vendor / delay / drop / truncate rules):
 * - vendor codes render with Salesforce statuses: INVALID_SESSION_ID 401, REQUEST_LIMIT_EXCEEDED 403,
 *   INVALID_QUERY_LOCATOR / INVALID_FIELD / MALFORMED_QUERY / QUERY_TIMEOUT / INVALID_REPLICATION_DATE /
 *   EXCEEDED_ID_LIMIT / INVALID_TYPE 400, SERVER_UNAVAILABLE 503;
 * - data faults: `malformed-row` (a served row gets an invalid email or date), `late-commit` (rows
 *   changed by mutate get a SystemModstamp `lateCommitLagMs` in the past, as when a long
 *   transaction commits after a reader passed its stamp), `slow-bulk-job` (a job stays InProgress
 *   20× longer), `bulk-job-failed` (a job ends Failed with an errorMessage), `replication-lag`
 *   (Get Deleted's latestDateCovered stays `replicationLagMs` behind the end, as while a long
 *   transaction runs).
 *
 * Query cursors are evaluated once per query and paged from the snapshot; a page is written as
 * one array of pieces joined once (no per-row strings).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { SimClock } from '../shared/clock';
import { FaultController } from '../shared/faults';
import { seededRandom } from '../shared/random';
import { RequestStats } from '../shared/request-stats';
import { sendBody, startSimulatorServer } from '../shared/server';
import type { SimulatorHandle } from '../shared/simulator';
import type { World } from '../world/world';
import { buildTables, editedValues, makeRow, pushRecordsCsv, pushRecordsJson, sfDateTime, SOBJECTS, type SimRow, type SObjectName, type Tables } from './data';
import { parseSoql, runSoql, SoqlError, type SoqlQuery } from './soql';

export interface SalesforceSimulatorOptions {
  world: World;
  port?: number;
  host?: string;
  credentials: { clientId: string; clientSecret: string };
  seed?: number;
  /** The org id (sourceInstanceID), 18 characters. */
  orgId?: string;
  /** Objects this org does not have (a feature not enabled, e.g. AccountContactRelation). */
  omitObjects?: SObjectName[];
  /** Fields this org does not have (e.g. CurrencyIsoCode without multi-currency, DunsNumber without Data.com). */
  omitFields?: string[];
  /** Daily API request allocation (rolling 24 h in Salesforce; here reset at 00:00 UTC sim time). */
  dailyApiLimit?: number;
  /** Idle time after which a session (access token) is invalid (org session policy; default 2 h). */
  sessionTimeoutMs?: number;
  /** Open query cursors per user; opening one more releases the oldest (Salesforce: 10). */
  maxOpenCursors?: number;
  /** A cursor unused this long is released (INVALID_QUERY_LOCATOR afterwards; default 15 min). */
  cursorIdleMs?: number;
  /** How long a bulk query job runs on the sim clock before JobComplete. */
  bulkJobMs?: number;
  /** How far in the past a `late-commit` row's SystemModstamp lies. */
  lateCommitLagMs?: number;
  /** Oldest and newest API versions served. */
  minApiVersion?: number;
  maxApiVersion?: number;
  /** Window of the request counters (stats().maxCallsInWindow); default 60 s. */
  statsWindowMs?: number;
  /** Objects `describe` reports as not replicateable (no Get Updated / Get Deleted). */
  nonReplicateable?: SObjectName[];
  /** Entries the org's delete log holds before the background purge drops the oldest (Salesforce: 15,000 × licenses). */
  deleteLogLimit?: number;
  /** How far latestDateCovered stays behind when the `replication-lag` fault fires (default 10 min). */
  replicationLagMs?: number;
}

/** Which rows `emptyRecycleBin` (deleted ones) / `hardDelete` (live ones) remove: of every object or one; the given ids, or `count` seeded picks, or all. */
export interface RemoveRequest {
  object?: SObjectName;
  ids?: string[];
  count?: number;
  seed?: number;
}

export interface SalesforceSimulator extends SimulatorHandle {
  /** The org's rows (tests read ids and fields from here). */
  tables: Tables;
  /** Daily API requests used so far. */
  apiUsage(): { used: number; max: number };
  /** Empties the recycle bin (Database.emptyRecycleBin): deleted rows leave every query, the delete log keeps them. Returns the ids removed. */
  emptyRecycleBin(req?: RemoveRequest): string[];
  /** Deletes live rows without the recycle bin (Bulk API hardDelete): gone from every query, written to the delete log. Returns the ids. */
  hardDelete(req: RemoveRequest): string[];
}

const XDM_CLASS: Record<SObjectName, XdmClassName> = {
  Account: 'account',
  Contact: 'person',
  Lead: 'person',
  Opportunity: 'opportunity',
  OpportunityContactRole: 'opportunity-person',
  AccountContactRelation: 'account-person',
  Campaign: 'campaign',
  CampaignMember: 'campaign-member',
};

const VENDOR_STATUS: Record<string, number> = {
  INVALID_REPLICATION_DATE: 400,
  EXCEEDED_ID_LIMIT: 400,
  INVALID_TYPE: 400,
  INVALID_SESSION_ID: 401,
  REQUEST_LIMIT_EXCEEDED: 403,
  INSUFFICIENT_ACCESS: 403,
  INVALID_QUERY_LOCATOR: 400,
  INVALID_FIELD: 400,
  MALFORMED_QUERY: 400,
  QUERY_TIMEOUT: 400,
  NOT_FOUND: 404,
  SERVER_UNAVAILABLE: 503,
  UNKNOWN_EXCEPTION: 500,
};

const VENDOR_MESSAGE: Record<string, string> = {
  INVALID_SESSION_ID: 'Session expired or invalid',
  REQUEST_LIMIT_EXCEEDED: 'ConcurrentPerOrgLongTxn Limit exceeded.',
  INVALID_QUERY_LOCATOR: 'invalid query locator',
  QUERY_TIMEOUT: 'Your query request was running for too long.',
  SERVER_UNAVAILABLE: 'Server temporarily unavailable',
};

interface Cursor {
  id: string;
  kind: 'query' | 'queryAll';
  query: SoqlQuery;
  rows: SimRow[];
  batchSize: number;
  lastUsed: number;
}

interface BulkJob {
  id: string;
  operation: 'query' | 'queryAll';
  object: SObjectName;
  query: SoqlQuery;
  rows: SimRow[];
  apiVersion: string;
  lineEnding: 'LF' | 'CRLF';
  createdAt: number;
  durationMs: number;
  fails: boolean;
  aborted: boolean;
}

const jobRequestSchema = z.strictObject({
  operation: z.enum(['query', 'queryAll']),
  query: z.string().min(1),
  contentType: z.literal('CSV').optional(),
  columnDelimiter: z.enum(['COMMA', 'TAB', 'PIPE', 'SEMICOLON', 'CARET', 'BACKQUOTE']).optional(),
  lineEnding: z.enum(['LF', 'CRLF']).optional(),
});

const MINUTE = 60_000;
const DAY = 86_400_000;
const removeSchema = z.strictObject({ object: z.enum(SOBJECTS as [SObjectName, ...SObjectName[]]).optional(), ids: z.array(z.string()).optional(), count: z.int().min(0).optional(), seed: z.int().optional() });

/** One entry of the org's delete log. */
interface DeleteLogEntry {
  id: string;
  ms: number;
}

const CURSOR_PATH = /^\/services\/data\/(v\d+\.\d)\/(query|queryAll)\/([A-Za-z0-9]+)-(\d+)$/;

export async function startSalesforceSimulator(opts: SalesforceSimulatorOptions): Promise<SalesforceSimulator> {
  const orgId = opts.orgId ?? '00D5e000000AbCdEAF';
  const dailyApiLimit = opts.dailyApiLimit ?? 100_000;
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 2 * 3_600_000;
  const maxOpenCursors = opts.maxOpenCursors ?? 10;
  const cursorIdleMs = opts.cursorIdleMs ?? 15 * 60_000;
  const bulkJobMs = opts.bulkJobMs ?? 3_000;
  const lateCommitLagMs = opts.lateCommitLagMs ?? 60_000;
  const minVersion = opts.minApiVersion ?? 31;
  const maxVersion = opts.maxApiVersion ?? 64;
  const clock = new SimClock();
  const faults = new FaultController(opts.seed ?? 1);
  const stats = new RequestStats(opts.statsWindowMs ?? 60_000);
  const tables = buildTables(opts.world);
  // Org features this org lacks: objects it does not have (INVALID_TYPE, describe 404) and fields
  // it does not have (INVALID_FIELD), e.g. CurrencyIsoCode without multi-currency.
  for (const name of opts.omitObjects ?? []) delete (tables as Partial<Tables>)[name];
  for (const table of Object.values(tables)) table.fields = table.fields.filter((f) => !(opts.omitFields ?? []).includes(f.name));
  const objects = SOBJECTS.filter((n) => tables[n]);
  const nonReplicateable = new Set(opts.nonReplicateable ?? []);
  const deleteLogLimit = opts.deleteLogLimit ?? Infinity;
  const replicationLagMs = opts.replicationLagMs ?? 10 * MINUTE;
  // The delete log per object, oldest first; what the background purge dropped, per object.
  const deleteLog = Object.fromEntries(objects.map((n) => [n, [] as DeleteLogEntry[]])) as Record<SObjectName, DeleteLogEntry[]>;
  const purgedThrough: Partial<Record<SObjectName, number>> = {};
  // Replication is available since the org's first record.
  let replicationSince = Infinity;
  for (const name of objects) {
    for (const row of tables[name].rows) if (row.ms.CreatedDate! < replicationSince) replicationSince = row.ms.CreatedDate!;
  }
  replicationSince = Math.floor(Math.min(replicationSince, clock.now()) / MINUTE) * MINUTE;
  const random = seededRandom((opts.seed ?? 1) * 7919 + 17);
  const tokens = new Map<string, number>();
  const cursors = new Map<string, Cursor>();
  const jobs = new Map<string, BulkJob>();
  let apiDay = utcDay(clock.now());
  let apiUsed = 0;
  let bulkJobsToday = 0;
  let mutations = 0;
  let url = '';

  const newId = (prefix: string) => {
    const body = randomBytes(12).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(12, 'A').slice(0, 12);
    return `${prefix}${body}`.slice(0, 15) + 'AAA';
  };
  // Every API answer carries the daily usage and, like any HTTP server's, the time (the sim clock's).
  const apiHeaders = () => ({ 'sforce-limit-info': `api-usage=${apiUsed}/${dailyApiLimit}`, date: new Date(clock.now()).toUTCString() });

  function sfError(reply: FastifyReply, status: number, errorCode: string, message: string, fields?: string[]): FastifyReply {
    return reply
      .code(status)
      .headers(apiHeaders())
      .type('application/json')
      .send(JSON.stringify([{ message, errorCode, ...(fields ? { fields } : {}) }]));
  }

  function sendJson(request: FastifyRequest, reply: FastifyReply, body: string, status = 200): FastifyReply {
    return sendBody(request, reply, body, 'application/json;charset=UTF-8', status, apiHeaders());
  }

  function renderVendorFault(code: string, message: string | undefined, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const status = VENDOR_STATUS[code] ?? 400;
    return sfError(reply, status, code, message ?? VENDOR_MESSAGE[code] ?? code);
  }

  /* ----------------------------------------------------------------------------------- */
  /* Rows as JSON and CSV                                                                  */
  /* ----------------------------------------------------------------------------------- */

  function corrupt(table: SObjectName, row: SimRow): SimRow {
    const values = { ...row.values };
    if (table === 'Contact' || table === 'Lead') values.Email = 'not an email';
    else values.CreatedDate = '2026-13-45T25:61:00.000+0000';
    return { Id: row.Id, values, ms: row.ms };
  }

  /** Rows of a page, with `malformed-row` faults applied (asked per row). */
  function servedRows(table: SObjectName, rows: SimRow[], path: string): SimRow[] {
    if (!faults.list().some((r) => r.action.kind === 'data' && r.action.name === 'malformed-row')) return rows;
    return rows.map((r) => (faults.dataFault('malformed-row', 'GET', path) ? corrupt(table, r) : r));
  }

  function queryPage(request: FastifyRequest, reply: FastifyReply, cursor: Cursor, offset: number, version: string, path: string): FastifyReply {
    const q = cursor.query;
    const end = Math.min(offset + cursor.batchSize, cursor.rows.length);
    const done = end >= cursor.rows.length;
    const rows = servedRows(q.table.name, cursor.rows.slice(offset, end), path);
    if (done) cursors.delete(cursor.id);
    else cursor.lastUsed = clock.now();
    const next = done ? '' : `,"nextRecordsUrl":"/services/data/${version}/${cursor.kind}/${cursor.id}-${end}"`;
    const parts = [`{"totalSize":${cursor.rows.length},"done":${done}${next},"records":[`];
    pushRecordsJson(parts, q.table.name, version, q.fields, rows);
    parts.push(']}');
    return sendJson(request, reply, parts.join(''));
  }

  function batchSizeOf(request: FastifyRequest): number | null {
    const header = request.headers['sforce-query-options'];
    if (typeof header !== 'string') return null;
    const m = /(?:^|,)\s*batchSize\s*=\s*(\d+)\s*(?:,|$)/i.exec(header);
    if (!m) return null;
    // Salesforce: 200 to 2,000, and the size is a request, not a promise.
    return Math.min(2000, Math.max(200, Number(m[1])));
  }

  function openCursor(kind: 'query' | 'queryAll', query: SoqlQuery, rows: SimRow[], batchSize: number): Cursor {
    const now = clock.now();
    for (const [id, c] of cursors) if (now - c.lastUsed > cursorIdleMs) cursors.delete(id);
    while (cursors.size >= maxOpenCursors) cursors.delete(cursors.keys().next().value!);
    const cursor: Cursor = { id: newId('01g'), kind, query, rows, batchSize, lastUsed: now };
    cursors.set(cursor.id, cursor);
    return cursor;
  }

  /* ----------------------------------------------------------------------------------- */
  /* Bulk jobs                                                                             */
  /* ----------------------------------------------------------------------------------- */

  function jobState(job: BulkJob): 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted' {
    if (job.aborted) return 'Aborted';
    const age = clock.now() - job.createdAt;
    if (age < Math.min(500, job.durationMs / 10)) return 'UploadComplete';
    if (age < job.durationMs) return 'InProgress';
    return job.fails ? 'Failed' : 'JobComplete';
  }

  function jobInfo(job: BulkJob, full: boolean): Record<string, unknown> {
    const state = jobState(job);
    const info: Record<string, unknown> = {
      id: job.id,
      operation: job.operation,
      object: job.object,
      createdById: '0055e0000000001AAA',
      createdDate: sfDateTime(job.createdAt),
      systemModstamp: sfDateTime(Math.min(clock.now(), job.createdAt + job.durationMs)),
      state,
      concurrencyMode: 'Parallel',
      contentType: 'CSV',
      apiVersion: Number(job.apiVersion.slice(1)),
      lineEnding: job.lineEnding,
      columnDelimiter: 'COMMA',
    };
    if (full) {
      info.jobType = 'V2Query';
      info.numberRecordsProcessed = state === 'JobComplete' ? job.rows.length : 0;
      info.retries = 0;
      info.totalProcessingTime = state === 'JobComplete' || state === 'Failed' ? job.durationMs : 0;
      if (state === 'Failed') info.errorMessage = 'InternalServerError : Failed to process query: retried 15 times without success';
    }
    return info;
  }

  /* ----------------------------------------------------------------------------------- */
  /* Routes                                                                                */
  /* ----------------------------------------------------------------------------------- */

  async function routes(app: FastifyInstance): Promise<void> {
    app.addHook('preHandler', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (!path.startsWith('/services/data')) return;
      const m = /^\/services\/data\/v(\d+)\.(\d)(?:\/|$)/.exec(path);
      if (path !== '/services/data' && path !== '/services/data/' && (!m || m[2] !== '0' || Number(m[1]) < minVersion || Number(m[1]) > maxVersion)) {
        return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      }
      const auth = request.headers.authorization;
      const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : null;
      const lastUsed = token === null ? undefined : tokens.get(token);
      const now = clock.now();
      if (lastUsed === undefined || now - lastUsed > sessionTimeoutMs) {
        if (token !== null) tokens.delete(token);
        return sfError(reply, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
      }
      tokens.set(token!, now);
      if (utcDay(now) !== apiDay) {
        apiDay = utcDay(now);
        apiUsed = 0;
        bulkJobsToday = 0;
      }
      if (apiUsed >= dailyApiLimit) return sfError(reply, 403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
      apiUsed++;
      reply.headers(apiHeaders());
    });

    app.post('/services/oauth2/token', async (request, reply) => {
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        return reply.code(400).send({ error: 'invalid_request', error_description: 'request must be application/x-www-form-urlencoded' });
      }
      const body = (request.body ?? {}) as Record<string, string>;
      if (body.grant_type !== 'client_credentials') {
        return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'grant type not supported' });
      }
      if (body.client_id !== opts.credentials.clientId || body.client_secret !== opts.credentials.clientSecret) {
        return reply.code(400).send({ error: 'invalid_client', error_description: 'invalid client credentials' });
      }
      const token = `${orgId.slice(0, 15)}!AR${randomBytes(36).toString('base64url')}`;
      tokens.set(token, clock.now());
      return reply.send({
        access_token: token,
        signature: randomBytes(32).toString('base64'),
        token_format: 'opaque',
        scope: 'api',
        instance_url: url,
        id: `https://login.salesforce.com/id/${orgId}/0055e0000000001AAA`,
        token_type: 'Bearer',
        issued_at: String(clock.now()),
      });
    });

    app.get('/services/data', async () => versions());
    app.get('/services/data/', async () => versions());

    app.get('/services/data/:version/limits', async (request, reply) =>
      sendJson(
        request,
        reply,
        JSON.stringify({
          DailyApiRequests: { Max: dailyApiLimit, Remaining: Math.max(0, dailyApiLimit - apiUsed) },
          DailyBulkV2QueryJobs: { Max: 10_000, Remaining: 10_000 - bulkJobsToday },
          DailyBulkV2QueryFileStorageMB: { Max: 976_562, Remaining: 976_562 },
        }),
      ),
    );

    const runQuery = (kind: 'query' | 'queryAll') => async (request: FastifyRequest, reply: FastifyReply) => {
      const { version } = request.params as { version: string };
      const q = (request.query as Record<string, unknown>).q;
      if (typeof q !== 'string' || q.trim() === '') return sfError(reply, 400, 'MALFORMED_QUERY', 'A query string has to be specified');
      let query: SoqlQuery;
      try {
        query = parseSoql(q, tables);
      } catch (err) {
        if (err instanceof SoqlError) return sfError(reply, 400, err.errorCode, err.message);
        throw err;
      }
      const rows = runSoql(query, kind === 'queryAll');
      if (query.count) return sendJson(request, reply, JSON.stringify({ totalSize: rows.length, done: true, records: [] }));
      const batchSize = batchSizeOf(request) ?? 2000;
      const cursor: Cursor = rows.length > batchSize ? openCursor(kind, query, rows, batchSize) : { id: '', kind, query, rows, batchSize, lastUsed: clock.now() };
      return queryPage(request, reply, cursor, 0, version, request.url.split('?')[0]!);
    };
    app.get('/services/data/:version/query', runQuery('query'));
    app.get('/services/data/:version/queryAll', runQuery('queryAll'));

    const nextPage = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0]!;
      const m = CURSOR_PATH.exec(path);
      const cursor = m ? cursors.get(m[3]!) : undefined;
      const offset = m ? Number(m[4]) : NaN;
      if (!m || !cursor || cursor.kind !== m[2] || clock.now() - cursor.lastUsed > cursorIdleMs || offset <= 0 || offset >= cursor.rows.length) {
        if (cursor && clock.now() - cursor.lastUsed > cursorIdleMs) cursors.delete(cursor.id);
        return sfError(reply, 400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
      }
      const batch = batchSizeOf(request);
      if (batch !== null) cursor.batchSize = batch;
      return queryPage(request, reply, cursor, offset, m[1]!, path);
    };
    app.get('/services/data/:version/query/:locator', nextPage);
    app.get('/services/data/:version/queryAll/:locator', nextPage);

    app.get('/services/data/:version/sobjects/:object/describe', async (request, reply) => {
      const { object } = request.params as { object: string };
      const name = objects.find((n) => n === object);
      if (!name) return sfError(reply, 404, 'NOT_FOUND', `The requested resource does not exist`);
      return sendJson(
        request,
        reply,
        JSON.stringify({ name, queryable: true, retrieveable: true, replicateable: !nonReplicateable.has(name), fields: tables[name].fields.map((d) => ({ name: d.name, type: d.type, nillable: d.name !== 'Id' && d.type !== 'boolean' })) }),
      );
    });

    // Replication API (REST API Developer Guide, sObject Get Updated / Get Deleted; SOAP API
    // getUpdated() / getDeleted()): ids changed / deleted in a window. Seconds are ignored; start
    // must precede end by more than one minute; start may lie at most 30 (updated) or 15 (deleted)
    // days back; at most 600,000 ids; latestDateCovered is the next start. Error messages are the
    // simulator's own (Salesforce's wording is not documented).
    const replication = (kind: 'updated' | 'deleted') => async (request: FastifyRequest, reply: FastifyReply) => {
      const { object } = request.params as { object: string };
      const name = objects.find((n) => n === object);
      if (!name) return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      // [unverified] the code Salesforce answers for an object that is not replicateable.
      if (nonReplicateable.has(name)) return sfError(reply, 400, 'INVALID_TYPE', `sObject type '${name}' is not replicateable`);
      const params = request.query as Record<string, unknown>;
      const start = typeof params.start === 'string' ? Date.parse(params.start) : NaN;
      const end = typeof params.end === 'string' ? Date.parse(params.end) : NaN;
      if (!Number.isFinite(start) || !Number.isFinite(end)) return sfError(reply, 400, 'INVALID_REPLICATION_DATE', 'start and end must be ISO 8601 date-times');
      const now = clock.now();
      const from = Math.floor(start / MINUTE) * MINUTE;
      const to = Math.floor(Math.min(end, now) / MINUTE) * MINUTE;
      const maxDays = kind === 'updated' ? 30 : 15;
      if (from < now - maxDays * DAY) return sfError(reply, 400, 'INVALID_REPLICATION_DATE', `startDate cannot be more than ${maxDays} days ago`);
      if (Math.floor(end / MINUTE) * MINUTE - from <= MINUTE) return sfError(reply, 400, 'INVALID_REPLICATION_DATE', 'startDate must precede endDate by more than one minute');
      if (kind === 'updated') {
        const hits = tables[name].rows.filter((r) => r.values.IsDeleted !== true && r.ms.SystemModstamp! >= from && r.ms.SystemModstamp! < to);
        if (hits.length > 600_000) return sfError(reply, 400, 'EXCEEDED_ID_LIMIT', 'record limit reached. narrow your start and end dates');
        return sendJson(request, reply, JSON.stringify({ ids: hits.map((r) => r.Id), latestDateCovered: sfDateTime(to) }));
      }
      purgeDeleteLog(now);
      const purged = purgedThrough[name];
      if (from < replicationSince) return sfError(reply, 400, 'INVALID_REPLICATION_DATE', 'startDate before org replication enabled date');
      if (purged !== undefined && from <= purged) return sfError(reply, 400, 'INVALID_REPLICATION_DATE', `the delete log was purged up to ${sfDateTime(purged)}: do a full pull of the table`);
      const hits = deleteLog[name].filter((e) => e.ms >= from && e.ms < to);
      if (hits.length > 600_000) return sfError(reply, 400, 'EXCEEDED_ID_LIMIT', 'record limit reached. narrow your start and end dates');
      const lag = faults.dataFault('replication-lag', 'GET', request.url.split('?')[0]!) ? replicationLagMs : 0;
      const covered = Math.max(from, Math.floor((to - lag) / MINUTE) * MINUTE);
      return sendJson(
        request,
        reply,
        JSON.stringify({
          deletedRecords: hits.map((e) => ({ id: e.id, deletedDate: sfDateTime(e.ms) })),
          earliestDateAvailable: sfDateTime(purged === undefined ? replicationSince : Math.ceil(purged / MINUTE) * MINUTE),
          latestDateCovered: sfDateTime(covered),
        }),
      );
    };
    app.get('/services/data/:version/sobjects/:object/updated', replication('updated'));
    app.get('/services/data/:version/sobjects/:object/updated/', replication('updated'));
    app.get('/services/data/:version/sobjects/:object/deleted', replication('deleted'));
    app.get('/services/data/:version/sobjects/:object/deleted/', replication('deleted'));

    app.post('/services/data/:version/jobs/query', async (request, reply) => {
      const { version } = request.params as { version: string };
      if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return sfError(reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
      const parsed = jobRequestSchema.safeParse(request.body);
      if (!parsed.success) return sfError(reply, 400, 'JSON_PARSER_ERROR', `Invalid job request: ${parsed.error.issues[0]?.message}`);
      if ((parsed.data.columnDelimiter ?? 'COMMA') !== 'COMMA') return sfError(reply, 400, 'API_ERROR', 'the simulator writes COMMA-delimited results only');
      let query: SoqlQuery;
      try {
        query = parseSoql(parsed.data.query, tables);
      } catch (err) {
        if (err instanceof SoqlError) return sfError(reply, 400, err.errorCode, err.message);
        throw err;
      }
      if (query.count) return sfError(reply, 400, 'API_ERROR', 'Aggregate Relationships not supported in Bulk Query');
      if (query.fields.length === 0) return sfError(reply, 400, 'MALFORMED_QUERY', 'no fields selected');
      const slow = faults.dataFault('slow-bulk-job', 'POST', request.url);
      const job: BulkJob = {
        id: newId('750'),
        operation: parsed.data.operation,
        object: query.table.name,
        query,
        rows: runSoql(query, parsed.data.operation === 'queryAll'),
        apiVersion: version,
        lineEnding: parsed.data.lineEnding ?? 'LF',
        createdAt: clock.now(),
        durationMs: bulkJobMs * (slow ? 20 : 1),
        fails: faults.dataFault('bulk-job-failed', 'POST', request.url),
        aborted: false,
      };
      jobs.set(job.id, job);
      bulkJobsToday++;
      return sendJson(request, reply, JSON.stringify(jobInfo(job, false)));
    });

    app.get('/services/data/:version/jobs/query', async (request, reply) =>
      sendJson(request, reply, JSON.stringify({ done: true, records: [...jobs.values()].map((j) => jobInfo(j, false)), nextRecordsUrl: null })),
    );

    const findJob = (request: FastifyRequest): BulkJob | undefined => jobs.get((request.params as { id: string }).id);

    app.get('/services/data/:version/jobs/query/:id', async (request, reply) => {
      const job = findJob(request);
      if (!job) return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      return sendJson(request, reply, JSON.stringify(jobInfo(job, true)));
    });

    app.patch('/services/data/:version/jobs/query/:id', async (request, reply) => {
      const job = findJob(request);
      if (!job) return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      const body = z.strictObject({ state: z.literal('Aborted') }).safeParse(request.body);
      if (!body.success) return sfError(reply, 400, 'INVALIDJOBSTATE', 'the only state a job can be set to is Aborted');
      const state = jobState(job);
      if (state === 'JobComplete' || state === 'Failed') return sfError(reply, 400, 'INVALIDJOBSTATE', `Job is already ${state}`);
      job.aborted = true;
      return sendJson(request, reply, JSON.stringify(jobInfo(job, false)));
    });

    app.delete('/services/data/:version/jobs/query/:id', async (request, reply) => {
      const job = findJob(request);
      if (!job) return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      const state = jobState(job);
      if (state === 'UploadComplete' || state === 'InProgress') return sfError(reply, 400, 'INVALIDJOBSTATE', 'Abort the job before deleting it');
      jobs.delete(job.id);
      return reply.code(204).headers(apiHeaders()).send();
    });

    app.get('/services/data/:version/jobs/query/:id/results', async (request, reply) => {
      const { version } = request.params as { version: string };
      const job = findJob(request);
      if (!job) return sfError(reply, 404, 'NOT_FOUND', 'The requested resource does not exist');
      if (version !== job.apiVersion) return sfError(reply, 409, 'INVALIDJOBSTATE', `Job results must be retrieved with API version ${job.apiVersion}`);
      const state = jobState(job);
      if (state !== 'JobComplete') return sfError(reply, 412, 'INVALIDJOBSTATE', `Job is not complete: ${state}`);
      const params = request.query as Record<string, unknown>;
      let maxRecords = Math.min(job.rows.length, 100_000);
      if (params.maxRecords !== undefined) {
        const n = Number(params.maxRecords);
        if (typeof params.maxRecords !== 'string' || !/^\d+$/.test(params.maxRecords) || n < 1) return sfError(reply, 400, 'INVALIDQUERYPARAMETER', 'maxRecords must be a positive integer');
        maxRecords = n;
      }
      let offset = 0;
      if (params.locator !== undefined && params.locator !== '') {
        const decoded = typeof params.locator === 'string' ? Buffer.from(params.locator, 'base64').toString('utf8') : '';
        if (!/^\d+$/.test(decoded) || Number(decoded) <= 0 || Number(decoded) >= job.rows.length || Buffer.from(decoded).toString('base64').replace(/=+$/, '') !== params.locator) {
          return sfError(reply, 400, 'INVALIDLOCATOR', 'Invalid locator');
        }
        offset = Number(decoded);
      }
      const end = Math.min(job.rows.length, offset + Math.max(1, maxRecords));
      const fields = job.query.fields;
      const nl = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
      const rows = servedRows(job.object, job.rows.slice(offset, end), request.url.split('?')[0]!);
      const parts = [fields.map((d) => `"${d.name}"`).join(','), nl];
      pushRecordsCsv(parts, fields, rows, nl);
      const body = parts.join('');
      const locator = end >= job.rows.length ? 'null' : Buffer.from(String(end)).toString('base64').replace(/=+$/, '');
      return sendBody(request, reply, body, 'text/csv', 200, { ...apiHeaders(), 'sforce-locator': locator, 'sforce-numberofrecords': String(rows.length) });
    });
  }

  function versions() {
    const out = [];
    for (let v = minVersion; v <= maxVersion; v++) out.push({ label: `v${v}.0`, url: `/services/data/v${v}.0`, version: `${v}.0` });
    return out;
  }

  const server = await startSimulatorServer({
    name: 'salesforce',
    host: opts.host,
    port: opts.port,
    clock,
    faults,
    stats,
    renderVendorFault,
    routeOf: (path) =>
      path
        .replace(/\/(query|queryAll)\/[A-Za-z0-9]+-\d+$/, '/$1/{locator}')
        .replace(/\/jobs\/query\/[A-Za-z0-9]+/, '/jobs/query/{id}')
        .replace(/\/sobjects\/[A-Za-z]+\//, '/sobjects/{object}/')
        .replace(/\/$/, ''),
    routes,
    control: {
      mutate: (body) => mutate(z.strictObject({ update: z.int().min(0).optional(), delete: z.int().min(0).optional(), seed: z.int().optional() }).parse(body ?? {})),
      emptyRecycleBin: (body) => ({ removed: emptyRecycleBin(removeSchema.parse(body ?? {})) }),
      hardDelete: (body) => ({ removed: hardDelete(removeSchema.parse(body ?? {})) }),
    },
  });
  url = server.url;

  function mutate(m: { update?: number; delete?: number; seed?: number }): { updated: number; deleted: number } {
    mutations++;
    const r = m.seed === undefined ? random : seededRandom(m.seed);
    let updated = 0;
    let deleted = 0;
    for (const name of objects) {
      const table = tables[name];
      const live: number[] = [];
      table.rows.forEach((row, i) => {
        if (row.values.IsDeleted !== true) live.push(i);
      });
      // A seeded shuffle of the first update + delete live rows.
      const want = Math.min(live.length, (m.update ?? 0) + (m.delete ?? 0));
      for (let i = 0; i < want; i++) {
        const j = i + Math.floor(r() * (live.length - i));
        [live[i], live[j]] = [live[j]!, live[i]!];
      }
      const now = clock.now();
      for (let k = 0; k < want; k++) {
        const i = live[k]!;
        const row = table.rows[i]!;
        const isUpdate = k < Math.min(m.update ?? 0, want);
        const late = isUpdate && faults.dataFault('late-commit', '*', `/${name}`);
        const stamp = sfDateTime(late ? now - lateCommitLagMs : now);
        const values = isUpdate ? editedValues(name, row.values, mutations) : { ...row.values, IsDeleted: true };
        table.rows[i] = makeRow(name, { ...values, LastModifiedDate: stamp, SystemModstamp: stamp });
        if (isUpdate) updated++;
        else {
          deleted++;
          logDelete(name, row.Id, Date.parse(`${stamp.slice(0, 23)}Z`));
        }
      }
      if (want > 0) table.sorted = null;
    }
    return { updated, deleted };
  }

  function logDelete(name: SObjectName, id: string, ms: number): void {
    const log = deleteLog[name];
    let at = log.length;
    while (at > 0 && log[at - 1]!.ms > ms) at--;
    log.splice(at, 0, { id, ms });
  }

  /** Salesforce's background purge of the delete log: oldest entries first, only those older than two hours, while over the limit. */
  function purgeDeleteLog(now: number): void {
    let total = objects.reduce((n, name) => n + deleteLog[name].length, 0);
    while (total > deleteLogLimit) {
      let oldest: SObjectName | null = null;
      for (const name of objects) {
        const head = deleteLog[name][0];
        if (head && head.ms < now - 2 * 3_600_000 && (oldest === null || head.ms < deleteLog[oldest][0]!.ms)) oldest = name;
      }
      if (oldest === null) return;
      const dropped = deleteLog[oldest].shift()!;
      purgedThrough[oldest] = Math.max(purgedThrough[oldest] ?? -Infinity, dropped.ms);
      total--;
    }
  }

  /** Removes rows from a table for good (queries no longer see them); open cursors and jobs keep their snapshots. */
  function removeRows(name: SObjectName, ids: Set<string>): void {
    const table = tables[name];
    table.rows = table.rows.filter((r) => !ids.has(r.Id));
    table.index = new Map(table.rows.map((r, i) => [r.Id, i]));
    table.sorted = null;
  }

  /** The rows of each object a removal applies to: the given ids, or `count` seeded picks among `candidates`. */
  function pick(req: RemoveRequest, candidates: (row: SimRow) => boolean): Map<SObjectName, Set<string>> {
    const r = req.seed === undefined ? random : seededRandom(req.seed);
    const out = new Map<SObjectName, Set<string>>();
    for (const name of req.object ? [req.object] : objects) {
      const rows = (tables[name]?.rows ?? []).filter(candidates);
      let chosen = rows.map((row) => row.Id);
      if (req.ids) chosen = chosen.filter((id) => req.ids!.includes(id));
      else if (req.count !== undefined) {
        for (let i = 0; i < Math.min(req.count, chosen.length); i++) {
          const j = i + Math.floor(r() * (chosen.length - i));
          [chosen[i], chosen[j]] = [chosen[j]!, chosen[i]!];
        }
        chosen = chosen.slice(0, req.count);
      }
      if (chosen.length) out.set(name, new Set(chosen));
    }
    return out;
  }

  function emptyRecycleBin(req: RemoveRequest = {}): string[] {
    const removed: string[] = [];
    for (const [name, ids] of pick(req, (row) => row.values.IsDeleted === true)) {
      removeRows(name, ids);
      removed.push(...ids);
    }
    return removed;
  }

  function hardDelete(req: RemoveRequest): string[] {
    const removed: string[] = [];
    const now = Math.floor(clock.now() / 1000) * 1000;
    for (const [name, ids] of pick(req, (row) => row.values.IsDeleted !== true)) {
      removeRows(name, ids);
      for (const id of ids) logDelete(name, id, now);
      removed.push(...ids);
    }
    return removed;
  }

  return {
    url,
    instanceId: orgId,
    faults,
    clock,
    tables,
    stats: () => stats.snapshot(),
    /** Rows queryAll returns; records purged or hard-deleted are not counted (a sync reports those it can still see in the delete log as deletion markers). */
    groundTruth() {
      const out: Partial<Record<XdmClassName, number>> = {};
      for (const name of objects) out[XDM_CLASS[name]] = (out[XDM_CLASS[name]] ?? 0) + tables[name].rows.length;
      return out;
    },
    mutate,
    apiUsage: () => ({ used: apiUsed, max: dailyApiLimit }),
    emptyRecycleBin,
    hardDelete,
    stop: () => server.close(),
  };
}

function utcDay(ms: number): number {
  return Math.floor(ms / 86_400_000);
}
