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
import { inPgTransaction, type PgConn } from '../../db/pg-transaction';
import { resolveRecords, type GraphChange } from './resolve-records';
import { rematerialiseProfiles } from './profiles';

export type IdentityChangeKind = 'do-not-link' | 'allow-link';
export type SagaStep = 'graph' | 'profiles' | 'segments' | 'destinations';

export interface IdentityChangeRow {
  id: string;
  entity: Entity;
  kind: IdentityChangeKind;
  a: string;
  b: string;
  actor: string;
  reason: string;
  status: 'pending' | 'running' | 'completed' | 'compensated';
  steps: Partial<Record<SagaStep | 'compensation', unknown>>;
  touched: string[] | null;
  gone: Record<string, string[]> | null;
  error: string | null;
  inject_failure: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Checks both identities exist in the graph and belong to the entity; records the request. */
export async function createIdentityChange(
  db: Knex,
  req: { entity: Entity; kind: IdentityChangeKind; a: string; b: string; actor: string; reason: string },
): Promise<IdentityChangeRow> {
  if (!ENTITIES.includes(req.entity)) throw new InvalidRequest(`entity must be one of ${ENTITIES.join(', ')}`);
  if (req.a === req.b) throw new InvalidRequest('a and b are the same identity');
  for (const k of [req.a, req.b]) {
    const known =
      (await db('identity_record').where({ node: k, entity: req.entity }).first()) ??
      (await db('identity_link').where({ identity: k }).whereRaw('node LIKE ?', [`${RECORD_NAMESPACE[req.entity]}:%`]).first());
    if (!known) throw new NotFound(`identity '${k}' is not in the ${req.entity} graph (use namespace:value, e.g. email:ada@example.com or ${RECORD_NAMESPACE[req.entity]}:<sourceKey>)`);
  }
  if (req.kind === 'allow-link') {
    const [a, b] = [req.a, req.b].sort();
    if (!(await db('identity_do_not_link').where({ a, b }).first())) throw new NotFound(`there is no do-not-link between '${req.a}' and '${req.b}'`);
  }
  const [row] = await db('identity_change').insert({ id: randomUUID(), ...req }).returning('*');
  return row;
}

export async function getIdentityChange(db: Knex, id: string): Promise<IdentityChangeRow | undefined> {
  return db('identity_change').where({ id }).first();
}

async function lockChange(conn: PgConn, id: string): Promise<IdentityChangeRow> {
  const row = (await conn.query(`SELECT * FROM identity_change WHERE id = $1 FOR UPDATE`, [id])).rows[0] as IdentityChangeRow | undefined;
  if (!row) throw new NotFound(`no identity change ${id}`);
  return row;
}

async function recordStep(conn: PgConn, id: string, step: string, result: unknown, extra: { status?: string; touched?: string[]; gone?: object; error?: string } = {}) {
  await conn.query(
    `UPDATE identity_change SET steps = steps || jsonb_build_object($2::text, $3::jsonb), status = coalesce($4, status),
       touched = coalesce($5::uuid[], touched), gone = coalesce($6::jsonb, gone), error = coalesce($7, error), updated_at = now() WHERE id = $1`,
    [id, step, JSON.stringify(result), extra.status ?? null, extra.touched ?? null, extra.gone ? JSON.stringify(extra.gone) : null, extra.error ?? null],
  );
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
    const r = await conn.query(
      `INSERT INTO identity_do_not_link (a, b, entity, actor, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (a, b) DO NOTHING`,
      [a, b, row.entity, actor, reason],
    );
    pairChanged = (r.rowCount ?? 0) > 0;
  } else {
    pairChanged = ((await conn.query(`DELETE FROM identity_do_not_link WHERE a = $1 AND b = $2`, [a, b])).rowCount ?? 0) > 0;
  }
  const change = await resolveRecords(conn, config, row.entity, [], actor, [a, b]);
  const profileOf = async (k: string) =>
    (await conn.query(`SELECT coalesce((SELECT profile_id FROM identity_record WHERE node = $1), (SELECT r.profile_id FROM identity_link l JOIN identity_record r ON r.node = l.node WHERE l.identity = $1 AND l.outcome <> 'rejected' LIMIT 1)) AS p`, [k])).rows[0]?.p ?? null;
  await appendDecisions(conn, [{
    entity: row.entity, kind, node: a, identity: b, seq: null, identities: null, scope: null, rule: null,
    profileId: await profileOf(a), previousProfileIds: null, actor, reason: reason || null,
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
    await conn.query(`SET LOCAL lock_timeout = '60s'`);
    const row = await lockChange(conn, id);
    if (row.steps.graph) return row.steps.graph as GraphStepResult;
    failIfInjected(row, 'graph');
    const change = await changePair(conn, config, row, row.kind, row.actor, row.reason);
    const result: GraphStepResult = { touched: [...change.touched].sort(), gone: Object.fromEntries(change.gone), pairChanged: change.pairChanged };
    await recordStep(conn, id, 'graph', result, { status: 'running', touched: result.touched, gone: result.gone });
    return result;
  });
}

/** Step 2: rematerialise the touched profiles and remove the ended ones. */
export async function rematerialiseChange(db: Knex, id: string): Promise<{ profiles: number; removed: number }> {
  const config = await loadIdentityConfig(db);
  return inPgTransaction(db, async (conn) => {
    await conn.query(`SET LOCAL lock_timeout = '60s'`);
    const row = await lockChange(conn, id);
    if (row.steps.profiles) return row.steps.profiles as { profiles: number; removed: number };
    failIfInjected(row, 'profiles');
    const graph = row.steps.graph as GraphStepResult;
    const change: GraphChange = { entity: row.entity, touched: new Set(graph.touched), gone: new Map(Object.entries(graph.gone)), observed: 0, splits: 0, merges: 0 };
    const u = await rematerialiseProfiles(conn, config, change, `identity-change:${id}`);
    const per = row.entity === 'person' ? u.person : u.account;
    const result = { profiles: per.upserted, removed: per.deleted };
    await recordStep(conn, id, 'profiles', result);
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
    await conn.query(`SET LOCAL lock_timeout = '60s'`);
    const row = await lockChange(conn, id);
    if (row.steps[step]) return row.steps[step] as { queued: number };
    failIfInjected(row, step);
    const done = row.steps.profiles as { profiles: number; removed: number } | undefined;
    const queued = (done?.profiles ?? 0) + (done?.removed ?? 0);
    await recordStep(conn, id, step, { queued });
    return { queued };
  });
}

export async function completeChange(db: Knex, id: string): Promise<void> {
  await db('identity_change').where({ id }).update({ status: 'completed', updated_at: db.fn.now() });
}

/** Compensation: the reverse graph change, then the profiles it touches; the change ends 'compensated'. */
export async function compensateChange(db: Knex, id: string, error: string): Promise<GraphStepResult> {
  const config = await loadIdentityConfig(db);
  return inPgTransaction(db, async (conn) => {
    await conn.query(`SET LOCAL lock_timeout = '60s'`);
    const row = await lockChange(conn, id);
    if (row.steps.compensation) return row.steps.compensation as GraphStepResult;
    let result: GraphStepResult = { touched: [], gone: {} };
    if (row.steps.graph && (row.steps.graph as GraphStepResult).pairChanged !== false) {
      const reverse: IdentityChangeKind = row.kind === 'do-not-link' ? 'allow-link' : 'do-not-link';
      const change = await changePair(conn, config, row, reverse, `compensation:${row.actor}`, `compensating identity change ${id}: ${error}`);
      await rematerialiseProfiles(conn, config, change, `identity-change:${id}:compensation`);
      result = { touched: [...change.touched].sort(), gone: Object.fromEntries(change.gone) };
    }
    await recordStep(conn, id, 'compensation', result, { status: 'compensated', error });
    return result;
  });
}
