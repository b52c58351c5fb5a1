/**
 * The write side of profile materialisation (engine/identity/profiles.ts): profiles' fragments
 * and identity counts read, person and account profiles upserted and removed, people's account
 * links and job-change events, the account hierarchy, and the profile_change outbox. The read
 * side for the API is db/repositories/profiles.ts.
 */
import { ENTITY_TABLES, RECORD_NAMESPACE, type Entity } from '../../domain/identity/config';
import type { HierarchyNode } from '../../domain/profiles/hierarchy';
import type { AccountLink } from '../../domain/profiles/job-change';
import { listParam, type PgConn } from '../pg-transaction';

/** One record of a profile, with what its attributes are merged from. */
export interface FragmentRow {
  profile_id: string;
  node: string;
  first_seen: number;
  record_key: string;
  source_instance_id: string | null;
  updated_at: Date;
  record: Record<string, unknown>;
}

/** The live records of these profiles, with their source, update time and JSON. */
export async function profileFragments(conn: PgConn, entity: Entity, profileIds: string[]): Promise<FragmentRow[]> {
  const table = ENTITY_TABLES[entity].records;
  return (
    await conn.query(
      `SELECT r.profile_id, r.node, r.first_seen::float8 AS first_seen, x.record_key, x.source_instance_id,
              coalesce(x.source_updated_at, x.received_at) AS updated_at, x.record
         FROM identity_record r JOIN ${table} x ON x.record_key = r.record_key
        WHERE r.profile_id = ANY($1::uuid[]) AND r.entity = $2 AND NOT x.is_deleted`,
      [profileIds, entity],
    )
  ).rows;
}

/**
 * How many identities each profile's cluster holds: its records and every identity they link
 * (once each). Two index scans (records by profile, then their links by node), counted here: one
 * joined statement is planned as a scan of every link.
 */
export async function clusterIdentityCounts(conn: PgConn, profileIds: string[]): Promise<Array<{ profile_id: string; n: number }>> {
  const records: Array<{ profile_id: string; node: string }> = (
    await conn.query(`/* profiles.cluster_records */ SELECT profile_id, node FROM identity_record WHERE profile_id = ANY($1::uuid[])`, [profileIds])
  ).rows;
  const links: Array<{ node: string; identity: string }> = records.length
    ? (await conn.query(`/* profiles.cluster_links */ SELECT node, identity FROM identity_link WHERE node = ANY($1::text[]) AND outcome <> 'rejected'`, [records.map((r) => r.node)])).rows
    : [];
  const profileOf = new Map(records.map((r) => [r.node, r.profile_id]));
  const members = new Map<string, Set<string>>();
  for (const r of records) (members.get(r.profile_id) ?? members.set(r.profile_id, new Set()).get(r.profile_id)!).add(r.node);
  for (const l of links) members.get(profileOf.get(l.node)!)!.add(l.identity);
  return [...members].map(([profile_id, set]) => ({ profile_id, n: set.size }));
}

/** Deletes those of these profiles that no record belongs to any more; returns the ids deleted. */
export async function deleteEndedProfiles(conn: PgConn, entity: Entity, profileIds: string[]): Promise<string[]> {
  const table = ENTITY_TABLES[entity].profiles;
  return (await conn.query(`DELETE FROM ${table} WHERE profile_id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM identity_record r WHERE r.profile_id = ${table}.profile_id) RETURNING profile_id`, [profileIds])).rows.map(
    (r: { profile_id: string }) => r.profile_id,
  );
}

/** Deletes every account link of these people. */
export async function deleteAccountLinksOf(conn: PgConn, personProfileIds: string[]): Promise<void> {
  await conn.query(`DELETE FROM profile_account_link WHERE person_profile_id = ANY($1::uuid[])`, [personProfileIds]);
}

/** Outbox entries for deleted profiles, each with the profiles that replaced it. */
export async function appendProfileDeletions(conn: PgConn, entity: Entity, deleted: Array<{ profileId: string; replacedBy: string[] }>, cause: string): Promise<void> {
  if (!deleted.length) return;
  await conn.query(
    `INSERT INTO profile_change (entity, profile_id, change, replaced_by, cause)
     SELECT $1, p, 'deleted', string_to_array(r, chr(31))::uuid[], $4 FROM unnest($2::uuid[], $3::text[]) AS t(p, r)`,
    [entity, deleted.map((d) => d.profileId), deleted.map((d) => listParam(d.replacedBy)), cause],
  );
}

/** Outbox entries for upserted profiles. */
export async function appendProfileChanges(conn: PgConn, entity: Entity, profileIds: string[], cause: string): Promise<void> {
  if (!profileIds.length) return;
  await conn.query(`INSERT INTO profile_change (entity, profile_id, change, cause) SELECT $1, p, 'upserted', $3 FROM unnest($2::uuid[]) p`, [entity, profileIds, cause]);
}

/** A person profile's row as stored (provenance already grouped per record). */
export interface PersonProfileWrite {
  profileId: string;
  anchor: string;
  attributes: Record<string, unknown>;
  provenance: object;
  recordKeys: string[];
  types: string[];
  count: number;
}

/**
 * Upserts person profiles, writing only those whose content changed (an unchanged profile keeps
 * its row and version); returns the ids written.
 */
export async function upsertPersonProfiles(conn: PgConn, rows: PersonProfileWrite[]): Promise<string[]> {
  const written = await conn.query(
    `INSERT INTO person_profile (profile_id, anchor, attributes, provenance, record_keys, person_types, identity_count)
     SELECT p, a, at, pv, rk, ty, n FROM jsonb_to_recordset($1::jsonb) AS t(p uuid, a text, at jsonb, pv jsonb, rk text[], ty text[], n int)
     ON CONFLICT (profile_id) DO UPDATE SET anchor = excluded.anchor, attributes = excluded.attributes, provenance = excluded.provenance,
       record_keys = excluded.record_keys, person_types = excluded.person_types, identity_count = excluded.identity_count,
       version = person_profile.version + 1, updated_at = now()
     WHERE (person_profile.anchor, person_profile.attributes, person_profile.provenance, person_profile.record_keys, person_profile.person_types, person_profile.identity_count)
           IS DISTINCT FROM (excluded.anchor, excluded.attributes, excluded.provenance, excluded.record_keys, excluded.person_types, excluded.identity_count)
     RETURNING profile_id`,
    [JSON.stringify(rows.map((r) => ({ p: r.profileId, a: r.anchor, at: r.attributes, pv: r.provenance, rk: r.recordKeys, ty: r.types, n: r.count })))],
  );
  return written.rows.map((r: { profile_id: string }) => r.profile_id);
}

/** An account profile's row as stored (provenance already grouped per record). */
export interface AccountProfileWrite {
  profileId: string;
  anchor: string;
  attributes: Record<string, unknown>;
  provenance: object;
  recordKeys: string[];
  count: number;
  parentProfileId: string | null;
  domains: string[];
  names: string[];
}

/** Upserts account profiles with their parent and lead-to-account matching keys. */
export async function upsertAccountProfiles(conn: PgConn, rows: AccountProfileWrite[]): Promise<void> {
  await conn.query(
    `INSERT INTO account_profile (profile_id, anchor, attributes, provenance, record_keys, identity_count, parent_profile_id, match_domains, match_names)
     SELECT p, a, at, pv, string_to_array(rk, chr(31)), n, pp, string_to_array(md, chr(31)), string_to_array(mn, chr(31))
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::jsonb[], $5::text[], $6::int[], $7::uuid[], $8::text[], $9::text[]) AS t(p, a, at, pv, rk, n, pp, md, mn)
     ON CONFLICT (profile_id) DO UPDATE SET anchor = excluded.anchor, attributes = excluded.attributes, provenance = excluded.provenance,
       record_keys = excluded.record_keys, identity_count = excluded.identity_count, parent_profile_id = excluded.parent_profile_id,
       match_domains = excluded.match_domains, match_names = excluded.match_names, version = account_profile.version + 1, updated_at = now()`,
    [
      rows.map((r) => r.profileId),
      rows.map((r) => r.anchor),
      rows.map((r) => JSON.stringify(r.attributes)),
      rows.map((r) => JSON.stringify(r.provenance)),
      rows.map((r) => listParam(r.recordKeys)),
      rows.map((r) => r.count),
      rows.map((r) => r.parentProfileId),
      rows.map((r) => listParam(r.domains)),
      rows.map((r) => listParam(r.names)),
    ],
  );
}

/** The record keys of these profiles. */
export async function recordKeysOfProfiles(conn: PgConn, profileIds: string[]): Promise<string[]> {
  return (await conn.query(`SELECT record_key FROM identity_record WHERE profile_id = ANY($1::uuid[])`, [profileIds])).rows.map((r: { record_key: string }) => r.record_key);
}

/** The account each of these person records names directly. */
export async function directAccountsOfPeople(conn: PgConn, personKeys: string[]): Promise<Array<{ record_key: string; account_key: string }>> {
  return (await conn.query(`SELECT record_key, account_key FROM xdm_person WHERE record_key = ANY($1::text[]) AND account_key IS NOT NULL AND NOT is_deleted`, [personKeys])).rows;
}

export interface AccountRelationRow {
  person_key: string;
  record_key: string;
  account_key: string;
  is_primary: boolean | null;
  is_active: boolean | null;
  roles: unknown;
  role: string | null;
  start_date: string | null;
  end_date: string | null;
}

/** The account relations (account-person records) of these person records, dates as text. */
export async function accountRelationsOfPeople(conn: PgConn, personKeys: string[]): Promise<AccountRelationRow[]> {
  return (
    await conn.query(
      `SELECT person_key, record_key, account_key, is_primary, is_active, record->'personRoles' AS roles, record->>'personRole' AS role,
              record->>'relationStartDate' AS start_date, record->>'relationEndDate' AS end_date
         FROM xdm_account_person WHERE person_key = ANY($1::text[]) AND account_key IS NOT NULL AND NOT is_deleted`,
      [personKeys],
    )
  ).rows;
}

export interface OpportunityRoleRow {
  person_key: string;
  record_key: string;
  account_key: string;
  person_role: string | null;
  is_primary: boolean | null;
  is_closed: boolean | null;
}

/** The opportunity contact roles of these person records, with the opportunity's account. */
export async function opportunityRolesOfPeople(conn: PgConn, personKeys: string[]): Promise<OpportunityRoleRow[]> {
  return (
    await conn.query(
      `SELECT op.person_key, op.record_key, o.account_key, op.person_role, (op.record->>'isPrimary')::boolean AS is_primary, o.is_closed
         FROM xdm_opportunity_person op JOIN xdm_opportunity o ON o.record_key = op.opportunity_key
        WHERE op.person_key = ANY($1::text[]) AND NOT op.is_deleted AND NOT o.is_deleted AND o.account_key IS NOT NULL`,
      [personKeys],
    )
  ).rows;
}

export interface StoredAccountLinkRow {
  person_profile_id: string;
  account_record_key: string;
  via: AccountLink['via'];
  source_key: string;
  role: string | null;
  is_primary: boolean;
  is_active: boolean;
  start_date: string | null;
  end_date: string | null;
  score: number | null;
  evidence: string[] | null;
}

/** The stored account links of these people, dates as text. */
export async function storedAccountLinks(conn: PgConn, personProfileIds: string[]): Promise<StoredAccountLinkRow[]> {
  return (
    await conn.query(
      `SELECT person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date::text AS start_date, end_date::text AS end_date, score, evidence
       FROM profile_account_link WHERE person_profile_id = ANY($1::uuid[])`,
      [personProfileIds],
    )
  ).rows;
}

/** Account profiles sharing a matching domain or company name (lead-to-account candidates). */
export async function accountMatchCandidates(
  conn: PgConn,
  domains: string[],
  names: string[],
): Promise<Array<{ profile_id: string; anchor: string; name: string | null; match_domains: string[]; match_names: string[] }>> {
  return (
    await conn.query(
      `SELECT profile_id, anchor, attributes->>'accountName' AS name, match_domains, match_names FROM account_profile
            WHERE match_domains && $1::text[] OR match_names && $2::text[]`,
      [domains, names],
    )
  ).rows;
}

/** A person's link to an account record, as profile_account_link holds it. */
export interface AccountLinkWrite {
  accountRecordKey: string;
  via: AccountLink['via'];
  sourceKey: string;
  role: string | null;
  isPrimary: boolean;
  isActive: boolean;
  startDate: string | null;
  endDate: string | null;
  score: number | null;
  evidence: string[] | null;
}

/** Replaces the account links of these people by `links` (every link of each of them). */
export async function replaceAccountLinks(conn: PgConn, personProfileIds: string[], links: Array<{ profileId: string; link: AccountLinkWrite }>): Promise<void> {
  if (personProfileIds.length) await deleteAccountLinksOf(conn, personProfileIds);
  if (!links.length) return;
  await conn.query(
    `INSERT INTO profile_account_link (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date, end_date, score, evidence)
       SELECT p, a, v, s, r, pr, ac, sd, ed, sc, string_to_array(ev, chr(31))
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::date[], $9::date[], $10::real[], $11::text[])
           AS t(p, a, v, s, r, pr, ac, sd, ed, sc, ev)`,
    [
      links.map((f) => f.profileId),
      links.map((f) => f.link.accountRecordKey),
      links.map((f) => f.link.via),
      links.map((f) => f.link.sourceKey),
      links.map((f) => f.link.role),
      links.map((f) => f.link.isPrimary),
      links.map((f) => f.link.isActive),
      links.map((f) => f.link.startDate),
      links.map((f) => f.link.endDate),
      links.map((f) => f.link.score),
      links.map((f) => (f.link.evidence ? listParam(f.link.evidence) : null)),
    ],
  );
}

/** Records a job_change event for each of these people, with its details. */
export async function recordJobChanges(conn: PgConn, events: Array<{ profileId: string; details: object }>): Promise<void> {
  if (!events.length) return;
  await conn.query(
    `INSERT INTO profile_event (entity, profile_id, type, details) SELECT 'person', p, 'job_change', d FROM unnest($1::uuid[], $2::jsonb[]) AS t(p, d)`,
    [events.map((e) => e.profileId), events.map((e) => JSON.stringify(e.details))],
  );
}

/** The people whose inferred (lead-to-account) links point at these account records. */
export async function inferredPeopleOfAccounts(conn: PgConn, accountRecordKeys: string[]): Promise<string[]> {
  return (await conn.query(`SELECT DISTINCT person_profile_id FROM profile_account_link WHERE via = 'inferred' AND account_record_key = ANY($1::text[])`, [accountRecordKeys])).rows.map(
    (r: { person_profile_id: string }) => r.person_profile_id,
  );
}

/**
 * Account profiles whose parent is one of these, or whose parent record (in the account records)
 * lies in one of these profiles.
 */
export async function childAccountsOf(conn: PgConn, profileIds: string[]): Promise<string[]> {
  return (
    await conn.query(
      `SELECT profile_id FROM account_profile WHERE parent_profile_id = ANY($1::uuid[])
       UNION
       SELECT r.profile_id FROM identity_record parent
         JOIN xdm_account a ON a.parent_key = parent.record_key AND NOT a.is_deleted
         JOIN identity_record r ON r.node = $2 || a.record_key
        WHERE parent.profile_id = ANY($1::uuid[])`,
      [profileIds, `${RECORD_NAMESPACE.account}:`],
    )
  ).rows.map((r: { profile_id: string }) => r.profile_id);
}

/** These account profiles with their parent profile. */
export async function accountParents(conn: PgConn, profileIds: string[]): Promise<Array<{ profile_id: string; parent_profile_id: string | null }>> {
  return (await conn.query(`SELECT profile_id, parent_profile_id FROM account_profile WHERE profile_id = ANY($1::uuid[])`, [profileIds])).rows;
}

/** The account profiles whose parent is one of these, with their parent. */
export async function accountChildren(conn: PgConn, parentIds: string[]): Promise<Array<{ profile_id: string; parent_profile_id: string }>> {
  return (await conn.query(`SELECT profile_id, parent_profile_id FROM account_profile WHERE parent_profile_id = ANY($1::uuid[])`, [parentIds])).rows;
}

/** Sets accounts' ultimate parent, depth and cycle flag, writing only the rows whose values changed. */
export async function updateAccountHierarchy(conn: PgConn, nodes: Array<[string, HierarchyNode]>): Promise<void> {
  if (!nodes.length) return;
  await conn.query(
    `UPDATE account_profile p SET ultimate_parent_id = t.u, hierarchy_depth = t.d, in_cycle = t.c
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::boolean[]) AS t(id, u, d, c)
        WHERE p.profile_id = t.id AND (p.ultimate_parent_id IS DISTINCT FROM t.u OR p.hierarchy_depth IS DISTINCT FROM t.d OR p.in_cycle <> t.c)`,
    [nodes.map(([id]) => id), nodes.map(([, n]) => n.ultimateParentId), nodes.map(([, n]) => n.depth), nodes.map(([, n]) => n.inCycle)],
  );
}
