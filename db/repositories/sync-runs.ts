/** Sync and backfill runs (sync_run, backfill): what an operator sees of each run. */
import type { Knex } from 'knex';

export interface SyncRunRow {
  workflow_id: string;
  run_started_at: Date;
  source_type: string;
  instance_id: string;
  kind: 'sync' | 'backfill';
  status: 'running' | 'completed' | 'failed';
  streams: Record<string, unknown>;
  notices: string[];
  error: string | null;
  finished_at: Date | null;
}

export async function openSyncRun(db: Knex, r: { workflowId: string; runStartedAt: string; sourceType: string; instanceId: string; kind: 'sync' | 'backfill' }): Promise<void> {
  await db.raw(
    `/* run.open */ INSERT INTO sync_run (workflow_id, run_started_at, source_type, instance_id, kind, status) VALUES (?, ?, ?, ?, ?, 'running')
     ON CONFLICT (workflow_id, run_started_at) DO NOTHING`,
    [r.workflowId, r.runStartedAt, r.sourceType, r.instanceId, r.kind],
  );
}

export async function finishSyncRun(db: Knex, r: { workflowId: string; runStartedAt: string; status: 'completed' | 'failed'; streams: Record<string, unknown>; notices: string[]; error?: string }): Promise<void> {
  await db.raw(
    `/* run.finish */ UPDATE sync_run SET status = ?, streams = ?::jsonb, notices = ?::text[], error = ?, finished_at = now() WHERE workflow_id = ? AND run_started_at = ?`,
    [r.status, JSON.stringify(r.streams), r.notices, r.error ?? null, r.workflowId, r.runStartedAt],
  );
}

export async function recentSyncRuns(db: Knex, sourceType: string, instanceId: string, limit = 10): Promise<SyncRunRow[]> {
  return db<SyncRunRow>('sync_run').where({ source_type: sourceType, instance_id: instanceId }).orderBy('run_started_at', 'desc').limit(limit);
}

export interface BackfillRow {
  id: string;
  source_type: 'marketo' | 'salesforce' | 'dynamics';
  instance_id: string;
  range_from: Date;
  range_to: Date;
  streams: string[];
  /** The windows planned at creation (null for a backfill from before they were stored). */
  windows: BackfillWindow[] | null;
  requested_by: string | null;
  created_at: Date;
}

export interface BackfillWindow {
  stream: string;
  index: number;
  from: string;
  to: string;
}

export async function createBackfill(db: Knex, b: Omit<BackfillRow, 'created_at'>): Promise<void> {
  await db('backfill').insert({ ...b, windows: b.windows === null ? null : JSON.stringify(b.windows) });
}

/** Keeps the windows of a backfill planned after its creation (first run of an older backfill); the first plan stored wins. */
export async function keepBackfillWindows(db: Knex, id: string, windows: BackfillWindow[]): Promise<BackfillWindow[]> {
  const { rows } = await db.raw(
    `/* backfill.keep_windows */ UPDATE backfill SET windows = coalesce(windows, ?::jsonb) WHERE id = ? RETURNING windows`,
    [JSON.stringify(windows), id],
  );
  return (rows[0]?.windows as BackfillWindow[] | undefined) ?? windows;
}

export async function getBackfill(db: Knex, id: string): Promise<BackfillRow | undefined> {
  return db<BackfillRow>('backfill').where({ id }).first();
}

/** Runs of an instance still running (of one kind, or both). */
export async function runningRuns(db: Knex, sourceType: string, instanceId: string, kind?: 'sync' | 'backfill'): Promise<SyncRunRow[]> {
  const q = db<SyncRunRow>('sync_run').where({ source_type: sourceType, instance_id: instanceId, status: 'running' });
  if (kind) q.andWhere({ kind });
  return q.select('*');
}
