/**
 * A small in-memory stand-in for the sync engine, for Marketo connector tests and local
 * measurements: validates every record with its XDM schema (as the engine does), stores the
 * latest version per key, answers `knownValues` from what it stored, and drives a stream page by
 * page — advancing the simulator's clock instead of sleeping when a page asks to wait.
 */
import { XDM_CLASSES } from '../../domain/xdm/registry';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { KnownValuesQuery, PageResult, SourceConnector, StreamState, TimeWindow, UnmappableRow } from '../../connectors/sources/source-connector';
import type { SimClock } from '../shared/clock';

export class MemoryStore {
  readonly records = new Map<XdmClassName, Map<string, Record<string, unknown>>>();
  readonly unmappable: UnmappableRow[] = [];
  readonly invalid: Array<{ xdmClass: XdmClassName; message: string; record: unknown }> = [];

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
      map.set(spec.recordKey(value).key, value);
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

  async knownValues(query: KnownValuesQuery, after: string | null, limit: number): Promise<string[]> {
    const values = new Set<string>();
    for (const record of this.records.get(query.xdmClass)?.values() ?? []) {
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
