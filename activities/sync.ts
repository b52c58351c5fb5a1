/**
 * Activities of the sync and backfill workflows: open and finish runs, and read a stream's pages
 * from its cursor (heartbeating after every stored page). Inputs are ids checked with zod; the
 * connector, its settings and credentials are resolved here, never passed through Temporal.
 */
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import { InvalidRequest } from '../domain/errors';
import { SOURCE_TYPE_NAMES } from '../domain/sync/source-instance';
import { planBackfillWindows } from '../domain/sync/windows';
import { listCursors } from '../db/repositories/sync-cursors';
import { finishSyncRun, getBackfill, keepBackfillWindows, openSyncRun } from '../db/repositories/sync-runs';
import { readStreamPages } from '../engine/ingest/source-sync';
import type { Logger } from '../platform/logger';
import { backfillScope, type StreamPlan, type StreamTotals } from '../contracts/sync';
import { withFailureConversion } from './failures';
import { parseActivityInput } from './parse-input';
import { createConnectionCache } from '../engine/ingest/source-connections';

const instanceRef = z.object({ sourceType: z.enum(SOURCE_TYPE_NAMES), instanceId: z.string().min(1) });
const isoTime = z.iso.datetime({ offset: true });
const openInput = instanceRef.extend({ workflowId: z.string().min(1), runStartedAt: isoTime, kind: z.enum(['sync', 'backfill']) });
const streamInput = instanceRef.extend({
  stream: z.string().min(1),
  scope: z.string().min(1),
  runStartedAt: isoTime,
  window: z.object({ from: isoTime, to: isoTime }).optional(),
  maxPagesPerCall: z.number().int().positive().optional(),
});
const finishInput = z.object({
  workflowId: z.string().min(1),
  runStartedAt: isoTime,
  status: z.enum(['completed', 'failed']),
  streams: z.record(z.string(), z.unknown()),
  notices: z.array(z.string()),
  error: z.string().optional(),
});
const backfillInput = z.object({ backfillId: z.uuid() });

/** How long one activity call reads before returning to the workflow (keeps heartbeats and history small). */
const MAX_MS_PER_CALL = 10_000;
const HEARTBEAT_EVERY_MS = 3_000;

export interface BackfillPlan {
  sourceType: 'marketo' | 'salesforce' | 'dynamics';
  instanceId: string;
  rangeFrom: string;
  rangeTo: string;
  windows: Array<{ stream: string; index: number; from: string; to: string; done: boolean; records: number; quarantined: number }>;
}

export function createSyncActivities(deps: { db: Knex; log: Logger }) {
  const { db, log } = deps;
  const connect = createConnectionCache(deps);

  return withFailureConversion({
    /** Records the run and returns the instance's streams (in dependency order). */
    async openSyncRun(input: { sourceType: string; instanceId: string; workflowId: string; runStartedAt: string; kind: 'sync' | 'backfill' }): Promise<{ streams: StreamPlan[]; enabled: boolean }> {
      const i = parseActivityInput(openInput, input);
      const { row, connector, label } = await connect(i.sourceType, i.instanceId);
      await openSyncRun(db, i);
      log.info({ source: label, workflowId: i.workflowId, kind: i.kind }, 'sync run open');
      return {
        enabled: row.enabled,
        streams: connector.streams.map((s) => ({ name: s.name, dependsOn: [...(s.dependsOn ?? [])], backfillMaxWindowDays: s.backfill?.maxWindowDays ?? null })),
      };
    },

    /** Reads pages of one stream from its cursor until the run is complete, the source asks to wait, or ten seconds have passed. */
    async syncStreamPages(input: unknown): Promise<StreamTotals & { waitMs?: number }> {
      const i = parseActivityInput(streamInput, input);
      const { connector, label } = await connect(i.sourceType, i.instanceId);
      const stream = connector.streams.find((s) => s.name === i.stream);
      if (!stream) throw new InvalidRequest(`${label} has no stream '${i.stream}' (streams: ${connector.streams.map((s) => s.name).join(', ')})`);
      const ctx = Context.current();
      // Liveness: heartbeat while alive, so a dead worker is noticed within the heartbeat timeout.
      let last: unknown;
      const beat = setInterval(() => ctx.heartbeat(last), Math.min(HEARTBEAT_EVERY_MS, Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 30_000) / 3))));
      const result = await readStreamPages(db, {
        key: { sourceType: i.sourceType, instanceId: i.instanceId, stream: i.stream, scope: i.scope },
        instanceLabel: label,
        stream,
        runStartedAt: i.runStartedAt,
        window: i.window,
        maxPages: i.maxPagesPerCall ?? 10_000,
        maxMs: MAX_MS_PER_CALL,
        signal: ctx.cancellationSignal,
        onPage: (t) => ctx.heartbeat((last = t)),
      }).finally(() => clearInterval(beat));
      return { stream: i.stream, ...result.totals, ...(result.waitMs !== undefined ? { waitMs: result.waitMs } : {}) };
    },

    async finishSyncRun(input: { workflowId: string; runStartedAt: string; status: 'completed' | 'failed'; streams: Record<string, unknown>; notices: string[]; error?: string }): Promise<void> {
      const i = parseActivityInput(finishInput, input);
      await finishSyncRun(db, i);
      log.info({ workflowId: i.workflowId, status: i.status, notices: i.notices, error: i.error }, 'sync run finished');
    },

    /** The windows of a backfill, each marked done when its cursor says so (a continued run skips them). */
    async planBackfill(input: { backfillId: string }): Promise<BackfillPlan> {
      const { backfillId } = parseActivityInput(backfillInput, input);
      const b = await getBackfill(db, backfillId);
      if (!b) throw new InvalidRequest(`no backfill ${backfillId}`);
      const { connector, label } = await connect(b.source_type, b.instance_id);
      // The windows planned when the backfill was created; a backfill from before they were stored
      // is planned once, now, and keeps that plan.
      let planned = b.windows;
      if (!planned) {
        const streams = b.streams.map((name) => {
          const stream = connector.streams.find((s) => s.name === name);
          if (!stream?.backfill) throw new InvalidRequest(`${label} stream '${name}' cannot be backfilled by time window`);
          return { name, maxWindowDays: stream.backfill.maxWindowDays };
        });
        planned = await keepBackfillWindows(db, backfillId, planBackfillWindows(streams, b.range_from.toISOString(), b.range_to.toISOString()));
      }
      // Every cursor of the instance in one query, looked up per window.
      const cursors = new Map((await listCursors(db, b.source_type, b.instance_id)).map((c) => [`${c.stream}\n${c.scope}`, c]));
      const windows: BackfillPlan['windows'] = planned.map((w) => {
        const cursor = cursors.get(`${w.stream}\n${backfillScope(backfillId, w.index)}`);
        return { ...w, done: cursor?.run_complete ?? false, records: cursor?.run_records ?? 0, quarantined: cursor?.run_quarantined ?? 0 };
      });
      return { sourceType: b.source_type, instanceId: b.instance_id, rangeFrom: b.range_from.toISOString(), rangeTo: b.range_to.toISOString(), windows };
    },
  });
}
