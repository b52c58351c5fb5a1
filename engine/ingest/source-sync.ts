/**
 * The sync engine's inner loop: read a stream page by page from its cursor and store each page —
 * records validated against the XDM schemas, unmappable rows and invalid records quarantined —
 * together with the cursor after it, in ONE transaction, while the next page is read. A crash
 * therefore re-reads at most two pages (the one being stored and the one being read), and a page
 * is never stored twice (the cursor's version is checked).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { KnownValuesQuery, PageResult, SourceStream, TimeWindow } from '../../connectors/sources/source-connector';
import { SourceIncompleteRead } from '../../connectors/sources/errors';
import type { AcceptedRecord, RejectedRecord } from '../../domain/ingestion/outcome';
import { validateRecord } from '../../domain/ingestion/validate-record';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { XDM_SOURCE_TYPE, type SourceTypeName } from '../../domain/sync/source-instance';
import { storeIngestBatch } from '../../db/repositories/ingest-batches';
import { identityExtractions } from '../identity/ingest-identities';
import { queueForResolution, RESOLUTION_ORDER } from '../identity/resolve-stored';
import { ingestMetrics } from '../../platform/metrics';
import { advanceCursor, openCursor, type CursorKey, type CursorRow } from '../../db/repositories/sync-cursors';
import { inPgTransaction, relaxCommitFlush, type PgConn } from '../../db/pg-transaction';
import { keySetPage, refreshKeySet, type KeySetRef } from '../../db/repositories/source-key-sets';

export interface StreamTotals {
  pages: number;
  records: number;
  quarantined: number;
  complete: boolean;
  notices: string[];
}

export interface ReadStreamOptions {
  key: CursorKey;
  /** How the instance is named in logs and quarantine rows: `marketo/123-ABC-456`. */
  instanceLabel: string;
  stream: SourceStream;
  runStartedAt: string;
  window?: TimeWindow;
  /** Return to the caller after this many pages or this long, whichever comes first. */
  maxPages: number;
  maxMs: number;
  signal: AbortSignal;
  /** After each stored page (heartbeats). */
  onPage?(totals: StreamTotals): void;
}

export interface ReadStreamResult {
  totals: StreamTotals;
  /** The source asked to wait this long before the next read (a bulk job still running). */
  waitMs?: number;
}

const totalsOf = (c: CursorRow): StreamTotals => ({ pages: c.run_pages, records: c.run_records, quarantined: c.run_quarantined, complete: c.run_complete, notices: c.notices });

export async function readStreamPages(db: Knex, o: ReadStreamOptions): Promise<ReadStreamResult> {
  let cursor = await openCursor(db, o.key, o.runStartedAt);
  if (cursor.run_complete) return { totals: totalsOf(cursor) };
  const knownValues = (q: KnownValuesQuery, after: string | null, limit: number) => findKnownValues(db, o.key, q, after, limit);
  const syncStream = `${o.instanceLabel}/${o.stream.name}`;
  const started = Date.now();
  // Page N+1 is read while page N is stored (its state is known as soon as N is read), so the
  // source and Postgres work at the same time; a crash re-reads at most those two pages.
  const reading = new AbortController();
  const onAbort = () => reading.abort();
  o.signal.addEventListener('abort', onAbort);
  const read = (state: PageResult['state'] | null) => {
    const p = o.stream.readPage({ state, window: o.window, runStartedAt: o.runStartedAt, signal: reading.signal, knownValues });
    p.catch(() => undefined); // awaited below; no unhandled rejection while the page before it is stored
    return p;
  };
  let next = read(cursor.state as PageResult['state'] | null);
  try {
    for (let pages = 1; ; pages++) {
      const page = await next;
      const prepared = preparePage(page, new Date());
      if (page.complete && page.expectedRecords !== undefined) {
        const count = cursor.run_records + prepared.rowCount;
        if (count < page.expectedRecords) {
          throw new SourceIncompleteRead(o.instanceLabel, `stream ${o.stream.name} said ${page.expectedRecords} records, ${count} were read`);
        }
      }
      const last = page.complete || page.waitMs !== undefined || pages >= o.maxPages || Date.now() - started >= o.maxMs || o.signal.aborted;
      if (!last) next = read(page.state);
      cursor = await storePage(db, o.key, syncStream, prepared, page, cursor.version);
      ingestMetrics.count('sync', prepared.rowCount - prepared.quarantined, prepared.quarantined);
      o.onPage?.(totalsOf(cursor));
      if (last) return { totals: totalsOf(cursor), ...(page.waitMs !== undefined && !page.complete ? { waitMs: page.waitMs } : {}) };
    }
  } catch (e) {
    reading.abort(); // a read ahead of a page that failed to store is not wanted
    throw e;
  } finally {
    o.signal.removeEventListener('abort', onAbort);
  }
}

export interface PreparedPage {
  byClass: Map<XdmClassName, { accepted: AcceptedRecord[]; rejected: RejectedRecord[] }>;
  rowCount: number;
  quarantined: number;
}

/** Validates a page's records with their class schemas; unmappable rows become quarantine entries. */
export function preparePage(page: PageResult, receivedAt: Date): PreparedPage {
  const byClass = new Map<XdmClassName, { accepted: AcceptedRecord[]; rejected: RejectedRecord[] }>();
  const group = (c: XdmClassName) => {
    let g = byClass.get(c);
    if (!g) byClass.set(c, (g = { accepted: [], rejected: [] }));
    return g;
  };
  let position = 0;
  let quarantined = 0;
  for (const r of page.records) {
    const spec = XDM_CLASSES[r.xdmClass];
    const outcome = validateRecord(spec, r.record, JSON.stringify(r.record), { position: position++, receivedAt });
    if (outcome.kind === 'accepted') group(r.xdmClass).accepted.push(outcome.value);
    else {
      group(r.xdmClass).rejected.push(outcome.value);
      quarantined++;
    }
  }
  for (const u of page.unmappable) {
    const isObject = typeof u.raw === 'object' && u.raw !== null;
    group(u.xdmClass).rejected.push({
      position: position++,
      xdmClass: u.xdmClass,
      recordKey: u.sourceKey,
      rawKind: 'source-row',
      ...(isObject ? { payload: u.raw } : { payloadText: String(u.raw) }),
      errors: [{ path: '', message: u.reason }],
    });
    quarantined++;
  }
  return { byClass, rowCount: position, quarantined };
}

async function storePage(db: Knex, key: CursorKey, syncStream: string, prepared: PreparedPage, page: PageResult, fromVersion: number): Promise<CursorRow> {
  const identitiesOf = await identityExtractions(db);
  return inPgTransaction(db, async (conn) => {
    // A page and its cursor are lost or kept together, so the page need not wait for the WAL flush:
    // if Postgres itself crashed before flushing, the cursor is older too and the page is read again.
    await relaxCommitFlush(conn);
    // The cursor first: its row lock serialises attempts, and a stale attempt stops before writing data.
    const cursor = await advanceCursor(conn, key, {
      fromVersion,
      state: page.state,
      complete: page.complete,
      records: prepared.rowCount,
      quarantined: prepared.quarantined,
      notices: page.notices ?? [],
    });
    await storePreparedRecords(conn, syncStream, prepared, identitiesOf);
    return cursor;
  });
}

/**
 * Stores prepared records of a source stream (accepted ones upserted with their landing rows,
 * rejected ones quarantined) and queues the changed keys for the identity resolvers, inside the
 * caller's transaction.
 */
export async function storePreparedRecords(conn: PgConn, syncStream: string, prepared: PreparedPage, identitiesOf: Awaited<ReturnType<typeof identityExtractions>>): Promise<void> {
  const receivedAt = new Date();
  const applied = new Map<XdmClassName, string[]>();
  for (const [xdmClass, g] of prepared.byClass) {
    const stored = await storeIngestBatch(conn, XDM_CLASSES[xdmClass], {
      batchId: randomUUID(),
      channel: 'sync',
      syncStream,
      receivedAt,
      accepted: g.accepted,
      rejected: g.rejected,
      identities: identitiesOf(XDM_CLASSES[xdmClass]),
    });
    applied.set(xdmClass, stored.appliedKeys);
  }
  // The page's changes go to the resolvers' queue with it (accounts first, as they are resolved).
  for (const xdmClass of RESOLUTION_ORDER) {
    const keys = applied.get(xdmClass);
    if (keys?.length) await queueForResolution(conn, xdmClass, keys, `sync:${syncStream}`);
  }
}

/** A walk that starts in the middle of a key set (a rotating slice) refreshes it at most this often. */
const KEY_SET_REFRESH_MS = 60_000;

/**
 * Distinct values stored from this instance at a record path (for sources that read objects only
 * by key), from the instance's indexed key set; a walk's first page (`after` null) brings the key
 * set up to date first, and any page does when the set was not refreshed in the last minute.
 */
async function findKnownValues(db: Knex, key: CursorKey, q: KnownValuesQuery, after: string | null, limit: number): Promise<string[]> {
  const { sourceType, instanceId } = q.instance ?? key;
  const recordSourceType = XDM_SOURCE_TYPE[sourceType as SourceTypeName] ?? sourceType;
  const ref: KeySetRef = { sourceType, instanceId, recordSourceType, spec: XDM_CLASSES[q.xdmClass], path: q.path.split('.') };
  await refreshKeySet(db, ref, after === null ? {} : { unlessWithinMs: KEY_SET_REFRESH_MS });
  return keySetPage(db, ref, after, limit, q.changedSince ? { changedSince: q.changedSince } : {});
}
