/**
 * A small in-memory stand-in for the sync engine, for Marketo connector tests and local
 * measurements: validates every record with its XDM schema (as the engine does), stores the
 * latest version per key and when it last changed (a record stored again unchanged keeps its
 * time), answers `knownValues` from what it stored (`changedSince`: only records changed at or
 * after that instant), lists stored ids for reconciliation, and drives a stream page by page —
 * advancing the simulator's clock instead of sleeping when a page asks to wait.
 */
import { XDM_SOURCE_TYPE } from '../../domain/sync/source-instance';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { KnownValuesQuery, PageResult, SourceConnector, StreamState, TimeWindow, UnmappableRow } from '../../connectors/sources/source-connector';
import type { SimClock } from '../shared/clock';

export class MemoryStore {
  readonly records = new Map<XdmClassName, Map<string, Record<string, unknown>>>();
  /** When each record (class → key) was last stored with a change, on `now`'s clock. */
  readonly storedAt = new Map<XdmClassName, Map<string, number>>();
  readonly unmappable: UnmappableRow[] = [];
  readonly invalid: Array<{ xdmClass: XdmClassName; message: string; record: unknown }> = [];

  /** `now`: the clock records are stamped with (a simulator's clock in tests). */
  constructor(private readonly now: () => number = Date.now) {}

  put(page: Pick<PageResult, 'records' | 'unmappable'>, validate = true): void {
    for (const { xdmClass, record } of page.records) {
      const spec = XDM_CLASSES[xdmClass];
      let value = record;
      if (validate) {
        const parsed = spec.schema.safeParse(record);
        if (!parsed.success) {
          this.invalid.push({ xdmClass, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), record });
          continue;
        }
        value = parsed.data;
      }
      let map = this.records.get(xdmClass);
      if (!map) this.records.set(xdmClass, (map = new Map()));
      let times = this.storedAt.get(xdmClass);
      if (!times) this.storedAt.set(xdmClass, (times = new Map()));
      const key = spec.recordKey(value).key;
      const before = map.get(key);
      if (before === undefined || JSON.stringify(before) !== JSON.stringify(value)) times.set(key, this.now());
      map.set(key, value);
    }
    this.unmappable.push(...page.unmappable);
  }

  count(xdmClass: XdmClassName): number {
    return this.records.get(xdmClass)?.size ?? 0;
  }

  counts(): Partial<Record<XdmClassName, number>> {
    const out: Partial<Record<XdmClassName, number>> = {};
    for (const [k, v] of this.records) out[k] = v.size;
    return out;
  }

  get(xdmClass: XdmClassName, key: string): Record<string, unknown> | undefined {
    return this.records.get(xdmClass)?.get(key);
  }

  /** The sourceIDs of the stored, not deleted records of a class ending with `idSuffix`, ascending, after `after`. */
  async storedIds(xdmClass: XdmClassName, idSuffix: string, after: string | null, limit: number): Promise<string[]> {
    const spec = XDM_CLASSES[xdmClass];
    const ids: string[] = [];
    for (const record of this.records.get(xdmClass)?.values() ?? []) {
      const id = spec.recordKey(record).sourceID;
      if (id !== null && id.endsWith(idSuffix) && !spec.isDeleted(record)) ids.push(id);
    }
    return ids.sort().filter((v) => after === null || v > after).slice(0, limit);
  }

  async knownValues(query: KnownValuesQuery, after: string | null, limit: number): Promise<string[]> {
    const values = new Set<string>();
    const since = query.changedSince === undefined ? null : Date.parse(query.changedSince);
    if (since !== null && !Number.isFinite(since)) throw new Error(`changedSince '${query.changedSince}' is not a date-time`);
    const times = this.storedAt.get(query.xdmClass);
    const spec = XDM_CLASSES[query.xdmClass];
    // The stream's own instance (Marketo records), or the one the query names (the CRM org's).
    const wanted = query.instance ? { type: XDM_SOURCE_TYPE[query.instance.sourceType], id: query.instance.instanceId } : { type: 'Marketo', id: null };
    for (const [key, record] of this.records.get(query.xdmClass) ?? []) {
      const owner = spec.recordKey(record);
      if (owner.sourceType !== wanted.type || (wanted.id !== null && owner.sourceInstanceID !== wanted.id)) continue;
      if (since !== null && (times?.get(key) ?? -Infinity) < since) continue;
      let v: unknown = record;
      for (const part of query.path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      if (typeof v === 'string' || typeof v === 'number') values.add(String(v));
    }
    return [...values].sort().filter((v) => after === null || v > after).slice(0, limit);
  }
}

export interface RunOptions {
  state?: StreamState | null;
  window?: TimeWindow;
  runStartedAt: string;
  store: MemoryStore;
  clock?: SimClock;
  /** Stop after this many pages (simulated crash), returning the last state. */
  maxPages?: number;
  signal?: AbortSignal;
  validate?: boolean;
}

export interface RunResult {
  state: StreamState;
  complete: boolean;
  pages: number;
  records: number;
  unmappable: number;
  expectedRecords?: number;
  notices: string[];
  waits: number;
}

/** Reads a stream until complete (or maxPages), storing each page like the engine. */
export async function runStream(connector: SourceConnector, name: string, opts: RunOptions): Promise<RunResult> {
  const stream = connector.streams.find((s) => s.name === name);
  if (!stream) throw new Error(`no stream ${name}`);
  let state = opts.state ?? null;
  const out: RunResult = { state: {}, complete: false, pages: 0, records: 0, unmappable: 0, notices: [], waits: 0 };
  const signal = opts.signal ?? new AbortController().signal;
  for (let i = 0; i < 100_000; i++) {
    const page = await stream.readPage({ state, runStartedAt: opts.runStartedAt, signal, knownValues: (q, a, l) => opts.store.knownValues(q, a, l), ...(opts.window ? { window: opts.window } : {}) });
    JSON.stringify(page.state); // must be plain JSON
    opts.store.put(page, opts.validate ?? true);
    state = JSON.parse(JSON.stringify(page.state)) as StreamState;
    out.pages++;
    out.records += page.records.length;
    out.unmappable += page.unmappable.length;
    out.notices.push(...(page.notices ?? []));
    if (page.complete) {
      out.complete = true;
      if (page.expectedRecords !== undefined) out.expectedRecords = page.expectedRecords;
      break;
    }
    if (page.waitMs !== undefined) {
      out.waits++;
      if (opts.clock) opts.clock.advance(Math.max(page.waitMs, 1000));
    }
    if (opts.maxPages !== undefined && out.pages >= opts.maxPages) break;
  }
  out.state = state ?? {};
  return out;
}

/** Runs a stream's reconciliation listing to the end (as the engine does), returning every id listed and the listIds calls. */
export async function listAllIds(connector: SourceConnector, name: string, store: MemoryStore, signal: AbortSignal = new AbortController().signal): Promise<{ ids: string[]; calls: number }> {
  const stream = connector.streams.find((s) => s.name === name);
  const spec = stream?.reconcile;
  if (!spec) throw new Error(`stream ${name} offers no reconciliation`);
  const ids: string[] = [];
  let state: StreamState | null = null;
  let calls = 0;
  do {
    const page: { ids: string[]; state: StreamState | null } = await spec.listIds({ state, signal, storedIds: (after, limit) => store.storedIds(spec.xdmClass, spec.idSuffix, after, limit) });
    ids.push(...page.ids);
    state = page.state === null ? null : (JSON.parse(JSON.stringify(page.state)) as StreamState);
    calls++;
  } while (state !== null && calls < 100_000);
  return { ids, calls };
}
