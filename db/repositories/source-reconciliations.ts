/**
 * Id-set reconciliations (source_reconciliation, source_reconciliation_seen): a stream's listing of
 * the ids its source holds now, page by page with its position, then the set difference with the
 * stored records of the stream — set-based, in Postgres.
 *
 * A stored record can be marked deleted by a run only if it was received before the run started:
 * a record that arrived while the source was being listed may have been created after the listing
 * passed its place.
 */
import type { Knex } from 'knex';
import { CheckpointMoved } from '../../domain/errors';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import type { PgConn } from '../pg-transaction';

export type ReconciliationPhase = 'listing' | 'marking' | 'done' | 'held' | 'failed';

export interface ReconciliationRow {
  id: string;
  workflow_id: string;
  run_id: string;
  stream: string;
  source_type: string;
  instance_id: string;
  started_at: Date;
  phase: ReconciliationPhase;
  state: Record<string, unknown> | null;
  version: number;
  listed: number;
  stored: number | null;
  marked: number;
  notice: string | null;
  finished_at: Date | null;
}

/** The records a stream owns: of one class, from one instance, with sourceIDs ending in `idSuffix`. */
export interface ReconcileScope {
  spec: XdmClassSpec;
  instanceId: string;
  /** The sourceType of the records' keys (`Marketo`): an instance id is unique only within its type. */
  recordSourceType: string;
  idSuffix: string;
}

function normalise(r: Record<string, unknown>): ReconciliationRow {
  return { ...(r as unknown as ReconciliationRow), id: String(r.id), version: Number(r.version), listed: Number(r.listed), stored: r.stored === null ? null : Number(r.stored), marked: Number(r.marked) };
}

/** The run of this stream in this workflow, created on first use (a retried or continued run resumes it). */
export async function openReconciliation(db: Knex, r: { workflowId: string; runId: string; stream: string; sourceType: string; instanceId: string }): Promise<ReconciliationRow> {
  await db.raw(
    `/* reconcile.open */ INSERT INTO source_reconciliation (workflow_id, run_id, stream, source_type, instance_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (workflow_id, run_id, stream) DO NOTHING`,
    [r.workflowId, r.runId, r.stream, r.sourceType, r.instanceId],
  );
  const row = await db('source_reconciliation').where({ workflow_id: r.workflowId, run_id: r.runId, stream: r.stream }).first();
  return normalise(row);
}

/**
 * Records one listed page: its ids and the listing's position after it, in one transaction, from
 * the version the page was read at (a second attempt racing the first cannot record a page twice).
 * `state` null: the listing is complete and the run moves to marking.
 */
export async function recordListedPage(conn: PgConn, run: ReconciliationRow, ids: string[], state: Record<string, unknown> | null): Promise<ReconciliationRow> {
  const { rows } = await conn.query(
    `/* reconcile.listed */ UPDATE source_reconciliation SET state = $1::jsonb, version = version + 1, listed = listed + $2,
       phase = CASE WHEN $1::jsonb IS NULL THEN 'marking' ELSE phase END
     WHERE id = $3 AND version = $4 RETURNING *`,
    [state === null ? null : JSON.stringify(state), ids.length, run.id, run.version],
  );
  if (!rows.length) throw new CheckpointMoved(`reconciliation ${run.workflow_id}/${run.stream}`);
  if (ids.length) {
    await conn.query(
      `/* reconcile.seen */ INSERT INTO source_reconciliation_seen (reconciliation_id, source_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
      [run.id, ids],
    );
  }
  return normalise(rows[0]);
}

/**
 * A record can be marked by a run only if it arrived well before the run started: its arrival time
 * is the storing worker's clock, and a sync transaction that took its time before the run began
 * may commit after the listing passed its place. Worker clocks are assumed within this of Postgres's.
 */
export const RECONCILE_SETTLE_SECONDS = 15 * 60;

/** $1 instance, $2 the run's start, $3 the sourceID suffix, `$${typeParam}` the records' sourceType. */
const scopeWhere = (alias: string, typeParam: number) =>
  `${alias}.source_instance_id = $1 AND ${alias}.source_type = $${typeParam} AND NOT ${alias}.is_deleted
   AND ${alias}.received_at < $2::timestamptz - make_interval(secs => ${RECONCILE_SETTLE_SECONDS}) AND right(${alias}.source_id, length($3)) = $3`;

/** Stored records in the scope that a missing id could delete (received before the run started). */
export async function countReconcilable(conn: PgConn, scope: ReconcileScope, startedAt: Date): Promise<number> {
  const { rows } = await conn.query(`/* reconcile.count:${scope.spec.table} */ SELECT count(*)::bigint AS n FROM ${scope.spec.table} c WHERE ${scopeWhere('c', 4)}`, [scope.instanceId, startedAt, scope.idSuffix, scope.recordSourceType]);
  return Number(rows[0].n);
}

export interface MissingRecord {
  recordKey: string;
  sourceId: string;
  /** The stored key object (at the class's keyPath), to build the deletion marker from. */
  key: Record<string, unknown>;
  sourceUpdatedAt: Date | null;
}

/** Stored records in the scope whose ids the run did not list. */
export async function countMissing(conn: PgConn, run: ReconciliationRow, scope: ReconcileScope): Promise<number> {
  const { rows } = await conn.query(
    `/* reconcile.count_missing:${scope.spec.table} */ SELECT count(*)::bigint AS n FROM ${scope.spec.table} c
     WHERE ${scopeWhere('c', 5)} AND NOT EXISTS (SELECT 1 FROM source_reconciliation_seen s WHERE s.reconciliation_id = $4 AND s.source_id = c.source_id)`,
    [scope.instanceId, run.started_at, scope.idSuffix, run.id, scope.recordSourceType],
  );
  return Number(rows[0].n);
}

/** Up to `limit` stored records in the scope whose ids the run did not list, by record key after `afterKey`. */
export async function missingRecords(conn: PgConn, run: ReconciliationRow, scope: ReconcileScope, afterKey: string | null, limit: number): Promise<MissingRecord[]> {
  const { rows } = await conn.query(
    `/* reconcile.missing:${scope.spec.table} */ SELECT c.record_key, c.source_id, c.record #> $5::text[] AS key, c.source_updated_at FROM ${scope.spec.table} c
     WHERE ${scopeWhere('c', 8)} AND ($6::text IS NULL OR c.record_key > $6::text)
       AND NOT EXISTS (SELECT 1 FROM source_reconciliation_seen s WHERE s.reconciliation_id = $4 AND s.source_id = c.source_id)
     ORDER BY c.record_key LIMIT $7`,
    [scope.instanceId, run.started_at, scope.idSuffix, run.id, scope.spec.keyPath.split('.'), afterKey, limit, scope.recordSourceType],
  );
  return rows.map((r: { record_key: string; source_id: string; key: Record<string, unknown>; source_updated_at: Date | null }) => ({ recordKey: r.record_key, sourceId: r.source_id, key: r.key, sourceUpdatedAt: r.source_updated_at }));
}

/** Moves a run on: how many stored records it weighed, markers written, its phase, notice and marking position. */
export async function updateReconciliation(
  conn: PgConn,
  run: ReconciliationRow,
  change: { stored?: number; marked?: number; phase?: ReconciliationPhase; notice?: string; state?: Record<string, unknown> },
): Promise<ReconciliationRow> {
  const { rows } = await conn.query(
    `/* reconcile.update */ UPDATE source_reconciliation SET stored = coalesce($1, stored), marked = marked + $2, phase = coalesce($3, phase), notice = coalesce($4, notice),
       state = coalesce($7::jsonb, state), finished_at = CASE WHEN $3 IN ('done', 'held') THEN now() ELSE finished_at END, version = version + 1
     WHERE id = $5 AND version = $6 RETURNING *`,
    [change.stored ?? null, change.marked ?? 0, change.phase ?? null, change.notice ?? null, run.id, run.version, change.state ? JSON.stringify(change.state) : null],
  );
  if (!rows.length) throw new CheckpointMoved(`reconciliation ${run.workflow_id}/${run.stream}`);
  if (change.phase === 'done' || change.phase === 'held') {
    await conn.query(`/* reconcile.forget_seen */ DELETE FROM source_reconciliation_seen WHERE reconciliation_id = $1`, [run.id]);
  }
  return normalise(rows[0]);
}

/** A stream's run that failed for good: ended with the reason, its listed ids forgotten. */
export async function failReconciliation(db: Knex, r: { workflowId: string; runId: string; stream: string; reason: string }): Promise<void> {
  const rows = await db('source_reconciliation')
    .where({ workflow_id: r.workflowId, run_id: r.runId, stream: r.stream })
    .whereIn('phase', ['listing', 'marking'])
    .update({ phase: 'failed', notice: r.reason.slice(0, 2_000), finished_at: db.fn.now(), version: db.raw('version + 1') }, ['id']);
  if (rows.length) await db('source_reconciliation_seen').where({ reconciliation_id: rows[0].id }).delete();
}

export async function recentReconciliations(db: Knex, sourceType: string, instanceId: string, limit = 20): Promise<ReconciliationRow[]> {
  const rows = await db('source_reconciliation').where({ source_type: sourceType, instance_id: instanceId }).orderBy('started_at', 'desc').limit(limit);
  return rows.map(normalise);
}
