/**
 * Microsoft Dynamics 365 / Dataverse Web API simulator (connector-apis.md §3, §6.3).
 *
 *   POST /{tenant}/oauth2/v2.0/token            Entra ID client credentials (Entra-shaped errors)
 *   GET  /api/data/v9.2/{entityset}             $select, $filter, $orderby, $top, $count, $skiptoken,
 *                                               Prefer odata.maxpagesize / odata.track-changes /
 *                                               odata.include-annotations, $deltatoken delta links
 *   GET  /api/data/v9.2/EntityDefinitions…      table definitions: ChangeTrackingEnabled, EntitySetName,
 *                                               a table's Attributes (metadata.ts)
 *
 * One simulated org may lack tables (`missingTables`: no Dynamics 365 Sales) and columns
 * (`missingColumns`: no `msdyn_forecastcategory`), and has change tracking on the tables of
 * `changeTrackingSets` only; its table definitions say so, and its queries refuse the rest.
 *
 * Strict like the real service: unknown columns (400 "Could not find a property named…"), bad
 * date literals, $filter/$orderby/$top/$expand with change tracking, `odata.track-changes` or a
 * delta token on a table without change tracking, expired, malformed or unknown tokens are
 * errors in Dataverse's envelope. Service protection: > `maxConcurrent` requests in flight →
 * immediate 429 (0x80072326); more than `maxRequestsPerWindow` in 300 s → 429 (0x80072322), both
 * with Retry-After.
 *
 * Vendor faults (`{kind:'vendor', code}`): expired-token (401, empty body + WWW-Authenticate),
 * rate-requests / rate-time / rate-concurrency (429 with Retry-After), expired-delta (400
 * 0x80044352), privilege (403), unavailable (503), invalid-client (token endpoint 401).
 * Data faults: `malformed-row` (one row of the page gets an unreadable modifiedon),
 * `duplicate-connection` (a connections page repeats a row), `expired-delta` (a delta request
 * fails as expired).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { SimClock } from '../shared/clock';
import { FaultController } from '../shared/faults';
import { seededRandom } from '../shared/random';
import { RequestStats } from '../shared/request-stats';
import { sendBody, startSimulatorServer } from '../shared/server';
import type { SimulatorHandle } from '../shared/simulator';
import type { World } from '../world/world';
import { TABLES, buildOrgData, dvInstant, orgTables, type SimRow, type TableDef } from './data';
import { answerMetadata } from './metadata';
import { ODataError, compareBy, parseFilter, parseOrderBy, sortValues, unknownProperty, type OrderKey } from './odata';

export interface DynamicsSimulatorOptions {
  world: World;
  port?: number;
  credentials: { clientId: string; clientSecret: string };
  seed?: number;
  /** The organisation (sourceInstanceID), e.g. `contoso`. */
  organization?: string;
  /** Entra tenant in the token URL. */
  tenant?: string;
  /** Access token lifetime (sim clock). Entra: 3599 s. */
  tokenLifetimeSeconds?: number;
  /** Organization.ExpireChangeTrackingInDays (default 7). */
  changeTrackingExpiryDays?: number;
  /** Entity sets with change tracking enabled (default all but listmembers). */
  changeTrackingSets?: string[];
  /** Entity sets this org does not have (e.g. `leads`, `opportunities` without Dynamics 365 Sales). */
  missingTables?: string[];
  /** Columns this org's tables lack, by entity set (e.g. `{ opportunities: ['msdyn_forecastcategory'] }`). */
  missingColumns?: Record<string, string[]>;
  /** Service protection: requests per 300 s window per user (6,000). */
  maxRequestsPerWindow?: number;
  /** Service protection: concurrent requests per user (52). */
  maxConcurrent?: number;
  /** Retry-After (seconds) on 429 answers from faults. */
  retryAfterSeconds?: number;
}

/** Changes made to the org between syncs: `update` then `delete` distinct rows of each set (connections: pairs, never deleted). */
export interface Mutation {
  update?: number;
  delete?: number;
  seed?: number;
  /** The entity sets to change (default: every one but listmembers). */
  sets?: string[];
}

export interface DynamicsSimulator extends SimulatorHandle {
  /** The token URL to give the connector as authEndpoint. */
  authEndpoint: string;
  mutate(opts: Mutation): { updated: number; deleted: number };
  requests: RequestStats['requests'];
}

const API = '/api/data/v9.2/';
/** `$1,234.50`: the FormattedValue of a money column (toLocaleString is far too slow per row). */
const money = (n: number): string => `$${n.toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
const WINDOW_MS = 300_000;
const MAX_PAGE = 5000;
const DAY = 86_400_000;
const EXPIRED_MESSAGE = 'Version stamp associated with the client has expired. Please perform a full sync.';

const RATE_FAULTS: Record<string, [string, string]> = {
  'rate-requests': ['0x80072322', 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'],
  'rate-time': ['0x80072321', 'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.'],
  'rate-concurrency': ['0x80072326', 'Number of concurrent requests exceeded the limit of 52.'],
};

interface Tombstone {
  id: string;
  rv: number;
}

interface Preferences {
  maxPageSize: number;
  maxPageSizeApplied: boolean;
  trackChanges: boolean;
  /** null: no annotations; otherwise a test for an annotation name. */
  annotations: ((name: string) => boolean) | null;
  annotationsRaw: string | null;
}

export async function startDynamicsSimulator(opts: DynamicsSimulatorOptions): Promise<DynamicsSimulator> {
  const org = opts.organization ?? 'contoso';
  const tenant = opts.tenant ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const lifetimeMs = (opts.tokenLifetimeSeconds ?? 3599) * 1000;
  const expiryMs = (opts.changeTrackingExpiryDays ?? 7) * DAY;
  const tables = orgTables(opts.missingTables, opts.missingColumns);
  const tracked = new Set(opts.changeTrackingSets ?? Object.keys(TABLES).filter((s) => s !== 'listmembers'));
  const maxRequests = opts.maxRequestsPerWindow ?? 6000;
  const maxConcurrent = opts.maxConcurrent ?? 52;
  const retryAfter = opts.retryAfterSeconds ?? 1;
  const clock = new SimClock(new Date(opts.world.options.now));
  const faults = new FaultController(opts.seed ?? 1);
  const stats = new RequestStats(WINDOW_MS);
  const data = buildOrgData(opts.world);
  /** The highest row version assigned so far (changes get version + 1). */
  let version = data.nextVersion - 1;
  const tombstones: Record<string, Tombstone[]> = Object.fromEntries(Object.keys(TABLES).map((s) => [s, []]));
  const tokens = new Map<string, number>();
  let url = '';

  /* ------------------------------------------------------------------ sorted views, cached per version */
  const byIdCache = new Map<string, { version: number; rows: SimRow[] }>();
  const rowsById = (set: string): SimRow[] => {
    const hit = byIdCache.get(set);
    if (hit && hit.version === version) return hit.rows;
    const rows = [...data.rows[set]!.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    byIdCache.set(set, { version, rows });
    return rows;
  };
  const orderCache = new Map<string, { version: number; rows: Array<{ row: SimRow; key: unknown[] }> }>();
  const rowsOrdered = (table: TableDef, keys: OrderKey[], cacheKey: string) => {
    const hit = orderCache.get(cacheKey);
    if (hit && hit.version === version) return hit.rows;
    const rows = [...data.rows[table.set]!.values()].map((row) => ({ row, key: [...sortValues(keys, row.values), row.id] }));
    const full = [...keys, { field: table.idColumn, type: 'guid' as const, desc: false }];
    rows.sort((a, b) => compareBy(full, a.key, b.key));
    orderCache.set(cacheKey, { version, rows });
    return rows;
  };

  /* ------------------------------------------------------------------ serialisation */
  // Column names and annotation keys as JSON fragments, and a small id per (select, annotations) shape.
  const fragments = new Map<string, { name: string; formatted: string; logical: string }>();
  const fragment = (col: string) => {
    let f = fragments.get(col);
    if (!f) {
      f = {
        name: `${JSON.stringify(col)}:`,
        formatted: `${JSON.stringify(`${col}@OData.Community.Display.V1.FormattedValue`)}:`,
        logical: `${JSON.stringify(`${col}@Microsoft.Dynamics.CRM.lookuplogicalname`)}:`,
      };
      fragments.set(col, f);
    }
    return f;
  };
  const shapes = new Map<string, string>();
  const shapeId = (selectKey: string, prefs: Preferences): string => {
    const k = `${selectKey}|${prefs.annotationsRaw ?? ''}`;
    let id = shapes.get(k);
    if (id === undefined) shapes.set(k, (id = String(shapes.size)));
    return id;
  };
  const serialize = (table: TableDef, row: SimRow, columns: readonly string[], shape: string, prefs: Preferences, malformed: boolean): string => {
    if (!malformed) {
      const hit = row.cache?.get(shape);
      if (hit) return hit;
    }
    const wantFormatted = prefs.annotations?.('OData.Community.Display.V1.FormattedValue') ?? false;
    const wantLogical = prefs.annotations?.('Microsoft.Dynamics.CRM.lookuplogicalname') ?? false;
    let out = `{"@odata.etag":"W/\\"${row.rv}\\""`;
    for (const col of columns) {
      const f = fragment(col);
      let value = row.values[col] ?? null;
      if (malformed && col === 'modifiedon') value = '31/13/2026 25:61';
      if (value !== null && (wantFormatted || wantLogical)) {
        const lookup = row.lookups[col];
        if (wantFormatted) {
          const formatted = lookup ? lookup[1] : table.choices[col]?.[value as number] ?? (table.columns[col] === 'number' ? money(value as number) : undefined);
          if (formatted !== undefined) out += `,${f.formatted}${JSON.stringify(formatted)}`;
        }
        if (lookup && wantLogical) out += `,${f.logical}"${lookup[0]}"`;
      }
      out += `,${f.name}${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
    }
    out += '}';
    if (!malformed) (row.cache ??= new Map()).set(shape, out);
    return out;
  };

  const dataverseError = (reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    reply.code(status).headers({ 'odata-version': '4.0', ...headers }).type('application/json; odata.metadata=minimal').send(JSON.stringify({ error: { code, message } }));

  const unauthorized = (reply: FastifyReply, description: string) =>
    reply
      .code(401)
      .header('www-authenticate', `Bearer error="invalid_token", error_description="${description}", authorization_uri="${url}/${tenant}/oauth2/authorize"`)
      .send('');

  const renderVendorFault = (code: string, message: string | undefined, request: FastifyRequest, reply: FastifyReply) => {
    if (code === 'expired-token') return unauthorized(reply, message ?? 'The access token is expired');
    if (RATE_FAULTS[code]) {
      const [c, m] = RATE_FAULTS[code]!;
      return dataverseError(reply, 429, c, message ?? m, { 'retry-after': String(retryAfter) });
    }
    if (code === 'expired-delta') return dataverseError(reply, 400, '0x80044352', message ?? EXPIRED_MESSAGE);
    if (code === 'privilege') {
      return dataverseError(reply, 403, '0x80040220', message ?? 'Principal user (Id=00000000-0000-0000-0000-000000000000, type=8, roleCount=0) is missing prvReadAccount privilege (Id=886b280c-6396-4d56-a0a3-2c1b0a50ceb0) on OTC=1 for entity \'account\'.');
    }
    if (code === 'unavailable') return dataverseError(reply, 503, '0x80040216', message ?? 'The service is temporarily unavailable.');
    if (code === 'invalid-client') return entraError(reply, 401, 'invalid_client', 7000215, message ?? 'Invalid client secret provided.');
    return dataverseError(reply, 500, '0x80040216', `${code}: ${message ?? 'simulated fault'}`);
  };

  const entraError = (reply: FastifyReply, status: number, error: string, aadsts: number, description: string) =>
    reply.code(status).type('application/json; charset=utf-8').send({
      error,
      error_description: `AADSTS${aadsts}: ${description} Trace ID: ${randomBytes(8).toString('hex')} Correlation ID: ${randomBytes(8).toString('hex')} Timestamp: ${clock.date().toISOString()}`,
      error_codes: [aadsts],
      timestamp: clock.date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
      trace_id: randomBytes(16).toString('hex'),
      correlation_id: randomBytes(16).toString('hex'),
    });

  /* ------------------------------------------------------------------ request handling */
  const parsePrefer = (header: string | undefined): Preferences => {
    const text = header ?? '';
    const size = /odata\.maxpagesize=(\d+)/i.exec(text);
    const ann = /odata\.include-annotations="([^"]*)"/i.exec(text);
    let annotations: Preferences['annotations'] = null;
    if (ann) {
      const names = ann[1]!.split(',').map((s) => s.trim()).filter(Boolean);
      annotations = (name) => names.some((n) => n === '*' || n === name || (n.endsWith('*') && name.startsWith(n.slice(0, -1))));
    }
    const requested = size ? Number(size[1]) : MAX_PAGE;
    return {
      maxPageSize: Math.max(1, Math.min(MAX_PAGE, requested)),
      maxPageSizeApplied: size !== null,
      trackChanges: /odata\.track-changes/i.test(text),
      annotations,
      annotationsRaw: ann ? ann[1]! : null,
    };
  };

  const encodeToken = (obj: unknown) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const decodeToken = (text: string): any => {
    try {
      return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    } catch {
      throw new ODataError(400, '0x80060888', `The $skiptoken '${text.slice(0, 40)}' is not valid.`);
    }
  };

  /** Auth and service protection, for every Web API call: the refusal, or null to go on. */
  const refuse = (request: FastifyRequest, reply: FastifyReply): FastifyReply | null => {
    const auth = request.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const expires = tokens.get(token);
    if (expires === undefined) return unauthorized(reply, 'The access token is invalid');
    if (clock.now() >= expires) return unauthorized(reply, 'The access token is expired');
    // Service protection
    if (stats.inFlight > maxConcurrent) {
      return dataverseError(reply, 429, '0x80072326', `Number of concurrent requests exceeded the limit of ${maxConcurrent}.`, { 'retry-after': String(retryAfter) });
    }
    if (stats.callsInWindow(clock.now()) > maxRequests) {
      return dataverseError(reply, 429, '0x80072322', `Number of requests exceeded the limit of ${maxRequests} over time window of 300 seconds.`, { 'retry-after': String(Math.max(retryAfter, 5)) });
    }
    return null;
  };

  const handleWebApi = (request: FastifyRequest, reply: FastifyReply) => {
    const refused = refuse(request, reply);
    if (refused) return refused;
    const path = request.url.split('?')[0]!;
    let segment: string;
    try {
      segment = decodeURIComponent(path.slice(API.length));
    } catch {
      throw new ODataError(400, '0x80060888', 'The request URI is not valid.');
    }
    if (segment === 'EntityDefinitions' || segment.startsWith('EntityDefinitions(')) {
      const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      const body = answerMetadata({ tables, tracked, base: `${url}${API}` }, segment, new URLSearchParams(rawQuery));
      return sendBody(request, reply, body, 'application/json; odata.metadata=minimal', 200, { 'odata-version': '4.0' });
    }
    return handleCollection(request, reply, segment);
  };

  const handleCollection = (request: FastifyRequest, reply: FastifyReply, set: string) => {
    const table = tables[set];
    // Documented: 404 0x8006088a for a name that is no entity set (names are case-sensitive).
    if (!table) return dataverseError(reply, 404, '0x8006088a', `Resource not found for the segment '${set}'.`);

    const rawQuery = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const params = new URLSearchParams(rawQuery);
    const known = new Set(['$select', '$filter', '$orderby', '$top', '$count', '$skiptoken', '$deltatoken', '$expand']);
    for (const key of params.keys()) {
      if (!known.has(key)) throw new ODataError(400, '0x80060888', `The query parameter '${key}' is not supported.`);
    }
    const prefs = parsePrefer(request.headers.prefer as string | undefined);
    const deltaToken = params.get('$deltatoken');
    const tracking = prefs.trackChanges || deltaToken !== null;
    if (tracking) {
      for (const opt of ['$filter', '$orderby', '$expand', '$top']) {
        if (params.has(opt)) throw new ODataError(400, '0x80060888', `The ${opt} query option is not supported with change tracking (odata.track-changes).`);
      }
      // [unverified] the exact code and wording; a 400 in the error envelope naming the table.
      if (!tracked.has(set)) throw new ODataError(400, '0x80044331', `Change tracking is not enabled for the entity '${table.logical}'.`);
    }
    if (params.has('$expand')) throw new ODataError(400, '0x80060888', 'The simulator does not implement $expand.');

    const selectText = params.get('$select');
    const select = selectText ? selectText.split(',').map((s) => s.trim()) : Object.keys(table.columns);
    for (const col of select) {
      if (!table.columns[col]) throw unknownProperty(col, table);
    }
    const selectKey = select.join(',');
    // Dataverse always returns the primary key, selected or not.
    const columns = select.includes(table.idColumn) ? select : [...select, table.idColumn];
    const shape = shapeId(selectKey, prefs);
    const base = `${url}${API}`;
    const contextUrl = `${base}$metadata#${set}(${selectKey})`;
    const headers: Record<string, string> = { 'odata-version': '4.0' };
    const applied: string[] = [];
    if (prefs.trackChanges) applied.push('odata.track-changes');
    if (prefs.maxPageSizeApplied) applied.push(`odata.maxpagesize=${prefs.maxPageSize}`);
    if (prefs.annotationsRaw !== null) applied.push(`odata.include-annotations="${prefs.annotationsRaw}"`);
    if (applied.length) headers['preference-applied'] = applied.join(',');
    const linkBase = (extra: string) => {
      const p = new URLSearchParams(rawQuery);
      p.delete('$skiptoken');
      p.delete('$deltatoken');
      const rest = p.toString().replace(/%24/g, '$').replace(/%2C/gi, ',');
      return `${base}${set}?${rest}${rest ? '&' : ''}${extra}`;
    };
    const malformedAt = faults.dataFault('malformed-row', 'GET', `${API}${set}`) ? 0 : -1;
    const duplicate = set === 'connections' && faults.dataFault('duplicate-connection', 'GET', `${API}${set}`);

    const page = (rows: SimRow[], extraItems: string[], links: Record<string, string>, count?: number): FastifyReply => {
      const items = rows.map((row, i) => serialize(table, row, columns, shape, prefs, i === malformedAt));
      if (duplicate && items.length) items.push(items[0]!);
      items.push(...extraItems);
      let body = `{"@odata.context":${JSON.stringify(links.context ?? contextUrl)}`;
      if (count !== undefined) body += `,"@odata.count":${count}`;
      body += `,"value":[${items.join(',')}]`;
      if (links.next) body += `,"@odata.nextLink":${JSON.stringify(links.next)}`;
      if (links.delta) body += `,"@odata.deltaLink":${JSON.stringify(links.delta)}`;
      body += '}';
      return sendBody(request, reply, body, 'application/json; odata.metadata=minimal; odata.streaming=true', 200, headers);
    };

    if (deltaToken !== null) {
      // A delta read: rows changed after the token's version, then deletions.
      // A token this org never issued (unreadable, or a version it has not reached) is refused like a malformed one.
      const m = /^(\d+)!(\d+)$/.exec(deltaToken);
      if (!m || Number(m[1]) > version || Number(m[2]) > clock.now()) throw new ODataError(400, '0x80060888', `The delta token '${deltaToken.slice(0, 40)}' is not valid.`);
      const from = Number(m[1]);
      if (clock.now() - Number(m[2]) > expiryMs || faults.dataFault('expired-delta', 'GET', `${API}${set}`)) {
        throw new ODataError(400, '0x80044352', EXPIRED_MESSAGE);
      }
      const skip = params.get('$skiptoken');
      const pos = skip ? decodeToken(skip) : { snap: version, kind: 0, rv: from };
      const snap: number = pos.snap;
      const changed = [...data.rows[set]!.values()].filter((r) => r.rv > from && r.rv <= snap).sort((a, b) => a.rv - b.rv);
      const deleted = tombstones[set]!.filter((t) => t.rv > from && t.rv <= snap);
      const items: Array<{ kind: 0 | 1; rv: number; row?: SimRow; tomb?: Tombstone }> = [
        ...changed.map((row) => ({ kind: 0 as const, rv: row.rv, row })),
        ...deleted.map((tomb) => ({ kind: 1 as const, rv: tomb.rv, tomb })),
      ].filter((it) => it.kind > pos.kind || (it.kind === pos.kind && it.rv > pos.rv));
      const slice = items.slice(0, prefs.maxPageSize);
      const rows = slice.filter((it) => it.row).map((it) => it.row!);
      const dels = slice
        .filter((it) => it.tomb)
        .map((it) => `{"@odata.context":${JSON.stringify(`${base}$metadata#${set}/$deletedEntity`)},"id":${JSON.stringify(it.tomb!.id)},"reason":"deleted"}`);
      const last = slice[slice.length - 1];
      const more = items.length > slice.length && last;
      const links: Record<string, string> = { context: `${contextUrl}/$delta` };
      if (more) links.next = linkBase(`$deltatoken=${deltaToken}&$skiptoken=${encodeToken({ snap, kind: last.kind, rv: last.rv })}`);
      else links.delta = linkBase(`$deltatoken=${snap}!${clock.now()}`);
      return page(rows, dels, links);
    }

    if (prefs.trackChanges) {
      // Initial change-tracking read: every row, in id order; the delta link starts at the version it began at.
      const skip = params.get('$skiptoken');
      const pos = skip ? decodeToken(skip) : { snap: version, after: '' };
      const all = rowsById(set);
      let lo = 0;
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (all[mid]!.id <= pos.after) lo = mid + 1;
        else hi = mid;
      }
      const rows = all.slice(lo, lo + prefs.maxPageSize);
      const links: Record<string, string> = {};
      if (lo + rows.length < all.length) links.next = linkBase(`$skiptoken=${encodeToken({ snap: pos.snap, after: rows[rows.length - 1]!.id })}`);
      else links.delta = linkBase(`$deltatoken=${pos.snap}!${clock.now()}`);
      return page(rows, [], links);
    }

    // A plain query: $filter, $orderby (+ id), key-based paging cookie, $top.
    const filterText = params.get('$filter');
    const filter = filterText ? parseFilter(filterText, table) : null;
    const orderText = params.get('$orderby');
    const keys = orderText ? parseOrderBy(orderText, table) : [];
    const topText = params.get('$top');
    const top = topText === null ? Infinity : Number(topText);
    if (top !== Infinity && (!Number.isInteger(top) || top < 0)) throw new ODataError(400, '0x80060888', `Invalid value '${topText}' for $top.`);
    const ordered = rowsOrdered(table, keys, `${set}|${orderText ?? ''}`);
    const full = [...keys, { field: table.idColumn, type: 'guid' as const, desc: false }];
    const skip = params.get('$skiptoken');
    const cookie: { after: unknown[]; served: number } | null = skip ? decodeToken(skip) : null;
    const served = cookie?.served ?? 0;
    const limit = Math.min(prefs.maxPageSize, top - served);
    const rows: SimRow[] = [];
    let lastKey: unknown[] | null = null;
    let more = false;
    for (const entry of ordered) {
      if (cookie && compareBy(full, entry.key, cookie.after) <= 0) continue;
      if (filter && !filter(entry.row.values)) continue;
      if (rows.length >= limit) {
        more = true;
        break;
      }
      rows.push(entry.row);
      lastKey = entry.key;
    }
    const links: Record<string, string> = {};
    if (more && lastKey) links.next = linkBase(`$skiptoken=${encodeToken({ after: lastKey, served: served + rows.length })}`);
    let count: number | undefined;
    if (params.get('$count') === 'true') count = Math.min(5000, ordered.filter((e) => !filter || filter(e.row.values)).length);
    return page(rows, [], links, count);
  };

  const server = await startSimulatorServer({
    name: 'dynamics',
    port: opts.port,
    clock,
    faults,
    stats,
    renderVendorFault,
    routeOf: (path) => (path.startsWith(API) ? `${API}${path.slice(API.length).split(/[/(]/)[0]}` : path.endsWith('/oauth2/v2.0/token') ? '/oauth2/v2.0/token' : path),
    control: {
      mutate: (body) => mutate((body ?? {}) as Mutation),
      'ground-truth': () => groundTruth(),
    },
    routes(app) {
      app.setErrorHandler((err, _request, reply) => {
        if (err instanceof ODataError) return dataverseError(reply, err.status, err.code, err.message);
        return dataverseError(reply, 500, '0x80040216', 'An unexpected error occurred.');
      });
      app.post('/:tenant/oauth2/v2.0/token', async (request, reply) => {
        const { tenant: t } = request.params as { tenant: string };
        if (t !== tenant) return entraError(reply, 400, 'invalid_request', 90002, `Tenant '${t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
        const ct = String(request.headers['content-type'] ?? '');
        if (!ct.startsWith('application/x-www-form-urlencoded')) return entraError(reply, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
        const form = (request.body ?? {}) as Record<string, string>;
        if (form.grant_type !== 'client_credentials') return entraError(reply, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
        if (form.client_id !== opts.credentials.clientId) {
          return entraError(reply, 400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenant}'.`);
        }
        if (form.client_secret !== opts.credentials.clientSecret) {
          return entraError(reply, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${opts.credentials.clientId}'.`);
        }
        if (form.scope !== `${url}/.default`) {
          return entraError(reply, 400, 'invalid_scope', 1002012, `The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
        }
        const accessToken = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}`;
        tokens.set(accessToken, clock.now() + lifetimeMs);
        return reply.send({ token_type: 'Bearer', expires_in: Math.round(lifetimeMs / 1000), ext_expires_in: Math.round(lifetimeMs / 1000), access_token: accessToken });
      });
      app.get('/api/data/v9.2/*', async (request, reply) => handleWebApi(request, reply));
    },
  });
  url = server.url;

  /* ------------------------------------------------------------------ mutations and ground truth */
  const MUTABLE = ['accounts', 'contacts', 'leads', 'opportunities', 'connections', 'campaigns', 'lists'];
  function mutate(m: Mutation): { updated: number; deleted: number } {
    const random = seededRandom(m.seed ?? 7);
    const now = dvInstant(clock.date().toISOString());
    let updated = 0;
    let deleted = 0;
    for (const set of m.sets ?? MUTABLE) {
      if (!data.rows[set]) throw new Error(`mutate: no table ${set}`);
      const rows = data.rows[set]!;
      // Distinct rows: the first `update` are changed, the next `delete` hard-deleted (connections: per pair, never deleted here).
      const pool = [...rows.values()].filter((r) => set !== 'connections' || r.values.ismaster === true);
      const wantDeletes = set === 'connections' ? 0 : (m.delete ?? 0);
      const picked: SimRow[] = [];
      const want = Math.min(pool.length, (m.update ?? 0) + wantDeletes);
      while (picked.length < want) {
        const i = Math.floor(random() * pool.length);
        picked.push(pool[i]!);
        pool[i] = pool[pool.length - 1]!;
        pool.pop();
      }
      const touch = (row: SimRow) => {
        version++;
        rows.set(row.id, { ...row, rv: version, values: { ...row.values, modifiedon: now, versionnumber: version }, cache: undefined });
      };
      picked.forEach((row, i) => {
        if (i < (m.update ?? 0)) {
          touch(row);
          if (set === 'connections') touch(rows.get(row.values._relatedconnectionid_value as string)!);
          updated++;
        } else {
          version++;
          rows.delete(row.id);
          tombstones[set]!.push({ id: row.id, rv: version });
          deleted++;
        }
      });
    }
    return { updated, deleted };
  }

  function groundTruth(): Partial<Record<XdmClassName, number>> {
    const n = (set: string) => (tables[set] ? data.rows[set]!.size + tombstones[set]!.length : 0);
    return {
      account: n('accounts'),
      person: n('contacts') + n('leads'),
      opportunity: n('opportunities'),
      'opportunity-person': data.rows.connections!.size / 2,
      campaign: n('campaigns'),
      'marketing-list': n('lists'),
      'marketing-list-member': n('listmembers'),
    };
  }

  return {
    url,
    authEndpoint: `${url}/${tenant}/oauth2/v2.0/token`,
    instanceId: org,
    faults,
    clock,
    stats: () => stats.snapshot(),
    requests: () => stats.requests(),
    groundTruth,
    mutate,
    stop: () => server.close(),
  };
}
