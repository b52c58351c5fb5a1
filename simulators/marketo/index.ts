/**
 * Marketo Engage simulator (connector-apis.md §6.1) serving one instance's projection of the world:
 *
 *   POST|GET /identity/oauth/token                       client credentials; same token until expiry (3600 s, sim clock)
 *   POST /bulk/v1/{leads|activities|program/members}/export/create.json, /{id}/enqueue.json, /{id}/cancel.json
 *   GET  /bulk/v1/.../export/{id}/status.json, /{id}/file.json (Range → 206 + Content-Range; 404 until Completed)
 *   GET  /bulk/v1/.../export.json                        recent jobs
 *   GET  /rest/v1/activities/pagingtoken.json, /rest/v1/activities/deletedleads.json
 *   GET  /rest/v1/lists.json, /rest/v1/lists/{id}/leads.json
 *   GET  /rest/v1/companies.json, /namedaccounts.json, /opportunities.json, /opportunities/roles.json  (filter only,
 *        by the documented searchable fields), /rest/v1/opportunities/roles/describe.json
 *   GET  /rest/asset/v1/programs.json                    offset/maxReturn, earliestUpdatedAt/latestUpdatedAt
 *
 * Marketo's envelope everywhere (HTTP 200 + success:false + string codes): 600/601/602 token
 * errors, 606 past 100 calls in 20 s and 615 past 10 in flight (enforced from the request
 * counters on the simulator clock), 1003 bad parameters, 1011 a filterType that is not searchable,
 * 1018 opportunity-role APIs on a subscription with native CRM sync (`nativeCrmSync`), 1029 job
 * queue / export quota, 1035 missing updatedAt filter, HTTP 414 past 8 KB of URI. The identity call
 * reads its credentials from the query string only (401 otherwise). Data faults
 * (`faults.add({action: {kind: 'data', name}})`): `malformed-row`, `short-file`, `job-failed`,
 * `file-missing`. Test control: `POST /__sim/mutate` (changes as a user would) and `/__sim/remove`
 * (deletes companies, opportunities, named accounts, list members — deletes Marketo never reports).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { SimClock } from '../shared/clock';
import { FaultController } from '../shared/faults';
import { RequestStats } from '../shared/request-stats';
import { sendBody, startSimulatorServer } from '../shared/server';
import type { SimulatorHandle } from '../shared/simulator';
import type { World } from '../world/world';
import { BulkError, BulkJobs, type ExportType } from './bulk';
import { LEAD_FIELDS, MarketoData, assetDate, mktoDate, type MktoRecord } from './data';

export interface MarketoSimulatorOptions {
  world: World;
  port?: number;
  credentials: { clientId: string; clientSecret: string };
  seed?: number;
  /** Which Marketo instance of the world (index into world.options.marketoShares). Default 0. */
  instanceIndex?: number;
  /** Munchkin id, e.g. `123-ABC-456`. Default derived from the instance index. */
  munchkinId?: string;
  /** The Salesforce org both Marketo instances sync with (ids on leads are that org's). */
  salesforceOrgId?: string;
  /** Simulator clock start (ISO). Default: the later of the world's `now` and the wall clock. */
  clockStart?: string;
  /** Sim-seconds each bulk job step takes (Queued → Processing → Completed). Default 60. */
  jobSecondsPerStatus?: number;
  maxProcessingJobs?: number;
  maxQueuedJobs?: number;
  /** Daily bulk export quota in bytes. Default 500 MB. */
  dailyExportBytes?: number;
  /** Whether the subscription has the `updatedAt` bulk filter (false → 1035). Default true. */
  updatedAtFilter?: boolean;
  maxCallsPer20s?: number;
  maxConcurrent?: number;
  tokenLifetimeSeconds?: number;
  /** Days Get Deleted Leads keeps deletes. Default 14. */
  deletedLeadRetentionDays?: number;
  /**
   * The subscription's native CRM sync. With one, the opportunity-role APIs answer 1018 (CRM
   * Enabled) and opportunities and companies are read-only (the simulator has no writes anyway).
   * Default null.
   */
  nativeCrmSync?: 'salesforce' | 'dynamics' | null;
}

export interface MarketoSimulator extends SimulatorHandle {
  /** Connector settings that fit this simulator (initialLoadFrom = the world's start, crmInstanceId). */
  suggestedSettings: Record<string, unknown>;
  /** The projected data (tests read it for expectations). */
  data: MarketoData;
  /** Bytes exported today (the daily quota meter). */
  exportedToday(): number;
}

const DEFAULT_MUNCHKINS = ['123-ABC-456', '234-BCD-567', '345-CDE-678', '456-DEF-789'];
const DAY = 86_400_000;
/**
 * The searchable fields each describe call documents (searchableFields, single-field entries; the
 * compound roles key is only usable through POST `_method=GET`). Any other filterType is refused
 * with 1011 "Field not supported", as Marketo does.
 */
const FILTER_TYPES: Record<string, string[]> = {
  companies: ['externalCompanyId', 'id', 'company'],
  namedaccounts: [
    'marketoGUID', 'annualRevenue', 'city', 'country', 'domainName', 'industry', 'logoUrl', 'membershipCount', 'name', 'numberOfEmployees',
    'opptyAmount', 'opptyCount', 'score1', 'score2', 'score3', 'score4', 'score5', 'sicCode', 'state',
  ],
  opportunities: ['externalOpportunityId', 'marketoGUID'],
  roles: ['marketoGUID', 'leadId', 'externalOpportunityId'],
};
/** Integer-typed searchable fields: other values are refused with 1001. */
const INTEGER_FILTERS: Record<string, string[]> = { companies: ['id'], namedaccounts: ['annualRevenue', 'membershipCount', 'numberOfEmployees', 'opptyAmount', 'opptyCount'], opportunities: [], roles: ['leadId'] };
const MESSAGES: Record<string, string> = {
  '600': 'Access token not specified',
  '601': 'Access token invalid',
  '602': 'Access token expired',
  '604': 'Request timed out',
  '606': 'Max rate limit \'100\' exceeded with in \'20\' secs',
  '607': 'Daily quota reached',
  '608': 'API Temporarily Unavailable',
  '611': 'System error',
  '615': 'Concurrent access limit reached',
  '1018': 'CRM Enabled',
};

class ApiError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function requestId(): string {
  return `${randomBytes(2).toString('hex')}#${Date.now().toString(16)}`;
}

function envelopeError(reply: FastifyReply, code: string, message?: string): FastifyReply {
  return reply.code(200).type('application/json').send({ requestId: requestId(), success: false, errors: [{ code, message: message ?? MESSAGES[code] ?? 'Error' }] });
}

function encodeToken(o: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

function decodeToken(t: string, kind: string): Record<string, unknown> {
  try {
    const o = JSON.parse(Buffer.from(t, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (o.k !== kind) throw new Error('kind');
    return o;
  } catch {
    throw new ApiError('1003', 'Invalid nextPageToken');
  }
}

function batchSizeOf(q: Record<string, string | undefined>): number {
  if (q.batchSize === undefined) return 300;
  const n = Number(q.batchSize);
  if (!Number.isInteger(n) || n < 1 || n > 300) throw new ApiError('1003', `Invalid batchSize: ${q.batchSize} (1-300)`);
  return n;
}

export async function startMarketoSimulator(opts: MarketoSimulatorOptions): Promise<MarketoSimulator> {
  const instance = opts.instanceIndex ?? 0;
  const munchkinId = opts.munchkinId ?? DEFAULT_MUNCHKINS[instance] ?? `${100 + instance}-SIM-${100 + instance}`;
  const clockStart = opts.clockStart ? new Date(opts.clockStart) : new Date(Math.max(Date.parse(opts.world.options.now), Date.now()));
  const clock = new SimClock(clockStart);
  const faults = new FaultController(opts.seed ?? 1);
  const stats = new RequestStats(20_000);
  const data = new MarketoData(opts.world, instance, munchkinId);
  const jobs = new BulkJobs(data, faults, {
    jobMs: (opts.jobSecondsPerStatus ?? 60) * 1000,
    maxProcessing: opts.maxProcessingJobs ?? 2,
    maxQueued: opts.maxQueuedJobs ?? 10,
    dailyExportBytes: opts.dailyExportBytes ?? 500 * 1024 * 1024,
    updatedAtFilter: opts.updatedAtFilter ?? true,
  }, () => clock.now());
  const maxCalls = opts.maxCallsPer20s ?? 100;
  const maxConcurrent = opts.maxConcurrent ?? 10;
  const lifetimeMs = (opts.tokenLifetimeSeconds ?? 3600) * 1000;
  const retentionMs = (opts.deletedLeadRetentionDays ?? 14) * DAY;
  const nativeCrmSync = opts.nativeCrmSync ?? null;
  const tokens = new Map<string, number>();
  let current: { token: string; expiresAt: number } | null = null;

  function issueToken(): { token: string; expiresAt: number } {
    const now = clock.now();
    if (!current || current.expiresAt <= now) {
      current = { token: `${randomBytes(16).toString('hex')}:ab`, expiresAt: now + lifetimeMs };
      tokens.set(current.token, current.expiresAt);
    }
    return current;
  }

  function authorize(request: FastifyRequest): void {
    const h = request.headers.authorization;
    if (!h) throw new ApiError('600', MESSAGES['600']!);
    const m = /^Bearer (.+)$/.exec(h);
    const expiresAt = m ? tokens.get(m[1]!) : undefined;
    if (expiresAt === undefined) throw new ApiError('601', MESSAGES['601']!);
    if (expiresAt <= clock.now()) throw new ApiError('602', MESSAGES['602']!);
  }

  const ok = (reply: FastifyReply, result: unknown[] | undefined, extra: Record<string, unknown> = {}) =>
    reply.code(200).type('application/json').send({ requestId: requestId(), success: true, ...(result ? { result } : {}), ...extra });

  /** Wraps a vendor handler: auth, then envelope errors. */
  const api = (handler: (request: FastifyRequest, reply: FastifyReply) => unknown) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      authorize(request);
      return await handler(request, reply);
    } catch (err) {
      if (err instanceof ApiError || err instanceof BulkError) return envelopeError(reply, err.code, err.message);
      throw err;
    }
  };

  const filterRead = (kind: keyof typeof FILTER_TYPES, records: () => MktoRecord[], fieldNames: string[]) =>
    api((request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      for (const k of Object.keys(q)) if (!['filterType', 'filterValues', 'fields', 'batchSize', 'nextPageToken', '_method'].includes(k)) throw new ApiError('1003', `Invalid parameter: ${k}`);
      const filterType = q.filterType;
      if (!filterType) throw new ApiError('1002', "Missing value for the required parameter 'filterType'");
      if (!FILTER_TYPES[kind]!.includes(filterType)) throw new ApiError('1011', `Field '${filterType}' not supported`);
      if (!q.filterValues) throw new ApiError('1002', "Missing value for the required parameter 'filterValues'");
      const values = q.filterValues.split(',');
      if (values.length > 300) throw new ApiError('1003', 'Too many filterValues (max 300)');
      if (INTEGER_FILTERS[kind]!.includes(filterType)) {
        for (const v of values) if (!/^-?\d+$/.test(v)) throw new ApiError('1001', `Invalid value '${v}'. Required of type 'integer'`);
      }
      const fields = q.fields ? q.fields.split(',') : null;
      if (fields) for (const f of fields) if (!fieldNames.includes(f)) throw new ApiError('1006', `Field '${f}' not found`);
      const size = batchSizeOf(q);
      const want = new Set(values);
      const matches = records().filter((r) => {
        const v = filterType === 'id' ? r.f.id : r.f[filterType];
        return v !== null && v !== undefined && want.has(String(v));
      });
      const start = q.nextPageToken ? Number(decodeToken(q.nextPageToken, kind).o) : 0;
      const page = matches.slice(start, start + size).map((r, i) => {
        const full = MarketoData.restObject(r);
        const out: Record<string, unknown> = { seq: start + i };
        for (const f of fields ?? fieldNames.slice(0, 4)) out[f] = full[f] ?? null;
        return out;
      });
      const more = start + size < matches.length;
      return ok(reply, page, { moreResult: more, ...(more ? { nextPageToken: encodeToken({ k: kind, o: start + size }) } : {}) });
    });

  const bulkRoutes = (app: FastifyInstance, type: ExportType) => {
    const base = `/bulk/v1/${type}/export`;
    app.post(`${base}/create.json`, api((request, reply) => ok(reply, [BulkJobs.statusOf(jobs.create(type, request.body))])));
    app.post(`${base}/:id/enqueue.json`, api((request, reply) => {
      const job = jobs.get(type, (request.params as { id: string }).id);
      jobs.enqueue(job);
      return ok(reply, [BulkJobs.statusOf(job)]);
    }));
    app.post(`${base}/:id/cancel.json`, api((request, reply) => {
      const job = jobs.get(type, (request.params as { id: string }).id);
      jobs.cancel(job);
      return ok(reply, [BulkJobs.statusOf(job, 'Cancelled')]);
    }));
    app.get(`${base}/:id/status.json`, api((request, reply) => {
      jobs.tick();
      return ok(reply, [BulkJobs.statusOf(jobs.get(type, (request.params as { id: string }).id))]);
    }));
    app.get(`/bulk/v1/${type}/export.json`, api((request, reply) => {
      jobs.tick();
      const q = request.query as Record<string, string | undefined>;
      const statuses = q.status ? new Set(q.status.split(',')) : null;
      const since = clock.now() - 7 * DAY;
      const list = [...jobs.jobs.values()].filter((j) => j.type === type && j.createdAt >= since && (!statuses || statuses.has(j.status)));
      return ok(reply, list.map((j) => BulkJobs.statusOf(j)));
    }));
    app.get(`${base}/:id/file.json`, async (request, reply) => {
      try {
        authorize(request);
      } catch (err) {
        return envelopeError(reply, (err as ApiError).code, (err as ApiError).message);
      }
      jobs.tick();
      const job = jobs.jobs.get((request.params as { id: string }).id);
      if (!job || job.type !== type || job.status !== 'Completed' || !job.file) return reply.code(404).type('text/plain').send('File not found');
      if (job.fileMissing) {
        job.fileMissing--;
        return reply.code(404).type('text/plain').send('File not found');
      }
      const file = job.file;
      const range = request.headers.range;
      if (!range) return sendBody(request, reply, file, 'text/csv');
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m) return reply.code(416).type('text/plain').send('Invalid range');
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), file.length - 1) : file.length - 1;
      if (start >= file.length || end < start) return reply.code(416).header('content-range', `bytes */${file.length}`).type('text/plain').send('Range not satisfiable');
      return sendBody(request, reply, file.subarray(start, end + 1), 'text/csv', 206, { 'content-range': `bytes ${start}-${end}/${file.length}` });
    });
  };

  const server = await startSimulatorServer({
    name: 'marketo',
    port: opts.port,
    clock,
    faults,
    stats,
    renderVendorFault: (code, message, _request, reply) => envelopeError(reply, code, message),
    routeOf: (path) => path.replace(/\/export\/[0-9a-f-]{36}\//, '/export/{id}/').replace(/\/lists\/\d+\//, '/lists/{id}/'),
    control: {
      mutate: (body) => data.mutate(clock.now(), (body ?? {}) as { update?: number; delete?: number; seed?: number }),
      remove: (body) => ({ removed: data.remove((body ?? {}) as Parameters<MarketoData['remove']>[0]) }),
    },
    routes(app) {
      // Limits first (the shared hook has counted this request already).
      app.addHook('onRequest', async (request, reply) => {
        const path = request.url.split('?')[0]!;
        if (path.startsWith('/__sim/')) return;
        if (request.url.length > 8192) return reply.code(414).type('text/plain').send('URI Too Long');
        if (path.startsWith('/identity/')) return;
        if (stats.inFlight > maxConcurrent) return envelopeError(reply, '615');
        if (stats.callsInWindow(clock.now()) > maxCalls) return envelopeError(reply, '606');
      });

      // Adobe documents grant_type, client_id and client_secret as query parameters, for GET and
      // POST alike: credentials sent only in a form body are not read (401, OAuth-style body).
      const token = async (request: FastifyRequest, reply: FastifyReply) => {
        const q = request.query as Record<string, string | undefined>;
        if (q.client_id === undefined || q.client_secret === undefined) {
          return reply.code(401).send({ error: 'unauthorized', error_description: 'Full authentication is required to access this resource' });
        }
        if (q.grant_type !== 'client_credentials') return reply.code(400).send({ error: 'invalid_request', error_description: 'grant_type must be client_credentials' });
        if (q.client_id !== opts.credentials.clientId || q.client_secret !== opts.credentials.clientSecret) {
          return reply.code(401).send({ error: 'unauthorized', error_description: 'Bad client credentials' });
        }
        const t = issueToken();
        return reply.send({ access_token: t.token, token_type: 'bearer', expires_in: Math.max(0, Math.floor((t.expiresAt - clock.now()) / 1000) - 1), scope: 'apiuser@tessera.example' });
      };
      app.get('/identity/oauth/token', token);
      app.post('/identity/oauth/token', token);

      bulkRoutes(app, 'leads');
      bulkRoutes(app, 'activities');
      bulkRoutes(app, 'program/members');

      app.get('/rest/v1/activities/pagingtoken.json', api((request, reply) => {
        const since = (request.query as { sinceDatetime?: string }).sinceDatetime;
        const ms = since ? Date.parse(since) : NaN;
        if (!since || !Number.isFinite(ms)) throw new ApiError('1003', 'Invalid sinceDatetime');
        return reply.send({ requestId: requestId(), success: true, nextPageToken: encodeToken({ k: 'act', t: ms, o: 0 }) });
      }));
      app.get('/rest/v1/activities/deletedleads.json', api((request, reply) => {
        const q = request.query as Record<string, string | undefined>;
        if (!q.nextPageToken) throw new ApiError('1003', 'nextPageToken is required');
        const tok = decodeToken(q.nextPageToken, 'act');
        const size = batchSizeOf(q);
        const horizon = clock.now() - retentionMs;
        const all = data.deletedLeads.filter((d) => d.at >= Number(tok.t) && d.at >= horizon);
        const start = Number(tok.o);
        const page = all.slice(start, start + size);
        const more = start + size < all.length;
        const result = page.map((d) => ({ id: d.id, marketoGUID: d.marketoGUID, leadId: d.leadId, activityDate: mktoDate(d.at), activityTypeId: 37, primaryAttributeValue: d.name, attributes: [] }));
        return reply.send({ requestId: requestId(), success: true, result, moreResult: more, nextPageToken: encodeToken({ k: 'act', t: tok.t, o: start + page.length }) });
      }));

      app.get('/rest/v1/lists.json', api((request, reply) => {
        const q = request.query as Record<string, string | undefined>;
        for (const k of Object.keys(q)) if (!['id', 'name', 'programName', 'workspaceName', 'batchSize', 'nextPageToken'].includes(k)) throw new ApiError('1003', `Invalid parameter: ${k}`);
        const size = batchSizeOf(q);
        const ids = q.id ? new Set(q.id.split(',').map(Number)) : null;
        const names = q.name ? new Set(q.name.split(',')) : null;
        const all = data.lists.filter((l) => (!ids || ids.has(l.id)) && (!names || names.has(l.name)));
        const start = q.nextPageToken ? Number(decodeToken(q.nextPageToken, 'lists').o) : 0;
        const page = all.slice(start, start + size).map((l) => ({ id: l.id, name: l.name, description: l.description, programName: null, workspaceName: 'Default', createdAt: mktoDate(l.createdAt), updatedAt: mktoDate(l.updatedAt) }));
        const more = start + size < all.length;
        return ok(reply, page, { moreResult: more, ...(more ? { nextPageToken: encodeToken({ k: 'lists', o: start + size }) } : {}) });
      }));
      app.get('/rest/v1/lists/:id/leads.json', api((request, reply) => {
        const q = request.query as Record<string, string | undefined>;
        for (const k of Object.keys(q)) if (!['fields', 'batchSize', 'nextPageToken'].includes(k)) throw new ApiError('1003', `Invalid parameter: ${k}`);
        const id = Number((request.params as { id: string }).id);
        const list = data.lists.find((l) => l.id === id);
        if (!list) throw new ApiError('1013', `Static list ${id} not found`);
        const fields = q.fields ? q.fields.split(',') : ['id', 'firstName', 'lastName', 'email', 'updatedAt', 'createdAt'];
        for (const f of fields) if (!(LEAD_FIELDS as readonly string[]).includes(f)) throw new ApiError('1006', `Field '${f}' not found`);
        const size = batchSizeOf(q);
        const members = list.members.filter((m) => data.leadById.get(m)?.deletedAt === null);
        const start = q.nextPageToken ? Number(decodeToken(q.nextPageToken, `list${id}`).o) : 0;
        const page = members.slice(start, start + size).map((leadId) => {
          const lead = data.leadById.get(leadId)!;
          const out: Record<string, unknown> = {};
          for (const f of fields) out[f] = f === 'id' ? lead.id : f === 'createdAt' ? mktoDate(lead.createdAt) : f === 'updatedAt' ? mktoDate(lead.updatedAt) : lead.f[f] ?? null;
          return out;
        });
        const more = start + size < members.length;
        return ok(reply, page, { moreResult: more, ...(more ? { nextPageToken: encodeToken({ k: `list${id}`, o: start + size }) } : {}) });
      }));

      const companyFields = ['id', 'externalCompanyId', 'company', 'site', 'website', 'mainPhone', 'industry', 'annualRevenue', 'numberOfEmployees', 'sicCode', 'billingStreet', 'billingCity', 'billingState', 'billingPostalCode', 'billingCountry', 'createdAt', 'updatedAt'];
      const namedFields = ['marketoGUID', 'name', 'domainName', 'crmGuid', 'parentAccountId', 'annualRevenue', 'numberOfEmployees', 'industry', 'sicCode', 'city', 'state', 'country', 'logoUrl', 'createdAt', 'updatedAt'];
      const oppFields = ['marketoGUID', 'externalOpportunityId', 'externalCompanyId', 'name', 'description', 'type', 'stage', 'amount', 'expectedRevenue', 'probability', 'closeDate', 'isClosed', 'isWon', 'forecastCategory', 'forecastCategoryName', 'fiscalYear', 'fiscalQuarter', 'leadSource', 'nextStep', 'createdAt', 'updatedAt'];
      const roleFields = ['marketoGUID', 'externalOpportunityId', 'leadId', 'role', 'isPrimary', 'createdAt', 'updatedAt'];
      app.get('/rest/v1/companies.json', filterRead('companies', () => data.companies, companyFields));
      app.get('/rest/v1/namedaccounts.json', filterRead('namedaccounts', () => data.namedAccounts, namedFields));
      app.get('/rest/v1/opportunities.json', filterRead('opportunities', () => data.opportunities, oppFields));
      // Native CRM sync: "Opportunity Role APIs are available only for subscriptions that do not
      // have native CRM sync enabled" — 1018 CRM Enabled, before any parameter is looked at.
      const rolesApi = (handler: (request: FastifyRequest, reply: FastifyReply) => unknown) =>
        api((request, reply) => {
          if (nativeCrmSync) throw new ApiError('1018', MESSAGES['1018']!);
          return handler(request, reply);
        });
      app.get('/rest/v1/opportunities/roles.json', rolesApi(filterRead('roles', () => data.roles.filter((r) => data.leadById.get(Number(r.f.leadId))?.deletedAt === null), roleFields)));
      app.get('/rest/v1/opportunities/roles/describe.json', rolesApi((_request, reply) => ok(reply, [{
        name: 'opportunityRole', displayName: 'Opportunity Role', createdAt: '2015-02-03T22:36:23Z', updatedAt: '2015-02-03T22:36:24Z', idField: 'marketoGUID',
        dedupeFields: ['externalOpportunityId', 'leadId', 'role'],
        searchableFields: [['externalOpportunityId', 'leadId', 'role'], ...FILTER_TYPES.roles!.map((f) => [f])],
        fields: roleFields.map((name) => ({ name, displayName: name, dataType: name === 'leadId' ? 'integer' : name === 'isPrimary' ? 'boolean' : name.endsWith('At') ? 'datetime' : 'string', updateable: !['marketoGUID', 'createdAt', 'updatedAt'].includes(name) })),
      }])));

      app.get('/rest/asset/v1/programs.json', api((request, reply) => {
        const q = request.query as Record<string, string | undefined>;
        for (const k of Object.keys(q)) if (!['offset', 'maxReturn', 'earliestUpdatedAt', 'latestUpdatedAt', 'filterType', 'filterValues'].includes(k)) throw new ApiError('1003', `Invalid parameter: ${k}`);
        const maxReturn = q.maxReturn === undefined ? 20 : Number(q.maxReturn);
        if (!Number.isInteger(maxReturn) || maxReturn < 1 || maxReturn > 200) throw new ApiError('701', 'maxReturn must be between 1 and 200');
        const offset = q.offset === undefined ? 0 : Number(q.offset);
        if (!Number.isInteger(offset) || offset < 0) throw new ApiError('701', 'offset must be a non-negative integer');
        const parse = (v: string | undefined, name: string): number | null => {
          if (v === undefined) return null;
          const ms = Date.parse(v);
          if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.test(v) || !Number.isFinite(ms)) throw new ApiError('701', `${name} is not a valid date`);
          return ms;
        };
        const from = parse(q.earliestUpdatedAt, 'earliestUpdatedAt');
        const to = parse(q.latestUpdatedAt, 'latestUpdatedAt');
        const all = data.programs.filter((p) => (from === null || p.updatedAt >= from) && (to === null || p.updatedAt <= to)).sort((a, b) => Number(a.f.id) - Number(b.f.id));
        const page = all.slice(offset, offset + maxReturn);
        if (!page.length) return reply.send({ requestId: requestId(), success: true, errors: [], warnings: ['No assets found for the given search criteria.'] });
        return reply.send({ requestId: requestId(), success: true, errors: [], warnings: [], result: page.map((p) => ({ ...p.f, createdAt: assetDate(p.createdAt), updatedAt: assetDate(p.updatedAt) })) });
      }));
    },
  });

  const worldStart = Date.parse(opts.world.options.now) - opts.world.options.historyDays * DAY;
  return {
    url: server.url,
    instanceId: munchkinId,
    faults,
    clock,
    data,
    suggestedSettings: {
      initialLoadFrom: new Date(Math.floor(worldStart / 1000) * 1000 - DAY).toISOString(),
      ...(opts.salesforceOrgId ? { crmInstanceId: opts.salesforceOrgId } : {}),
    },
    stats: () => stats.snapshot(),
    exportedToday: () => jobs.exportedToday(),
    groundTruth(o: { crmSynced?: boolean } = {}) {
      const domains = data.companyDomains();
      const oppIdsWithRoles = new Set(data.roles.filter((r) => data.leadById.get(Number(r.f.leadId))?.deletedAt === null).map((r) => String(r.f.externalOpportunityId)));
      const liveLeads = new Set(data.leads.filter((l) => l.deletedAt === null).map((l) => l.id));
      const bare = (d: unknown) => String(d).toLowerCase().replace(/^www\./, '');
      return {
        person: data.leads.length,
        account: data.companies.length + data.namedAccounts.filter((n) => domains.has(bare(n.f.domainName))).length,
        // With native CRM sync Tessera reads opportunities and roles from the CRM, not from Marketo.
        // Without, by the roles' opportunity ids, and by the CRM org's (which holds every one) once it is synced.
        opportunity: nativeCrmSync ? 0 : o.crmSynced && opts.salesforceOrgId ? data.opportunities.length : data.opportunities.filter((x) => oppIdsWithRoles.has(String(x.f.externalOpportunityId))).length,
        'opportunity-person': nativeCrmSync ? 0 : data.roles.filter((r) => liveLeads.has(Number(r.f.leadId))).length,
        campaign: data.programs.length,
        'campaign-member': data.programMembers.filter((m) => liveLeads.has(m.leadId)).length,
        'marketing-list': data.lists.length,
        'marketing-list-member': data.lists.reduce((n, l) => n + l.members.filter((m) => liveLeads.has(m)).length, 0),
        'experience-event': data.activities.filter((a) => liveLeads.has(a.leadId)).length,
      };
    },
    mutate: (o) => data.mutate(clock.now(), o),
    stop: () => server.close(),
  };
}
