/**
 * Profile materialisation: after the graph changed, the touched person and account profiles are
 * rebuilt from their fragments by the entity's merge policy (each attribute with its provenance),
 * profiles that no longer exist are removed, people get their account links (direct, relation,
 * opportunity contact role, or inferred by lead-to-account matching) with job changes detected,
 * accounts get their parent and ultimate parent (cycles flagged), and every change goes to the
 * profile_change outbox that segments and destinations read.
 */
import { ENTITY_TABLES, RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { canonicalWebDomain, isFreeMailDomain } from '../../domain/identity/normalise';
import { resolveHierarchy } from '../../domain/profiles/hierarchy';
import { currentEmployer, detectJobChange, keepHistory, type AccountLink } from '../../domain/profiles/job-change';
import { bestAccountMatch, matchKeys, normaliseCompanyName, type AccountCandidate } from '../../domain/profiles/lead-account-match';
import { materialise, type Fragment, type MaterialisedProfile, type Provenance } from '../../domain/profiles/merge-policy';
import { listParam, type PgConn } from '../../db/pg-transaction';
import type { GraphChange } from './resolve-records';
import { lockNodes } from '../../db/repositories/identity-graph';

/** Left out of profile attributes: per-record keys and audit fields (the profile lists its records). */
export const EXCLUDED: Record<Entity, ReadonlySet<string>> = {
  person: new Set(['_id', 'extSourceSystemAudit', 'b2b.personKey', 'identityMap', 'personComponents']),
  account: new Set(['_id', 'extSourceSystemAudit', 'accountKey', 'identityMap']),
};

export interface ProfileUpdate {
  person: { upserted: number; deleted: number; jobChanges: number };
  account: { upserted: number; deleted: number; cycles: string[][] };
}

interface FragmentRow {
  profile_id: string;
  node: string;
  first_seen: number;
  record_key: string;
  source_instance_id: string | null;
  updated_at: Date;
  record: Record<string, unknown>;
}

async function fragmentsOf(conn: PgConn, entity: Entity, profileIds: string[]): Promise<Map<string, FragmentRow[]>> {
  const table = ENTITY_TABLES[entity].records;
  const rows: FragmentRow[] = (
    await conn.query(
      `SELECT r.profile_id, r.node, r.first_seen::float8 AS first_seen, x.record_key, x.source_instance_id,
              coalesce(x.source_updated_at, x.received_at) AS updated_at, x.record
         FROM identity_record r JOIN ${table} x ON x.record_key = r.record_key
        WHERE r.profile_id = ANY($1::uuid[]) AND r.entity = $2 AND NOT x.is_deleted`,
      [profileIds, entity],
    )
  ).rows;
  const out = new Map<string, FragmentRow[]>();
  for (const r of rows) out.set(r.profile_id, [...(out.get(r.profile_id) ?? []), r]);
  return out;
}

/** Identities in each profile's cluster: its records and every identity they link (once each). */
async function identityCounts(conn: PgConn, profileIds: string[]): Promise<Map<string, number>> {
  const rows = (
    await conn.query(
      `SELECT profile_id, count(DISTINCT n)::int AS n FROM (
         SELECT r.profile_id, r.node AS n FROM identity_record r WHERE r.profile_id = ANY($1::uuid[])
         UNION ALL
         SELECT r.profile_id, l.identity FROM identity_record r JOIN identity_link l ON l.node = r.node AND l.outcome <> 'rejected'
          WHERE r.profile_id = ANY($1::uuid[])) s
       GROUP BY profile_id`,
      [profileIds],
    )
  ).rows;
  return new Map(rows.map((r: { profile_id: string; n: number }) => [r.profile_id, r.n]));
}

/** The cluster's anchor: its earliest record (first seen, then key), as in resolve.ts. */
function anchorOf(frags: FragmentRow[]): string {
  return [...frags].sort((a, b) => a.first_seen - b.first_seen || (a.node < b.node ? -1 : 1))[0]!.node;
}

function toFragment(r: FragmentRow): Fragment {
  return { recordKey: r.record_key, sourceInstanceId: r.source_instance_id, updatedAt: r.updated_at.toISOString(), record: r.record };
}

/**
 * Provenance as stored: per record, its update time and the attributes it supplied (the API
 * expands it per attribute). Grouping keeps a profile row small: one entry per record.
 */
export type StoredProvenance = Record<string, { updatedAt: string; attributes: string[] }>;
export function provenanceByRecord(p: Record<string, Provenance>): StoredProvenance {
  const out: StoredProvenance = {};
  for (const [attr, { recordKey, updatedAt }] of Object.entries(p)) (out[recordKey] ??= { updatedAt, attributes: [] }).attributes.push(attr);
  return out;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);
const path = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

/** Rebuilds the profiles a graph change touched and removes the ones it ended. */
export async function rematerialiseProfiles(conn: PgConn, config: IdentityConfig, change: GraphChange, cause: string): Promise<ProfileUpdate> {
  const update: ProfileUpdate = { person: { upserted: 0, deleted: 0, jobChanges: 0 }, account: { upserted: 0, deleted: 0, cycles: [] } };
  // Two writers of one profile (say, its Salesforce and its Marketo record, updated at once) take
  // turns, so the second reads the first's committed fragments (always after the graph's locks).
  await lockNodes(conn, [...change.touched, ...change.gone.keys(), ...[...change.gone.values()].flat()], 'profiles');
  if (change.entity === 'person') update.person = await rematerialisePeople(conn, config, [...change.touched], change.gone, cause);
  else update.account = await rematerialiseAccounts(conn, config, [...change.touched], change.gone, cause);
  return update;
}

async function removeGone(conn: PgConn, entity: Entity, gone: Map<string, string[]>, cause: string): Promise<number> {
  if (!gone.size) return 0;
  const ids = [...gone.keys()];
  const table = ENTITY_TABLES[entity].profiles;
  const deleted = (await conn.query(`DELETE FROM ${table} WHERE profile_id = ANY($1::uuid[]) AND NOT EXISTS (SELECT 1 FROM identity_record r WHERE r.profile_id = ${table}.profile_id) RETURNING profile_id`, [ids])).rows.map((r: { profile_id: string }) => r.profile_id);
  if (entity === 'person' && deleted.length) await conn.query(`DELETE FROM profile_account_link WHERE person_profile_id = ANY($1::uuid[])`, [deleted]);
  if (deleted.length) {
    await conn.query(
      `INSERT INTO profile_change (entity, profile_id, change, replaced_by, cause)
       SELECT $1, p, 'deleted', string_to_array(r, chr(31))::uuid[], $4 FROM unnest($2::uuid[], $3::text[]) AS t(p, r)`,
      [entity, deleted, deleted.map((d) => listParam(gone.get(d) ?? [])), cause],
    );
  }
  return deleted.length;
}

export interface PersonRow {
  profileId: string;
  anchor: string;
  m: MaterialisedProfile;
  recordKeys: string[];
  types: string[];
  count: number;
}

/** One person profile from its fragments: merged attributes, record keys, lead / contact / customer. */
export function personRow(config: IdentityConfig, profileId: string, anchor: string, frags: Fragment[], count: number): PersonRow {
  const m = materialise(frags, config.settings.mergePolicy.person, EXCLUDED.person);
  const types = new Set<string>();
  for (const f of frags) {
    const t = str(path(f.record, 'b2b', 'personType'));
    if (t) types.add(t);
    const map = f.record.identityMap as Record<string, unknown> | undefined;
    if (map && (map.Loyalty || map.LoyaltyId)) types.add('Customer');
  }
  return { profileId, anchor, m, recordKeys: frags.map((f) => f.recordKey).sort(), types: [...types].sort(), count };
}

export interface AccountRow {
  profileId: string;
  anchor: string;
  m: MaterialisedProfile;
  recordKeys: string[];
  count: number;
  domains: string[];
  names: string[];
  /** The parent account record named by the merged attributes. */
  parentKey: string | null;
}

/** One account profile from its fragments, with its lead-to-account matching keys. */
export function accountRow(config: IdentityConfig, profileId: string, anchor: string, frags: Fragment[], count: number): AccountRow {
  const m = materialise(frags, config.settings.mergePolicy.account, EXCLUDED.account);
  const domains = new Set<string>();
  const names = new Set<string>();
  for (const f of frags) {
    for (const raw of [path(f.record, 'accountOrganization', 'domain'), path(f.record, 'accountOrganization', 'website')]) {
      const d = typeof raw === 'string' ? canonicalWebDomain(raw) : null;
      if (d && !isFreeMailDomain(d)) domains.add(d);
    }
    const n = str(path(f.record, 'accountName'));
    const nn = n ? normaliseCompanyName(n) : null;
    if (nn) names.add(nn);
  }
  return { profileId, anchor, m, recordKeys: frags.map((f) => f.recordKey).sort(), count, domains: [...domains].sort(), names: [...names].sort(), parentKey: str(path(m.attributes, 'accountParentKey', 'sourceKey')) };
}

async function rematerialisePeople(conn: PgConn, config: IdentityConfig, ids: string[], gone: Map<string, string[]>, cause: string): Promise<ProfileUpdate['person']> {
  const deleted = await removeGone(conn, 'person', gone, cause);
  if (!ids.length) return { upserted: 0, deleted, jobChanges: 0 };
  const fragments = await fragmentsOf(conn, 'person', ids);
  const counts = await identityCounts(conn, ids);
  const profiles = [...fragments.entries()];
  const rows = profiles.map(([profileId, frags]) => personRow(config, profileId, anchorOf(frags), frags.map(toFragment), counts.get(profileId) ?? frags.length));
  // Written only when the content changed (an unchanged profile keeps its row, version and no outbox entry).
  const written = await conn.query(
    `INSERT INTO person_profile (profile_id, anchor, attributes, provenance, record_keys, person_types, identity_count)
     SELECT p, a, at, pv, rk, ty, n FROM jsonb_to_recordset($1::jsonb) AS t(p uuid, a text, at jsonb, pv jsonb, rk text[], ty text[], n int)
     ON CONFLICT (profile_id) DO UPDATE SET anchor = excluded.anchor, attributes = excluded.attributes, provenance = excluded.provenance,
       record_keys = excluded.record_keys, person_types = excluded.person_types, identity_count = excluded.identity_count,
       version = person_profile.version + 1, updated_at = now()
     WHERE (person_profile.anchor, person_profile.attributes, person_profile.provenance, person_profile.record_keys, person_profile.person_types, person_profile.identity_count)
           IS DISTINCT FROM (excluded.anchor, excluded.attributes, excluded.provenance, excluded.record_keys, excluded.person_types, excluded.identity_count)
     RETURNING profile_id`,
    [JSON.stringify(rows.map((r) => ({ p: r.profileId, a: r.anchor, at: r.m.attributes, pv: provenanceByRecord(r.m.provenance), rk: r.recordKeys, ty: r.types, n: r.count })))],
  );
  const relinked = await relinkPeople(conn, config, rows.map((r) => ({ profileId: r.profileId, recordKeys: r.recordKeys, attributes: r.m.attributes })));
  const changed = new Set<string>([...written.rows.map((r: { profile_id: string }) => r.profile_id), ...relinked.changed]);
  await appendChanges(conn, 'person', [...changed], cause);
  return { upserted: changed.size, deleted, jobChanges: relinked.jobChanges };
}

export async function appendChanges(conn: PgConn, entity: Entity, ids: string[], cause: string): Promise<void> {
  if (!ids.length) return;
  await conn.query(`INSERT INTO profile_change (entity, profile_id, change, cause) SELECT $1, p, 'upserted', $3 FROM unnest($2::uuid[]) p`, [entity, ids, cause]);
}

interface StoredLink {
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

/** An ISO date's day (dates are read as text: never through a time zone). */
const day = (v: unknown): string | null => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) ? v.slice(0, 10) : null);

/**
 * People's account links, rebuilt for these profiles: what the sources say (direct, relations,
 * opportunity contact roles), else an inferred match; a change of current employer is a job change:
 * the old links are kept as inactive history and a job_change event is recorded. Only people whose
 * links differ from the stored ones are rewritten; they are returned with the job changes.
 */
export async function relinkPeople(
  conn: PgConn,
  config: IdentityConfig,
  people: Array<{ profileId: string; recordKeys: string[]; attributes: Record<string, unknown> }>,
): Promise<{ jobChanges: number; changed: string[] }> {
  if (!people.length) return { jobChanges: 0, changed: [] };
  const ids = people.map((p) => p.profileId);
  const ownerOf = new Map<string, string>();
  for (const p of people) for (const k of p.recordKeys) ownerOf.set(k, p.profileId);
  const allKeys = [...ownerOf.keys()];
  const direct = await conn.query(`SELECT record_key, account_key FROM xdm_person WHERE record_key = ANY($1::text[]) AND account_key IS NOT NULL AND NOT is_deleted`, [allKeys]);
  const relations = await conn.query(
      `SELECT person_key, record_key, account_key, is_primary, is_active, record->'personRoles' AS roles, record->>'personRole' AS role,
              record->>'relationStartDate' AS start_date, record->>'relationEndDate' AS end_date
         FROM xdm_account_person WHERE person_key = ANY($1::text[]) AND account_key IS NOT NULL AND NOT is_deleted`,
      [allKeys],
    );
  const opportunities = await conn.query(
      `SELECT op.person_key, op.record_key, o.account_key, op.person_role, (op.record->>'isPrimary')::boolean AS is_primary, o.is_closed
         FROM xdm_opportunity_person op JOIN xdm_opportunity o ON o.record_key = op.opportunity_key
        WHERE op.person_key = ANY($1::text[]) AND NOT op.is_deleted AND NOT o.is_deleted AND o.account_key IS NOT NULL`,
      [allKeys],
    );
  const previousRows = await conn.query(
    `SELECT person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date::text AS start_date, end_date::text AS end_date, score, evidence
       FROM profile_account_link WHERE person_profile_id = ANY($1::uuid[])`,
    [ids],
  );

  const links = new Map<string, StoredLink[]>(ids.map((id) => [id, []]));
  const add = (personKey: string, l: StoredLink) => links.get(ownerOf.get(personKey)!)?.push(l);
  for (const r of direct.rows) add(r.record_key, { accountRecordKey: r.account_key, via: 'direct', sourceKey: r.record_key, role: null, isPrimary: true, isActive: true, startDate: null, endDate: null, score: null, evidence: null });
  for (const r of relations.rows) {
    const roles = Array.isArray(r.roles) ? (r.roles as string[]).join(';') : r.role;
    add(r.person_key, { accountRecordKey: r.account_key, via: 'relation', sourceKey: r.record_key, role: roles ?? null, isPrimary: r.is_primary ?? false, isActive: r.is_active ?? true, startDate: day(r.start_date), endDate: day(r.end_date), score: null, evidence: null });
  }
  for (const r of opportunities.rows) {
    add(r.person_key, { accountRecordKey: r.account_key, via: 'opportunity', sourceKey: r.record_key, role: r.person_role ?? null, isPrimary: r.is_primary ?? false, isActive: !r.is_closed, startDate: null, endDate: null, score: null, evidence: null });
  }

  // Lead-to-account matching for people no source links to an account.
  if (config.settings.leadToAccount.enabled) {
    const unlinked = people.filter((p) => !links.get(p.profileId)!.length);
    const evidence = new Map(unlinked.map((p) => [p.profileId, {
      workEmail: str(path(p.attributes, 'workEmail', 'address')),
      companyName: str(path(p.attributes, 'b2b', 'companyName')),
      companyWebsite: str(path(p.attributes, 'b2b', 'companyWebsite')),
    }]));
    const domains = new Set<string>();
    const names = new Set<string>();
    for (const e of evidence.values()) {
      const k = matchKeys(e);
      k.domains.forEach((d) => domains.add(d));
      k.names.forEach((n) => names.add(n));
    }
    if (domains.size || names.size) {
      const candidates: Array<AccountCandidate & { anchor: string; names: string[] }> = (
        await conn.query(
          `SELECT profile_id, anchor, attributes->>'accountName' AS name, match_domains, match_names FROM account_profile
            WHERE match_domains && $1::text[] OR match_names && $2::text[]`,
          [[...domains], [...names]],
        )
      ).rows.map((r: Record<string, unknown>) => ({ profileId: r.profile_id as string, anchor: r.anchor as string, name: r.name as string | null, domains: r.match_domains as string[], names: r.match_names as string[] }));
      for (const [profileId, lead] of evidence) {
        const k = matchKeys(lead);
        const mine = candidates.filter((c) => c.domains.some((d) => k.domains.includes(d)) || c.names.some((n) => k.names.includes(n)));
        const match = bestAccountMatch(lead, mine, config.settings.leadToAccount.threshold);
        if (!match) continue;
        const anchor = mine.find((c) => c.profileId === match.profileId)!.anchor;
        links.get(profileId)!.push({
          accountRecordKey: anchor.slice(anchor.indexOf(':') + 1), via: 'inferred', sourceKey: 'lead-to-account', role: null, isPrimary: false, isActive: true,
          startDate: null, endDate: null, score: match.score, evidence: match.evidence,
        });
      }
    }
  }

  // Account profiles of every account record involved (links to accounts not yet seen stay, unresolved).
  const previous = new Map<string, StoredLink[]>(ids.map((id) => [id, []]));
  for (const r of previousRows.rows) {
    previous.get(r.person_profile_id)!.push({
      accountRecordKey: r.account_record_key, via: r.via, sourceKey: r.source_key, role: r.role, isPrimary: r.is_primary, isActive: r.is_active,
      startDate: day(r.start_date), endDate: day(r.end_date), score: r.score, evidence: r.evidence,
    });
  }
  const accountKeys = new Set<string>();
  for (const list of [...links.values(), ...previous.values()]) for (const l of list) accountKeys.add(l.accountRecordKey);
  const accountProfile = new Map<string, string>(
    (await conn.query(`SELECT record_key, profile_id FROM identity_record WHERE node = ANY($1::text[])`, [[...accountKeys].map((k) => `${RECORD_NAMESPACE.account}:${k}`)])).rows.map(
      (r: { record_key: string; profile_id: string }) => [r.record_key, r.profile_id],
    ),
  );
  const asAccountLink = (l: StoredLink): AccountLink => ({
    accountProfileId: accountProfile.get(l.accountRecordKey) ?? `record:${l.accountRecordKey}`,
    via: l.via, role: l.role, isPrimary: l.isPrimary, isActive: l.isActive, startDate: l.startDate, endDate: l.endDate,
  });

  const today = new Date().toISOString().slice(0, 10);
  const events: Array<{ profileId: string; details: object }> = [];
  let final: Array<{ profileId: string; link: StoredLink }> = [];
  for (const id of ids) {
    const now = links.get(id)!;
    const before = previous.get(id)!;
    // A job change is the same person records naming another employer; records joining or leaving
    // the profile (a merge, a split) change its links without anyone changing jobs.
    const directOf = (ls: StoredLink[]) => new Set(ls.filter((l) => l.via === 'direct').map((l) => l.sourceKey));
    const [was, is] = [directOf(before), directOf(now)];
    const sameRecords = was.size === is.size && [...was].every((k) => is.has(k));
    const change = sameRecords ? detectJobChange(currentEmployer(before.map(asAccountLink)), currentEmployer(now.map(asAccountLink))) : null;
    let kept: StoredLink[] = now;
    if (change) {
      events.push({ profileId: id, details: change });
      const history = keepHistory(before.filter((l) => l.via !== 'inferred').map(asAccountLink), now.map(asAccountLink), today);
      const current = new Set(now.map((l) => `${asAccountLink(l).accountProfileId}\u0000${l.via}`));
      kept = [...now];
      for (const h of history) {
        if (current.has(`${h.accountProfileId}\u0000${h.via}`)) continue;
        const from = before.find((l) => asAccountLink(l).accountProfileId === h.accountProfileId && l.via === h.via)!;
        kept.push({ ...from, sourceKey: `history:${from.sourceKey}`, isActive: false, isPrimary: false, endDate: h.endDate });
      }
    } else {
      // History kept at an earlier job change stays, unless the account is current again.
      const current = new Set(now.map((l) => asAccountLink(l).accountProfileId));
      kept = [...now, ...before.filter((l) => l.sourceKey.startsWith('history:') && !current.has(asAccountLink(l).accountProfileId))];
    }
    const seen = new Set<string>();
    for (const l of kept) {
      const k = `${l.accountRecordKey}\u0000${l.via}\u0000${l.sourceKey}`;
      if (!seen.has(k)) {
        seen.add(k);
        final.push({ profileId: id, link: l });
      }
    }
  }
  // Only the people whose links differ from what is stored are rewritten.
  const linkKey = (l: StoredLink) =>
    [l.accountRecordKey, l.via, l.sourceKey, l.role ?? '', l.isPrimary, l.isActive, l.startDate ?? '', l.endDate ?? '', l.score === null ? '' : Math.fround(l.score), (l.evidence ?? []).join('\u001f')].join('\u0000');
  const keysOf = (ls: StoredLink[]) => ls.map(linkKey).sort().join('\u0001');
  const finalOf = new Map<string, StoredLink[]>(ids.map((id) => [id, []]));
  for (const f of final) finalOf.get(f.profileId)!.push(f.link);
  const changed = new Set(ids.filter((id) => keysOf(finalOf.get(id)!) !== keysOf(previous.get(id)!)));
  final = final.filter((f) => changed.has(f.profileId));
  if (changed.size) await conn.query(`DELETE FROM profile_account_link WHERE person_profile_id = ANY($1::uuid[])`, [[...changed]]);
  if (final.length) {
    await conn.query(
      `INSERT INTO profile_account_link (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date, end_date, score, evidence)
       SELECT p, a, v, s, r, pr, ac, sd, ed, sc, string_to_array(ev, chr(31))
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::date[], $9::date[], $10::real[], $11::text[])
           AS t(p, a, v, s, r, pr, ac, sd, ed, sc, ev)`,
      [
        final.map((f) => f.profileId),
        final.map((f) => f.link.accountRecordKey),
        final.map((f) => f.link.via),
        final.map((f) => f.link.sourceKey),
        final.map((f) => f.link.role),
        final.map((f) => f.link.isPrimary),
        final.map((f) => f.link.isActive),
        final.map((f) => f.link.startDate),
        final.map((f) => f.link.endDate),
        final.map((f) => f.link.score),
        final.map((f) => (f.link.evidence ? listParam(f.link.evidence) : null)),
      ],
    );
  }
  if (events.length) {
    await conn.query(
      `INSERT INTO profile_event (entity, profile_id, type, details) SELECT 'person', p, 'job_change', d FROM unnest($1::uuid[], $2::jsonb[]) AS t(p, d)`,
      [events.map((e) => e.profileId), events.map((e) => JSON.stringify(e.details))],
    );
  }
  return { jobChanges: events.length, changed: [...changed] };
}

async function rematerialiseAccounts(conn: PgConn, config: IdentityConfig, ids: string[], gone: Map<string, string[]>, cause: string): Promise<ProfileUpdate['account']> {
  const deleted = await removeGone(conn, 'account', gone, cause);
  // Children whose parent record sits in a touched or ended profile get their parent re-resolved.
  const involved = [...new Set([...ids, ...gone.keys(), ...[...gone.values()].flat()])];
  const children = (
    await conn.query(
      `SELECT profile_id FROM account_profile WHERE parent_profile_id = ANY($1::uuid[])
       UNION
       SELECT r.profile_id FROM identity_record parent
         JOIN xdm_account a ON a.parent_key = parent.record_key AND NOT a.is_deleted
         JOIN identity_record r ON r.node = $2 || a.record_key
        WHERE parent.profile_id = ANY($1::uuid[])`,
      [involved, `${RECORD_NAMESPACE.account}:`],
    )
  ).rows.map((r: { profile_id: string }) => r.profile_id);
  const all = [...new Set([...ids, ...children])];
  if (!all.length) return { upserted: 0, deleted, cycles: [] };
  const fragments = await fragmentsOf(conn, 'account', all);
  const counts = await identityCounts(conn, all);
  const rows = [...fragments.entries()].map(([profileId, frags]) => accountRow(config, profileId, anchorOf(frags), frags.map(toFragment), counts.get(profileId) ?? frags.length));
  const parentKeys = rows.flatMap((r) => (r.parentKey ? [`${RECORD_NAMESPACE.account}:${r.parentKey}`] : []));
  const parentProfile = new Map<string, string>(
    (await conn.query(`SELECT record_key, profile_id FROM identity_record WHERE node = ANY($1::text[])`, [parentKeys])).rows.map((r: { record_key: string; profile_id: string }) => [r.record_key, r.profile_id]),
  );
  const parentOf = (r: (typeof rows)[number]) => {
    const p = r.parentKey ? parentProfile.get(r.parentKey) ?? null : null;
    return p === r.profileId ? null : p;
  };
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
      rows.map((r) => JSON.stringify(r.m.attributes)),
      rows.map((r) => JSON.stringify(provenanceByRecord(r.m.provenance))),
      rows.map((r) => listParam(r.recordKeys)),
      rows.map((r) => r.count),
      rows.map(parentOf),
      rows.map((r) => listParam(r.domains)),
      rows.map((r) => listParam(r.names)),
    ],
  );
  const cycles = await recomputeHierarchy(conn, rows.map((r) => r.profileId));
  await appendChanges(conn, 'account', rows.map((r) => r.profileId), cause);
  // People matched to these accounts by inference are matched again: the evidence may have changed.
  const accountKeys = [...new Set([...rows.flatMap((r) => r.recordKeys), ...(await conn.query(`SELECT record_key FROM identity_record WHERE profile_id = ANY($1::uuid[])`, [involved])).rows.map((r: { record_key: string }) => r.record_key)])];
  const inferred = (await conn.query(`SELECT DISTINCT person_profile_id FROM profile_account_link WHERE via = 'inferred' AND account_record_key = ANY($1::text[])`, [accountKeys])).rows.map((r: { person_profile_id: string }) => r.person_profile_id);
  if (inferred.length) {
    await lockNodes(conn, inferred, 'profiles');
    await rematerialisePeople(conn, config, inferred, new Map(), cause);
  }
  return { upserted: rows.length, deleted, cycles };
}

/**
 * Ultimate parents for the hierarchies containing these accounts: the trees are loaded whole
 * (ancestors up to the roots, then every descendant), resolved without ever following a cycle,
 * and the rows whose values changed are updated. Returns the cycles found.
 */
export async function recomputeHierarchy(conn: PgConn, ids: string[]): Promise<string[][]> {
  const parentOf = new Map<string, string | null>();
  let frontier = [...new Set(ids)];
  while (frontier.length) {
    const rows = (await conn.query(`SELECT profile_id, parent_profile_id FROM account_profile WHERE profile_id = ANY($1::uuid[])`, [frontier])).rows;
    frontier = [];
    for (const r of rows) {
      parentOf.set(r.profile_id, r.parent_profile_id);
      if (r.parent_profile_id && !parentOf.has(r.parent_profile_id)) frontier.push(r.parent_profile_id);
    }
  }
  frontier = [...parentOf.keys()];
  while (frontier.length) {
    const rows = (await conn.query(`SELECT profile_id, parent_profile_id FROM account_profile WHERE parent_profile_id = ANY($1::uuid[])`, [frontier])).rows;
    frontier = [];
    for (const r of rows) {
      if (!parentOf.has(r.profile_id)) frontier.push(r.profile_id);
      parentOf.set(r.profile_id, r.parent_profile_id);
    }
  }
  const h = resolveHierarchy(parentOf);
  const nodes = [...h.nodes.entries()].filter(([id]) => parentOf.has(id));
  if (nodes.length) {
    await conn.query(
      `UPDATE account_profile p SET ultimate_parent_id = t.u, hierarchy_depth = t.d, in_cycle = t.c
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::boolean[]) AS t(id, u, d, c)
        WHERE p.profile_id = t.id AND (p.ultimate_parent_id IS DISTINCT FROM t.u OR p.hierarchy_depth IS DISTINCT FROM t.d OR p.in_cycle <> t.c)`,
      [nodes.map(([id]) => id), nodes.map(([, n]) => n.ultimateParentId), nodes.map(([, n]) => n.depth), nodes.map(([, n]) => n.inCycle)],
    );
  }
  return h.cycles;
}
