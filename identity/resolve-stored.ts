/**
 * The ingestion path's hook: after a batch of records is stored (same transaction), resolve what
 * changed and rematerialise the profiles it touched. People and accounts go through the graph;
 * relation and opportunity records only change people's account links.
 */
import { RECORD_NAMESPACE, type IdentityConfig } from '../domain/identity/config';
import type { XdmClassName } from '../domain/xdm/class-spec';
import type { PgConn } from '../db/pg-transaction';
import { lockGraph } from '../db/repositories/identity-graph';
import { resolveRecords, type GraphChange } from './resolve-records';
import { rematerialiseProfiles, type ProfileUpdate } from './profiles';

export interface ResolveSummary {
  observed: number;
  profiles: number;
  removedProfiles: number;
  jobChanges: number;
  cycles: string[][];
}

export const NOTHING_RESOLVED: ResolveSummary = { observed: 0, profiles: 0, removedProfiles: 0, jobChanges: 0, cycles: [] };

/** Classes whose records change profiles. */
export function affectsProfiles(className: XdmClassName): boolean {
  return ['person', 'account', 'account-person', 'opportunity-person', 'opportunity'].includes(className);
}

export async function resolveStored(conn: PgConn, config: IdentityConfig, className: XdmClassName, recordKeys: readonly string[], actor: string): Promise<ResolveSummary> {
  if (!recordKeys.length || !affectsProfiles(className)) return NOTHING_RESOLVED;
  await lockGraph(conn, 'shared');
  let change: GraphChange;
  if (className === 'person' || className === 'account') {
    change = await resolveRecords(conn, config, className, recordKeys, actor);
  } else {
    // Relations and opportunities: the people they name get their account links rebuilt.
    const sql =
      className === 'opportunity'
        ? `SELECT DISTINCT r.profile_id FROM xdm_opportunity_person op JOIN identity_record r ON r.node = 'b2b_person:' || op.person_key WHERE op.opportunity_key = ANY($1::text[])`
        : `SELECT DISTINCT r.profile_id FROM ${className === 'account-person' ? 'xdm_account_person' : 'xdm_opportunity_person'} x
             JOIN identity_record r ON r.node = 'b2b_person:' || x.person_key WHERE x.record_key = ANY($1::text[])`;
    // …and the people whose links these records made before (a deleted or reassigned role).
    const ids = (await conn.query(`${sql} UNION SELECT person_profile_id FROM profile_account_link WHERE source_key = ANY($1::text[])`, [recordKeys])).rows.map((r: { profile_id: string }) => r.profile_id);
    change = { entity: 'person', touched: new Set(ids), gone: new Map(), observed: 0 };
  }
  const update: ProfileUpdate = await rematerialiseProfiles(conn, config, change, actor);
  const u = change.entity === 'person' ? update.person : update.account;
  return {
    observed: change.observed,
    profiles: u.upserted,
    removedProfiles: u.deleted,
    jobChanges: update.person.jobChanges,
    cycles: update.account.cycles,
  };
}

/**
 * Runs resolveStored in a savepoint, retrying when Postgres picks this transaction as a deadlock
 * victim between two lock rounds (two resolutions growing into one component at once).
 */
export async function resolveStoredWithRetry(conn: PgConn, config: IdentityConfig, className: XdmClassName, recordKeys: readonly string[], actor: string): Promise<ResolveSummary> {
  if (!recordKeys.length || !affectsProfiles(className)) return NOTHING_RESOLVED;
  for (let attempt = 1; ; attempt++) {
    await conn.query('SAVEPOINT identity_resolution');
    try {
      const out = await resolveStored(conn, config, className, recordKeys, actor);
      await conn.query('RELEASE SAVEPOINT identity_resolution');
      return out;
    } catch (e) {
      await conn.query('ROLLBACK TO SAVEPOINT identity_resolution');
      if ((e as { code?: string }).code !== '40P01' || attempt >= 5) throw e;
    }
  }
}

/** The profile of each of these person or account records (after resolution). */
export async function profileIdsOf(conn: PgConn, className: XdmClassName, recordKeys: string[]): Promise<Map<string, string>> {
  if (!recordKeys.length || (className !== 'person' && className !== 'account')) return new Map();
  const ns = RECORD_NAMESPACE[className];
  const { rows } = await conn.query(`SELECT record_key, profile_id FROM identity_record WHERE node = ANY($1::text[])`, [recordKeys.map((k) => `${ns}:${k}`)]);
  return new Map(rows.map((r: { record_key: string; profile_id: string }) => [r.record_key, r.profile_id]));
}

/** Resolution order within one write: accounts first (people link to them), relations last. */
export const RESOLUTION_ORDER: readonly XdmClassName[] = ['account', 'person', 'opportunity', 'account-person', 'opportunity-person'];
