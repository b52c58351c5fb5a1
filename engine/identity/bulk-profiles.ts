/**
 * Profiles for a whole entity at once (a rebuild): materialised in memory from the fragments the
 * full recompute already read, COPYed, and people's account links written with set-based SQL —
 * the same rows the incremental path writes (personRow / accountRow / relinkPeople), without a
 * round trip per profile. Lead-to-account matching runs for the people no source links.
 */
import type { IdentityConfig } from '../../domain/identity/config';
import { ENTITY_TABLES, RECORD_NAMESPACE } from '../../domain/identity/config';
import type { IdentityKey } from '../../domain/identity/resolve';
import { resolveHierarchy } from '../../domain/profiles/hierarchy';
import type { Fragment } from '../../domain/profiles/merge-policy';
import { copyArray, CopyBuffer, copyValue, type PgConn } from '../../db/pg-transaction';
import { accountRow, personRow, provenanceByRecord, relinkPeople } from './profiles';
import type { FullResolution } from './rebuild';

const FLUSH = 20_000;

/** Writes every profile of the entity (replacing the old ones); returns how many. */
export async function writeProfilesInBulk(conn: PgConn, config: IdentityConfig, full: FullResolution, cause: string): Promise<number> {
  const { entity } = full;
  // Clusters: anchor → members (records) and size (records and identities joined).
  const members = new Map<string, { anchor: IdentityKey; records: IdentityKey[]; size: number }>();
  for (const [node, anchor] of full.resolution.clusterOf) {
    const profileId = full.profileOf.get(node) ?? (full.evidence.records.has(anchor) ? full.profileOf.get(anchor) : undefined);
    if (!profileId) continue;
    let m = members.get(profileId);
    if (!m) members.set(profileId, (m = { anchor, records: [], size: 0 }));
    m.size++;
    if (full.evidence.records.has(node)) m.records.push(node);
  }
  for (const [node, profileId] of full.profileOf) if (!members.has(profileId)) members.set(profileId, { anchor: node, records: [node], size: 1 });
  const fragmentsOf = (records: IdentityKey[]): Fragment[] => records.map((r) => full.fragments!.get(r)!);

  const table = ENTITY_TABLES[entity].profiles;
  await conn.query(`CREATE TEMP TABLE rebuild_previous_profiles ON COMMIT DROP AS SELECT profile_id FROM ${table}`);
  await conn.query(`DELETE FROM ${table}`);

  if (entity === 'person') {
    const out = new CopyBuffer(conn, 'person_profile (profile_id, anchor, attributes, provenance, record_keys, person_types, identity_count)', FLUSH);
    for (const [profileId, m] of members) {
      const r = personRow(config, profileId, m.anchor, fragmentsOf(m.records), m.size);
      await out.add(`${profileId}\t${copyValue(r.anchor)}\t${copyValue(JSON.stringify(r.m.attributes))}\t${copyValue(JSON.stringify(provenanceByRecord(r.m.provenance)))}\t${copyArray(r.recordKeys)}\t${copyArray(r.types)}\t${r.count}\n`);
    }
    await out.flush();
    await relinkAll(conn, config);
  } else {
    const rows = [...members].map(([profileId, m]) => accountRow(config, profileId, m.anchor, fragmentsOf(m.records), m.size));
    const parentOf = new Map<string, string | null>();
    for (const r of rows) {
      const p = r.parentKey ? full.profileOf.get(`${RECORD_NAMESPACE.account}:${r.parentKey}`) ?? null : null;
      parentOf.set(r.profileId, p === r.profileId ? null : p);
    }
    const h = resolveHierarchy(parentOf);
    const out = new CopyBuffer(conn, 'account_profile (profile_id, anchor, attributes, provenance, record_keys, identity_count, parent_profile_id, ultimate_parent_id, hierarchy_depth, in_cycle, match_domains, match_names)', FLUSH);
    for (const r of rows) {
      const node = h.nodes.get(r.profileId)!;
      await out.add(
        `${r.profileId}\t${copyValue(r.anchor)}\t${copyValue(JSON.stringify(r.m.attributes))}\t${copyValue(JSON.stringify(provenanceByRecord(r.m.provenance)))}\t${copyArray(r.recordKeys)}\t${r.count}\t` +
          `${copyValue(parentOf.get(r.profileId) ?? null)}\t${node.ultimateParentId}\t${node.depth}\t${node.inCycle ? 't' : 'f'}\t${copyArray(r.domains)}\t${copyArray(r.names)}\n`,
      );
    }
    await out.flush();
  }
  await conn.query(`INSERT INTO profile_change (entity, profile_id, change, cause) SELECT $1, profile_id, 'upserted', $2 FROM ${table}`, [entity, cause]);
  await conn.query(
    `INSERT INTO profile_change (entity, profile_id, change, cause)
     SELECT $1, o.profile_id, 'deleted', $2 FROM rebuild_previous_profiles o WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.profile_id = o.profile_id)`,
    [entity, cause],
  );
  await conn.query(`DROP TABLE rebuild_previous_profiles`);
  return members.size;
}

/**
 * Every person's account links, set-based: direct (the record's account), relations and
 * opportunity contact roles; history kept at earlier job changes stays while its person does;
 * people left with no link go through relinkPeople (lead-to-account matching).
 */
async function relinkAll(conn: PgConn, config: IdentityConfig): Promise<void> {
  const ns = `${RECORD_NAMESPACE.person}:`;
  await conn.query(`DELETE FROM profile_account_link l WHERE NOT l.source_key LIKE 'history:%' OR NOT EXISTS (SELECT 1 FROM person_profile p WHERE p.profile_id = l.person_profile_id)`);
  await conn.query(
    `INSERT INTO profile_account_link (person_profile_id, account_record_key, via, source_key, is_primary, is_active)
     SELECT r.profile_id, p.account_key, 'direct', p.record_key, true, true
       FROM xdm_person p JOIN identity_record r ON r.node = $1 || p.record_key
      WHERE p.account_key IS NOT NULL AND NOT p.is_deleted
     ON CONFLICT DO NOTHING`,
    [ns],
  );
  await conn.query(
    `INSERT INTO profile_account_link (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active, start_date, end_date)
     SELECT r.profile_id, x.account_key, 'relation', x.record_key,
            coalesce((SELECT string_agg(v, ';') FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(x.record->'personRoles') = 'array' THEN x.record->'personRoles' END) v), x.record->>'personRole'),
            coalesce(x.is_primary, false), coalesce(x.is_active, true),
            CASE WHEN x.record->>'relationStartDate' ~ '^\\d{4}-\\d{2}-\\d{2}' THEN left(x.record->>'relationStartDate', 10)::date END,
            CASE WHEN x.record->>'relationEndDate' ~ '^\\d{4}-\\d{2}-\\d{2}' THEN left(x.record->>'relationEndDate', 10)::date END
       FROM xdm_account_person x JOIN identity_record r ON r.node = $1 || x.person_key
      WHERE x.account_key IS NOT NULL AND NOT x.is_deleted
     ON CONFLICT DO NOTHING`,
    [ns],
  );
  await conn.query(
    `INSERT INTO profile_account_link (person_profile_id, account_record_key, via, source_key, role, is_primary, is_active)
     SELECT r.profile_id, o.account_key, 'opportunity', op.record_key, op.person_role, coalesce((op.record->>'isPrimary')::boolean, false), NOT coalesce(o.is_closed, false)
       FROM xdm_opportunity_person op JOIN xdm_opportunity o ON o.record_key = op.opportunity_key
       JOIN identity_record r ON r.node = $1 || op.person_key
      WHERE NOT op.is_deleted AND NOT o.is_deleted AND o.account_key IS NOT NULL
     ON CONFLICT DO NOTHING`,
    [ns],
  );
  if (!config.settings.leadToAccount.enabled) return;
  const unlinked = (
    await conn.query(
      `SELECT p.profile_id, p.record_keys, p.attributes FROM person_profile p
        WHERE NOT EXISTS (SELECT 1 FROM profile_account_link l WHERE l.person_profile_id = p.profile_id AND NOT l.source_key LIKE 'history:%')`,
    )
  ).rows as Array<{ profile_id: string; record_keys: string[]; attributes: Record<string, unknown> }>;
  for (let i = 0; i < unlinked.length; i += 5_000) {
    await relinkPeople(conn, config, unlinked.slice(i, i + 5_000).map((u) => ({ profileId: u.profile_id, recordKeys: u.record_keys, attributes: u.attributes })));
  }
}
