/** Source instances (source_instance): what to sync, where, and with which secrets. */
import type { Knex } from 'knex';
import { DEFAULT_RECONCILE_CRON, type SourceInstanceConfig, type SourceTypeName } from '../../domain/sync/source-instance';

export interface SourceInstanceRow {
  source_type: SourceTypeName;
  instance_id: string;
  label: string;
  endpoint: string;
  auth_endpoint: string | null;
  settings: Record<string, unknown>;
  credentials_ref: string;
  schedule_cron: string;
  reconcile_cron: string;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

/** Creates or replaces an instance's configuration; returns whether it was new. */
export async function upsertSourceInstance(db: Knex, c: Omit<SourceInstanceConfig, 'reconcileSchedule'> & { reconcileSchedule?: string }): Promise<{ created: boolean; row: SourceInstanceRow }> {
  const { rows } = await db.raw(
    `/* sources.upsert */ INSERT INTO source_instance (source_type, instance_id, label, endpoint, auth_endpoint, settings, credentials_ref, schedule_cron, reconcile_cron, enabled)
     VALUES (?, ?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?)
     ON CONFLICT (source_type, instance_id) DO UPDATE SET label = EXCLUDED.label, endpoint = EXCLUDED.endpoint, auth_endpoint = EXCLUDED.auth_endpoint,
       settings = EXCLUDED.settings, credentials_ref = EXCLUDED.credentials_ref, schedule_cron = EXCLUDED.schedule_cron, reconcile_cron = EXCLUDED.reconcile_cron, enabled = EXCLUDED.enabled, updated_at = now()
     RETURNING *, (xmax = 0) AS created`,
    [c.sourceType, c.instanceId, c.label ?? `${c.sourceType} ${c.instanceId}`, c.endpoint, c.authEndpoint ?? null, JSON.stringify(c.settings), c.credentialsRef, c.schedule, c.reconcileSchedule ?? DEFAULT_RECONCILE_CRON, c.enabled],
  );
  const { created, ...row } = rows[0] as SourceInstanceRow & { created: boolean };
  return { created, row };
}

/** The instances whose credentials are these secrets (a credentialsRef belongs to one instance). */
export async function instancesUsingCredentials(db: Knex, credentialsRef: string): Promise<Array<{ source_type: string; instance_id: string }>> {
  return db('source_instance').where({ credentials_ref: credentialsRef }).select('source_type', 'instance_id');
}

export async function getSourceInstance(db: Knex, sourceType: string, instanceId: string): Promise<SourceInstanceRow | undefined> {
  return db<SourceInstanceRow>('source_instance').where('source_type', sourceType).andWhere('instance_id', instanceId).first();
}

export async function listSourceInstances(db: Knex): Promise<SourceInstanceRow[]> {
  return db<SourceInstanceRow>('source_instance').orderBy(['source_type', 'instance_id']);
}

export async function setSourceInstanceEnabled(db: Knex, sourceType: string, instanceId: string, enabled: boolean): Promise<boolean> {
  const n = await db('source_instance').where({ source_type: sourceType, instance_id: instanceId }).update({ enabled, updated_at: db.fn.now() });
  return n > 0;
}

export function toConfig(row: SourceInstanceRow): SourceInstanceConfig {
  return {
    sourceType: row.source_type,
    instanceId: row.instance_id,
    label: row.label,
    endpoint: row.endpoint,
    ...(row.auth_endpoint ? { authEndpoint: row.auth_endpoint } : {}),
    settings: row.settings,
    credentialsRef: row.credentials_ref,
    schedule: row.schedule_cron,
    reconcileSchedule: row.reconcile_cron,
    enabled: row.enabled,
  };
}

/** Deletes an instance with its cursors, runs and backfills (foreign keys cascade); its stored records stay. */
export async function deleteSourceInstance(db: Knex, sourceType: string, instanceId: string): Promise<boolean> {
  return (await db('source_instance').where({ source_type: sourceType, instance_id: instanceId }).delete()) > 0;
}
