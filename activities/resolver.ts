/**
 * The identity resolver's activity: drains one entity's change queue for a few minutes in
 * micro-batches (engine/identity/resolver.ts), heartbeating while it runs, and returns its totals.
 * The lease holder is this attempt, so a retried attempt takes over only once the lease lapsed.
 */
import type { ResolverBatchConfig } from '../platform/config';
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { ResolverRunInput, ResolverTotals } from '../contracts/resolver';
import { runResolver } from '../engine/identity/resolver';
import type { Logger } from '../platform/logger';
import { resolverMetrics } from '../platform/metrics';
import { withFailureConversion } from './failures';
import { parseActivityInput } from './parse-input';

const runInput = z.object({ entity: z.enum(['person', 'account']), runForMs: z.number().int().min(1_000).max(60 * 60_000) });

export function createResolverActivities(deps: { db: Knex; log: Logger; resolverBatch?: ResolverBatchConfig }) {
  const { db, log } = deps;
  return withFailureConversion({
    async drainResolverQueue(input: ResolverRunInput): Promise<Omit<ResolverTotals, 'runs'>> {
      const { entity, runForMs } = parseActivityInput(runInput, input);
      const ctx = Context.current();
      const run = ctx.info.workflowExecution;
      const holder = `${run?.workflowId ?? entity}/${run?.runId ?? '-'}/${ctx.info.activityId}#${ctx.info.attempt}`;
      // Liveness even while one micro-batch waits on locks (a rebuild holds the graph).
      const beat = setInterval(() => ctx.heartbeat(), 3_000);
      try {
        const totals = await runResolver(db, entity, {
          holder,
          runForMs,
          maxBatch: deps.resolverBatch?.max,
          bulkBatchMs: deps.resolverBatch?.bulkMs,
          signal: ctx.cancellationSignal,
          onProgress: (_t, batch) => {
            ctx.heartbeat();
            if (batch) resolverMetrics.observeBatch(entity, batch.records, batch.ms / 1000);
          },
        });
        if (totals.setAside) log.warn({ entity, setAside: totals.setAside }, 'identity resolver: records set aside after failing to resolve');
        return totals;
      } finally {
        clearInterval(beat);
      }
    },
  });
}
