/**
 * Source instances and their syncs: add or change an instance (its schedule follows), list them
 * with schedule and cursor status, trigger a sync now, pause or resume the schedule, and start or
 * follow a backfill of a time range.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SOURCE_TYPE_NAMES, sourceInstanceConfigSchema } from '../../domain/sync/source-instance';
import { getSourceInstance, listSourceInstances, setSourceInstanceEnabled, toConfig, type SourceInstanceRow } from '../../db/repositories/source-instances';
import { listCursors, resetStreamCursors } from '../../db/repositories/sync-cursors';
import { getBackfill, recentSyncRuns } from '../../db/repositories/sync-runs';
import { configureSource, deleteSource, startBackfill, startReconcile } from '../../control/sources';
import { recentReconciliations } from '../../db/repositories/source-reconciliations';
import { describeSyncSchedule, setInstanceSchedulesPaused, triggerSync } from '../../control/sync-schedules';
import { backfillProgressQuery, backfillWorkflowId, type InstanceRef } from '../../contracts/sync';
import { HttpError } from '../errors';
import { workflowUrl as uiLink } from '../temporal-access';
import type { ApiDeps } from '../app';

const instanceParams = z.object({ sourceType: z.enum(SOURCE_TYPE_NAMES), instanceId: z.string().min(1) });
const backfillBody = z.strictObject({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  streams: z.array(z.string().min(1)).optional().describe('Streams to backfill; default: every stream that can be read by time window'),
});

export function sourceRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  const workflowUrl = (workflowId: string) => uiLink(deps.temporal, workflowId);
  const admin = async () => ({ db: deps.db, client: await deps.temporal.client(), taskQueue: deps.temporal.taskQueue });
  const requireInstance = async (p: InstanceRef): Promise<SourceInstanceRow> => {
    const row = await getSourceInstance(deps.db, p.sourceType, p.instanceId);
    if (!row) throw new HttpError(404, 'NotFound', `no source instance ${p.sourceType}/${p.instanceId}; add it with POST /v1/sources`);
    return row;
  };
  const describe = async (row: SourceInstanceRow) => {
    const ref = { sourceType: row.source_type, instanceId: row.instance_id };
    const client = await deps.temporal.client();
    const schedule = await describeSyncSchedule(client, ref);
    const cursors = await listCursors(deps.db, row.source_type, row.instance_id);
    return {
      ...toConfig(row),
      schedule: row.schedule_cron,
      scheduleStatus: schedule && { ...schedule, running: schedule.running.map((r) => ({ ...r, workflowUrl: workflowUrl(r.workflowId) })) },
      streams: cursors
        .filter((c) => c.scope === 'incremental')
        .map((c) => ({ stream: c.stream, runStartedAt: c.run_started_at, complete: c.run_complete, pages: c.run_pages, records: c.run_records, quarantined: c.run_quarantined, notices: c.notices, updatedAt: c.updated_at })),
      recentReconciliations: (await recentReconciliations(deps.db, row.source_type, row.instance_id, 10)).map((r) => ({
        workflowId: r.workflow_id, stream: r.stream, phase: r.phase, startedAt: r.started_at, finishedAt: r.finished_at, listed: r.listed, stored: r.stored, markedDeleted: r.marked, notice: r.notice,
      })),
      recentRuns: (await recentSyncRuns(deps.db, row.source_type, row.instance_id, 5)).map((r) => ({ workflowId: r.workflow_id, kind: r.kind, status: r.status, startedAt: r.run_started_at, finishedAt: r.finished_at, notices: r.notices, error: r.error, streams: r.streams, workflowUrl: workflowUrl(r.workflow_id) })),
    };
  };

  return async (app) => {
    app.post(
      '/v1/sources',
      {
        schema: {
          tags: ['sources'],
          summary: 'Add or change a source instance (Marketo, Salesforce, Dynamics); its sync schedule is created or updated',
          description:
            'Credentials are never sent here: credentialsRef names the secrets TESSERA_SOURCE_<REF>_CLIENT_ID and _CLIENT_SECRET (environment, *_FILE, or TESSERA_SECRETS_FILE), which must be readable by the API and the worker.',
          body: sourceInstanceConfigSchema,
        },
      },
      async (req, reply) => {
        const { created, row } = await configureSource(await admin(), req.body);
        return reply.code(created ? 201 : 200).send(await describe(row));
      },
    );

    app.get('/v1/sources', { schema: { tags: ['sources'], summary: 'Source instances with schedule, streams and recent runs' } }, async () => ({
      instances: await Promise.all((await listSourceInstances(deps.db)).map(describe)),
    }));

    app.get('/v1/sources/:sourceType/:instanceId', { schema: { tags: ['sources'], summary: 'One source instance', params: instanceParams } }, async (req) =>
      describe(await requireInstance(req.params)),
    );

    app.delete(
      '/v1/sources/:sourceType/:instanceId',
      {
        schema: {
          tags: ['sources'],
          summary: 'Delete a source instance: its schedule, configuration, cursors and run history (409 while it syncs); its stored records stay',
          params: instanceParams,
        },
      },
      async (req) => {
        await deleteSource(await admin(), req.params);
        return { deleted: `${req.params.sourceType}/${req.params.instanceId}` };
      },
    );

    app.post(
      '/v1/sources/:sourceType/:instanceId/sync',
      { schema: { tags: ['sources'], summary: 'Sync now (joins the running sync if there is one)', params: instanceParams } },
      async (req, reply) => {
        const row = await requireInstance(req.params);
        if (!row.enabled) throw new HttpError(409, 'InstanceDisabled', `${req.params.sourceType}/${req.params.instanceId} is paused; resume it first (POST /v1/sources/${req.params.sourceType}/${req.params.instanceId}/resume)`);
        const result = await triggerSync(await deps.temporal.client(), req.params);
        return reply.code(result.alreadyRunning ? 200 : 202).send({ ...result, workflowUrl: result.workflowId ? workflowUrl(result.workflowId) : undefined });
      },
    );

    for (const [action, enabled] of [['pause', false], ['resume', true]] as const) {
      app.post(
        `/v1/sources/:sourceType/:instanceId/${action}`,
        { schema: { tags: ['sources'], summary: `${action === 'pause' ? 'Pause' : 'Resume'} the instance's scheduled syncs`, params: instanceParams } },
        async (req) => {
          await requireInstance(req.params);
          await setSourceInstanceEnabled(deps.db, req.params.sourceType, req.params.instanceId, enabled);
          await setInstanceSchedulesPaused(await deps.temporal.client(), req.params, !enabled, enabled ? 'resumed through the API' : 'paused through the API');
          return describe(await requireInstance(req.params));
        },
      );
    }

    app.post(
      '/v1/sources/:sourceType/:instanceId/streams/:stream/reset',
      {
        schema: {
          tags: ['sources'],
          summary: 'Forget where a stream stands: its next sync reads it from the start (idempotent store, nothing duplicated)',
          description: 'The way out when a source position can never be read again, e.g. an export that always comes back short. Do it while no sync of the instance runs.',
          params: instanceParams.extend({ stream: z.string().min(1) }),
        },
      },
      async (req) => {
        await requireInstance(req.params);
        const reset = await resetStreamCursors(deps.db, req.params.sourceType, req.params.instanceId, req.params.stream);
        if (!reset) throw new HttpError(404, 'NotFound', `stream '${req.params.stream}' of ${req.params.sourceType}/${req.params.instanceId} has no cursor yet`);
        return { stream: req.params.stream, cursorsReset: reset };
      },
    );

    app.post(
      '/v1/sources/:sourceType/:instanceId/backfills',
      {
        schema: {
          tags: ['sources'],
          summary: 'Backfill a time range: split into the windows the source allows, run as a workflow with a progress query',
          params: instanceParams,
          body: backfillBody,
        },
      },
      async (req, reply) => {
        const started = await startBackfill(await admin(), req.params, { ...req.body, requestedBy: `api:${req.principal?.principal ?? 'unknown'}` });
        return reply.code(202).send({ ...started, workflowUrl: workflowUrl(started.workflowId), progress: `/v1/backfills/${started.backfillId}` });
      },
    );

    app.post(
      '/v1/sources/:sourceType/:instanceId/reconcile',
      {
        schema: {
          tags: ['sources'],
          summary: 'Reconcile now: list the ids the source holds for the streams whose API reports no deletes, and mark the stored records it no longer has as deleted',
          description:
            'Runs daily on the instance\'s reconcileSchedule anyway. A run that would delete more than half of a stream\'s stored records is held with a notice; check the source, then run again with force. Progress: the reconcileProgress query of the workflow.',
          params: instanceParams,
          body: z.strictObject({ force: z.boolean().optional(), streams: z.array(z.string().min(1).max(100)).max(50).optional() }).optional(),
        },
      },
      async (req, reply) => {
        const started = await startReconcile(await admin(), req.params, { ...(req.body ?? {}), requestedBy: `api:${req.principal?.principal ?? 'unknown'}` });
        return reply.code(202).send({ ...started, workflowUrl: workflowUrl(started.workflowId) });
      },
    );

    app.get(
      '/v1/backfills/:backfillId',
      { schema: { tags: ['sources'], summary: 'Backfill progress: windows done, records, the windows in flight', params: z.object({ backfillId: z.uuid() }) } },
      async (req) => {
        const b = await getBackfill(deps.db, req.params.backfillId);
        if (!b) throw new HttpError(404, 'NotFound', `no backfill ${req.params.backfillId}`);
        const workflowId = backfillWorkflowId({ sourceType: b.source_type, instanceId: b.instance_id }, b.id);
        const handle = (await deps.temporal.client()).workflow.getHandle(workflowId);
        let status: string;
        let progress: unknown;
        try {
          status = (await handle.describe()).status.name;
          progress = status === 'COMPLETED' ? await handle.result() : await handle.query(backfillProgressQuery).catch(() => undefined);
        } catch (e) {
          if (e instanceof WorkflowNotFoundError) throw new HttpError(404, 'NotFound', `the workflow of backfill ${b.id} is gone (retention)`);
          throw e;
        }
        return {
          backfillId: b.id,
          sourceType: b.source_type,
          instanceId: b.instance_id,
          from: b.range_from,
          to: b.range_to,
          streams: b.streams,
          status,
          progress,
          workflowId,
          workflowUrl: workflowUrl(workflowId),
        };
      },
    );
  };
}
