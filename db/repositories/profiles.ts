/**
 * Reading profiles for the API: a profile by id or by any of its identities, with its records,
 * identities (and the decision each link got), account links, hierarchy, roll-ups and history;
 * and "why are these one profile?" as the path of accepted links between two identities.
 */
import type { Knex } from 'knex';
import { InvalidRequest } from '../../domain/errors';
import { ENTITY_TABLES, RECORD_NAMESPACE, type Entity } from '../../domain/identity/config';

const SAMPLE = 25;

/** The profile an identity (a record node or any identity it links) belongs to, if any. */
export async function profileIdOfIdentity(db: Knex, entity: Entity, identity: string): Promise<string | undefined> {
  const own = await db('identity_record').where({ node: identity, entity }).first('profile_id');
  if (own) return own.profile_id;
  const linked = await db('identity_link as l')
    .join('identity_record as r', 'r.node', 'l.node')
    .where('l.identity', identity)
    .where('r.entity', entity)
    .whereNot('l.outcome', 'rejected')
    .first('r.profile_id');
  return linked?.profile_id;
}

async function recordNodes(db: Knex, profileId: string): Promise<string[]> {
  return (await db('identity_record').where({ profile_id: profileId }).select('node')).map((r) => r.node);
}

async function identitiesOf(db: Knex, nodes: string[]) {
  const rows = await db('identity_link').whereIn('node', nodes).orderBy(['seq', 'node', 'identity']);
  return rows.map((l) => ({
    identity: l.identity as string,
    namespace: (l.identity as string).slice(0, (l.identity as string).indexOf(':')),
    value: (l.identity as string).slice((l.identity as string).indexOf(':') + 1),
    record: l.node as string,
    field: l.field as string,
    firstSeenSeq: Number(l.seq),
    observedAt: l.observed_at as Date,
    outcome: l.outcome as string,
    rule: l.rule as string | null,
  }));
}

/** Stored provenance (per record) expanded per attribute. */
function expandProvenance(p: Record<string, { updatedAt: string; attributes: string[] }>) {
  const out: Record<string, { recordKey: string; updatedAt: string }> = {};
  for (const [recordKey, { updatedAt, attributes }] of Object.entries(p)) for (const a of attributes) out[a] = { recordKey, updatedAt };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function recordsOf(db: Knex, entity: Entity, keys: string[]) {
  const table = ENTITY_TABLES[entity].records;
  const rows = await db(table).whereIn('record_key', keys).select('record_key', 'source_type', 'source_instance_id', 'source_updated_at', 'received_at', 'external_key');
  return rows.map((r) => ({ recordKey: r.record_key, sourceType: r.source_type, sourceInstanceId: r.source_instance_id, sourceUpdatedAt: r.source_updated_at, receivedAt: r.received_at, externalKey: r.external_key }));
}

export async function personProfile(db: Knex, profileId: string) {
  const p = await db('person_profile').where({ profile_id: profileId }).first();
  if (!p) return undefined;
  const nodes = await recordNodes(db, profileId);
  const links = await db('profile_account_link as l')
    .leftJoin('identity_record as r', 'r.node', db.raw(`? || l.account_record_key`, [`${RECORD_NAMESPACE.account}:`]))
    .leftJoin('account_profile as a', 'a.profile_id', 'r.profile_id')
    .where('l.person_profile_id', profileId)
    .orderBy([{ column: 'l.is_active', order: 'desc' }, 'l.via', 'l.account_record_key'])
    .select('l.*', 'r.profile_id as account_profile_id', db.raw(`a.attributes->>'accountName' AS account_name`));
  const events = await db('profile_event').where({ profile_id: profileId }).orderBy('at');
  return {
    entity: 'person' as const,
    profileId,
    anchor: p.anchor,
    personTypes: p.person_types,
    identityCount: p.identity_count,
    version: Number(p.version),
    updatedAt: p.updated_at,
    attributes: p.attributes,
    provenance: expandProvenance(p.provenance),
    records: await recordsOf(db, 'person', p.record_keys),
    identities: await identitiesOf(db, nodes),
    accounts: links.map((l) => ({
      accountProfileId: l.account_profile_id ?? null,
      accountName: l.account_name ?? null,
      accountRecordKey: l.account_record_key,
      via: l.via,
      sourceKey: l.source_key,
      role: l.role,
      isPrimary: l.is_primary,
      isActive: l.is_active,
      startDate: l.start_date,
      endDate: l.end_date,
      ...(l.via === 'inferred' ? { score: l.score, evidence: l.evidence } : {}),
    })),
    events: events.map((e) => ({ type: e.type, at: e.at, ...e.details })),
  };
}

export async function accountProfile(db: Knex, profileId: string) {
  const p = await db('account_profile').where({ profile_id: profileId }).first();
  if (!p) return undefined;
  const nodes = await recordNodes(db, profileId);
  const keys: string[] = p.record_keys;
  // Ancestors, nearest first, in one query that never loops (a cycle stops at the first repeat).
  const ancestors: Array<{ profileId: string; name: string | null }> = (
    await db.raw(
      `WITH RECURSIVE up(profile_id, parent_profile_id, name, depth, path) AS (
         SELECT a.profile_id, a.parent_profile_id, a.attributes->>'accountName', 1, ARRAY[?::uuid, a.profile_id]
           FROM account_profile a WHERE a.profile_id = ?::uuid
         UNION ALL
         SELECT a.profile_id, a.parent_profile_id, a.attributes->>'accountName', up.depth + 1, up.path || a.profile_id
           FROM up JOIN account_profile a ON a.profile_id = up.parent_profile_id
          WHERE NOT a.profile_id = ANY(up.path) AND up.depth < 100)
       SELECT profile_id AS "profileId", name FROM up ORDER BY depth`,
      [profileId, p.parent_profile_id],
    )
  ).rows;
  const children = await db('account_profile').where({ parent_profile_id: profileId }).orderBy('profile_id').limit(100).select('profile_id', db.raw(`attributes->>'accountName' AS name`));
  const people = db('profile_account_link').whereIn('account_record_key', keys);
  const [peopleCount] = await people.clone().countDistinct<{ n: string }[]>({ n: 'person_profile_id' });
  const peopleSample = await db('profile_account_link as l')
    .join('person_profile as pp', 'pp.profile_id', 'l.person_profile_id')
    .whereIn('l.account_record_key', keys)
    .orderBy([{ column: 'l.is_active', order: 'desc' }, 'l.person_profile_id'])
    .limit(SAMPLE)
    .select('l.person_profile_id', 'l.via', 'l.role', 'l.is_primary', 'l.is_active', 'l.start_date', 'l.end_date', 'pp.attributes');
  // Roll-ups in one aggregate and a bounded sample: an account may have any number of opportunities.
  const opps = await db('xdm_opportunity').whereIn('account_key', keys).where({ is_deleted: false })
    .orderBy('source_updated_at', 'desc')
    .limit(SAMPLE)
    .select('record_key', 'stage', 'is_closed', 'is_won', 'amount', 'expected_close_date', db.raw(`record->>'opportunityName' AS name`));
  const totals = (
    await db.raw(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT coalesce(is_closed, false))::int AS open_n,
              coalesce(sum(amount) FILTER (WHERE NOT coalesce(is_closed, false)), 0)::float8 AS open_amount,
              coalesce(sum(amount) FILTER (WHERE is_won), 0)::float8 AS won_amount
         FROM xdm_opportunity WHERE account_key = ANY(?::text[]) AND NOT is_deleted`,
      [keys],
    )
  ).rows[0] as { n: number; open_n: number; open_amount: number; won_amount: number };
  const engaged = await db.raw(
    `SELECT count(DISTINCT l.person_profile_id)::int AS n FROM profile_account_link l
       JOIN identity_record r ON r.profile_id = l.person_profile_id
       JOIN xdm_experience_event e ON e.person_key = r.record_key AND e.occurred_at > now() - interval '90 days'
      WHERE l.account_record_key = ANY(?::text[]) AND l.is_active`,
    [keys],
  );
  return {
    entity: 'account' as const,
    profileId,
    anchor: p.anchor,
    identityCount: p.identity_count,
    version: Number(p.version),
    updatedAt: p.updated_at,
    attributes: p.attributes,
    provenance: expandProvenance(p.provenance),
    records: await recordsOf(db, 'account', keys),
    identities: await identitiesOf(db, nodes),
    hierarchy: {
      parent: ancestors[0] ?? null,
      ultimateParentId: p.ultimate_parent_id,
      depth: p.hierarchy_depth,
      inCycle: p.in_cycle,
      ancestors,
      children: children.map((c) => ({ profileId: c.profile_id, name: c.name })),
    },
    people: {
      count: Number(peopleCount?.n ?? 0),
      sample: peopleSample.map((s) => ({
        personProfileId: s.person_profile_id,
        name: [s.attributes?.person?.name?.firstName, s.attributes?.person?.name?.lastName].filter(Boolean).join(' ') || null,
        via: s.via, role: s.role, isPrimary: s.is_primary, isActive: s.is_active, startDate: s.start_date, endDate: s.end_date,
      })),
    },
    opportunities: {
      count: totals.n,
      sample: opps.map((o) => ({ recordKey: o.record_key, name: o.name, stage: o.stage, isClosed: o.is_closed, isWon: o.is_won, amount: o.amount === null ? null : Number(o.amount), expectedCloseDate: o.expected_close_date })),
    },
    rollups: {
      openPipeline: totals.open_amount,
      openOpportunities: totals.open_n,
      wonAmount: totals.won_amount,
      peopleEngaged90d: engaged.rows[0].n as number,
    },
  };
}

/** The decision log entries about a profile's records or naming the profile, oldest first. */
export async function profileHistory(db: Knex, profileId: string, opts: { afterId?: number; limit: number }) {
  const nodes = await recordNodes(db, profileId);
  const rows = await db('identity_decision')
    .where((q) => q.where('profile_id', profileId).orWhereIn('node', nodes).orWhereIn('identity', nodes))
    .andWhere('id', '>', opts.afterId ?? 0)
    .orderBy('id')
    .limit(opts.limit);
  return rows.map((d) => ({
    id: Number(d.id),
    at: d.at,
    kind: d.kind,
    record: d.node,
    identity: d.identity,
    identities: d.identities,
    seq: d.seq === null ? null : Number(d.seq),
    rule: d.rule,
    profileId: d.profile_id,
    previousProfileIds: d.previous_profile_ids,
    actor: d.actor,
    reason: d.reason,
  }));
}

/**
 * "Why are these one profile?": the shortest path of accepted links between two identities of one
 * profile, each link with its provenance; or, when they are apart, the refused links and
 * do-not-link pairs between their profiles.
 */
export async function explainIdentities(db: Knex, entity: Entity, a: string, b: string) {
  const [pa, pb] = [await profileIdOfIdentity(db, entity, a), await profileIdOfIdentity(db, entity, b)];
  if (!pa || !pb) return { known: false as const, missing: [!pa ? a : null, !pb ? b : null].filter(Boolean) };
  const links = async (profileId: string) => identitiesOf(db, await recordNodes(db, profileId));
  if (pa === pb) {
    const all = (await links(pa)).filter((l) => l.outcome !== 'rejected');
    const adjacency = new Map<string, typeof all>();
    for (const l of all) for (const n of [l.record, l.identity]) adjacency.set(n, [...(adjacency.get(n) ?? []), l]);
    const via = new Map<string, (typeof all)[number]>();
    const queue = [a];
    const seen = new Set([a]);
    while (queue.length && !seen.has(b)) {
      const n = queue.shift()!;
      for (const l of adjacency.get(n) ?? []) {
        const m = l.record === n ? l.identity : l.record;
        if (seen.has(m)) continue;
        seen.add(m);
        via.set(m, l);
        queue.push(m);
      }
    }
    const path: typeof all = [];
    for (let n = b; n !== a; ) {
      const l = via.get(n)!;
      path.unshift(l);
      n = l.record === n ? l.identity : l.record;
    }
    return {
      known: true as const,
      sameProfile: true as const,
      profileId: pa,
      because: path.map((l) => ({
        record: l.record,
        identity: l.identity,
        namespace: l.namespace,
        field: l.field,
        firstSeenSeq: l.firstSeenSeq,
        observedAt: l.observedAt,
        decision: l.outcome,
        explanation: `record ${l.record} carries ${l.namespace} '${l.value}' in ${l.field}`,
      })),
    };
  }
  const [la, lb] = [await links(pa), await links(pb)];
  const nodesA = new Set(la.flatMap((l) => [l.record, l.identity]));
  const nodesB = new Set(lb.flatMap((l) => [l.record, l.identity]));
  const refused = [...la, ...lb].filter((l) => l.outcome === 'rejected' && ((nodesA.has(l.record) && nodesB.has(l.identity)) || (nodesB.has(l.record) && nodesA.has(l.identity))));
  const all = [...nodesA, ...nodesB, a, b];
  const dnl = await db('identity_do_not_link').whereIn('a', all).whereIn('b', all).select('a', 'b', 'actor', 'reason', 'created_at');
  return {
    known: true as const,
    sameProfile: false as const,
    profileIds: [pa, pb],
    refusedLinks: refused.map((l) => ({ record: l.record, identity: l.identity, rule: l.rule, field: l.field, firstSeenSeq: l.firstSeenSeq })),
    doNotLink: dnl.filter((d) => (nodesA.has(d.a) || d.a === a) !== (nodesA.has(d.b) || d.b === a)),
  };
}

/** Account profiles in a hierarchy cycle, grouped by the cycle they sit in. */
export async function hierarchyCycles(db: Knex) {
  const rows = await db('account_profile').where({ in_cycle: true }).orderBy(['ultimate_parent_id', 'profile_id']).select('profile_id', 'parent_profile_id', 'ultimate_parent_id', db.raw(`attributes->>'accountName' AS name`));
  const groups = new Map<string, typeof rows>();
  for (const r of rows) groups.set(r.ultimate_parent_id, [...(groups.get(r.ultimate_parent_id) ?? []), r]);
  return [...groups.values()].map((members) => ({
    members: members.map((m) => ({ profileId: m.profile_id, name: m.name, parentProfileId: m.parent_profile_id })),
  }));
}

/** An account profile's opportunities, a page at a time in record-key order (`after`: the last key of the previous page); undefined: no such account. */
export async function accountOpportunitiesPage(db: Knex, profileId: string, page: { after?: string; limit: number }): Promise<Array<Record<string, unknown>> | undefined> {
  const p = await db('account_profile').where({ profile_id: profileId }).first('record_keys');
  if (!p) return undefined;
  const q = db('xdm_opportunity').whereIn('account_key', p.record_keys as string[]).where({ is_deleted: false }).orderBy('record_key').limit(page.limit);
  if (page.after !== undefined) q.where('record_key', '>', page.after);
  const rows = await q.select('record_key', 'stage', 'is_closed', 'is_won', 'amount', 'expected_close_date', db.raw(`record->>'opportunityName' AS name`));
  return rows.map((o) => ({ recordKey: o.record_key, name: o.name, stage: o.stage, isClosed: o.is_closed, isWon: o.is_won, amount: o.amount === null ? null : Number(o.amount), expectedCloseDate: o.expected_close_date }));
}

/**
 * An account profile's people (their account links), a page at a time in link order; `after` is the
 * previous page's `next` (a person may have several links: the cursor is the whole link key).
 * Undefined: no such account.
 */
export async function accountPeoplePage(db: Knex, profileId: string, page: { after?: string; limit: number }): Promise<{ people: Array<Record<string, unknown>>; next: string | null } | undefined> {
  const after = page.after === undefined ? undefined : linkCursor(page.after);
  const p = await db('account_profile').where({ profile_id: profileId }).first('record_keys');
  if (!p) return undefined;
  const q = db('profile_account_link as l')
    .join('person_profile as pp', 'pp.profile_id', 'l.person_profile_id')
    .whereIn('l.account_record_key', p.record_keys as string[])
    .orderBy(['l.person_profile_id', 'l.account_record_key', 'l.via', 'l.source_key'])
    .limit(page.limit);
  if (after) {
    const [person, account, via, source] = after;
    q.whereRaw('(l.person_profile_id, l.account_record_key, l.via, l.source_key) > (?::uuid, ?, ?, ?)', [person, account, via, source]);
  }
  const rows = await q.select('l.person_profile_id', 'l.account_record_key', 'l.via', 'l.source_key', 'l.role', 'l.is_primary', 'l.is_active', 'l.start_date', 'l.end_date', db.raw(`pp.attributes->'person'->'name' AS name`));
  const last = rows.at(-1);
  const next = rows.length === page.limit && last ? Buffer.from(JSON.stringify([last.person_profile_id, last.account_record_key, last.via, last.source_key])).toString('base64url') : null;
  const people = rows.map((s) => ({
    personProfileId: s.person_profile_id,
    name: [s.name?.firstName, s.name?.lastName].filter(Boolean).join(' ') || null,
    accountRecordKey: s.account_record_key,
    via: s.via, role: s.role, isPrimary: s.is_primary, isActive: s.is_active, startDate: s.start_date, endDate: s.end_date,
  }));
  return { people, next };
}

/** A people-page cursor back to its link key; a cursor this API did not make is refused. */
function linkCursor(cursor: string): [string, string, string, string] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = null;
  }
  const ok =
    Array.isArray(key) &&
    key.length === 4 &&
    key.every((k) => typeof k === 'string' && k.length <= 1000 && !k.includes('\u0000')) &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(key[0] as string);
  if (!ok) throw new InvalidRequest('after: not a cursor from a previous page (use its `next`)');
  return key as [string, string, string, string];
}
