/**
 * Operators' identity changes — split two identities apart (do-not-link, unlink) or let them join
 * again (allow-link) — as the steps of the identityChange saga. Each step records its result on
 * the identity_change row and returns it when run again, so a retried activity is harmless; the
 * compensation undoes the graph change and rematerialises what it touched.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ENTITIES, RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { InvalidRequest, NotFound, SagaStepFailed } from '../../domain/errors';
import { appendDecisions, lockGraph } from '../../db/repositories/identity-graph';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import {
  addDoNotLink,
  doNotLinkExists,
  identityChangeById,
  identityInGraph,
  insertIdentityChange,
  limitLockWait,
  lockIdentityChange,
  markIdentityChangeCompleted,
  profileOfIdentity,
  recordSagaStep,
  removeDoNotLink,
  type IdentityChangeKind,
  type IdentityChangeRow,
  type SagaStep,
} from '../../db/repositories/identity-changes';
import { inPgTransaction, type PgConn } from '../../db/pg-transaction';
import { resolveRecords, type GraphChange } from './resolve-records';
import { rematerialiseProfiles } from './profiles';

export type { IdentityChangeKind, IdentityChangeRow, SagaStep };

/** Checks both identities exist in the graph and belong to the entity; records the request. */
export async function createIdentityChange(
  db: Knex,
  req: { entity: Entity; kind: IdentityChangeKind; a: string; b: string; actor: string; reason: string },
): Promise<IdentityChangeRow> {
  if (!ENTITIES.includes(req.entity)) throw new InvalidRequest(`entity must be one of ${ENTITIES.join(', ')}`);
  if (req.a === req.b) throw new InvalidRequest('a and b are the same identity');
  for (const k of [req.a, req.b]) {
    if (!(await identityInGraph(db, req.entity, k))) throw new NotFound(`identity '${k}' is not in the ${req.entity} graph (use namespace:value, e.g. email:ada@example.com or ${RECORD_NAMESPACE[req.entity]}:<sourceKey>)`);
  }
  if (req.kind === 'allow-link') {
    const [a, b] = [req.a, req.b].sort() as [string, string];
    if (!(await doNotLinkExists(db, a, b))) throw new NotFound(`there is no do-not-link between '${req.a}' and '${req.b}'`);
  }
  return insertIdentityChange(db, { id: randomUUID(), ...req });
}

export async function getIdentityChange(db: Knex, id: string): Promise<IdentityChangeRow | undefined> {
  return identityChangeById(db, id);
}

async function lockChange(conn: PgConn, id: string): Promise<IdentityChangeRow> {
  const row = await lockIdentityChange(conn, id);
  if (!row) throw new NotFound(`no identity change ${id}`);
  return row;
}

function failIfInjected(row: IdentityChangeRow, step: SagaStep): void {
  if (row.inject_failure === step) throw new SagaStepFailed(`step '${step}' failed for good (injected for the compensation drill)`);
}

/** Adds or removes the pair and re-resolves the components around it. */
async function changePair(conn: PgConn, config: IdentityConfig, row: IdentityChangeRow, kind: IdentityChangeKind, actor: string, reason: string): Promise<GraphChange & { pairChanged: boolean }> {
  await lockGraph(conn, 'shared');
  const [a, b] = [row.a, row.b].sort() as [string, string];
  let pairChanged: boolean;
  if (kind === 'do-not-link') {
    pairChanged = await addDoNotLink(conn, { a, b, entity: row.entity, actor, reason });
  } else {
    pairChanged = await removeDoNotLink(conn, a, b);
  }
  const change = await resolveRecords(conn, config, row.entity, [], actor, [a, b]);
  await appendDecisions(conn, [{
    entity: row.entity, kind, node: a, identity: b, seq: null, identities: null, scope: null, rule: null,
    profileId: await profileOfIdentity(conn, a), previousProfileIds: null, actor, reason: reason || null,
  }]);
  return { ...change, pairChanged };
}

export interface GraphStepResult {
  touched: string[];
  gone: Record<string, string[]>;
  /** False when the pair was already as asked (a repeated request): compensation then leaves it alone. */
  pairChanged?: boolean;
}

/** Step 1: the graph change. */
export async function applyGraphChange(db: Knex, id: string): Promise<GraphStepResult> {
  const config = await loadIdentityConfig(db);
  return inPgTransaction(db, async (conn) => {
    await limitLockWait(conn);
    const row = await lockChange(conn, id);
    if (row.steps.graph) return row.steps.graph as GraphStepResult;
    failIfInjected(row, 'graph');
    const change = await changePair(conn, config, row, row.kind, row.actor, row.reason);
    const result: GraphStepResult = { touched: [...change.touched].sort(), gone: Object.fromEntries(change.gone), pairChanged: change.pairChanged };
    await recordSagaStep(conn, id, 'graph', result, { status: 'running', touched: result.touched, gone: result.gone });
    return result;
  });
}

/** Step 2: rematerialise the touched profiles and remove the ended ones. */
export async function rematerialiseChange(db: Knex, id: string): Promise<{ profiles: number; removed: number }> {
  const config = await loadIdentityConfig(db);
  return inPgTransaction(db, async (conn) => {
    await limitLockWait(conn);
    const row = await lockChange(conn, id);
    if (row.steps.profiles) return row.steps.profiles as { profiles: number; removed: number };
    failIfInjected(row, 'profiles');
    const graph = row.steps.graph as GraphStepResult;
    const change: GraphChange = { entity: row.entity, touched: new Set(graph.touched), gone: new Map(Object.entries(graph.gone)), observed: 0, splits: 0, merges: 0 };
    const u = await rematerialiseProfiles(conn, config, change, `identity-change:${id}`);
    const per = row.entity === 'person' ? u.person : u.account;
    const result = { profiles: per.upserted, removed: per.deleted };
    await recordSagaStep(conn, id, 'profiles', result);
    return result;
  });
}

/**
 * Steps 3 and 4: hand the touched and ended profiles to segment re-evaluation and to destination
 * corrections. Both read the profile_change outbox (written in step 2 under this change's cause);
 * this step confirms the hand-off and records how many profile changes were queued for them.
 */
export async function handOff(db: Knex, id: string, step: 'segments' | 'destinations'): Promise<{ queued: number }> {
  return inPgTransaction(db, async (conn) => {
    await limitLockWait(conn);
    const row = await lockChange(conn, id);
    if (row.steps[step]) return row.steps[step] as { queued: number };
    failIfInjected(row, step);
    const done = row.steps.profiles as { profiles: number; removed: number } | undefined;
    const queued = (done?.profiles ?? 0) + (done?.removed ?? 0);
    await recordSagaStep(conn, id, step, { queued });
    return { queued };
  });
}

export async function completeChange(db: Knex, id: string): Promise<void> {
  await markIdentityChangeCompleted(db, id);
}

/** Compensation: the reverse graph change, then the profiles it touches; the change ends 'compensated'. */
export async function compensateChange(db: Knex, id: string, error: string): Promise<GraphStepResult> {
  const config = await loadIdentityConfig(db);
  return inPgTransaction(db, async (conn) => {
    await limitLockWait(conn);
    const row = await lockChange(conn, id);
    if (row.steps.compensation) return row.steps.compensation as GraphStepResult;
    let result: GraphStepResult = { touched: [], gone: {} };
    if (row.steps.graph && (row.steps.graph as GraphStepResult).pairChanged !== false) {
      const reverse: IdentityChangeKind = row.kind === 'do-not-link' ? 'allow-link' : 'do-not-link';
      const change = await changePair(conn, config, row, reverse, `compensation:${row.actor}`, `compensating identity change ${id}: ${error}`);
      await rematerialiseProfiles(conn, config, change, `identity-change:${id}:compensation`);
      result = { touched: [...change.touched].sort(), gone: Object.fromEntries(change.gone) };
    }
    await recordSagaStep(conn, id, 'compensation', result, { status: 'compensated', error });
    return result;
  });
}
