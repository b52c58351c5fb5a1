/**
 * Profiles for a whole entity at once (a rebuild): materialised from the records streamed once,
 * COPYed into a shadow table swapped in, and people's account links written with set-based SQL —
 * the same rows the incremental path writes (personRow / accountRow / relinkPeople), without a
 * round trip per profile. Lead-to-account matching runs for the people no source links.
 */
import type { Knex } from 'knex';
import type { IdentityConfig } from '../../domain/identity/config';
import { ENTITY_TABLES, RECORD_NAMESPACE } from '../../domain/identity/config';
import { resolveHierarchy } from '../../domain/profiles/hierarchy';
import type { Fragment } from '../../domain/profiles/merge-policy';
import { copyArray, CopyBuffer, copyValue, type PgConn } from '../../db/pg-transaction';
import { createShadow, recordRebuiltProfiles, storedFragments, swapShadow } from '../../db/repositories/identity-rebuild';
import { accountRow, personRow, provenanceByRecord, relinkPeople, type AccountRow } from './profiles';
import type { FullResolution } from './rebuild';

const FLUSH = 20_000;

/**
 * Writes every profile of the entity into a shadow of its table and swaps it in; returns how many.
 * The records are streamed once: a profile is built as soon as its last record has arrived (most
 * have one), so only multi-record profiles wait in memory. A record stored after the graph was
 * read is not in it (it is queued, and the resolver adds it after the rebuild); a record deleted
 * since leaves its profile built from the others.
 */
export async function writeProfilesInBulk(db: Knex, conn: PgConn, config: IdentityConfig, full: FullResolution, cause: string): Promise<number> {
  const { entity, table: graph } = full;
  const { anchorOf } = full.resolution;
  // Per anchor: nodes in its cluster (records and the identities they link) and records.
  const size = new Int32Array(graph.nodeCount);
  for (let i = 0; i < graph.nodeCount; i++) size[anchorOf[i]!]!++;
  const recordsIn = new Int32Array(graph.nodeCount);
  for (const r of full.records) recordsIn[anchorOf[r]!]!++;
  const pending = new Map<number, Fragment[]>();
  const built: Array<{ anchor: number; frags: Fragment[] }> = [];
  const table = ENTITY_TABLES[entity].profiles;
  await createShadow(conn, table);

  const personRows = new CopyBuffer(conn, `${table}_next (profile_id, anchor, attributes, provenance, record_keys, person_types, identity_count)`, FLUSH);
  const accounts: AccountRow[] = [];
  const build = async (anchor: number, frags: Fragment[]) => {
    const profileId = full.profileIdOf(anchor);
    const key = graph.keys[anchor]!;
    if (entity === 'person') {
      const r = personRow(config, profileId, key, frags, size[anchor]!);
      await personRows.add(`${profileId}\t${copyValue(r.anchor)}\t${copyValue(JSON.stringify(r.m.attributes))}\t${copyValue(JSON.stringify(provenanceByRecord(r.m.provenance)))}\t${copyArray(r.recordKeys)}\t${copyArray(r.types)}\t${r.count}\n`);
    } else accounts.push(accountRow(config, profileId, key, frags, size[anchor]!));
  };
  const ns = `${RECORD_NAMESPACE[entity]}:`;
  for await (const rows of storedFragments(db, ENTITY_TABLES[entity].records)) {
    for (const row of rows) {
      const node = graph.indexOf(ns + row.record_key);
      if (node === undefined || !graph.isRecord(node)) continue;
      const anchor = anchorOf[node]!;
      const fragment: Fragment = { recordKey: row.record_key, sourceInstanceId: row.source_instance_id, updatedAt: row.updated_at.toISOString(), record: row.record };
      if (recordsIn[anchor] === 1) {
        await build(anchor, [fragment]);
        continue;
      }
      const frags = pending.get(anchor) ?? pending.set(anchor, []).get(anchor)!;
      frags.push(fragment);
      if (frags.length === recordsIn[anchor]) {
        pending.delete(anchor);
        built.push({ anchor, frags });
      }
      if (built.length >= 1_000) for (const b of built.splice(0)) await build(b.anchor, b.frags);
    }
  }
  for (const b of built.splice(0)) await build(b.anchor, b.frags);
  for (const [anchor, frags] of pending) await build(anchor, frags);
  await personRows.flush();

  if (entity === 'account') {
    const parentOf = new Map<string, string | null>();
    for (const r of accounts) {
      const parent = r.parentKey ? graph.indexOf(ns + r.parentKey) : undefined;
      const p = parent !== undefined && graph.isRecord(parent) ? full.profileIdOf(parent) : null;
      parentOf.set(r.profileId, p === r.profileId ? null : p);
    }
    const h = resolveHierarchy(parentOf);
    const out = new CopyBuffer(conn, `${table}_next (profile_id, anchor, attributes, provenance, record_keys, identity_count, parent_profile_id, ultimate_parent_id, hierarchy_depth, in_cycle, match_domains, match_names)`, FLUSH);
    for (const r of accounts) {
      const node = h.nodes.get(r.profileId)!;
      await out.add(
        `${r.profileId}\t${copyValue(r.anchor)}\t${copyValue(JSON.stringify(r.m.attributes))}\t${copyValue(JSON.stringify(provenanceByRecord(r.m.provenance)))}\t${copyArray(r.recordKeys)}\t${r.count}\t` +
          `${copyValue(parentOf.get(r.profileId) ?? null)}\t${node.ultimateParentId}\t${node.depth}\t${node.inCycle ? 't' : 'f'}\t${copyArray(r.domains)}\t${copyArray(r.names)}\n`,
      );
    }
    await out.flush();
  }
  const profiles = await recordRebuiltProfiles(conn, entity, table, cause);
  await swapShadow(conn, table);
  if (entity === 'person') await relinkAll(conn, config);
  return profiles;
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
