/**
 * REST streams: programs (asset API, offset/maxReturn), static lists and their members (lead
 * database, nextPageToken), and the filter-only objects — companies, named accounts,
 * opportunities, opportunity roles — that Marketo can only read by key (≤300 filterValues a call,
 * no listing and no updatedAt filter). Their keys come from records already stored:
 *
 *   companies          filterType=externalCompanyId  ← person  b2b.accountID (the lead's externalCompanyId)
 *   named-accounts     filterType=domainName         ← account accountOrganization.domain (companies' web domains)
 *   opportunity-roles  filterType=leadId             ← person  b2b.personKey.sourceID
 *   opportunities      filterType=externalOpportunityId ← opportunity-person opportunityID (roles' externalOpportunityId)
 *
 * A filter-only run walks all known keys (state = the last key fed) and rests at the start, so
 * each run re-reads every known key: Marketo offers no change filter for these objects.
 */
import { z } from 'zod';
import type { KnownValuesQuery, PageResult, ReadRequest, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import { SourceIncompleteRead } from '../errors';
import { toMarketoFilterDate } from './dates';
import type { MarketoHttp } from './http';
import { mapCompany, mapListMember, mapNamedAccount, mapOpportunity, mapOpportunityRole, mapProgram, mapStaticList, type MapResult, type MappingContext } from './mapping';
import type { MarketoSettings } from './settings';

type Json = Record<string, unknown>;

function collect(results: unknown[], map: (item: Json) => MapResult): { records: SourceRecord[]; unmappable: UnmappableRow[] } {
  const records: SourceRecord[] = [];
  const unmappable: UnmappableRow[] = [];
  for (const item of results) {
    const r = map((item ?? {}) as Json);
    if (r.record) records.push(r.record);
    else unmappable.push(r.unmappable);
  }
  return { records, unmappable };
}

function parseState<T extends z.ZodType>(schema: T, state: StreamState | null, label: string, stream: string): z.infer<T> | null {
  if (state === null) return null;
  const parsed = schema.safeParse(state);
  if (!parsed.success) throw new SourceIncompleteRead(label, `${stream}: unreadable stream state (${parsed.error.issues[0]?.message}); reset the stream`);
  return parsed.data;
}

/* ----------------------------------------------------------------------------------------- */
/* Programs (asset API)                                                                        */
/* ----------------------------------------------------------------------------------------- */

const programsState = z.object({
  v: z.literal(1),
  offset: z.int().min(0),
  /** The updatedAt range of an incremental run (null on a full read). */
  from: z.string().nullable(),
  to: z.string().nullable(),
  done: z.boolean(),
  watermark: z.string().nullable(),
});

export function createProgramsStream(http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext): SourceStream {
  return {
    name: 'programs',
    xdmClasses: ['campaign'],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      let st = parseState(programsState, req.state, http.label, 'programs');
      const runTo = toMarketoFilterDate(Date.parse(req.runStartedAt));
      if (st === null) st = { v: 1, offset: 0, from: null, to: runTo, done: false, watermark: null };
      else if (st.done) {
        const from = toMarketoFilterDate(Date.parse(st.watermark ?? runTo) - settings.overlapMs);
        st = { v: 1, offset: 0, from, to: runTo, done: false, watermark: st.watermark };
      }
      const env = await http.call('GET', '/rest/asset/v1/programs.json', {
        query: { offset: st.offset, maxReturn: settings.assetPageSize, ...(st.from ? { earliestUpdatedAt: st.from, latestUpdatedAt: st.to ?? runTo } : {}) },
        signal: req.signal,
      });
      const results = env.result ?? [];
      const { records, unmappable } = collect(results, (item) => mapProgram(ctx, item));
      if (results.length < settings.assetPageSize) {
        const resting = { v: 1, offset: 0, from: null, to: null, done: true, watermark: st.to ?? runTo };
        return { records, unmappable, state: resting, complete: true };
      }
      return { records, unmappable, state: { ...st, offset: st.offset + results.length }, complete: false };
    },
  };
}

/* ----------------------------------------------------------------------------------------- */
/* Static lists and list members (lead database REST)                                          */
/* ----------------------------------------------------------------------------------------- */

const listsState = z.object({ v: z.literal(1), token: z.string().nullable() });

export function createStaticListsStream(http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext): SourceStream {
  return {
    name: 'static-lists',
    xdmClasses: ['marketing-list'],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      const st = parseState(listsState, req.state, http.label, 'static-lists') ?? { v: 1 as const, token: null };
      const env = await http.call('GET', '/rest/v1/lists.json', { query: { batchSize: settings.restPageSize, nextPageToken: st.token ?? undefined }, signal: req.signal });
      const { records, unmappable } = collect(env.result ?? [], (item) => mapStaticList(ctx, item));
      if (env.moreResult && env.nextPageToken) return { records, unmappable, state: { v: 1, token: env.nextPageToken }, complete: false };
      return { records, unmappable, state: { v: 1, token: null }, complete: true };
    },
  };
}

const listMembersState = z.object({
  v: z.literal(1),
  /** Paging token of lists.json for the page after `listIds`. */
  listsToken: z.string().nullable(),
  listsDone: z.boolean(),
  /** Lists of the current lists.json page still to read (the first is being read). */
  listIds: z.array(z.int()),
  /** Paging token inside the first list of listIds. */
  membersToken: z.string().nullable(),
});

export function createListMembersStream(http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext): SourceStream {
  return {
    name: 'list-members',
    xdmClasses: ['marketing-list-member'],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      let st = parseState(listMembersState, req.state, http.label, 'list-members');
      if (st === null || (st.listsDone && !st.listIds.length)) st = { v: 1, listsToken: null, listsDone: false, listIds: [], membersToken: null };
      for (let step = 0; step < 20; step++) {
        if (!st.listIds.length) {
          if (st.listsDone) return { records: [], unmappable: [], state: { ...st }, complete: true };
          const env = await http.call('GET', '/rest/v1/lists.json', { query: { batchSize: settings.restPageSize, nextPageToken: st.listsToken ?? undefined }, signal: req.signal });
          const ids = (env.result ?? []).map((l) => Number((l as Json).id)).filter((n) => Number.isInteger(n));
          const more = Boolean(env.moreResult && env.nextPageToken);
          st = { ...st, listIds: ids, listsToken: more ? env.nextPageToken! : null, listsDone: !more, membersToken: null };
          continue;
        }
        const listId = st.listIds[0]!;
        const env = await http.call('GET', `/rest/v1/lists/${listId}/leads.json`, {
          query: { batchSize: settings.restPageSize, fields: 'id', nextPageToken: st.membersToken ?? undefined },
          signal: req.signal,
        });
        const { records, unmappable } = collect(env.result ?? [], (item) => mapListMember(ctx, String(listId), item));
        if (env.moreResult && env.nextPageToken) st = { ...st, membersToken: env.nextPageToken };
        else st = { ...st, listIds: st.listIds.slice(1), membersToken: null };
        const complete = st.listsDone && !st.listIds.length;
        if (records.length || unmappable.length || complete) return { records, unmappable, state: { ...st }, complete };
      }
      return { records: [], unmappable: [], state: { ...st }, complete: false };
    },
  };
}

/* ----------------------------------------------------------------------------------------- */
/* Filter-only objects                                                                         */
/* ----------------------------------------------------------------------------------------- */

const filterState = z.object({
  v: z.literal(1),
  /** The last key fed to Marketo (keys are walked in ascending order). */
  after: z.string().nullable(),
  /** While paging inside one call's results: its keys and paging token. */
  batch: z.array(z.string()).nullable(),
  token: z.string().nullable(),
});

interface FilterSpec {
  name: string;
  /** The streams whose stored records hold this stream's keys: they run first. */
  dependsOn: readonly string[];
  xdmClass: XdmClassName;
  path: string;
  filterType: string;
  keysFrom: KnownValuesQuery;
  fields?: string;
  /** Keys that cannot be valid filter values are skipped (e.g. non-numeric lead ids). */
  accept?: (key: string) => boolean;
  map(ctx: MappingContext, item: Json): MapResult;
}

const COMPANY_FIELDS = 'id,externalCompanyId,company,site,website,mainPhone,industry,annualRevenue,numberOfEmployees,sicCode,billingStreet,billingCity,billingState,billingPostalCode,billingCountry,createdAt,updatedAt';
const NAMED_ACCOUNT_FIELDS = 'marketoGUID,name,domainName,crmGuid,parentAccountId,annualRevenue,numberOfEmployees,industry,sicCode,city,state,country,logoUrl,createdAt,updatedAt';
const OPPORTUNITY_FIELDS = 'marketoGUID,externalOpportunityId,externalCompanyId,name,description,type,stage,amount,expectedRevenue,probability,closeDate,isClosed,isWon,forecastCategory,forecastCategoryName,fiscalYear,fiscalQuarter,leadSource,nextStep,createdAt,updatedAt';
const ROLE_FIELDS = 'marketoGUID,externalOpportunityId,leadId,role,isPrimary,createdAt,updatedAt';

export const FILTER_STREAMS: FilterSpec[] = [
  { name: 'companies', dependsOn: ['leads'], xdmClass: 'account', path: '/rest/v1/companies.json', filterType: 'externalCompanyId', keysFrom: { xdmClass: 'person', path: 'b2b.accountID' }, fields: COMPANY_FIELDS, map: mapCompany },
  { name: 'named-accounts', dependsOn: ['companies'], xdmClass: 'account', path: '/rest/v1/namedaccounts.json', filterType: 'domainName', keysFrom: { xdmClass: 'account', path: 'accountOrganization.domain' }, fields: NAMED_ACCOUNT_FIELDS, map: mapNamedAccount },
  { name: 'opportunities', dependsOn: ['opportunity-roles'], xdmClass: 'opportunity', path: '/rest/v1/opportunities.json', filterType: 'externalOpportunityId', keysFrom: { xdmClass: 'opportunity-person', path: 'opportunityID' }, fields: OPPORTUNITY_FIELDS, map: mapOpportunity },
  { name: 'opportunity-roles', dependsOn: ['leads'], xdmClass: 'opportunity-person', path: '/rest/v1/opportunities/roles.json', filterType: 'leadId', keysFrom: { xdmClass: 'person', path: 'b2b.personKey.sourceID' }, fields: ROLE_FIELDS, accept: (k) => /^\d+$/.test(k), map: mapOpportunityRole },
];

/** Marketo refuses URIs over 8 KB (414): keep filterValues well under it. */
const MAX_FILTER_CHARS = 6_000;

export function createFilterStream(spec: FilterSpec, http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext): SourceStream {
  return {
    name: spec.name,
    dependsOn: spec.dependsOn,
    xdmClasses: [spec.xdmClass],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      const st = parseState(filterState, req.state, http.label, spec.name) ?? { v: 1 as const, after: null, batch: null, token: null };
      let batch = st.batch;
      let after = st.after;
      let exhausted = false;
      if (!batch) {
        const limit = settings.restPageSize;
        const keys = await req.knownValues(spec.keysFrom, st.after, limit);
        exhausted = keys.length < limit;
        batch = [];
        let chars = 0;
        for (const key of keys) {
          const cost = encodeURIComponent(key).length + 3;
          if (batch.length && chars + cost > MAX_FILTER_CHARS) {
            exhausted = false;
            break;
          }
          batch.push(key);
          chars += cost;
        }
        if (batch.length) after = batch[batch.length - 1]!;
      }
      const values = spec.accept ? batch.filter(spec.accept) : batch;
      let records: SourceRecord[] = [];
      let unmappable: UnmappableRow[] = [];
      let token: string | null = null;
      if (values.length) {
        const env = await http.call('GET', spec.path, {
          query: { filterType: spec.filterType, filterValues: values.join(','), fields: spec.fields, batchSize: settings.restPageSize, nextPageToken: st.batch ? st.token ?? undefined : undefined },
          signal: req.signal,
        });
        ({ records, unmappable } = collect(env.result ?? [], (item) => spec.map(ctx, item)));
        if (env.moreResult && env.nextPageToken) token = env.nextPageToken;
      }
      if (token) return { records, unmappable, state: { v: 1, after, batch, token }, complete: false };
      const done = st.batch ? false : exhausted;
      if (done || (!batch.length && !st.batch)) return { records, unmappable, state: { v: 1, after: null, batch: null, token: null }, complete: true };
      return { records, unmappable, state: { v: 1, after, batch: null, token: null }, complete: false };
    },
  };
}
