/**
 * The Temporal Schedules of each source instance: `sync/<type>/<instance>` and its id-set
 * reconciliation `reconcile/<type>/<instance>`, each a cron spec with overlap policy skip (a run
 * still going when the next is due makes the next one a no-op), paused while the instance is
 * disabled. Manual syncs trigger the schedule with the same policy, so two
 * triggers at once still make one run.
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { SA } from '../contracts/search-attributes';
import { reconcileScheduleId, syncScheduleId, type InstanceRef, type ReconcileInput, type SyncInput } from '../contracts/sync';

export interface ScheduleSpecInput extends InstanceRef {
  cron: string;
  enabled: boolean;
}

/** The instance's sync schedule (`sync/<type>/<instance>`). */
export function ensureSyncSchedule(client: Client, taskQueue: string, s: ScheduleSpecInput): Promise<'created' | 'updated'> {
  const args: [SyncInput] = [{ sourceType: s.sourceType, instanceId: s.instanceId, trigger: 'schedule' }];
  return ensureInstanceSchedule(client, taskQueue, s, { scheduleId: syncScheduleId(s), workflowType: 'sync', jobKind: 'sync', args });
}

/** The instance's id-set reconciliation schedule (`reconcile/<type>/<instance>`). */
export function ensureReconcileSchedule(client: Client, taskQueue: string, s: ScheduleSpecInput): Promise<'created' | 'updated'> {
  const args: [ReconcileInput] = [{ sourceType: s.sourceType, instanceId: s.instanceId, trigger: 'schedule' }];
  return ensureInstanceSchedule(client, taskQueue, s, { scheduleId: reconcileScheduleId(s), workflowType: 'reconcile', jobKind: 'reconcile', args });
}

async function ensureInstanceSchedule(
  client: Client,
  taskQueue: string,
  s: ScheduleSpecInput,
  job: { scheduleId: string; workflowType: string; jobKind: string; args: unknown[] },
): Promise<'created' | 'updated'> {
  const { scheduleId } = job;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: job.workflowType,
    workflowId: scheduleId,
    taskQueue,
    args: job.args,
    typedSearchAttributes: [
      { key: SA.jobKind, value: job.jobKind },
      { key: SA.sourceType, value: s.sourceType },
      { key: SA.sourceInstance, value: s.instanceId },
    ],
  };
  const note = s.enabled ? 'enabled' : 'instance disabled';
  const handle = client.schedule.getHandle(scheduleId);
  try {
    await handle.update((prev) => ({
      ...prev,
      spec: { cronExpressions: [s.cron] },
      action,
      policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP },
      state: { ...prev.state, paused: !s.enabled, note },
    }));
    return 'updated';
  } catch (e) {
    if (!(e instanceof ScheduleNotFoundError)) throw e;
  }
  try {
    await client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [s.cron] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      state: { paused: !s.enabled, note },
    });
  } catch (e) {
    // Created concurrently by another process: update it to this spec.
    if ((e as Error).name !== 'ScheduleAlreadyRunning') throw e;
    return ensureInstanceSchedule(client, taskQueue, s, job);
  }
  return 'created';
}

export interface SyncScheduleStatus {
  scheduleId: string;
  paused: boolean;
  running: Array<{ workflowId: string; runId: string }>;
  recent: Array<{ workflowId: string; scheduledAt: string; takenAt: string }>;
  nextRuns: string[];
}

export async function describeSyncSchedule(client: Client, ref: InstanceRef): Promise<SyncScheduleStatus | null> {
  let d: ScheduleDescription;
  try {
    d = await client.schedule.getHandle(syncScheduleId(ref)).describe();
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) return null;
    throw e;
  }
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    running: d.info.runningActions.map((a) => ({ workflowId: a.workflow.workflowId, runId: a.workflow.firstExecutionRunId })),
    recent: d.info.recentActions.slice(-5).map((a) => ({ workflowId: a.action.workflow.workflowId, scheduledAt: a.scheduledAt.toISOString(), takenAt: a.takenAt.toISOString() })),
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
  };
}

/**
 * Starts a sync now unless one is running (overlap skip). Returns the running or started run, or
 * null if it did not show up within a few seconds.
 */
export async function triggerSync(client: Client, ref: InstanceRef): Promise<{ alreadyRunning: boolean; workflowId: string | null }> {
  const handle = client.schedule.getHandle(syncScheduleId(ref));
  const before = await handle.describe();
  if (before.info.runningActions.length) return { alreadyRunning: true, workflowId: before.info.runningActions[0]!.workflow.workflowId };
  await handle.trigger(ScheduleOverlapPolicy.SKIP);
  for (let i = 0; i < 40; i++) {
    const d = await handle.describe();
    const running = d.info.runningActions[0] ?? d.info.recentActions.find((a) => a.takenAt.getTime() >= Date.now() - 60_000 && !before.info.recentActions.some((b) => b.action.workflow.workflowId === a.action.workflow.workflowId));
    if (running) return { alreadyRunning: false, workflowId: 'workflow' in running ? running.workflow.workflowId : running.action.workflow.workflowId };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { alreadyRunning: false, workflowId: null };
}

/** Deletes an instance's schedules (nothing when it has none). */
export async function deleteInstanceSchedules(client: Client, ref: InstanceRef): Promise<void> {
  for (const scheduleId of [syncScheduleId(ref), reconcileScheduleId(ref)]) {
    try {
      await client.schedule.getHandle(scheduleId).delete();
    } catch (e) {
      if ((e as Error).name !== 'ScheduleNotFoundError') throw e;
    }
  }
}

/** Pauses or resumes an instance's schedules (sync and reconciliation). */
export async function setInstanceSchedulesPaused(client: Client, ref: InstanceRef, paused: boolean, note: string): Promise<void> {
  for (const scheduleId of [syncScheduleId(ref), reconcileScheduleId(ref)]) {
    const handle = client.schedule.getHandle(scheduleId);
    try {
      if (paused) await handle.pause(note);
      else await handle.unpause(note);
    } catch (e) {
      // An instance configured before reconciliation schedules existed gets one at its next configuration.
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
}
