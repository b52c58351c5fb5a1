/**
 * REST streams: programs (asset API, offset/maxReturn), static lists and their members (lead
 * database, nextPageToken). List membership has no change feed and Marketo reports no removals:
 * `list-members` re-reads every list's members each run, and its reconciliation lists every
 * `{listId}_{leadId}` Marketo holds now, so removed members are marked deleted. The filter-only
 * objects (companies, named accounts, opportunities, roles) are in keyed.ts.
 */
import { z } from 'zod';
import type { ListIdsRequest, PageResult, ReadRequest, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import { SourceIncompleteRead } from '../errors';
import { toMarketoFilterDate } from './dates';
import { MarketoApiError, type MarketoHttp } from './http';
import { mapListMember, mapProgram, mapStaticList, type MapResult, type MappingContext } from './mapping';
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
type ListMembersState = z.infer<typeof listMembersState>;

const START: ListMembersState = { v: 1, listsToken: null, listsDone: false, listIds: [], membersToken: null };
/** Object not found: a list deleted between lists.json and reading its members (it has none now). */
const NOT_FOUND = '1013';

/**
 * The next page of members of every static list, in list order: at most one lists.json and one
 * members call per step. Null `members` when the step read only a lists.json page or found a list
 * gone. `done` when the last list's last page has been read.
 */
async function listMembersStep(http: MarketoHttp, settings: MarketoSettings, st: ListMembersState, signal: AbortSignal): Promise<{ st: ListMembersState; listId: number | null; members: unknown[] | null; done: boolean }> {
  if (!st.listIds.length) {
    if (st.listsDone) return { st, listId: null, members: null, done: true };
    const env = await http.call('GET', '/rest/v1/lists.json', { query: { batchSize: settings.restPageSize, nextPageToken: st.listsToken ?? undefined }, signal });
    if (env.moreResult && !env.nextPageToken) throw new SourceIncompleteRead(http.label, 'lists: moreResult without a nextPageToken');
    const ids = (env.result ?? []).map((l) => Number((l as Json).id)).filter((n) => Number.isInteger(n));
    const more = Boolean(env.moreResult);
    const next = { ...st, listIds: ids, listsToken: more ? env.nextPageToken! : null, listsDone: !more, membersToken: null };
    return { st: next, listId: null, members: null, done: next.listsDone && !ids.length };
  }
  const listId = st.listIds[0]!;
  let env;
  try {
    env = await http.call('GET', `/rest/v1/lists/${listId}/leads.json`, {
      query: { batchSize: settings.restPageSize, fields: 'id', nextPageToken: st.membersToken ?? undefined },
      signal,
      passThrough: [NOT_FOUND],
    });
  } catch (err) {
    if (!(err instanceof MarketoApiError) || err.code !== NOT_FOUND) throw err;
    const next = { ...st, listIds: st.listIds.slice(1), membersToken: null };
    return { st: next, listId, members: null, done: next.listsDone && !next.listIds.length };
  }
  if (env.moreResult && !env.nextPageToken) throw new SourceIncompleteRead(http.label, `list ${listId} members: moreResult without a nextPageToken`);
  const next = env.moreResult ? { ...st, membersToken: env.nextPageToken! } : { ...st, listIds: st.listIds.slice(1), membersToken: null };
  return { st: next, listId, members: env.result ?? [], done: next.listsDone && !next.listIds.length };
}

const memberIdSchema = z.object({ id: z.union([z.int().nonnegative(), z.string().regex(/^\d+$/)]) });

export function createListMembersStream(http: MarketoHttp, settings: MarketoSettings, ctx: MappingContext): SourceStream {
  return {
    name: 'list-members',
    xdmClasses: ['marketing-list-member'],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      let st = parseState(listMembersState, req.state, http.label, 'list-members');
      if (st === null || (st.listsDone && !st.listIds.length)) st = { ...START };
      for (let step = 0; step < 20; step++) {
        const r = await listMembersStep(http, settings, st, req.signal);
        st = r.st;
        const { records, unmappable } = r.members ? collect(r.members, (item) => mapListMember(ctx, String(r.listId), item)) : { records: [], unmappable: [] };
        if (records.length || unmappable.length || r.done) return { records, unmappable, state: { ...st }, complete: r.done };
      }
      return { records: [], unmappable: [], state: { ...st }, complete: false };
    },
    reconcile: {
      xdmClass: 'marketing-list-member',
      idSuffix: '',
      /** Every `{listId}_{leadId}` of every static list, a members page at a time; any failure throws. */
      async listIds(req: ListIdsRequest): Promise<{ ids: string[]; state: StreamState | null }> {
        let st = parseState(listMembersState, req.state, http.label, 'list-members reconciliation') ?? { ...START };
        for (let step = 0; step < 20; step++) {
          const r = await listMembersStep(http, settings, st, req.signal);
          st = r.st;
          const ids: string[] = [];
          for (const item of r.members ?? []) {
            const parsed = memberIdSchema.safeParse(item);
            if (!parsed.success) throw new SourceIncompleteRead(http.label, `list ${r.listId} members: a member without a lead id`);
            ids.push(`${r.listId}_${parsed.data.id}`);
          }
          if (r.done) return { ids, state: null };
          if (r.members) return { ids, state: { ...st } };
        }
        return { ids: [], state: { ...st } };
      },
    },
  };
}
