/**
 * What the resolver runs on a claimed micro-batch (engine/identity/resolver.ts): the records of
 * each class, in resolution order, change the graph (people and accounts) or name the people
 * whose account links change (relations, opportunities); then every profile the micro-batch
 * touched is rematerialised once, in the same transaction.
 */
import { RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { PgConn } from '../../db/pg-transaction';
import { lockGraph, peopleNamedBy, profileIdsOfNodes } from '../../db/repositories/identity-graph';
import { enqueueRecords, type QueueLane } from '../../db/repositories/identity-queue';
import { resolveRecords, type GraphChange } from './resolve-records';
import { rematerialiseProfiles } from './profiles';

export interface ResolveSummary {
  observed: number;
  profiles: number;
  removedProfiles: number;
  jobChanges: number;
  cycles: string[][];
  /** Profiles whose records joined another existing profile (merges) or now lie in two or more (splits). */
  merges: number;
  splits: number;
}

export const NOTHING_RESOLVED: ResolveSummary = { observed: 0, profiles: 0, removedProfiles: 0, jobChanges: 0, cycles: [], merges: 0, splits: 0 };

/** Resolution order within one write: accounts first (people link to them), relations last. */
export const RESOLUTION_ORDER: readonly XdmClassName[] = ['account', 'person', 'opportunity', 'account-person', 'opportunity-person'];

/**
 * The resolver that handles a class's changes: accounts go through the account graph; people,
 * their account relations and opportunities (which change people's account links) through the
 * person resolver. Other classes change no profile.
 */
export function resolverOf(className: XdmClassName): Entity | null {
  if (className === 'account') return 'account';
  return ['person', 'account-person', 'opportunity-person', 'opportunity'].includes(className) ? 'person' : null;
}

/**
 * The write path's hand-off, in the writer's transaction: the records a write changed go into
 * their resolver's queue (nothing for classes that change no profile), in the stream lane when a
 * caller waits for them (the streaming API), else the bulk lane. Returns the queue ids.
 */
export async function queueForResolution(conn: PgConn, className: XdmClassName, recordKeys: readonly string[], actor: string, lane: QueueLane = 'bulk'): Promise<{ entity: Entity; ids: number[] } | null> {
  const entity = resolverOf(className);
  if (!entity || !recordKeys.length) return null;
  return { entity, ids: await enqueueRecords(conn, entity, className, recordKeys, actor, lane) };
}

/** Records of one class written by one actor: one slice of a micro-batch. */
export interface QueuedGroup {
  xdmClass: XdmClassName;
  recordKeys: string[];
  actor: string;
}

/**
 * Resolves a micro-batch's records (groups in queue order) and rematerialises the profiles they
 * touched, once. `cause` names the micro-batch in the profile_change outbox.
 */
export async function resolveQueuedGroups(conn: PgConn, config: IdentityConfig, entity: Entity, groups: readonly QueuedGroup[], cause: string): Promise<ResolveSummary> {
  const ordered = [...groups].sort((a, b) => RESOLUTION_ORDER.indexOf(a.xdmClass) - RESOLUTION_ORDER.indexOf(b.xdmClass));
  if (!ordered.some((g) => g.recordKeys.length)) return NOTHING_RESOLVED;
  await lockGraph(conn, 'shared');
  const change: GraphChange = { entity, touched: new Set(), gone: new Map(), observed: 0, splits: 0, merges: 0 };
  for (const g of ordered) {
    if (!g.recordKeys.length) continue;
    if (resolverOf(g.xdmClass) !== entity) throw new Error(`${g.xdmClass} records are not resolved by the ${entity} resolver`);
    const part: GraphChange =
      g.xdmClass === entity
        ? await resolveRecords(conn, config, entity, g.recordKeys, g.actor)
        : { entity: 'person', touched: new Set(await peopleNamedBy(conn, g.xdmClass as 'opportunity' | 'account-person' | 'opportunity-person', g.recordKeys)), gone: new Map(), observed: 0, splits: 0, merges: 0 };
    for (const p of part.touched) change.touched.add(p);
    for (const [p, to] of part.gone) change.gone.set(p, [...new Set([...(change.gone.get(p) ?? []), ...to])]);
    change.observed += part.observed;
    change.splits += part.splits;
    change.merges += part.merges;
  }
  // A profile ended by one group and made again by a later one (a record back in the same batch)
  // is not deleted: only profiles no record points to any more are (deleteEndedProfiles checks).
  // A profile touched by one group and ended by a later one is deleted.
  const update = await rematerialiseProfiles(conn, config, change, cause);
  const u = entity === 'person' ? update.person : update.account;
  return {
    observed: change.observed,
    profiles: u.upserted,
    removedProfiles: u.deleted,
    jobChanges: update.person.jobChanges,
    cycles: update.account.cycles,
    merges: change.merges,
    splits: change.splits,
  };
}

/** The profile of each of these person or account records (after resolution). */
export async function profileIdsOf(conn: PgConn, className: XdmClassName, recordKeys: string[]): Promise<Map<string, string>> {
  if (!recordKeys.length || (className !== 'person' && className !== 'account')) return new Map();
  const ns = RECORD_NAMESPACE[className];
  return profileIdsOfNodes(conn, recordKeys.map((k) => `${ns}:${k}`));
}
