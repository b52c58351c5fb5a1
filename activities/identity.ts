/**
 * Activities of the identity sagas and the rebuild. Inputs are ids (checked with zod); the
 * identities themselves (emails, phones) stay in Postgres, never in workflow histories.
 */
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { z } from 'zod';
import { applyGraphChange, compensateChange, completeChange, handOff, rematerialiseChange, type GraphStepResult } from '../engine/identity/identity-changes';
import { rebuildIdentityGraph, type RebuildResult } from '../engine/identity/rebuild';
import type { Logger } from '../platform/logger';
import { withFailureConversion } from './failures';
import { parseActivityInput } from './parse-input';

const changeInput = z.object({ changeId: z.uuid() });
const compensateInput = changeInput.extend({ error: z.string().max(4000) });

export function createIdentityActivities(deps: { db: Knex; log: Logger }) {
  const { db, log } = deps;
  return withFailureConversion({
    /** Saga step 1: add or remove the do-not-link pair and re-resolve the components around it. */
    async applyGraphChange(input: { changeId: string }): Promise<GraphStepResult> {
      const { changeId } = parseActivityInput(changeInput, input);
      const r = await applyGraphChange(db, changeId);
      log.info({ changeId, touched: r.touched.length, gone: Object.keys(r.gone).length }, 'identity change: graph changed');
      return r;
    },
    /** Saga step 2: rematerialise the touched profiles, remove the ended ones. */
    async rematerialiseProfiles(input: { changeId: string }): Promise<{ profiles: number; removed: number }> {
      const { changeId } = parseActivityInput(changeInput, input);
      return rematerialiseChange(db, changeId);
    },
    /** Saga step 3: hand the changed profiles to segment re-evaluation. */
    async reevaluateSegments(input: { changeId: string }): Promise<{ queued: number }> {
      const { changeId } = parseActivityInput(changeInput, input);
      return handOff(db, changeId, 'segments');
    },
    /** Saga step 4: hand the changed profiles to destination corrections. */
    async correctDestinations(input: { changeId: string }): Promise<{ queued: number }> {
      const { changeId } = parseActivityInput(changeInput, input);
      return handOff(db, changeId, 'destinations');
    },
    async completeIdentityChange(input: { changeId: string }): Promise<void> {
      const { changeId } = parseActivityInput(changeInput, input);
      await completeChange(db, changeId);
    },
    /** Compensation: undo the graph change and rematerialise what it touched. */
    async compensateIdentityChange(input: { changeId: string; error: string }): Promise<GraphStepResult> {
      const { changeId, error } = parseActivityInput(compensateInput, input);
      log.warn({ changeId, error }, 'identity change: compensating');
      return compensateChange(db, changeId, error);
    },
    /** Full recompute of the graph and every profile (after a configuration change). */
    async rebuildIdentity(): Promise<RebuildResult[]> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 3_000);
      try {
        return await rebuildIdentityGraph(db, { actor: `rebuild:${ctx.info.workflowExecution?.workflowId ?? ctx.info.activityId}` });
      } finally {
        clearInterval(beat);
      }
    },
  });
}
