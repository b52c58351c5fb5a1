/**
 * Activities of the reconcile workflow: which streams of an instance need id-set reconciliation,
 * and one step of one stream's reconciliation (listing the source's ids, then marking the stored
 * records it no longer has), heartbeating while it works. The connector and its credentials are
 * resolved here, never passed through Temporal.
 */
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import { InvalidRequest } from '../domain/errors';
import { SOURCE_TYPE_NAMES } from '../domain/sync/source-instance';
import { DEFAULT_MAX_DELETE_SHARE, reconcileStreamStep, type ReconcileStepResult } from '../engine/ingest/reconcile';
import { failReconciliation } from '../db/repositories/source-reconciliations';
import { createConnectionCache } from '../engine/ingest/source-connections';
import type { Logger } from '../platform/logger';
import { withFailureConversion } from './failures';
import { parseActivityInput } from './parse-input';

const instanceRef = z.object({ sourceType: z.enum(SOURCE_TYPE_NAMES), instanceId: z.string().min(1) });
const stepInput = instanceRef.extend({ workflowId: z.string().min(1), runId: z.string().min(1), stream: z.string().min(1), force: z.boolean() });
const failInput = z.object({ workflowId: z.string().min(1), runId: z.string().min(1), stream: z.string().min(1), reason: z.string() });

/** How long one activity call works before returning to the workflow (progress, small history). */
const MAX_MS_PER_CALL = 10_000;
const HEARTBEAT_EVERY_MS = 3_000;

export function createReconcileActivities(deps: { db: Knex; log: Logger }) {
  const { db, log } = deps;
  const connect = createConnectionCache(deps);

  return withFailureConversion({
    /** The instance's streams whose source reports no deletes (those with a reconcile listing). */
    async reconcilableStreams(input: { sourceType: string; instanceId: string }): Promise<{ enabled: boolean; streams: string[] }> {
      const i = parseActivityInput(instanceRef, input);
      const { row, connector } = await connect(i.sourceType, i.instanceId);
      return { enabled: row.enabled, streams: connector.streams.filter((s) => s.reconcile).map((s) => s.name) };
    },

    /** A stream whose reconciliation failed for good: its run ends `failed`, its listed ids are forgotten. */
    async failReconcileStream(input: { workflowId: string; runId: string; stream: string; reason: string }): Promise<void> {
      const i = parseActivityInput(failInput, input);
      await failReconciliation(db, i);
      log.warn({ workflowId: i.workflowId, stream: i.stream, reason: i.reason }, 'reconciliation of a stream failed');
    },

    /** Lists and marks for up to ten seconds; returns where the stream's reconciliation stands. */
    async reconcileStreamStep(input: { sourceType: string; instanceId: string; workflowId: string; runId: string; stream: string; force: boolean }): Promise<ReconcileStepResult> {
      const i = parseActivityInput(stepInput, input);
      const { connector, label } = await connect(i.sourceType, i.instanceId);
      const stream = connector.streams.find((s) => s.name === i.stream);
      if (!stream?.reconcile) throw new InvalidRequest(`${label} stream '${i.stream}' has no id-set reconciliation (it sees its deletes when it syncs)`);
      const ctx = Context.current();
      let last: unknown;
      const beat = setInterval(() => ctx.heartbeat(last), Math.min(HEARTBEAT_EVERY_MS, Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 30_000) / 3))));
      const result = await reconcileStreamStep(db, {
        sourceType: i.sourceType,
        instanceId: i.instanceId,
        workflowId: i.workflowId,
        runId: i.runId,
        instanceLabel: label,
        streamName: stream.name,
        spec: stream.reconcile,
        force: i.force,
        maxDeleteShare: DEFAULT_MAX_DELETE_SHARE,
        maxMs: MAX_MS_PER_CALL,
        signal: ctx.cancellationSignal,
        onProgress: (r) => ctx.heartbeat((last = { phase: r.phase, listed: r.listed, marked: r.marked })),
      }).finally(() => clearInterval(beat));
      if (result.phase === 'done' || result.phase === 'held') log.info({ source: label, ...result }, 'reconciliation of a stream finished');
      return result;
    },
  });
}
