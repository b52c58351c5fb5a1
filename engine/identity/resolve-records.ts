/**
 * Incremental identity resolution of the records a batch changed, inside the caller's transaction
 * (the one that stored the records): each record's identities are extracted from its stored row,
 * the evidence components it touches are locked and loaded whole, re-resolved by the same code as
 * a full recompute (domain/identity/resolve.ts), and only the differences are written — record
 * nodes and their profile ids, links and their decisions, and the decision log.
 */
import { ENTITY_TABLES, RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { BlockList, extractIdentities, identitiesFromStored, linkingNamespaces, type ExtractedIdentity, type RecordIdentities } from '../../domain/identity/extract';
import { profileIdOf } from '../../domain/identity/profile-id';
import { evidenceComponentIds, identityKey, resolveComponentsOf, type Evidence, type IdentityKey, type Link, type LinkingRules } from '../../domain/identity/resolve';
import {
  appendDecisions,
  deleteLinks,
  deleteRecords,
  doNotLinkPairs,
  linksOfRecords,
  loadComponents,
  lockEntityGraph,
  nextSeqs,
  recordsByNode,
  storedIdentityRows,
  upsertLinks,
  upsertRecords,
  type DecisionRow,
  type LinkRow,
  type RecordRow,
} from '../../db/repositories/identity-graph';
import type { PgConn } from '../../db/pg-transaction';


/** What a resolution changed: the profiles to rematerialise and the ones that no longer exist. */
export interface GraphChange {
  entity: Entity;
  /** Profiles (after the change) whose records or attributes changed. */
  touched: Set<string>;
  /** Profiles that no longer exist → the profiles their records went to. */
  gone: Map<string, string[]>;
  /** Records whose identities changed (observations and removals logged). */
  observed: number;
  /**
   * Profiles whose records now lie in two or more profiles (splits), and profiles whose records
   * joined another existing profile's (merges: one per profile joined). A profile whose anchor
   * record left, so that it continues under another id, is neither.
   */
  splits: number;
  merges: number;
}

const blockLists = new WeakMap<IdentityConfig, BlockList>();
export function blockListOf(config: IdentityConfig): BlockList {
  let b = blockLists.get(config);
  if (!b) blockLists.set(config, (b = new BlockList(config.blocked)));
  return b;
}

export function linkingRules(config: IdentityConfig, doNotLink: Array<readonly [string, string]>): LinkingRules {
  return { namespaces: linkingNamespaces(config), maxClusterSize: config.settings.maxClusterSize, doNotLink, scopeExempt: new Set(Object.values(RECORD_NAMESPACE)) };
}

/**
 * What these records say they are now (deleted ones: null): the identities extracted at ingest,
 * or, for a row extracted under another configuration version, extracted here from its JSON.
 */
export async function currentIdentities(conn: PgConn, config: IdentityConfig, entity: Entity, keys: string[]): Promise<Map<string, RecordIdentities | null>> {
  const rows = await storedIdentityRows(conn, ENTITY_TABLES[entity].records, entity === 'person', keys, config.version);
  const out = new Map<string, RecordIdentities | null>();
  for (const r of rows) {
    if (r.is_deleted) {
      out.set(r.record_key, null);
      continue;
    }
    const facts = { recordKey: r.record_key, sourceType: r.source_type, sourceInstanceId: r.source_instance_id, accountKey: r.account_key };
    out.set(
      r.record_key,
      r.record === null ? identitiesFromStored(entity, facts, r.identities ?? [], r.identity_fields ?? [], config) : extractIdentities(entity, { ...facts, record: r.record }, config, blockListOf(config)),
    );
  }
  return out;
}

interface Desired {
  scope: string | undefined;
  identities: ExtractedIdentity[];
}

const linkId = (node: string, identity: string) => `${node}\u0000${identity}`;
const accepted = (outcome: string | undefined) => outcome === 'linked' || outcome === 'redundant';

/**
 * Resolves the records whose stored rows changed (`recordKeys`), and re-resolves the components
 * around `alsoAround` (identities whose rules changed: a do-not-link pair added or removed).
 */
export async function resolveRecords(
  conn: PgConn,
  config: IdentityConfig,
  entity: Entity,
  recordKeys: readonly string[],
  actor: string,
  alsoAround: readonly IdentityKey[] = [],
): Promise<GraphChange> {
  const keys = [...new Set(recordKeys)];
  const change: GraphChange = { entity, touched: new Set(), gone: new Map(), observed: 0, splits: 0, merges: 0 };
  if (!keys.length && !alsoAround.length) return change;
  const nodeOf = (k: string) => identityKey(RECORD_NAMESPACE[entity], k);
  const nodes = keys.map(nodeOf);
  await lockEntityGraph(conn, entity);

  // What each record says now, against what the graph holds for it.
  const current = await currentIdentities(conn, config, entity, keys);
  const desired = new Map<IdentityKey, Desired | null>();
  for (const k of keys) {
    const x = current.get(k);
    desired.set(nodeOf(k), x ? { scope: x.scope, identities: x.identities } : null);
  }
  const ownLinks = await linksOfRecords(conn, nodes);
  const ownRecords = await recordsByNode(conn, nodes);
  const heldRecord = new Map(ownRecords.map((r) => [r.node, r]));
  const heldLinks = new Map<string, LinkRow[]>();
  for (const l of ownLinks) heldLinks.set(l.node, [...(heldLinks.get(l.node) ?? []), l]);
  const changed: IdentityKey[] = [];
  // Records whose identities did not change: their profiles are rematerialised, under the id they
  // have after this resolution (another record's change may rename or merge their cluster).
  const unchanged: Array<{ node: IdentityKey; profileId: string }> = [];
  for (const node of nodes) {
    const want = desired.get(node)!;
    const held = heldRecord.get(node);
    if (!want) {
      if (held) changed.push(node);
      continue;
    }
    const have = new Set((heldLinks.get(node) ?? []).map((l) => l.identity));
    const same = held && (held.scope ?? undefined) === want.scope && have.size === want.identities.length && want.identities.every((i) => have.has(i.key));
    if (same) unchanged.push({ node, profileId: held.profile_id });
    else changed.push(node);
  }
  if (!changed.length && !alsoAround.length) {
    for (const u of unchanged) change.touched.add(u.profileId);
    return change;
  }

  // The whole evidence components the change touches (the entity's graph is ours until commit).
  const seeds = new Set<IdentityKey>([...changed, ...alsoAround]);
  for (const n of changed) {
    for (const i of desired.get(n)?.identities ?? []) seeds.add(i.key);
    for (const l of heldLinks.get(n) ?? []) seeds.add(l.identity);
  }
  const component = await loadComponents(conn, seeds);
  const compNodes = [...component.nodes];
  const records = await recordsByNode(conn, compNodes);
  const dnl = await doNotLinkPairs(conn, compNodes);

  // The evidence before and after the change.
  const recordRows = new Map(records.map((r) => [r.node, r]));
  const beforeLinks = new Map(component.links.map((l) => [linkId(l.node, l.identity), l]));
  const afterLinks = new Map(beforeLinks);
  const firstSeen = new Map(records.map((r) => [r.node, r.first_seen]));
  const scopes = new Map<IdentityKey, string>();
  for (const r of records) if (r.scope !== null) scopes.set(r.node, r.scope);
  const seqs = await nextSeqs(conn, changed.length);
  const now = new Date();
  const removed: IdentityKey[] = [];
  changed.forEach((node, i) => {
    const want = desired.get(node)!;
    const seq = seqs[i]!;
    const keep = new Set(want?.identities.map((x) => x.key) ?? []);
    for (const l of heldLinks.get(node) ?? []) if (!keep.has(l.identity)) afterLinks.delete(linkId(node, l.identity));
    if (!want) {
      firstSeen.delete(node);
      scopes.delete(node);
      removed.push(node);
      return;
    }
    if (!firstSeen.has(node)) firstSeen.set(node, seq);
    if (want.scope === undefined) scopes.delete(node);
    else scopes.set(node, want.scope);
    for (const x of want.identities) {
      const id = linkId(node, x.key);
      if (!afterLinks.has(id)) afterLinks.set(id, { node, identity: x.key, seq, field: x.field, outcome: 'linked', rule: null, observed_at: now, component_id: NaN });
    }
  });
  const evidence: Evidence = {
    records: firstSeen,
    links: [...afterLinks.values()].map((l): Link => ({ record: l.node, identity: l.identity, seq: l.seq })),
    scopes,
  };
  const linked = new Set<IdentityKey>();
  for (const l of afterLinks.values()) linked.add(l.node).add(l.identity);
  const resolution = resolveComponentsOf(evidence, compNodes.filter((n) => firstSeen.has(n) || linked.has(n)), linkingRules(config, dnl));
  const decisionOf = new Map(resolution.decisions.map((d) => [linkId(d.link.record, d.link.identity), d]));
  // Evidence components after the change (joined or split by it): their stored ids.
  const componentOf = evidenceComponentIds(firstSeen, [...afterLinks.values()].map((l) => ({ record: l.node, identity: l.identity })));

  // Records: new, moved to another profile, or gone.
  const recordWrites: RecordRow[] = [];
  const profileAfter = new Map<IdentityKey, string>();
  for (const [node, seen] of firstSeen) {
    const profileId = profileIdOf(resolution.clusterOf.get(node) ?? node);
    profileAfter.set(node, profileId);
    const held = recordRows.get(node);
    const scope = scopes.get(node) ?? null;
    const componentId = componentOf.get(node)!;
    if (!held || held.profile_id !== profileId || (held.scope ?? null) !== scope || held.component_id !== componentId) {
      recordWrites.push({ node, record_key: node.slice(node.indexOf(':') + 1), scope, first_seen: seen, profile_id: profileId, component_id: componentId });
    }
  }
  const profilesAfter = new Set(profileAfter.values());
  for (const p of profilesAfter) change.touched.add(p);
  for (const u of unchanged) change.touched.add(profileAfter.get(u.node) ?? u.profileId);
  const after = new Map<string, Set<string>>(); // profile before → profiles its records are in now
  const before = new Map<string, Set<string>>(); // profile now → profiles its records were in
  for (const r of records) {
    const now = profileAfter.get(r.node);
    if (!now) continue;
    (after.get(r.profile_id) ?? after.set(r.profile_id, new Set()).get(r.profile_id)!).add(now);
    (before.get(now) ?? before.set(now, new Set()).get(now)!).add(r.profile_id);
  }
  for (const s of after.values()) if (s.size > 1) change.splits++;
  for (const s of before.values()) if (s.size > 1) change.merges += s.size - 1;
  for (const r of records) {
    if (profilesAfter.has(r.profile_id)) continue;
    const to = change.gone.get(r.profile_id) ?? [];
    const now = profileAfter.get(r.node);
    if (now && !to.includes(now)) to.push(now);
    change.gone.set(r.profile_id, to);
  }

  // Links: gone, new, or with a changed decision; the log gets observations and flipped decisions.
  const linkWrites: LinkRow[] = [];
  const log: DecisionRow[] = [];
  const base = { entity, actor, reason: null, seq: null, identities: null, scope: null, previousProfileIds: null } as const;
  for (const [id, l] of afterLinks) {
    const d = decisionOf.get(id);
    const outcome = d?.outcome ?? 'linked';
    const rule = d?.rule ?? null;
    const before = beforeLinks.get(id);
    const componentId = componentOf.get(l.node)!;
    if (before && before.outcome === outcome && before.rule === rule && before.component_id === componentId) continue;
    linkWrites.push({ ...l, outcome, rule, component_id: componentId });
    if (before && before.outcome === outcome && before.rule === rule) continue; // only its component changed
    const flipped = before ? accepted(before.outcome) !== accepted(outcome) || before.rule !== rule : outcome === 'rejected';
    if (flipped) {
      log.push({ ...base, kind: outcome === 'rejected' ? 'reject' : 'link', node: l.node, identity: l.identity, seq: l.seq, rule, profileId: profileAfter.get(l.node) ?? null });
    }
  }
  const goneLinks = [...beforeLinks.values()].filter((l) => !afterLinks.has(linkId(l.node, l.identity)));
  // Observations go first in the log, latest-changed first (as they always have: replay reads this order).
  const observations: DecisionRow[] = [];
  changed.forEach((node, i) => {
    const want = desired.get(node)!;
    const previous = recordRows.get(node)?.profile_id;
    const after = profileAfter.get(node) ?? null;
    observations.push({
      ...base,
      kind: want ? 'observe' : 'remove',
      node,
      seq: want ? seqs[i]! : null,
      identities: want ? want.identities.map((x) => x.key) : null,
      scope: want?.scope ?? null,
      profileId: after,
      previousProfileIds: previous && previous !== after ? [previous] : null,
      identity: null,
      rule: null,
    });
  });
  change.observed = changed.length;

  await deleteLinks(conn, goneLinks);
  await deleteRecords(conn, removed);
  await upsertRecords(conn, entity, recordWrites);
  await upsertLinks(conn, linkWrites);
  await appendDecisions(conn, observations.reverse().concat(log));
  return change;
}
