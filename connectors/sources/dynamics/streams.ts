/**
 * The Dynamics streams, one per entity set. Before its first read a stream asks the org's table
 * definitions (metadata.ts, once per connector) whether its table exists, whether it has change
 * tracking, and which of the mapping's columns it has. Two ways to read incrementally:
 *
 * - Change tracking (tables with "Track changes" on): the first run sends
 *   `Prefer: odata.track-changes` without $filter/$orderby/$top (Dataverse rejects them with change
 *   tracking), follows @odata.nextLink, and the last page's @odata.deltaLink is the resting state.
 *   The next run GETs the delta link: changed rows plus `$deletedEntity` rows (→ isDeleted
 *   tombstones). When Dataverse refuses the change token (expired after the org's
 *   ExpireChangeTrackingInDays, unreadable, unknown: see client.ts for which answers count), the
 *   stream starts a full resync and says so in `notices`.
 * - Watermark (tables without change tracking, e.g. listmember): `$filter=modifiedon ge
 *   {watermark − overlap}` `$orderby=modifiedon asc,{id} asc`; hard deletes are not visible this
 *   way: the stream's `reconcile` lists the ids the table holds, and the engine marks stored
 *   records it no longer lists as deleted.
 *
 * Backfills read one window by `modifiedon` with $filter (no change tracking).
 *
 * Columns the org lacks (`msdyn_forecastcategory` without Dynamics 365 Sales forecasting) are left
 * out of $select and named in the notices of each run; a table the org lacks is reported and not
 * read.
 *
 * Every state carries the next link to fetch, so a crash re-reads at most the page in flight.
 */
import { z } from 'zod';
import { SourceIncompleteRead, SourceRequestRejected } from '../errors';
import type { ListIdsRequest, PageResult, ReadRequest, ReconcileSpec, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import type { CollectionPage, DataverseClient } from './client';
import { ENTITIES, attributeOf, connectionPairId, guidOf, isUnmappable, mapRow, recordIdColumns, recordIdOf, type EntityMapping, type MapContext } from './mapping';
import type { OrgMetadata } from './metadata';
import type { DynamicsSettings } from './settings';

const trackedState = z.object({
  mode: z.literal('tracked'),
  /** The nextLink to fetch next (initial load or a multi-page delta), or null. */
  next: z.string().nullable(),
  /** The resting delta link (null until the initial load has finished). */
  deltaLink: z.string().nullable(),
  /** Whether `next` belongs to the initial load or to a delta read. */
  phase: z.enum(['initial', 'delta']),
});
const watermarkState = z.object({
  mode: z.literal('watermark'),
  next: z.string().nullable(),
  /** Resting watermark: the greatest modifiedon read by the last complete run. */
  watermark: z.string().nullable(),
  /** Greatest modifiedon read so far in the current run. */
  maxSeen: z.string().nullable(),
});
const windowState = z.object({ mode: z.literal('window'), next: z.string().nullable(), from: z.string(), to: z.string() });
const stateSchema = z.discriminatedUnion('mode', [trackedState, watermarkState, windowState]);
type StreamPosition = z.infer<typeof stateSchema>;
type TrackedState = z.infer<typeof trackedState>;
type WatermarkState = z.infer<typeof watermarkState>;

/** Reconciliation's position: the entity set being listed and its next page (null: its first). */
const listState = z.object({ set: z.string(), next: z.string().nullable() });

export const EXPIRED_NOTICE = 'change token expired: full resync';

/** The notice for a change token Dataverse refused for another reason than its age. */
export function refusedTokenNotice(detail: string): string {
  return `change token refused (${detail}): full resync`;
}

/** The notice naming the mapped columns the org lacks (left out of $select). */
export function missingColumnsNotice(columns: readonly string[]): string {
  return `columns not in this org, not synced: ${columns.join(', ')}`;
}

/** Dataverse $filter date-time literal: ISO without milliseconds. */
function odataInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface MappedPage {
  records: SourceRecord[];
  unmappable: UnmappableRow[];
  maxModified: string | null;
}

/** How this org lets the stream be read, from its table definitions. */
type Plan =
  | { present: false }
  | {
      present: true;
      tracked: boolean;
      /** The $select list: the mapping's columns the table has. */
      select: string;
      /** The mapping's optional columns the table lacks. */
      missing: string[];
      /** `changeTracking` asks for it, but the table does not have it. */
      trackingUnavailable: boolean;
    };

export function createStreams(client: DataverseClient, metadata: OrgMetadata, settings: DynamicsSettings, ctx: MapContext): SourceStream[] {
  // One listing per class: the first stream writing it lists every entity set that writes it.
  return ENTITIES.map((entity) => new DynamicsStream(client, metadata, settings, ctx, entity, ENTITIES.find((e) => e.xdmClass === entity.xdmClass) === entity));
}

class DynamicsStream implements SourceStream {
  readonly name: string;
  readonly xdmClasses;
  readonly backfill;
  /**
   * Present whether the table has change tracking or not. Which tables have it is only known once
   * the org has been asked, and the contract has no way to say "not needed" later (an empty
   * listing would delete everything); listing the ids of a tracked table is redundant but never
   * wrong, and it also finds the deletes a full resync cannot report (those made between the last
   * delta read and the refused change token). The listing covers the stream's whole XDM class
   * (the engine scopes stored records by class, instance and suffix), so of two streams writing
   * one class (contacts and leads: `person`) only the first carries it. It is always complete or
   * the call fails: it never returns part of a table.
   */
  readonly reconcile?: ReconcileSpec;
  private planning: Promise<Plan> | null = null;

  constructor(
    private readonly client: DataverseClient,
    private readonly metadata: OrgMetadata,
    private readonly settings: DynamicsSettings,
    private readonly ctx: MapContext,
    private readonly entity: EntityMapping,
    listsClass: boolean,
  ) {
    this.name = entity.entitySet;
    this.xdmClasses = [entity.xdmClass] as const;
    this.backfill = { maxWindowDays: settings.backfillMaxWindowDays };
    if (listsClass) this.reconcile = { xdmClass: entity.xdmClass, idSuffix: '', listIds: (req) => this.listIds(req) };
  }

  async readPage(req: ReadRequest): Promise<PageResult> {
    const state = req.state === null ? null : this.parseState(req.state);
    const plan = await this.plan(req.signal);
    if (!plan.present) return this.absent(req);
    const notices: string[] = [];
    if (state === null || state.next === null) {
      if (plan.missing.length) notices.push(missingColumnsNotice(plan.missing));
      if (plan.trackingUnavailable) notices.push(`${this.name}: change tracking is not enabled on the ${this.entity.logicalName} table in this org: read by modifiedon watermark`);
    }
    if (req.window || state?.mode === 'window') return this.readWindow(req, state?.mode === 'window' ? state : null, plan.select, notices);
    if (plan.tracked) {
      if (state !== null && state.mode !== 'tracked') notices.push(`${this.name}: now read with change tracking: full resync`);
      return this.readTracked(req, state?.mode === 'tracked' ? state : null, plan.select, notices);
    }
    if (state !== null && state.mode !== 'watermark') notices.push(`${this.name}: now read by modifiedon watermark: full read`);
    return this.readWatermark(req, state?.mode === 'watermark' ? state : null, plan.select, notices);
  }

  private parseState(raw: StreamState): StreamPosition {
    const parsed = stateSchema.safeParse(raw);
    if (!parsed.success) throw new SourceIncompleteRead(this.client.instanceLabel, `stream ${this.name}: unreadable state (${parsed.error.issues[0]?.message})`);
    return parsed.data;
  }

  /* ------------------------------------------------------------------ what the org has */

  /** Asked once per connector; a failed look-up is asked again by the next read. */
  private plan(signal: AbortSignal): Promise<Plan> {
    this.planning ??= (async (): Promise<Plan> => {
      const table = (await this.metadata.tables(signal)).get(this.entity.logicalName);
      if (!table) return { present: false };
      const columns = await this.metadata.columns(this.entity.logicalName, signal);
      const lacking = this.entity.select.filter((c) => !columns.has(attributeOf(c)));
      const required = new Set([this.entity.idColumn, 'modifiedon', ...this.entity.required]);
      const fatal = lacking.filter((c) => required.has(c));
      if (fatal.length) throw new SourceRequestRejected(this.client.instanceLabel, `the ${this.entity.logicalName} table has no ${fatal.map(attributeOf).join(', ')} in this org`);
      const listed: readonly string[] | undefined = this.settings.changeTracking;
      const wanted = listed?.includes(this.entity.entitySet) ?? true;
      return {
        present: true,
        tracked: table.changeTracking && wanted,
        select: this.entity.select.filter((c) => columns.has(attributeOf(c))).join(','),
        missing: lacking,
        trackingUnavailable: listed !== undefined && wanted && !table.changeTracking,
      };
    })().catch((err) => {
      this.planning = null;
      throw err;
    });
    return this.planning;
  }

  /** A table the org does not have (a solution not installed): nothing to read, said once per run. */
  private absent(req: ReadRequest): PageResult {
    const state: StreamState = req.window
      ? { mode: 'window', next: null, from: req.window.from, to: req.window.to }
      : (req.state ?? { mode: 'watermark', next: null, watermark: null, maxSeen: null });
    const notice = `${this.name}: the ${this.entity.logicalName} table does not exist in this org (its solution is not installed): not synced`;
    return { records: [], unmappable: [], state, complete: true, notices: [notice] };
  }

  private pagePrefs(tracking: boolean): string[] {
    const prefs = [`odata.maxpagesize=${this.settings.pageSize}`];
    if (tracking) prefs.unshift('odata.track-changes');
    return prefs;
  }

  /* ------------------------------------------------------------------ change tracking */

  private async readTracked(req: ReadRequest, state: TrackedState | null, select: string, notices: string[]): Promise<PageResult> {
    const initialUrl = `${this.name}?$select=${select}`;
    let phase: TrackedState['phase'];
    let url: string;
    if (!state) [phase, url] = ['initial', initialUrl];
    else if (state.next) [phase, url] = [state.phase, state.next];
    else if (state.deltaLink) [phase, url] = ['delta', state.deltaLink];
    else [phase, url] = ['initial', initialUrl];

    let deltaLink = state?.deltaLink ?? null;
    let result = await this.client.getCollection(url, this.pagePrefs(true), req.signal, { changeToken: phase === 'delta' });
    if (result.kind === 'change-token-refused') {
      notices.push(result.expired ? EXPIRED_NOTICE : refusedTokenNotice(result.detail));
      [phase, url, deltaLink] = ['initial', initialUrl, null];
      result = await this.client.getCollection(initialUrl, this.pagePrefs(true), req.signal);
    }
    if (result.kind !== 'page') {
      // Perhaps the table changed under the cached plan (a column removed): the next run asks again.
      this.planning = null;
      this.metadata.forget(this.entity.logicalName);
      throw new SourceRequestRejected(this.client.instanceLabel, `${this.name}: the full read was refused (${result.detail})`);
    }
    const page = result.page;
    const mapped = this.mapPage(page);
    const base = notices.length ? { notices } : {};
    const nextLink = page['@odata.nextLink'];
    if (nextLink) {
      this.requireRows(page, url);
      return { ...mapped, state: { mode: 'tracked', next: nextLink, deltaLink, phase }, complete: false, ...base };
    }
    const newDeltaLink = page['@odata.deltaLink'];
    if (!newDeltaLink) {
      throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: the last change-tracking page carried no @odata.deltaLink (is change tracking enabled on the ${this.entity.logicalName} table?)`);
    }
    return { ...mapped, state: { mode: 'tracked', next: null, deltaLink: newDeltaLink, phase: 'delta' }, complete: true, ...base };
  }

  /* ------------------------------------------------------------------ watermark */

  private async readWatermark(req: ReadRequest, state: WatermarkState | null, select: string, notices: string[]): Promise<PageResult> {
    let url: string;
    const watermark = state?.watermark ?? null;
    if (state?.next) url = state.next;
    else {
      const order = `$orderby=modifiedon asc,${this.entity.idColumn} asc`;
      const filter = watermark ? `&$filter=modifiedon ge ${odataInstant(Date.parse(watermark) - this.settings.overlapMs)}` : '';
      url = `${this.name}?$select=${select}${filter}&${order}`;
    }
    const page = await this.plainPage(url, req.signal);
    const mapped = this.mapPage(page);
    const maxSeen = later(state?.next ? state.maxSeen : null, mapped.maxModified);
    const base = notices.length ? { notices } : {};
    const nextLink = page['@odata.nextLink'];
    if (nextLink) {
      this.requireRows(page, url);
      return { ...mapped, state: { mode: 'watermark', next: nextLink, watermark, maxSeen }, complete: false, ...base };
    }
    return { ...mapped, state: { mode: 'watermark', next: null, watermark: later(watermark, maxSeen), maxSeen: null }, complete: true, ...base };
  }

  /* ------------------------------------------------------------------ backfill window */

  private async readWindow(req: ReadRequest, state: z.infer<typeof windowState> | null, select: string, notices: string[]): Promise<PageResult> {
    const from = state?.from ?? req.window!.from;
    const to = state?.to ?? req.window!.to;
    const url =
      state?.next ??
      `${this.name}?$select=${select}&$filter=modifiedon ge ${odataInstant(Date.parse(from))} and modifiedon lt ${odataInstant(Date.parse(to))}` +
        `&$orderby=modifiedon asc,${this.entity.idColumn} asc`;
    const page = await this.plainPage(url, req.signal);
    const mapped = this.mapPage(page);
    const nextLink = page['@odata.nextLink'];
    if (nextLink) this.requireRows(page, url);
    return { ...mapped, state: { mode: 'window', next: nextLink ?? null, from, to }, complete: !nextLink, ...(notices.length ? { notices } : {}) };
  }

  /* ------------------------------------------------------------------ reconciliation */

  /**
   * One page of the sourceIDs the org holds now for this stream's class: every entity set that
   * writes it (contacts and leads both write `person`, and the engine tells a stream's stored
   * records apart by class and suffix only), each paged by @odata.nextLink with only the id
   * columns selected. Connections list the id of each reciprocal pair's master row, as mapped.
   * A table the org does not have holds no ids. Rows that map to nothing (a connection between
   * two accounts) are listed too: an id listed but never stored is harmless.
   */
  private async listIds(req: ListIdsRequest): Promise<{ ids: string[]; state: StreamState | null }> {
    const sets = ENTITIES.filter((e) => e.xdmClass === this.entity.xdmClass);
    let position: z.infer<typeof listState>;
    if (req.state === null) position = { set: sets[0]!.entitySet, next: null };
    else {
      const parsed = listState.safeParse(req.state);
      if (!parsed.success) throw new SourceIncompleteRead(this.client.instanceLabel, `stream ${this.name}: unreadable reconciliation state (${parsed.error.issues[0]?.message})`);
      position = parsed.data;
    }
    const tables = await this.metadata.tables(req.signal);
    const present = (from: number) => {
      let i = from;
      while (i < sets.length && !tables.has(sets[i]!.logicalName)) i++;
      return i;
    };
    const at = sets.findIndex((e) => e.entitySet === position.set);
    if (at < 0) throw new SourceIncompleteRead(this.client.instanceLabel, `stream ${this.name}: reconciliation state names ${position.set}, which this stream does not list`);
    const index = position.next === null ? present(at) : at;
    if (index >= sets.length) return { ids: [], state: null };
    const entity = sets[index]!;
    const url = position.next ?? `${entity.entitySet}?$select=${recordIdColumns(entity).join(',')}`;
    const page = await this.plainPage(url, req.signal);
    const ids = new Set<string>();
    for (const row of page.value) {
      const id = row && typeof row === 'object' ? recordIdOf(entity, row as Record<string, unknown>) : null;
      if (id !== null) ids.add(id);
    }
    const nextLink = page['@odata.nextLink'];
    if (nextLink) {
      this.requireRows(page, url);
      return { ids: [...ids], state: { set: entity.entitySet, next: nextLink } };
    }
    const following = present(index + 1);
    return { ids: [...ids], state: following < sets.length ? { set: sets[following]!.entitySet, next: null } : null };
  }

  /** A page of a query without change tracking. */
  private async plainPage(url: string, signal: AbortSignal): Promise<CollectionPage> {
    const result = await this.client.getCollection(url, this.pagePrefs(false), signal);
    if (result.kind !== 'page') throw new SourceRequestRejected(this.client.instanceLabel, `${this.name}: ${result.detail}`);
    return result.page;
  }

  /* ------------------------------------------------------------------ mapping */

  /** A page that promises more (nextLink) but holds nothing is a gap, never success. */
  private requireRows(page: CollectionPage, url: string): void {
    if (page.value.length === 0) throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: an empty page with a nextLink (${url.slice(0, 120)})`);
  }

  private mapPage(page: CollectionPage): MappedPage {
    const records: SourceRecord[] = [];
    const unmappable: UnmappableRow[] = [];
    let maxModified: string | null = null;
    let maxModifiedMs = -Infinity;
    const entity = this.entity;
    // Connections: one record per reciprocal pair (and per duplicate row).
    const pairs = entity.logicalName === 'connection' ? new Map<string, number>() : null;
    for (const row of page.value) {
      const r = row as Record<string, unknown> | null;
      const context = r && typeof r === 'object' ? r['@odata.context'] : undefined;
      if (typeof context === 'string' && context.includes('$deletedEntity')) {
        let id: string | null = null;
        try {
          id = guidOf(r!, 'id');
        } catch {
          /* reported below */
        }
        if (id === null) unmappable.push({ xdmClass: entity.xdmClass, sourceKey: null, reason: `${entity.logicalName}: a $deletedEntity row without a GUID id`, raw: row });
        else records.push({ xdmClass: entity.xdmClass, record: entity.tombstone(id, this.ctx) });
        continue;
      }
      const out = mapRow(entity, row, this.ctx);
      if (out === null) continue;
      if (isUnmappable(out)) {
        unmappable.push(out);
        continue;
      }
      const modified = (out.record.extSourceSystemAudit as { lastUpdatedDate: string }).lastUpdatedDate;
      const ms = Date.parse(modified);
      if (ms > maxModifiedMs) [maxModifiedMs, maxModified] = [ms, modified];
      if (pairs) {
        const pairId = connectionPairId(r!);
        const at = pairs.get(pairId);
        if (at !== undefined) {
          records[at] = out; // same relation: keep one
          continue;
        }
        pairs.set(pairId, records.length);
      }
      records.push(out);
    }
    return { records, unmappable, maxModified };
  }
}

function later(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
