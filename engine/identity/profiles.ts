/**
 * Profile materialisation: after the graph changed, the touched person and account profiles are
 * rebuilt from their fragments by the entity's merge policy (each attribute with its provenance),
 * profiles that no longer exist are removed, people get their account links (direct, relation,
 * opportunity contact role, or inferred by lead-to-account matching) with job changes detected,
 * accounts get their parent and ultimate parent (cycles flagged), and every change goes to the
 * profile_change outbox that segments and destinations read.
 */
import { RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { canonicalWebDomain, isFreeMailDomain } from '../../domain/identity/normalise';
import { resolveHierarchy } from '../../domain/profiles/hierarchy';
import { currentEmployer, detectJobChange, keepHistory, type AccountLink } from '../../domain/profiles/job-change';
import { bestAccountMatch, matchKeys, normaliseCompanyName, type AccountCandidate } from '../../domain/profiles/lead-account-match';
import { materialise, type Fragment, type MaterialisedProfile, type Provenance } from '../../domain/profiles/merge-policy';
import type { PgConn } from '../../db/pg-transaction';
import type { GraphChange } from './resolve-records';
import { lockProfiles, profileIdsOfNodes } from '../../db/repositories/identity-graph';
import {
  accountChildren,
  accountMatchCandidates,
  accountParents,
  accountRelationsOfPeople,
  appendProfileChanges,
  appendProfileDeletions,
  childAccountsOf,
  clusterIdentityCounts,
  deleteAccountLinksOf,
  deleteEndedProfiles,
  directAccountsOfPeople,
  inferredPeopleOfAccounts,
  opportunityRolesOfPeople,
  profileFragments,
  recordJobChanges,
  recordKeysOfProfiles,
  replaceAccountLinks,
  storedAccountLinks,
  updateAccountHierarchy,
  upsertAccountProfiles,
  upsertPersonProfiles,
  type AccountLinkWrite,
  type FragmentRow,
} from '../../db/repositories/profile-writes';

/** Left out of profile attributes: per-record keys and audit fields (the profile lists its records). */
export const EXCLUDED: Record<Entity, ReadonlySet<string>> = {
  person: new Set(['_id', 'extSourceSystemAudit', 'b2b.personKey', 'identityMap', 'personComponents']),
  account: new Set(['_id', 'extSourceSystemAudit', 'accountKey', 'identityMap']),
};

export interface ProfileUpdate {
  person: { upserted: number; deleted: number; jobChanges: number };
  account: { upserted: number; deleted: number; cycles: string[][] };
}

async function fragmentsOf(conn: PgConn, entity: Entity, profileIds: string[]): Promise<Map<string, FragmentRow[]>> {
  const rows = await profileFragments(conn, entity, profileIds);
  const out = new Map<string, FragmentRow[]>();
  for (const r of rows) out.set(r.profile_id, [...(out.get(r.profile_id) ?? []), r]);
  return out;
}

/** Identities in each profile's cluster: its records and every identity they link (once each). */
async function identityCounts(conn: PgConn, profileIds: string[]): Promise<Map<string, number>> {
  const rows = await clusterIdentityCounts(conn, profileIds);
  return new Map(rows.map((r) => [r.profile_id, r.n]));
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
  await lockProfiles(conn, [...change.touched, ...change.gone.keys(), ...[...change.gone.values()].flat()]);
  if (change.entity === 'person') update.person = await rematerialisePeople(conn, config, [...change.touched], change.gone, cause);
  else update.account = await rematerialiseAccounts(conn, config, [...change.touched], change.gone, cause);
  return update;
}

async function removeGone(conn: PgConn, entity: Entity, gone: Map<string, string[]>, cause: string): Promise<number> {
  if (!gone.size) return 0;
  const ids = [...gone.keys()];
  const deleted = await deleteEndedProfiles(conn, entity, ids);
  if (entity === 'person' && deleted.length) await deleteAccountLinksOf(conn, deleted);
  await appendProfileDeletions(conn, entity, deleted.map((d) => ({ profileId: d, replacedBy: gone.get(d) ?? [] })), cause);
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
  const written = await upsertPersonProfiles(
    conn,
    rows.map((r) => ({ profileId: r.profileId, anchor: r.anchor, attributes: r.m.attributes, provenance: provenanceByRecord(r.m.provenance), recordKeys: r.recordKeys, types: r.types, count: r.count })),
  );
  const relinked = await relinkPeople(conn, config, rows.map((r) => ({ profileId: r.profileId, recordKeys: r.recordKeys, attributes: r.m.attributes })));
  const changed = new Set<string>([...written, ...relinked.changed]);
  await appendChanges(conn, 'person', [...changed], cause);
  return { upserted: changed.size, deleted, jobChanges: relinked.jobChanges };
}

/** Outbox entries for these upserted profiles. */
export async function appendChanges(conn: PgConn, entity: Entity, ids: string[], cause: string): Promise<void> {
  await appendProfileChanges(conn, entity, ids, cause);
}

type StoredLink = AccountLinkWrite;

/** An ISO date's day (dates are read as text: never through a time zone). */
const day = (v: unknown): string | null => {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  const d = v.slice(0, 10);
  const t = Date.parse(`${d}T00:00:00Z`);
  // A real calendar day (not '2024-02-30'), as Postgres' tessera_day() reads it; year 0 is none.
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === d && d >= '0001-01-01' ? d : null;
};

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
  const direct = await directAccountsOfPeople(conn, allKeys);
  const relations = await accountRelationsOfPeople(conn, allKeys);
  const opportunities = await opportunityRolesOfPeople(conn, allKeys);
  const previousRows = await storedAccountLinks(conn, ids);

  const links = new Map<string, StoredLink[]>(ids.map((id) => [id, []]));
  const add = (personKey: string, l: StoredLink) => links.get(ownerOf.get(personKey)!)?.push(l);
  for (const r of direct) add(r.record_key, { accountRecordKey: r.account_key, via: 'direct', sourceKey: r.record_key, role: null, isPrimary: true, isActive: true, startDate: null, endDate: null, score: null, evidence: null });
  for (const r of relations) {
    // As the rebuild's SQL reads them: the array's non-null entries joined, else the single role.
    const listed = Array.isArray(r.roles) ? (r.roles as unknown[]).filter((v) => v !== null).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))) : [];
    const roles = listed.length ? listed.join(';') : r.role;
    add(r.person_key, { accountRecordKey: r.account_key, via: 'relation', sourceKey: r.record_key, role: roles ?? null, isPrimary: r.is_primary ?? false, isActive: r.is_active ?? true, startDate: day(r.start_date), endDate: day(r.end_date), score: null, evidence: null });
  }
  for (const r of opportunities) {
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
      const candidates: Array<AccountCandidate & { anchor: string; names: string[] }> = (await accountMatchCandidates(conn, [...domains], [...names])).map((r) => ({
        profileId: r.profile_id, anchor: r.anchor, name: r.name, domains: r.match_domains, names: r.match_names,
      }));
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
  for (const r of previousRows) {
    previous.get(r.person_profile_id)!.push({
      accountRecordKey: r.account_record_key, via: r.via, sourceKey: r.source_key, role: r.role, isPrimary: r.is_primary, isActive: r.is_active,
      startDate: day(r.start_date), endDate: day(r.end_date), score: r.score, evidence: r.evidence,
    });
  }
  const accountKeys = new Set<string>();
  for (const list of [...links.values(), ...previous.values()]) for (const l of list) accountKeys.add(l.accountRecordKey);
  const accountProfile = await profileIdsOfNodes(conn, [...accountKeys].map((k) => `${RECORD_NAMESPACE.account}:${k}`));
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
  await replaceAccountLinks(conn, [...changed], final);
  await recordJobChanges(conn, events);
  return { jobChanges: events.length, changed: [...changed] };
}

async function rematerialiseAccounts(conn: PgConn, config: IdentityConfig, ids: string[], gone: Map<string, string[]>, cause: string): Promise<ProfileUpdate['account']> {
  const deleted = await removeGone(conn, 'account', gone, cause);
  // Children whose parent record sits in a touched or ended profile get their parent re-resolved.
  const involved = [...new Set([...ids, ...gone.keys(), ...[...gone.values()].flat()])];
  const children = await childAccountsOf(conn, involved);
  const all = [...new Set([...ids, ...children])];
  if (!all.length) return { upserted: 0, deleted, cycles: [] };
  const fragments = await fragmentsOf(conn, 'account', all);
  const counts = await identityCounts(conn, all);
  const rows = [...fragments.entries()].map(([profileId, frags]) => accountRow(config, profileId, anchorOf(frags), frags.map(toFragment), counts.get(profileId) ?? frags.length));
  const parentKeys = rows.flatMap((r) => (r.parentKey ? [`${RECORD_NAMESPACE.account}:${r.parentKey}`] : []));
  const parentProfile = await profileIdsOfNodes(conn, parentKeys);
  const parentOf = (r: (typeof rows)[number]) => {
    const p = r.parentKey ? parentProfile.get(r.parentKey) ?? null : null;
    return p === r.profileId ? null : p;
  };
  await upsertAccountProfiles(
    conn,
    rows.map((r) => ({
      profileId: r.profileId, anchor: r.anchor, attributes: r.m.attributes, provenance: provenanceByRecord(r.m.provenance), recordKeys: r.recordKeys, count: r.count,
      parentProfileId: parentOf(r), domains: r.domains, names: r.names,
    })),
  );
  const cycles = await recomputeHierarchy(conn, rows.map((r) => r.profileId));
  await appendChanges(conn, 'account', rows.map((r) => r.profileId), cause);
  // People matched to these accounts by inference are matched again: the evidence may have changed.
  const accountKeys = [...new Set([...rows.flatMap((r) => r.recordKeys), ...(await recordKeysOfProfiles(conn, involved))])];
  const inferred = await inferredPeopleOfAccounts(conn, accountKeys);
  if (inferred.length) {
    await lockProfiles(conn, inferred);
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
    const rows = await accountParents(conn, frontier);
    frontier = [];
    for (const r of rows) {
      parentOf.set(r.profile_id, r.parent_profile_id);
      if (r.parent_profile_id && !parentOf.has(r.parent_profile_id)) frontier.push(r.parent_profile_id);
    }
  }
  frontier = [...parentOf.keys()];
  while (frontier.length) {
    const rows = await accountChildren(conn, frontier);
    frontier = [];
    for (const r of rows) {
      if (!parentOf.has(r.profile_id)) frontier.push(r.profile_id);
      parentOf.set(r.profile_id, r.parent_profile_id);
    }
  }
  const h = resolveHierarchy(parentOf);
  const nodes = [...h.nodes.entries()].filter(([id]) => parentOf.has(id));
  await updateAccountHierarchy(conn, nodes);
  return h.cycles;
}
