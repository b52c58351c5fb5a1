/**
 * SQL of operators' identity changes (engine/identity/identity-changes.ts): the identity_change
 * row that records the saga's steps, and the do-not-link pairs the changes add and remove.
 */
import type { Knex } from 'knex';
import { RECORD_NAMESPACE, type Entity } from '../../domain/identity/config';
import type { PgConn } from '../pg-transaction';

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

/** Whether an identity is in the entity's graph: a record node of it, or an identity its records link. */
export async function identityInGraph(db: Knex, entity: Entity, identity: string): Promise<boolean> {
  const known =
    (await db('identity_record').where({ node: identity, entity }).first()) ??
    (await db('identity_link').where({ identity }).whereRaw('node LIKE ?', [`${RECORD_NAMESPACE[entity]}:%`]).first());
  return Boolean(known);
}

/** Whether the (sorted) pair is kept apart by a do-not-link. */
export async function doNotLinkExists(db: Knex, a: string, b: string): Promise<boolean> {
  return Boolean(await db('identity_do_not_link').where({ a, b }).first());
}

/** Records a requested identity change (pending); returns its row. */
export async function insertIdentityChange(
  db: Knex,
  change: { id: string; entity: Entity; kind: IdentityChangeKind; a: string; b: string; actor: string; reason: string },
): Promise<IdentityChangeRow> {
  const [row] = await db('identity_change').insert(change).returning('*');
  return row;
}

/** An identity change by id. */
export async function identityChangeById(db: Knex, id: string): Promise<IdentityChangeRow | undefined> {
  return db('identity_change').where({ id }).first();
}

/** Marks an identity change completed. */
export async function markIdentityChangeCompleted(db: Knex, id: string): Promise<void> {
  await db('identity_change').where({ id }).update({ status: 'completed', updated_at: db.fn.now() });
}

/** This transaction waits at most 60 s for a lock (a saga step fails and is retried rather than hang). */
export async function limitLockWait(conn: PgConn): Promise<void> {
  await conn.query(`SET LOCAL lock_timeout = '60s'`);
}

/** An identity change's row, locked for this transaction (steps of one change take turns). */
export async function lockIdentityChange(conn: PgConn, id: string): Promise<IdentityChangeRow | undefined> {
  return (await conn.query(`SELECT * FROM identity_change WHERE id = $1 FOR UPDATE`, [id])).rows[0];
}

/** Records a saga step's result on the change, with its new status, graph change or error where given. */
export async function recordSagaStep(
  conn: PgConn,
  id: string,
  step: string,
  result: unknown,
  extra: { status?: string; touched?: string[]; gone?: object; error?: string } = {},
): Promise<void> {
  await conn.query(
    `UPDATE identity_change SET steps = steps || jsonb_build_object($2::text, $3::jsonb), status = coalesce($4, status),
       touched = coalesce($5::uuid[], touched), gone = coalesce($6::jsonb, gone), error = coalesce($7, error), updated_at = now() WHERE id = $1`,
    [id, step, JSON.stringify(result), extra.status ?? null, extra.touched ?? null, extra.gone ? JSON.stringify(extra.gone) : null, extra.error ?? null],
  );
}

/** Keeps the (sorted) pair apart; false when it already was. */
export async function addDoNotLink(conn: PgConn, pair: { a: string; b: string; entity: Entity; actor: string; reason: string }): Promise<boolean> {
  const r = await conn.query(
    `INSERT INTO identity_do_not_link (a, b, entity, actor, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (a, b) DO NOTHING`,
    [pair.a, pair.b, pair.entity, pair.actor, pair.reason],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Lets the (sorted) pair join again; false when no do-not-link held it apart. */
export async function removeDoNotLink(conn: PgConn, a: string, b: string): Promise<boolean> {
  return ((await conn.query(`DELETE FROM identity_do_not_link WHERE a = $1 AND b = $2`, [a, b])).rowCount ?? 0) > 0;
}

/** The profile an identity belongs to: its record node's, else that of a record accepting a link to it. */
export async function profileOfIdentity(conn: PgConn, identity: string): Promise<string | null> {
  return (await conn.query(`SELECT coalesce((SELECT profile_id FROM identity_record WHERE node = $1), (SELECT r.profile_id FROM identity_link l JOIN identity_record r ON r.node = l.node WHERE l.identity = $1 AND l.outcome <> 'rejected' LIMIT 1)) AS p`, [identity])).rows[0]?.p ?? null;
}

/** The operators' changes (splits, merges back) that touched a profile, oldest first. */
export async function identityChangesTouching(db: Knex, profileId: string) {
  return db('identity_change').whereRaw('? = ANY(touched)', [profileId]).orderBy('created_at').select('id', 'kind', 'status', 'actor', 'reason', 'created_at', 'error');
}
