/**
 * Id-set reconciliation of one stream: for objects whose source API reports no deletes, list the
 * ids the source holds now (a page at a time, each page stored with the listing's position, so a
 * crash resumes where it stopped), then mark the stored records of the stream whose ids were not
 * listed as deleted. The markers go through the same store as a sync page (landing, canonical
 * upsert, the identity resolvers' queue), so profiles lose what the source lost.
 *
 * A marker carries the stored record's own last-update date: if the source still has the record
 * after all (a listing that lied), the next read of that version stores it again.
 *
 * Safety: a run that would delete more than `maxDeleteShare` of the stream's stored records is
 * held with a notice instead (an emptied list and a broken listing look alike); a forced run
 * marks them.
 */
import type { Knex } from 'knex';
import type { ReconcileSpec, SourceRecord, StreamState } from '../../connectors/sources/source-connector';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { XDM_SOURCE_TYPE, type SourceTypeName } from '../../domain/sync/source-instance';
import { inPgTransaction } from '../../db/pg-transaction';
import {
  countMissing,
  countReconcilable,
  missingRecords,
  openReconciliation,
  recordListedPage,
  updateReconciliation,
  type MissingRecord,
  type ReconcileScope,
  type ReconciliationRow,
} from '../../db/repositories/source-reconciliations';
import { keySetPage, refreshKeySet, type KeySetRef } from '../../db/repositories/source-key-sets';
import { identityExtractions } from '../identity/ingest-identities';
import { preparePage, storePreparedRecords } from './source-sync';

/** Default: a run may delete at most half of a stream's stored records without being forced. */
export const DEFAULT_MAX_DELETE_SHARE = 0.5;
/** Below this many records a run is never held (a list of three that lost two is normal). */
const HOLD_MINIMUM = 20;
/** Deletion markers per transaction. */
const MARK_CHUNK = 2_000;

export interface ReconcileStepOptions {
  sourceType: SourceTypeName;
  instanceId: string;
  /** The reconcile workflow and its first run id (kept across continue-as-new). */
  workflowId: string;
  runId: string;
  /** `marketo/123-ABC-456`, in notices and the markers' sync_stream. */
  instanceLabel: string;
  streamName: string;
  /** The stream's listing (`SourceStream.reconcile`). */
  spec: ReconcileSpec;
  force: boolean;
  maxDeleteShare: number;
  /** Return after this long (the workflow sees progress and keeps its history small). */
  maxMs: number;
  signal: AbortSignal;
  onProgress?(run: ReconciliationRow): void;
}

export interface ReconcileStepResult {
  stream: string;
  phase: ReconciliationRow['phase'];
  listed: number;
  stored: number | null;
  marked: number;
  notice: string | null;
}

const resultOf = (r: ReconciliationRow): ReconcileStepResult => ({ stream: r.stream, phase: r.phase, listed: r.listed, stored: r.stored, marked: r.marked, notice: r.notice });

export async function reconcileStreamStep(db: Knex, o: ReconcileStepOptions): Promise<ReconcileStepResult> {
  const spec = o.spec;
  const scope: ReconcileScope = { spec: XDM_CLASSES[spec.xdmClass], instanceId: o.instanceId, recordSourceType: XDM_SOURCE_TYPE[o.sourceType], idSuffix: spec.idSuffix };
  let run = await openReconciliation(db, { workflowId: o.workflowId, runId: o.runId, stream: o.streamName, sourceType: o.sourceType, instanceId: o.instanceId });
  const started = Date.now();
  const storedIds = storedIdsOf(db, o, scope);
  while (run.phase === 'listing') {
    if (Date.now() - started >= o.maxMs || o.signal.aborted) return resultOf(run);
    const page = await spec.listIds({ state: run.state as StreamState | null, signal: o.signal, storedIds });
    run = await inPgTransaction(db, (conn) => recordListedPage(conn, run, page.ids, page.state));
    o.onProgress?.(run);
  }
  if (run.phase === 'marking') run = await markMissing(db, run, scope, o);
  return resultOf(run);
}

/** The sourceIDs stored for the stream, from the instance's key set of the class's key ids. */
function storedIdsOf(db: Knex, o: ReconcileStepOptions, scope: ReconcileScope) {
  const ref: KeySetRef = { sourceType: o.sourceType, instanceId: o.instanceId, recordSourceType: scope.recordSourceType, spec: scope.spec, path: [...scope.spec.keyPath.split('.'), 'sourceID'] };
  return async (after: string | null, limit: number): Promise<string[]> => {
    if (after === null) await refreshKeySet(db, ref);
    return keySetPage(db, ref, after, limit, { suffix: scope.idSuffix });
  };
}

async function markMissing(db: Knex, first: ReconciliationRow, scope: ReconcileScope, o: ReconcileStepOptions): Promise<ReconciliationRow> {
  const identitiesOf = await identityExtractions(db);
  const syncStream = `${o.instanceLabel}/${o.streamName}`;
  let run = first;
  if (run.stored === null) {
    // Weigh the run once, before marking anything.
    run = await inPgTransaction(db, async (conn) => {
      const stored = await countReconcilable(conn, scope, run.started_at);
      const missing = await countMissing(conn, run, scope);
      if (!o.force && missing >= HOLD_MINIMUM && missing > o.maxDeleteShare * stored) {
        const notice = `held: the source no longer lists ${missing} of ${stored} stored records (more than ${Math.round(o.maxDeleteShare * 100)}%); nothing marked deleted. Check the source, then reconcile again with force to mark them`;
        return updateReconciliation(conn, run, { stored, phase: 'held', notice });
      }
      return updateReconciliation(conn, run, { stored });
    });
    o.onProgress?.(run);
  }
  while (run.phase === 'marking') {
    run = await inPgTransaction(db, async (conn) => {
      const afterKey = typeof run.state?.afterKey === 'string' ? run.state.afterKey : null;
      const missing = await missingRecords(conn, run, scope, afterKey, MARK_CHUNK);
      let refused = 0;
      if (missing.length) {
        const prepared = preparePage({ records: missing.map((m) => deletionMarker(scope, m)), unmappable: [], state: {}, complete: false }, new Date());
        await storePreparedRecords(conn, syncStream, prepared, identitiesOf);
        refused = prepared.quarantined;
      }
      const done = missing.length < MARK_CHUNK;
      return updateReconciliation(conn, run, {
        marked: missing.length - refused,
        ...(missing.length ? { state: { afterKey: missing[missing.length - 1]!.recordKey } } : {}),
        ...(refused ? { notice: `${refused} deletion markers were refused by the schema and quarantined` } : {}),
        ...(done ? { phase: 'done' as const } : {}),
      });
    });
    o.onProgress?.(run);
  }
  return run;
}

/** `{ <keyPath>: <stored key>, isDeleted: true }`, dated with the stored record's own last update. */
function deletionMarker(scope: ReconcileScope, m: MissingRecord): SourceRecord {
  const path = scope.spec.keyPath.split('.');
  let record: Record<string, unknown> = { [path[path.length - 1]!]: m.key };
  for (const part of path.slice(0, -1).reverse()) record = { [part]: record };
  record.isDeleted = true;
  if (m.sourceUpdatedAt) record.extSourceSystemAudit = { lastUpdatedDate: m.sourceUpdatedAt.toISOString() };
  return { xdmClass: scope.spec.name, record };
}
