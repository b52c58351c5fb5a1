/**
 * The Dynamics streams, one per entity set. Two ways to read incrementally:
 *
 * - Change tracking (tables with "Track changes" on): the first run sends
 *   `Prefer: odata.track-changes` without $filter/$orderby/$top (Dataverse rejects them with change
 *   tracking), follows @odata.nextLink, and the last page's @odata.deltaLink is the resting state.
 *   The next run GETs the delta link: changed rows plus `$deletedEntity` rows (→ isDeleted
 *   tombstones). A delta token older than the org's ExpireChangeTrackingInDays fails with
 *   0x80044352 → the stream starts a full resync and says so in `notices`.
 * - Watermark (tables without change tracking, e.g. listmember): `$filter=modifiedon ge
 *   {watermark − overlap}` `$orderby=modifiedon asc,{id} asc`; hard deletes are not visible this way.
 *
 * Backfills read one window by `modifiedon` with $filter (no change tracking).
 *
 * Every state carries the next link to fetch, so a crash re-reads at most the page in flight.
 */
import { z } from 'zod';
import { SourceIncompleteRead } from '../errors';
import type { PageResult, ReadRequest, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../source-connector';
import type { CollectionPage, DataverseClient } from './client';
import { ENTITIES, connectionPairId, guidOf, isUnmappable, mapRow, type EntityMapping, type MapContext } from './mapping';
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
type TrackedState = z.infer<typeof trackedState>;
type WatermarkState = z.infer<typeof watermarkState>;

export const EXPIRED_NOTICE = 'change token expired: full resync';

/** Dataverse $filter date-time literal: ISO without milliseconds. */
function odataInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

interface MappedPage {
  records: SourceRecord[];
  unmappable: UnmappableRow[];
  maxModified: string | null;
}

export function createStreams(client: DataverseClient, settings: DynamicsSettings, ctx: MapContext): SourceStream[] {
  const tracked = new Set<string>(settings.changeTracking);
  return ENTITIES.map((entity) => new DynamicsStream(client, settings, ctx, entity, tracked.has(entity.entitySet)));
}

class DynamicsStream implements SourceStream {
  readonly name: string;
  readonly xdmClasses;
  readonly backfill;
  private readonly select: string;

  constructor(
    private readonly client: DataverseClient,
    private readonly settings: DynamicsSettings,
    private readonly ctx: MapContext,
    private readonly entity: EntityMapping,
    private readonly tracked: boolean,
  ) {
    this.name = entity.entitySet;
    this.xdmClasses = [entity.xdmClass] as const;
    this.backfill = { maxWindowDays: settings.backfillMaxWindowDays };
    this.select = entity.select.join(',');
  }

  async readPage(req: ReadRequest): Promise<PageResult> {
    const state = req.state === null ? null : this.parseState(req.state);
    if (req.window || state?.mode === 'window') return this.readWindow(req, state?.mode === 'window' ? state : null);
    if (this.tracked) return this.readTracked(req, state?.mode === 'tracked' ? state : null, state !== null && state.mode !== 'tracked');
    return this.readWatermark(req, state?.mode === 'watermark' ? state : null);
  }

  private parseState(raw: StreamState) {
    const parsed = stateSchema.safeParse(raw);
    if (!parsed.success) throw new SourceIncompleteRead(this.client.instanceLabel, `stream ${this.name}: unreadable state (${parsed.error.issues[0]?.message})`);
    return parsed.data;
  }

  private pagePrefs(tracking: boolean): string[] {
    const prefs = [`odata.maxpagesize=${this.settings.pageSize}`];
    if (tracking) prefs.unshift('odata.track-changes');
    return prefs;
  }

  /* ------------------------------------------------------------------ change tracking */

  private async readTracked(req: ReadRequest, state: TrackedState | null, switched: boolean): Promise<PageResult> {
    const notices: string[] = [];
    if (switched) notices.push(`${this.name}: now read with change tracking: full resync`);
    const initialUrl = `${this.name}?$select=${this.select}`;
    let phase: TrackedState['phase'];
    let url: string;
    if (!state) [phase, url] = ['initial', initialUrl];
    else if (state.next) [phase, url] = [state.phase, state.next];
    else if (state.deltaLink) [phase, url] = ['delta', state.deltaLink];
    else [phase, url] = ['initial', initialUrl];

    let result = await this.client.getCollection(url, this.pagePrefs(true), req.signal);
    if (result.kind === 'expired-change-token') {
      notices.push(EXPIRED_NOTICE);
      phase = 'initial';
      result = await this.client.getCollection(initialUrl, this.pagePrefs(true), req.signal);
      if (result.kind === 'expired-change-token') throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: the initial change-tracking read failed as expired: ${result.message}`);
    }
    const page = result.page;
    const mapped = this.mapPage(page);
    const base = notices.length ? { notices } : {};
    const nextLink = page['@odata.nextLink'];
    if (nextLink) {
      this.requireRows(page, url);
      return { ...mapped, state: { mode: 'tracked', next: nextLink, deltaLink: state?.deltaLink ?? null, phase }, complete: false, ...base };
    }
    const deltaLink = page['@odata.deltaLink'];
    if (!deltaLink) {
      throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: the last change-tracking page carried no @odata.deltaLink (is change tracking enabled on the ${this.entity.logicalName} table?)`);
    }
    return { ...mapped, state: { mode: 'tracked', next: null, deltaLink, phase: 'delta' }, complete: true, ...base };
  }

  /* ------------------------------------------------------------------ watermark */

  private async readWatermark(req: ReadRequest, state: WatermarkState | null): Promise<PageResult> {
    let url: string;
    const watermark = state?.watermark ?? null;
    if (state?.next) url = state.next;
    else {
      const order = `$orderby=modifiedon asc,${this.entity.idColumn} asc`;
      const filter = watermark ? `&$filter=modifiedon ge ${odataInstant(Date.parse(watermark) - this.settings.overlapMs)}` : '';
      url = `${this.name}?$select=${this.select}${filter}&${order}`;
    }
    const result = await this.client.getCollection(url, this.pagePrefs(false), req.signal);
    if (result.kind !== 'page') throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: ${result.message}`);
    const page = result.page;
    const mapped = this.mapPage(page);
    const maxSeen = later(state?.next ? state.maxSeen : null, mapped.maxModified);
    const nextLink = page['@odata.nextLink'];
    if (nextLink) {
      this.requireRows(page, url);
      return { ...mapped, state: { mode: 'watermark', next: nextLink, watermark, maxSeen }, complete: false };
    }
    return { ...mapped, state: { mode: 'watermark', next: null, watermark: later(watermark, maxSeen), maxSeen: null }, complete: true };
  }

  /* ------------------------------------------------------------------ backfill window */

  private async readWindow(req: ReadRequest, state: z.infer<typeof windowState> | null): Promise<PageResult> {
    const from = state?.from ?? req.window!.from;
    const to = state?.to ?? req.window!.to;
    const url =
      state?.next ??
      `${this.name}?$select=${this.select}&$filter=modifiedon ge ${odataInstant(Date.parse(from))} and modifiedon lt ${odataInstant(Date.parse(to))}` +
        `&$orderby=modifiedon asc,${this.entity.idColumn} asc`;
    const result = await this.client.getCollection(url, this.pagePrefs(false), req.signal);
    if (result.kind !== 'page') throw new SourceIncompleteRead(this.client.instanceLabel, `${this.name}: ${result.message}`);
    const mapped = this.mapPage(result.page);
    const nextLink = result.page['@odata.nextLink'];
    if (nextLink) this.requireRows(result.page, url);
    return { ...mapped, state: { mode: 'window', next: nextLink ?? null, from, to }, complete: !nextLink };
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
