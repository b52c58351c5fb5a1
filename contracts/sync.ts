/**
 * Names and shapes the sync and backfill workflows share with the API, the CLI and the activities.
 * Workflow-safe: no imports beyond @temporalio/workflow's query definition.
 */
import { defineQuery } from '@temporalio/workflow';

export interface InstanceRef {
  sourceType: 'marketo' | 'salesforce' | 'dynamics';
  instanceId: string;
}

/**
 * The instance's schedule: `sync/marketo/123-ABC-456`. Its runs are `sync/marketo/123-ABC-456-<time>`;
 * manual syncs trigger the schedule too, so its overlap policy (skip) keeps one sync per instance.
 */
export const syncScheduleId = (i: InstanceRef) => `sync/${i.sourceType}/${i.instanceId}`;
export const streamWorkflowId = (parentWorkflowId: string, stream: string) => `${parentWorkflowId}/${stream}`;
export const backfillWorkflowId = (i: InstanceRef, backfillId: string) => `backfill/${i.sourceType}/${i.instanceId}/${backfillId}`;

export const INCREMENTAL_SCOPE = 'incremental';
export const backfillScope = (backfillId: string, windowIndex: number) => `backfill:${backfillId}:${windowIndex}`;

export interface SyncInput extends InstanceRef {
  trigger?: 'schedule' | 'api' | 'cli' | 'startup';
  /** Set when continuing as new: the run keeps its start time (its high-water mark). */
  runStartedAt?: string;
  /** Tuning (tests): how soon a dead worker's page read is retried elsewhere. Default 30 s. */
  heartbeatTimeout?: string;
  /** Tuning (tests): pages per activity call (default: as many as fit in ten seconds). */
  maxPagesPerCall?: number;
}

export interface StreamPlan {
  name: string;
  dependsOn: string[];
  backfillMaxWindowDays: number | null;
}

export interface StreamInput extends InstanceRef {
  stream: string;
  scope: string;
  runStartedAt: string;
  window?: { from: string; to: string };
  /** Pages to read per activity call before returning to the workflow. */
  maxPagesPerCall?: number;
  heartbeatTimeout?: string;
}

export interface StreamTotals {
  stream: string;
  pages: number;
  records: number;
  quarantined: number;
  complete: boolean;
  notices: string[];
}

export interface SyncProgress {
  workflowId: string;
  runStartedAt: string;
  status: 'running' | 'completed' | 'failed';
  streams: Record<string, StreamTotals & { state: 'waiting' | 'running' | 'done' | 'failed' }>;
}

export interface BackfillInput extends InstanceRef {
  backfillId: string;
  heartbeatTimeout?: string;
}

export interface BackfillProgress {
  backfillId: string;
  windowsTotal: number;
  windowsDone: number;
  records: number;
  quarantined: number;
  current: Array<{ stream: string; window: { from: string; to: string } }>;
  percent: number;
}

export const syncProgressQuery = defineQuery<SyncProgress>('syncProgress');
export const streamProgressQuery = defineQuery<StreamTotals>('streamProgress');
export const backfillProgressQuery = defineQuery<BackfillProgress>('backfillProgress');

/**
 * The instance's id-set reconciliation schedule: `reconcile/marketo/123-ABC-456` (daily by default).
 * A run lists the ids the source holds now for each stream whose API reports no deletes, and marks
 * the stored records the source no longer has as deleted.
 */
export const reconcileScheduleId = (i: InstanceRef) => `reconcile/${i.sourceType}/${i.instanceId}`;

export interface ReconcileInput extends InstanceRef {
  trigger?: 'schedule' | 'api' | 'cli';
  /** Mark the missing records even when they are more than the allowed share (a run that was held). */
  force?: boolean;
  /** Only these streams (default: every stream that needs reconciling). */
  streams?: string[];
  heartbeatTimeout?: string;
}

export interface ReconcileStreamProgress {
  stream: string;
  phase: 'waiting' | 'listing' | 'marking' | 'done' | 'held' | 'failed';
  /** Ids the source listed so far. */
  listed: number;
  /** Stored records the run weighed (received before it started), once listing is done. */
  stored: number | null;
  /** Stored records marked deleted. */
  marked: number;
  notice: string | null;
}

export interface ReconcileProgress {
  workflowId: string;
  status: 'running' | 'completed' | 'held' | 'failed';
  streams: Record<string, ReconcileStreamProgress>;
}

export const reconcileProgressQuery = defineQuery<ReconcileProgress>('reconcileProgress');
