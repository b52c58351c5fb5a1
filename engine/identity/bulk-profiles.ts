/**
 * Profiles for a whole entity at once (a rebuild): materialised from the records streamed once —
 * person rows in worker threads (platform/ts-worker.ts) from the JSON text, so parsing and merging
 * use the other cores while this thread moves rows — COPYed into a shadow table swapped in, and
 * people's account links written with set-based SQL —
 * the same rows the incremental path writes (personRow / accountRow / relinkPeople), without a
 * round trip per profile. Lead-to-account matching runs for the people no source links.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { IdentityConfig } from '../../domain/identity/config';
import { ENTITY_TABLES, RECORD_NAMESPACE } from '../../domain/identity/config';
import { resolveHierarchy } from '../../domain/profiles/hierarchy';
import { copyArray, CopyBuffer, copyValue, type PgConn } from '../../db/pg-transaction';
import { createShadow, indexShadow, rebuildAccountLinks, recordRebuiltProfiles, storedFragments, swapShadows, unlinkedPeople } from '../../db/repositories/identity-rebuild';
import { WorkerPool } from '../../platform/ts-worker';
import { accountRow, provenanceByRecord, relinkPeople, type AccountRow } from './profiles';
import type { PersonProfileJob } from './profile-rows-worker';
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
  const table = ENTITY_TABLES[full.entity].profiles;
  await createShadow(conn, table);
  if (full.entity === 'person') await writePeople(db, conn, config, full, table);
  else await writeAccounts(db, conn, config, full, table);
  const profiles = await recordRebuiltProfiles(conn, full.entity, table, cause);
  const shadows = [await indexShadow(conn, table)];
  if (full.entity === 'person') shadows.push(await rebuildAccountLinks(conn, `${RECORD_NAMESPACE.person}:`));
  await swapShadows(conn, shadows);
  return profiles;
}

/** Profiles per worker-thread job, and jobs in flight per thread. */
const JOB_PROFILES = 1_000;
const JOBS_IN_FLIGHT = 3;

/** Threads that build person rows during a rebuild: every core but the one moving the rows. */
function rebuildThreads(): number {
  const configured = Number(process.env.TESSERA_REBUILD_THREADS);
  if (Number.isInteger(configured) && configured > 0) return Math.min(configured, 16);
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * Groups the streamed records of an entity by profile: `complete` gets each profile as soon as
 * its last record has arrived (most have one), and once more at the end for profiles some of
 * whose records are gone.
 */
async function streamProfiles<R extends 'json' | 'text'>(
  db: Knex,
  full: FullResolution,
  recordAs: R,
  complete: (anchor: number, frags: Array<{ recordKey: string; sourceInstanceId: string | null; updatedAt: string; record: R extends 'text' ? string : Record<string, unknown> }>) => Promise<void>,
): Promise<void> {
  const { table: graph, entity } = full;
  const { anchorOf } = full.resolution;
  const recordsIn = new Int32Array(graph.nodeCount);
  for (const r of full.records) recordsIn[anchorOf[r]!]!++;
  type Frag = Parameters<typeof complete>[1][number];
  const pending = new Map<number, Frag[]>();
  const ns = `${RECORD_NAMESPACE[entity]}:`;
  for await (const rows of storedFragments(db, ENTITY_TABLES[entity].records, recordAs)) {
    for (const row of rows) {
      const node = graph.indexOf(ns + row.record_key);
      if (node === undefined || !graph.isRecord(node)) continue;
      const anchor = anchorOf[node]!;
      const fragment: Frag = { recordKey: row.record_key, sourceInstanceId: row.source_instance_id, updatedAt: row.updated_at.toISOString(), record: row.record };
      if (recordsIn[anchor] === 1) {
        await complete(anchor, [fragment]);
        continue;
      }
      const frags = pending.get(anchor) ?? pending.set(anchor, []).get(anchor)!;
      frags.push(fragment);
      if (frags.length === recordsIn[anchor]) {
        pending.delete(anchor);
        await complete(anchor, frags);
      }
    }
  }
  for (const [anchor, frags] of pending) await complete(anchor, frags);
}

/** Nodes in each anchor's cluster: its records and the identities they link. */
function clusterSizes(full: FullResolution): Int32Array {
  const size = new Int32Array(full.table.nodeCount);
  for (let i = 0; i < full.table.nodeCount; i++) size[full.resolution.anchorOf[i]!]!++;
  return size;
}

/** Person rows: built in worker threads from the records' JSON text, COPYed as they come back. */
async function writePeople(db: Knex, conn: PgConn, config: IdentityConfig, full: FullResolution, table: string): Promise<void> {
  const size = clusterSizes(full);
  const threads = rebuildThreads();
  const pool = new WorkerPool<PersonProfileJob, string>(join(__dirname, 'profile-rows-worker.ts'), { config }, threads);
  const out = new CopyBuffer(conn, `${table}_next (profile_id, anchor, attributes, provenance, record_keys, person_types, identity_count)`, 1);
  const inFlight: Array<Promise<string>> = [];
  let job: PersonProfileJob['profiles'] = [];
  const send = async () => {
    if (job.length) inFlight.push(pool.run({ profiles: job }));
    job = [];
    while (inFlight.length >= threads * JOBS_IN_FLIGHT) await out.add(await inFlight.shift()!);
  };
  try {
    await streamProfiles(db, full, 'text', async (anchor, frags) => {
      job.push({ profileId: full.profileIdOf(anchor), anchor: full.table.keys[anchor]!, count: size[anchor]!, frags });
      if (job.length >= JOB_PROFILES) await send();
    });
    await send();
    for (const chunk of inFlight.splice(0)) await out.add(await chunk);
    await out.flush();
  } finally {
    await pool.close(); // jobs still in flight are rejected, never left pending
  }
}

/** Account rows, with the hierarchy resolved over all of them (accounts are few). */
async function writeAccounts(db: Knex, conn: PgConn, config: IdentityConfig, full: FullResolution, table: string): Promise<void> {
  const { table: graph } = full;
  const size = clusterSizes(full);
  const accounts: AccountRow[] = [];
  await streamProfiles(db, full, 'json', async (anchor, frags) => {
    accounts.push(accountRow(config, full.profileIdOf(anchor), graph.keys[anchor]!, frags, size[anchor]!));
  });
  const ns = `${RECORD_NAMESPACE.account}:`;
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

/**
 * Lead-to-account matching for the people no source links to an account (after the rebuilt
 * profiles and links are in), in batches of 5,000.
 */
export async function matchUnlinkedPeople(conn: PgConn, config: IdentityConfig): Promise<void> {
  if (!config.settings.leadToAccount.enabled) return;
  const unlinked = await unlinkedPeople(conn);
  for (let i = 0; i < unlinked.length; i += 5_000) {
    await relinkPeople(conn, config, unlinked.slice(i, i + 5_000).map((u) => ({ profileId: u.profile_id, recordKeys: u.record_keys, attributes: u.attributes })));
  }
}
