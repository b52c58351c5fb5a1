/**
 * The filter-only objects — companies, named accounts, opportunity roles, opportunities — that
 * Marketo can only read by key (≤300 filterValues a call, no listing, no updatedAt filter). Their
 * keys come from records already stored from the instance (`knownValues`):
 *
 *   companies          filterType=externalCompanyId     ← person b2b.accountID (the lead's externalCompanyId)
 *   named-accounts     filterType=domainName            ← account accountOrganization.domain, asked as `d` and `www.d`
 *   opportunity-roles  filterType=leadId                ← person b2b.personKey.sourceID
 *   opportunities      filterType=externalOpportunityId ← opportunity-person opportunityID (the roles' opportunities)
 *                      filterType=marketoGUID           ← opportunity opportunityID (opportunities stored before)
 *                      filterType=externalOpportunityId ← the CRM org's opportunity ids (crmInstanceId), roles or not
 *
 * Which keys a run reads: the first run walks every key of each source. Later runs walk, per
 * source, the keys carried by records stored since the last complete run started (`changedSince`),
 * then a rotating slice of `rotatingKeysPerRun` keys that starts after the previous run's slice and
 * wraps around — so every key is read again regularly without each run reading all of them. The
 * state after each page says exactly where the run is (source, walk, last key, paging token).
 *
 * On a subscription with native CRM sync Marketo has no opportunity-role API (crm-sync.ts):
 * `opportunity-roles` and `opportunities` complete empty with a notice; opportunities and their
 * roles come from the CRM source.
 *
 * Reconciliation: Marketo cannot list these objects, so the ids stored from the instance are asked
 * for by id (companies `id`, named accounts and opportunities `marketoGUID`) and the ids Marketo
 * still returns are listed. Any failure throws: a partial list would mark live records deleted.
 */
import { z } from 'zod';
import type {
  KnownValuesQuery, ListIdsRequest, PageResult, ReadRequest, ReconcileSpec, SourceRecord, SourceStream, SourceType, StreamState, UnmappableRow,
} from '../source-connector';
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import { SourceIncompleteRead } from '../errors';
import { CRM_ENABLED, type NativeCrmSync } from './crm-sync';
import { MarketoApiError, type MarketoHttp } from './http';
import { mapCompany, mapNamedAccount, mapOpportunity, mapOpportunityRole, type MapResult, type MappingContext } from './mapping';
import type { MarketoSettings } from './settings';

type Json = Record<string, unknown>;

/** One place stored records hold this stream's keys, and how Marketo is asked about them. */
interface KeySource {
  keysFrom: KnownValuesQuery;
  filterType: string;
  /** Keys that cannot be valid filter values are skipped (e.g. non-numeric lead ids). */
  accept?: (key: string) => boolean;
  /** The filter values one key stands for (default: the key itself). */
  values?: (key: string) => string[];
  /**
   * Walked by the rotating slice only: for keys of records this very stream stores, whose changes
   * only reading them would show (the first run finds them through the other sources).
   */
  rotateOnly?: boolean;
  /** The keys are read from the CRM org the subscription syncs with (`crmInstanceId`); none without one. */
  fromCrm?: boolean;
}

interface KeyedSpec {
  name: string;
  /** The streams whose stored records hold this stream's keys: they run first. */
  dependsOn: readonly string[];
  xdmClass: XdmClassName;
  path: string;
  fields: string;
  sources: readonly KeySource[];
  map(ctx: MappingContext, item: Json): MapResult;
  /** Not offered on subscriptions with native CRM sync: the stream completes empty with a notice. */
  skipWithNativeCrm?: boolean;
  /** How to ask Marketo which stored ids it still has (sourceID = `{id}{idSuffix}`). */
  reconcile?: { idSuffix: string; filterType: string; idField: string; accept: (id: string) => boolean };
}

const COMPANY_FIELDS = 'id,externalCompanyId,company,site,website,mainPhone,industry,annualRevenue,numberOfEmployees,sicCode,billingStreet,billingCity,billingState,billingPostalCode,billingCountry,createdAt,updatedAt';
const NAMED_ACCOUNT_FIELDS = 'marketoGUID,name,domainName,crmGuid,parentAccountId,annualRevenue,numberOfEmployees,industry,sicCode,city,state,country,logoUrl,createdAt,updatedAt';
const OPPORTUNITY_FIELDS = 'marketoGUID,externalOpportunityId,externalCompanyId,name,description,type,stage,amount,expectedRevenue,probability,closeDate,isClosed,isWon,forecastCategory,forecastCategoryName,fiscalYear,fiscalQuarter,leadSource,nextStep,createdAt,updatedAt';
const ROLE_FIELDS = 'marketoGUID,externalOpportunityId,leadId,role,isPrimary,createdAt,updatedAt';

const numeric = (k: string): boolean => /^\d+$/.test(k);
/** The connector type of the CRM a subscription syncs with (for reading that org's stored records). */
const CRM_SOURCE_TYPE = { Salesforce: 'salesforce' } as const satisfies Record<MarketoSettings['crmType'], SourceType>;
const GUID = /^[0-9A-Za-z][0-9A-Za-z-]{0,63}$/;

/** A named account's domain as Marketo may hold it: with and without `www.`. */
export function domainForms(domain: string): string[] {
  const bare = domain.trim().toLowerCase().replace(/^www\./, '');
  return bare ? [bare, `www.${bare}`] : [];
}

export const KEYED_STREAMS: readonly KeyedSpec[] = [
  {
    name: 'companies', dependsOn: ['leads'], xdmClass: 'account', path: '/rest/v1/companies.json', fields: COMPANY_FIELDS, map: mapCompany,
    sources: [{ keysFrom: { xdmClass: 'person', path: 'b2b.accountID' }, filterType: 'externalCompanyId' }],
    reconcile: { idSuffix: '.mkto_org', filterType: 'id', idField: 'id', accept: numeric },
  },
  {
    name: 'named-accounts', dependsOn: ['companies'], xdmClass: 'account', path: '/rest/v1/namedaccounts.json', fields: NAMED_ACCOUNT_FIELDS, map: mapNamedAccount,
    sources: [{ keysFrom: { xdmClass: 'account', path: 'accountOrganization.domain' }, filterType: 'domainName', values: domainForms }],
    reconcile: { idSuffix: '.mkto_acct', filterType: 'marketoGUID', idField: 'marketoGUID', accept: (id) => GUID.test(id) },
  },
  {
    name: 'opportunities', dependsOn: ['opportunity-roles'], xdmClass: 'opportunity', path: '/rest/v1/opportunities.json', fields: OPPORTUNITY_FIELDS, map: mapOpportunity,
    sources: [
      { keysFrom: { xdmClass: 'opportunity-person', path: 'opportunityID' }, filterType: 'externalOpportunityId' },
      // Opportunities already stored are read again by their own id, whether or not roles still point at them.
      { keysFrom: { xdmClass: 'opportunity', path: 'opportunityID' }, filterType: 'marketoGUID', accept: (k) => GUID.test(k), rotateOnly: true },
      // The CRM org's opportunities: Marketo's externalOpportunityId is the CRM id, so an opportunity
      // no role points at is found too.
      { keysFrom: { xdmClass: 'opportunity', path: 'opportunityKey.sourceID' }, filterType: 'externalOpportunityId', fromCrm: true },
    ],
    skipWithNativeCrm: true,
    reconcile: { idSuffix: '', filterType: 'marketoGUID', idField: 'marketoGUID', accept: (id) => GUID.test(id) },
  },
  {
    name: 'opportunity-roles', dependsOn: ['leads'], xdmClass: 'opportunity-person', path: '/rest/v1/opportunities/roles.json', fields: ROLE_FIELDS, map: mapOpportunityRole,
    sources: [{ keysFrom: { xdmClass: 'person', path: 'b2b.personKey.sourceID' }, filterType: 'leadId', accept: numeric }],
    skipWithNativeCrm: true,
  },
];

/** Marketo refuses URIs over 8 KB (414): keep filterValues well under it. */
const MAX_FILTER_CHARS = 6_000;
/** Marketo takes at most 300 filterValues a call. */
const MAX_FILTER_VALUES = 300;
/** Knownvalues look-ups and calls one readPage may make before it returns its progress. */
const MAX_STEPS = 50;

/** The longest prefix of `keys` (at least one) whose filter values fit one call; and those values. */
function fitOneCall(keys: readonly string[], valuesOf: (key: string) => string[]): { keys: string[]; values: string[] } {
  const taken: string[] = [];
  const values: string[] = [];
  const seen = new Set<string>();
  let chars = 0;
  for (const key of keys) {
    const fresh = valuesOf(key).filter((v) => !seen.has(v));
    const cost = fresh.reduce((n, v) => n + encodeURIComponent(v).length + 3, 0);
    if (taken.length && (chars + cost > MAX_FILTER_CHARS || values.length + fresh.length > MAX_FILTER_VALUES)) break;
    taken.push(key);
    for (const v of fresh) {
      seen.add(v);
      values.push(v);
    }
    chars += cost;
  }
  return { keys: taken, values };
}

function valuesOfSource(src: KeySource): (key: string) => string[] {
  return (key) => (src.accept && !src.accept(key) ? [] : src.values ? src.values(key) : [key]);
}

/* ----------------------------------------------------------------------------------------- */
/* Stream state                                                                                */
/* ----------------------------------------------------------------------------------------- */

const isoString = z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected an ISO date-time');

/** The state of the single-walk reader that preceded v2 (every key, every run). */
const v1State = z.object({ v: z.literal(1), after: z.string().nullable(), batch: z.array(z.string()).nullable(), token: z.string().nullable() });

const walkSchema = z.object({
  /** Index of the key source in the stream's spec. */
  source: z.int().min(0),
  /** all: every key (first run); changed: keys of records stored since the last complete run; slice: the rotating slice. */
  kind: z.enum(['all', 'changed', 'slice']),
  /** The last key fed to Marketo (keys are walked in ascending order). */
  after: z.string().nullable(),
  /** While paging inside one call's results: its keys and paging token. */
  batch: z.array(z.string()).nullable(),
  token: z.string().nullable(),
  /** Slice: keys it may still read, the key it started after, and whether it has wrapped to the first key. */
  left: z.int().min(0),
  from: z.string().nullable(),
  wrapped: z.boolean(),
});
type Walk = z.infer<typeof walkSchema>;

export const keyedStateSchema = z.object({
  v: z.literal(2),
  /** runStartedAt of the last complete run; null until one completes (the next run walks every key). */
  lastComplete: isoString.nullable(),
  /** Per key source: the last key of the previous rotating slice (null: from the first key). */
  rotation: z.array(z.string().nullable()),
  /** The run in progress (null at rest): when it started, and where it is. */
  run: z.object({ startedAt: isoString, walk: walkSchema }).nullable(),
});
export type KeyedState = z.infer<typeof keyedStateSchema>;

function readState(state: StreamState | null, req: ReadRequest, label: string, stream: string): KeyedState {
  if (state === null) return { v: 2, lastComplete: null, rotation: [], run: null };
  const v2 = keyedStateSchema.safeParse(state);
  if (v2.success) return v2.data;
  const v1 = v1State.safeParse(state);
  if (v1.success) {
    // v1 never recorded when a run completed: treat it as before the first run, resuming a walk in progress.
    const { after, batch, token } = v1.data;
    if (after === null && batch === null) return { v: 2, lastComplete: null, rotation: [], run: null };
    return { v: 2, lastComplete: null, rotation: [], run: { startedAt: req.runStartedAt, walk: { source: 0, kind: 'all', after, batch, token, left: 0, from: null, wrapped: false } } };
  }
  throw new SourceIncompleteRead(label, `${stream}: unreadable stream state (${v2.error.issues[0]?.message}); reset the stream`);
}

/* ----------------------------------------------------------------------------------------- */
/* Reading                                                                                     */
/* ----------------------------------------------------------------------------------------- */

export function createKeyedStream(spec: KeyedSpec, http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext, crm: NativeCrmSync): SourceStream {
  const label = http.label;
  const crmNotice = `${spec.name}: this Marketo subscription has native CRM sync (${CRM_ENABLED} CRM Enabled), which offers no opportunity-role API; opportunities and their roles come from the CRM source`;

  /** The walks of a run, in order: every key on the first run; changed keys, then the slice, later. */
  const plan = (st: KeyedState): Array<{ source: number; kind: Walk['kind'] }> =>
    spec.sources.flatMap((src, source) => {
      const kinds: Array<Walk['kind']> = st.lastComplete === null ? ['all'] : ['changed', 'slice'];
      return kinds
        .filter((kind) => !(src.rotateOnly && kind !== 'slice') && !(kind === 'slice' && settings.rotatingKeysPerRun === 0) && !(src.fromCrm && !settings.crmInstanceId))
        .map((kind) => ({ source, kind }));
    });
  const walkFor = (st: KeyedState, source: number, kind: Walk['kind']): Walk => {
    const from = kind === 'slice' ? st.rotation[source] ?? null : null;
    return { source, kind, after: from, batch: null, token: null, left: kind === 'slice' ? settings.rotatingKeysPerRun : 0, from, wrapped: false };
  };
  const nextWalk = (st: KeyedState, w: Walk | null): Walk | null => {
    const steps = plan(st);
    const at = w === null ? -1 : steps.findIndex((p) => p.source === w.source && p.kind === w.kind);
    // A walk the plan no longer has (settings changed mid-run): go on with the next source.
    const next = w !== null && at < 0 ? steps.find((p) => p.source > w.source) : steps[at + 1];
    return next ? walkFor(st, next.source, next.kind) : null;
  };
  const rotationWith = (st: KeyedState, source: number, key: string | null): Array<string | null> => {
    const r = spec.sources.map((_, i) => st.rotation[i] ?? null);
    r[source] = key;
    return r;
  };

  const resting = (st: KeyedState): KeyedState => ({ v: 2, lastComplete: st.lastComplete, rotation: spec.sources.map((_, i) => st.rotation[i] ?? null), run: null });
  const skipped = (st: KeyedState): PageResult => ({ records: [], unmappable: [], state: resting(st) as unknown as StreamState, complete: true, notices: [crmNotice] });

  /** One filter call (one page of its results). */
  async function read(path: string, filterType: string, values: string[], token: string | null, signal: AbortSignal) {
    const env = await http.call('GET', path, {
      query: { filterType, filterValues: values.join(','), fields: spec.fields, batchSize: settings.restPageSize, nextPageToken: token ?? undefined },
      signal,
      ...(spec.skipWithNativeCrm ? { passThrough: [CRM_ENABLED] } : {}),
    });
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    for (const item of env.result ?? []) {
      const r = spec.map(ctx, (item ?? {}) as Json);
      if (r.record) records.push(r.record);
      else unmappable.push(r.unmappable);
    }
    return { records, unmappable, next: env.moreResult && env.nextPageToken ? env.nextPageToken : null };
  }

  async function readPage(req: ReadRequest): Promise<PageResult> {
    let st = readState(req.state, req, label, spec.name);
    if (st.run === null) {
      if (spec.skipWithNativeCrm && (await crm.enabled(req.signal))) return skipped(st);
      const first = nextWalk(st, null);
      if (!first) return { records: [], unmappable: [], state: { ...resting(st), lastComplete: req.runStartedAt } as unknown as StreamState, complete: true };
      st = { ...st, rotation: spec.sources.map((_, i) => st.rotation[i] ?? null), run: { startedAt: req.runStartedAt, walk: first } };
    }
    const run = st.run!;
    let w: Walk = { ...run.walk };
    const page = (records: SourceRecord[], unmappable: UnmappableRow[], walk: Walk, rotation = st.rotation): PageResult => ({
      records, unmappable, state: { ...st, rotation, run: { startedAt: run.startedAt, walk } } as unknown as StreamState, complete: false,
    });
    try {
      for (let step = 0; step < MAX_STEPS; step++) {
        const src = spec.sources[w.source];
        if (!src) throw new SourceIncompleteRead(label, `${spec.name}: stream state names key source ${w.source}, which does not exist; reset the stream`);
        const valuesOf = valuesOfSource(src);
        if (w.batch) {
          // Paging inside one call's results.
          const got = await read(spec.path, src.filterType, fitOneCall(w.batch, valuesOf).values, w.token, req.signal);
          return page(got.records, got.unmappable, { ...w, batch: got.next ? w.batch : null, token: got.next });
        }
        let finished: 'budget' | 'cutoff' | 'end' | null = null;
        let keys: string[] = [];
        if (w.kind === 'slice' && w.left === 0) finished = 'budget';
        else {
          const limit = w.kind === 'slice' ? Math.min(settings.restPageSize, w.left) : settings.restPageSize;
          const keysFrom = src.fromCrm ? { ...src.keysFrom, instance: { sourceType: CRM_SOURCE_TYPE[settings.crmType], instanceId: settings.crmInstanceId! } } : src.keysFrom;
          const query = w.kind === 'changed' ? { ...keysFrom, changedSince: new Date(Date.parse(st.lastComplete!) - settings.overlapMs).toISOString() } : keysFrom;
          const raw = await req.knownValues(query, w.after, limit);
          keys = w.kind === 'slice' && w.wrapped && w.from !== null ? raw.filter((k) => k <= w.from!) : raw;
          if (!keys.length) {
            if (w.kind === 'slice' && !w.wrapped && w.from !== null) {
              w = { ...w, wrapped: true, after: null };
              continue;
            }
            finished = w.kind === 'slice' && w.wrapped && raw.length ? 'cutoff' : 'end';
          }
        }
        if (finished) {
          const rotation = w.kind === 'slice' ? rotationWith(st, w.source, finished === 'end' ? null : w.after) : st.rotation;
          st = { ...st, rotation };
          const next = nextWalk(st, w);
          if (!next) {
            const done: KeyedState = { v: 2, lastComplete: run.startedAt, rotation: spec.sources.map((_, i) => rotation[i] ?? null), run: null };
            return { records: [], unmappable: [], state: done as unknown as StreamState, complete: true };
          }
          w = next;
          continue;
        }
        const call = fitOneCall(keys, valuesOf);
        w = { ...w, after: call.keys[call.keys.length - 1]!, left: w.kind === 'slice' ? w.left - call.keys.length : w.left };
        if (!call.values.length) continue;
        const got = await read(spec.path, src.filterType, call.values, null, req.signal);
        return page(got.records, got.unmappable, { ...w, batch: got.next ? call.keys : null, token: got.next });
      }
      return page([], [], w);
    } catch (err) {
      if (spec.skipWithNativeCrm && err instanceof MarketoApiError && err.code === CRM_ENABLED) {
        crm.markEnabled();
        return skipped(st);
      }
      throw err;
    }
  }

  return {
    name: spec.name,
    dependsOn: spec.dependsOn,
    xdmClasses: [spec.xdmClass],
    backfill: null,
    readPage,
    ...(spec.reconcile ? { reconcile: createKeyedReconcile(spec, spec.reconcile, http) } : {}),
  };
}

/* ----------------------------------------------------------------------------------------- */
/* Reconciliation                                                                              */
/* ----------------------------------------------------------------------------------------- */

const reconcileState = z.object({ v: z.literal(1), after: z.string() });
const STORED_IDS_PER_CALL = 300;

function createKeyedReconcile(spec: KeyedSpec, rec: NonNullable<KeyedSpec['reconcile']>, http: MarketoHttp): ReconcileSpec {
  const label = http.label;
  const itemSchema = z.object({ [rec.idField]: z.union([z.string().min(1), z.int()]) });
  const idOf = (sourceId: string): string | null => {
    if (!sourceId.endsWith(rec.idSuffix)) return null;
    const id = sourceId.slice(0, sourceId.length - rec.idSuffix.length);
    return rec.accept(id) ? id : null;
  };
  return {
    xdmClass: spec.xdmClass,
    idSuffix: rec.idSuffix,
    async listIds(req: ListIdsRequest): Promise<{ ids: string[]; state: StreamState | null }> {
      let after: string | null = null;
      if (req.state !== null) {
        const parsed = reconcileState.safeParse(req.state);
        if (!parsed.success) throw new SourceIncompleteRead(label, `${spec.name}: unreadable reconciliation state (${parsed.error.issues[0]?.message})`);
        after = parsed.data.after;
      }
      const stored = await req.storedIds(after, STORED_IDS_PER_CALL);
      if (!stored.length) return { ids: [], state: null };
      // Ids Marketo cannot hold (a malformed stored id) are not asked for, and so not listed.
      const call = fitOneCall(stored, (s) => {
        const id = idOf(s);
        return id === null ? [] : [id];
      });
      const ids: string[] = [];
      if (call.values.length) {
        let token: string | undefined;
        do {
          const env = await http.call('GET', spec.path, {
            query: { filterType: rec.filterType, filterValues: call.values.join(','), fields: rec.idField, batchSize: STORED_IDS_PER_CALL, nextPageToken: token },
            signal: req.signal,
          });
          if (!env.result) throw new SourceIncompleteRead(label, `${spec.name}: a search by ${rec.filterType} answered without a result array`);
          for (const item of env.result) {
            const parsed = itemSchema.safeParse(item);
            if (!parsed.success) throw new SourceIncompleteRead(label, `${spec.name}: a search by ${rec.filterType} returned an item without ${rec.idField}`);
            ids.push(`${String(parsed.data[rec.idField])}${rec.idSuffix}`);
          }
          if (env.moreResult && !env.nextPageToken) throw new SourceIncompleteRead(label, `${spec.name}: moreResult without a nextPageToken`);
          token = env.moreResult ? env.nextPageToken : undefined;
        } while (token);
      }
      const more = call.keys.length < stored.length || stored.length === STORED_IDS_PER_CALL;
      return { ids, state: more ? { v: 1, after: call.keys[call.keys.length - 1]! } : null };
    },
  };
}
