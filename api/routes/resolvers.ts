/**
 * The identity resolvers as operators see them: queue depth and lag, totals, lease and pause
 * state (GET /v1/identity/resolvers), pause and resume (signals to the resolver workflow),
 * requeue of set-aside records, and the Prometheus endpoint (/metrics).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RESOLVER_ENTITIES, resolverWorkflowId, type ResolverEntity } from '../../contracts/resolver';
import { pauseResolver, resolverWorkflowStatus, resumeResolver } from '../../control/resolvers';
import { withPgConn } from '../../db/pg-transaction';
import { requeueSetAside, resolverStates } from '../../db/repositories/identity-queue';
import { collectResolverFigures, metricsText } from '../../platform/metrics';
import { workflowUrl } from '../temporal-access';
import type { ApiDeps } from '../app';

const entityParam = z.object({ entity: z.enum(RESOLVER_ENTITIES as [ResolverEntity, ...ResolverEntity[]]) });

export function resolverRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    collectResolverFigures(() => withPgConn(deps.db, resolverStates));

    app.get('/v1/identity/resolvers', { schema: { tags: ['identity'], summary: 'Identity resolvers: queue depth and lag, totals, workflow state' } }, async () => {
      const states = await withPgConn(deps.db, (conn) => resolverStates(conn));
      const client = await deps.temporal.client().catch(() => undefined);
      const resolvers = await Promise.all(
        states.map(async (s) => {
          const workflow = client ? await resolverWorkflowStatus(client, s.entity).catch(() => undefined) : undefined;
          return {
            entity: s.entity,
            workflowId: resolverWorkflowId(s.entity),
            workflowUrl: workflowUrl(deps.temporal, resolverWorkflowId(s.entity)),
            workflow: workflow === undefined ? 'unknown' : workflow === null ? 'not-running' : workflow.paused ? 'paused' : 'running',
            queue: { depth: s.queueDepth, oldestMs: s.oldestQueuedMs, setAside: s.setAside },
            lease: { holder: s.holder, until: s.leaseUntil },
            totals: { batches: s.batches, records: s.records, profilesWritten: s.profilesWritten, merges: s.merges, splits: s.splits },
            lastBatch: s.lastBatchAt ? { at: s.lastBatchAt, records: s.lastBatchSize, ms: s.lastBatchMs, lagMs: s.lastLagMs } : null,
          };
        }),
      );
      return { resolvers };
    });

    for (const action of ['pause', 'resume'] as const) {
      app.post(
        `/v1/identity/resolvers/:entity/${action}`,
        { schema: { tags: ['identity'], summary: `${action === 'pause' ? 'Pause' : 'Resume'} a resolver (records keep being stored and queued)`, params: entityParam } },
        async (req, reply) => {
          const client = await deps.temporal.client();
          await (action === 'pause' ? pauseResolver : resumeResolver)(client, req.params.entity);
          return reply.code(202).send({ entity: req.params.entity, requested: action, workflowId: resolverWorkflowId(req.params.entity) });
        },
      );
    }

    app.post(
      '/v1/identity/resolvers/:entity/requeue',
      { schema: { tags: ['identity'], summary: 'Put the records set aside after failing to resolve back in the queue', params: entityParam } },
      async (req) => ({ entity: req.params.entity, requeued: await withPgConn(deps.db, (conn) => requeueSetAside(conn, req.params.entity)) }),
    );

    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: true } }, async (_req, reply) => {
      const m = await metricsText();
      return reply.type(m.contentType).send(m.body);
    });
  };
}
