/**
 * Managing source instances and their syncs, for the API, the CLI and `npm start`: add or change
 * an instance (its secrets must exist; its schedule follows), load a sources file, trigger a sync,
 * and start a backfill. Shared by every entry point so each behaves the same.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { Knex } from 'knex';
import { SourceRequestRejected } from '../connectors/sources/errors';
import { SOURCE_CONNECTORS } from '../connectors/sources/registry';
import { Conflict, InvalidRequest, NotFound } from '../domain/errors';
import { zodIssuesText } from '../domain/ingestion/validate-record';
import { simulatedSourcesAllowed } from '../platform/config';
import { endpointProblem, instancePath, sourceInstanceConfigSchema, sourcesFileSchema, type SourceInstanceConfig } from '../domain/sync/source-instance';
import { deleteSourceInstance, getSourceInstance, instancesUsingCredentials, listSourceInstances, upsertSourceInstance, type SourceInstanceRow } from '../db/repositories/source-instances';
import { createBackfill, runningRuns } from '../db/repositories/sync-runs';
import { planBackfillWindows } from '../domain/sync/windows';
import { deleteInstanceSchedules, ensureReconcileSchedule, ensureSyncSchedule } from './sync-schedules';
import { SA } from '../contracts/search-attributes';
import { backfillWorkflowId, reconcileScheduleId, type BackfillInput, type InstanceRef, type ReconcileInput } from '../contracts/sync';
import { readCredentials } from '../engine/ingest/source-connections';

export interface SourceAdminDeps {
  db: Knex;
  client: Client;
  taskQueue: string;
}

/** Stores an instance's configuration and creates or updates its schedule. The credentials must be readable. */
export async function configureSource(deps: SourceAdminDeps, input: unknown): Promise<{ created: boolean; row: SourceInstanceRow }> {
  const parsed = sourceInstanceConfigSchema.safeParse(input);
  if (!parsed.success) throw new InvalidRequest(`invalid source instance: ${zodIssuesText(parsed.error)}`);
  const config = parsed.data;
  const endpoints = endpointProblem(config, simulatedSourcesAllowed());
  if (endpoints) throw new InvalidRequest(`invalid source instance: ${endpoints}`);
  const holders = (await instancesUsingCredentials(deps.db, config.credentialsRef)).filter((h) => h.source_type !== config.sourceType || h.instance_id !== config.instanceId);
  if (holders.length) {
    throw new InvalidRequest(`invalid source instance: credentialsRef ${config.credentialsRef} belongs to ${instancePath(holders[0]!.source_type, holders[0]!.instance_id)}; give each instance its own secrets`);
  }
  readCredentials(config.credentialsRef);
  streamsOf(config);
  // The schedule first: an instance is never stored without one.
  await ensureSyncSchedule(deps.client, deps.taskQueue, { sourceType: config.sourceType, instanceId: config.instanceId, cron: config.schedule, enabled: config.enabled });
  await ensureReconcileSchedule(deps.client, deps.taskQueue, { sourceType: config.sourceType, instanceId: config.instanceId, cron: config.reconcileSchedule, enabled: config.enabled });
  return upsertSourceInstance(deps.db, config);
}

/** Reads a sources file (`{"instances": [...]}`); every problem is reported at once. */
export function readSourcesFile(path: string): SourceInstanceConfig[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidRequest(`cannot read the sources file ${path}: ${(e as Error).message}`);
  }
  const parsed = sourcesFileSchema.safeParse(json);
  if (!parsed.success) throw new InvalidRequest(`invalid sources file ${path}: ${zodIssuesText(parsed.error)}`);
  return parsed.data.instances;
}

/**
 * Applies every instance of a sources file (idempotent); returns their names. Pausing is an
 * operator's decision, not configuration: an instance paused through the API stays paused.
 */
export async function applySourcesFile(deps: SourceAdminDeps, path: string): Promise<string[]> {
  const names: string[] = [];
  for (const config of readSourcesFile(path)) {
    const stored = await getSourceInstance(deps.db, config.sourceType, config.instanceId);
    await configureSource(deps, stored ? { ...config, enabled: stored.enabled } : config);
    names.push(instancePath(config.sourceType, config.instanceId));
  }
  return names;
}

/**
 * Makes sure every stored instance has both its schedules (sync and reconciliation) as its
 * configuration says: instances stored before a schedule kind existed get it at the next start.
 */
export async function ensureInstanceSchedules(deps: SourceAdminDeps): Promise<number> {
  const rows = await listSourceInstances(deps.db);
  for (const row of rows) {
    const ref = { sourceType: row.source_type, instanceId: row.instance_id, enabled: row.enabled };
    await ensureSyncSchedule(deps.client, deps.taskQueue, { ...ref, cron: row.schedule_cron });
    await ensureReconcileSchedule(deps.client, deps.taskQueue, { ...ref, cron: row.reconcile_cron });
  }
  return rows.length;
}

/** The streams of an instance's connector (no network call); invalid settings are an InvalidRequest. */
export function streamsOf(config: Pick<SourceInstanceConfig, 'sourceType' | 'instanceId' | 'endpoint' | 'authEndpoint' | 'settings'>) {
  try {
    return createOffline(config).streams;
  } catch (e) {
    if (e instanceof SourceRequestRejected) throw new InvalidRequest(e.message);
    throw e;
  }
}

function createOffline(config: Pick<SourceInstanceConfig, 'sourceType' | 'instanceId' | 'endpoint' | 'authEndpoint' | 'settings'>) {
  return SOURCE_CONNECTORS[config.sourceType].create({
    instance: { sourceType: config.sourceType, instanceId: config.instanceId, endpoint: config.endpoint, authEndpoint: config.authEndpoint, settings: config.settings },
    credentials: { clientId: '', clientSecret: '' },
    gate: (call) => call(),
    log: { info: () => undefined, warn: () => undefined },
  });
}

/** The connector configuration of a stored instance. */
const configOf = (row: SourceInstanceRow) => ({ sourceType: row.source_type, instanceId: row.instance_id, endpoint: row.endpoint, authEndpoint: row.auth_endpoint ?? undefined, settings: row.settings });

/** Search attributes of a job started from the API for one instance (the Temporal UI filters by them). */
function jobAttributes(kind: string, row: SourceInstanceRow, requestedBy: string | undefined): SearchAttributePair[] {
  return [
    { key: SA.jobKind, value: kind },
    { key: SA.sourceType, value: row.source_type },
    { key: SA.sourceInstance, value: row.instance_id },
    { key: SA.trigger, value: requestedBy ?? 'api' },
  ];
}

/** One backfill's windows in all (each a child workflow of the backfill). */
export const MAX_BACKFILL_WINDOWS = 1_000;

export interface BackfillRequest {
  from: string;
  to: string;
  streams?: string[];
  requestedBy?: string;
}

export interface StartedBackfill {
  backfillId: string;
  workflowId: string;
  windows: number;
  streams: string[];
}

/** Records a backfill and starts its workflow. Refuses streams the source cannot read by time window. */
/** Backfills of one instance at once: they share its vendor API budget with its scheduled syncs. */
export const MAX_CONCURRENT_BACKFILLS = 2;

/**
 * Deletes a source instance: its schedule, configuration, cursors, runs and backfills. Refused
 * while a sync or backfill of it runs. Its stored records stay (removing people's data is a
 * privacy request, not a configuration change).
 */
export async function deleteSource(deps: SourceAdminDeps, ref: InstanceRef): Promise<void> {
  const row = await getSourceInstance(deps.db, ref.sourceType, ref.instanceId);
  if (!row) throw new NotFound(`no source instance ${instancePath(ref.sourceType, ref.instanceId)}`);
  const running = await runningRuns(deps.db, row.source_type, row.instance_id);
  if (running.length) throw new Conflict(`${instancePath(ref.sourceType, ref.instanceId)} has a ${running[0]!.kind} running (${running[0]!.workflow_id}); pause it and wait for the run to end`);
  await deleteInstanceSchedules(deps.client, ref);
  await deleteSourceInstance(deps.db, row.source_type, row.instance_id);
}

export async function startBackfill(deps: SourceAdminDeps, ref: InstanceRef, req: BackfillRequest): Promise<StartedBackfill> {
  const row = await getSourceInstance(deps.db, ref.sourceType, ref.instanceId);
  if (!row) throw new InvalidRequest(`no source instance ${instancePath(ref.sourceType, ref.instanceId)} is configured`);
  const streams = streamsOf(configOf(row));
  const backfillable = streams.filter((s) => s.backfill);
  const names = [...new Set(req.streams?.length ? req.streams : backfillable.map((s) => s.name))];
  const problems: string[] = [];
  for (const n of names) {
    const s = streams.find((x) => x.name === n);
    if (!s) problems.push(`unknown stream '${n}' (streams: ${streams.map((x) => x.name).join(', ')})`);
    else if (!s.backfill) problems.push(`stream '${n}' cannot be backfilled by time window (backfillable: ${backfillable.map((x) => x.name).join(', ') || 'none'})`);
  }
  const from = Date.parse(req.from);
  const to = Date.parse(req.to);
  if (!Number.isFinite(from) || !Number.isFinite(to)) problems.push('from and to must be ISO 8601 date-times');
  else if (from >= to) problems.push('to must be after from');
  else if (to > Date.now() + 60_000) problems.push('to must not be in the future');
  if (problems.length) throw new InvalidRequest(problems.join('; '));

  // The windows are planned now and kept with the backfill: a later change of a window setting
  // does not re-plan a backfill that is half done.
  const planned = planBackfillWindows(names.map((name) => ({ name, maxWindowDays: streams.find((s) => s.name === name)!.backfill!.maxWindowDays })), req.from, req.to);
  if (planned.length > MAX_BACKFILL_WINDOWS) {
    throw new InvalidRequest(`the range makes ${planned.length} windows (the most is ${MAX_BACKFILL_WINDOWS}); split it into several backfills or fewer streams`);
  }
  if (!row.enabled) throw new InvalidRequest(`${instancePath(ref.sourceType, ref.instanceId)} is disabled; resume it first`);
  const running = await runningRuns(deps.db, row.source_type, row.instance_id, 'backfill');
  if (running.length >= MAX_CONCURRENT_BACKFILLS) {
    throw new Conflict(`${running.length} backfills of ${instancePath(ref.sourceType, ref.instanceId)} are running (at most ${MAX_CONCURRENT_BACKFILLS} at once: they share its API budget); wait for one to finish`);
  }
  const backfillId = randomUUID();
  await createBackfill(deps.db, { id: backfillId, source_type: row.source_type, instance_id: row.instance_id, range_from: new Date(from), range_to: new Date(to), streams: names, windows: planned, requested_by: req.requestedBy ?? null });
  const workflowId = backfillWorkflowId(ref, backfillId);
  const args: [BackfillInput] = [{ sourceType: row.source_type, instanceId: row.instance_id, backfillId }];
  await deps.client.workflow.start('backfill', {
    workflowId,
    taskQueue: deps.taskQueue,
    args,
    typedSearchAttributes: [...jobAttributes('backfill', row, req.requestedBy), { key: SA.isBackfill, value: true }],
  });
  return { backfillId, workflowId, windows: planned.length, streams: names };
}

export interface ReconcileRequest {
  /** Mark the missing records even when they are more than the allowed share (a run that was held). */
  force?: boolean;
  streams?: string[];
  requestedBy?: string;
}

/**
 * Starts an id-set reconciliation of an instance now (`reconcile/<type>/<instance>/manual`): one
 * manual run at a time (409 while one runs). Refuses streams that see their deletes by syncing.
 */
export async function startReconcile(deps: SourceAdminDeps, ref: InstanceRef, req: ReconcileRequest): Promise<{ workflowId: string; streams: string[] }> {
  const row = await getSourceInstance(deps.db, ref.sourceType, ref.instanceId);
  if (!row) throw new NotFound(`no source instance ${instancePath(ref.sourceType, ref.instanceId)}`);
  if (!row.enabled) throw new Conflict(`${instancePath(ref.sourceType, ref.instanceId)} is paused; resume it first`);
  const streams = streamsOf(configOf(row));
  const reconcilable = streams.filter((s) => s.reconcile).map((s) => s.name);
  const unknown = (req.streams ?? []).filter((s) => !reconcilable.includes(s));
  if (unknown.length) throw new InvalidRequest(`no id-set reconciliation for ${unknown.map((s) => `'${s}'`).join(', ')} (streams that need one: ${reconcilable.join(', ') || 'none'}; the others see their deletes when they sync)`);
  const workflowId = `${reconcileScheduleId(ref)}/manual`;
  const args: [ReconcileInput] = [{ sourceType: row.source_type, instanceId: row.instance_id, trigger: 'api', ...(req.force ? { force: true } : {}), ...(req.streams?.length ? { streams: req.streams } : {}) }];
  try {
    await deps.client.workflow.start('reconcile', {
      workflowId,
      taskQueue: deps.taskQueue,
      args,
      typedSearchAttributes: jobAttributes('reconcile', row, req.requestedBy),
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) throw new Conflict(`a reconciliation of ${instancePath(ref.sourceType, ref.instanceId)} started by hand is running (${workflowId}); wait for it to finish`);
    throw e;
  }
  return { workflowId, streams: req.streams?.length ? req.streams : reconcilable };
}
