/**
 * Full recompute: every stored person and account resolved from scratch with the same rules the
 * incremental path applies (domain/identity/resolve-indexed.ts equals resolve.ts decision for
 * decision), keeping each record's and link's first-seen sequence (so ids stay what they were).
 *
 * `fullResolution` only computes (tests compare it with the incremental graph).
 * `rebuildIdentityGraph` replaces the graph and then the profiles with it (after a configuration
 * change, or for a first load), without stopping the world:
 * 1. narrow reads: each record's identity fields selected by SQL/JSON path, never its JSON;
 * 2. resolution over interned integer ids and typed arrays;
 * 3. the graph COPYed into shadow tables, indexed, and swapped in — graph ready (one commit);
 * 4. the decision log's entries for the rebuild (one commit);
 * 5. profiles built from the records streamed once (person rows in worker threads), COPYed into
 *    shadows and swapped in, account links likewise — profiles ready (a commit per entity).
 * Ingestion goes on throughout (it only stores and queues); the resolvers wait for the graph lock,
 * held from 1 to 5, and drain what was queued meanwhile once it is released.
 */
import type { Knex } from 'knex';
import { ENTITIES, ENTITY_TABLES, RECORD_NAMESPACE, type Entity, type IdentityConfig } from '../../domain/identity/config';
import { extractIdentitiesOf, identitiesFromStored, identityFieldPath, identityFields, pathStrings, type ExtractedIdentity } from '../../domain/identity/extract';
import { profileIdOf } from '../../domain/identity/profile-id';
import type { IdentityKey, RejectionRule } from '../../domain/identity/resolve';
import { componentIdsIndexed, EvidenceTable, OUTCOMES, resolveIndexed, type IndexedResolution } from '../../domain/identity/resolve-indexed';
import { copyArray, CopyBuffer, copyValue, inTransactionOn, type PgConn } from '../../db/pg-transaction';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import { holdGraph } from '../../db/repositories/identity-graph';
import { allowLargeSorts, analyzeAfterRebuild, createShadow, doNotLinkOf, indexShadow, laterLinkSeqs, narrowRecords, reserveSeqs, swapShadows } from '../../db/repositories/identity-rebuild';
import { blockListOf, linkingRules } from './resolve-records';
import { matchUnlinkedPeople, writeProfilesInBulk } from './bulk-profiles';

export interface FullResolution {
  entity: Entity;
  /** Every record and identity, interned; links in the order they were read. */
  table: EvidenceTable;
  resolution: IndexedResolution;
  /** The record nodes (indices into `table`), in read order, and the range of each one's links. */
  records: Int32Array;
  linkStart: Int32Array;
  linkEnd: Int32Array;
  /** Per link: the record field it came from. */
  linkFields: string[];
  /** Per node: its evidence component's id (see evidenceComponentIds). */
  componentOf: Float64Array;
  /** The profile id of a node's cluster (named after its anchor). */
  profileIdOf(node: number): string;
}

/**
 * Resolves every stored record of an entity (inside the caller's transaction, for a consistent
 * read). `instances` restricts it to the records of some source instances — a full recompute of
 * their components only when nothing outside them links to them (tests that own their instances).
 */
export async function fullResolution(conn: PgConn, config: IdentityConfig, entity: Entity, opts: { instances?: string[] } = {}): Promise<FullResolution> {
  const nodePrefix = `${RECORD_NAMESPACE[entity]}:`;
  const fields = identityFields(entity, config);
  const paths = fields.map(identityFieldPath);
  const fieldIndex = new Map(fields.map((f, i) => [f, i]));
  const blocks = blockListOf(config);
  const laterSeq = new Map((await laterLinkSeqs(conn, nodePrefix)).map((l) => [`${l.node}\u0000${l.identity}`, l.seq]));

  const table = new EvidenceTable();
  const records: number[] = [];
  const linkStart: number[] = [];
  const linkEnd: number[] = [];
  const linkFields: string[] = [];
  const add = (node: IdentityKey, seen: number, scope: string | undefined, identities: ExtractedIdentity[]) => {
    const r = table.addRecord(node, seen, scope);
    records.push(r);
    linkStart.push(table.linkCount);
    for (const i of identities) {
      table.addLink(r, i.key, laterSeq.get(`${node}\u0000${i.key}`) ?? seen);
      linkFields.push(i.field);
    }
    linkEnd.push(table.linkCount);
  };
  // Records the graph does not hold yet get sequence numbers after the read, in storage order (then key).
  const fresh: Array<{ node: IdentityKey; scope: string | undefined; identities: ExtractedIdentity[]; created: number }> = [];
  const reads = narrowRecords(conn, {
    table: ENTITY_TABLES[entity].records,
    hasAccountKey: entity === 'person',
    nodePrefix,
    paths: paths.map((p) => p.path),
    configVersion: config.version,
    ...(opts.instances ? { instances: opts.instances } : {}),
  });
  const pathValues = (values: unknown[], field: string) => {
    const i = fieldIndex.get(field)!;
    return pathStrings(values[i], paths[i]!.flatten);
  };
  for await (const rows of reads) {
    for (const row of rows) {
      const facts = { recordKey: row.record_key, sourceType: row.source_type, sourceInstanceId: row.source_instance_id, accountKey: row.account_key };
      const x =
        row.identities !== null
          ? identitiesFromStored(entity, facts, row.identities, row.identity_fields ?? [], config)
          : extractIdentitiesOf(entity, facts, (field) => pathValues(row.values!, field), config, blocks);
      if (row.first_seen === null) fresh.push({ node: x.record, scope: x.scope, identities: x.identities, created: row.created });
      else add(x.record, row.first_seen, x.scope, x.identities);
    }
  }
  fresh.sort((a, b) => a.created - b.created || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  let next = await reserveSeqs(conn, fresh.length);
  for (const f of fresh) add(f.node, next++, f.scope, f.identities);

  const resolution = resolveIndexed(table, linkingRules(config, await doNotLinkOf(conn, entity)));
  const ids = new Map<number, string>();
  const profileIdOfNode = (node: number): string => {
    const anchor = resolution.anchorOf[node]!;
    let id = ids.get(anchor);
    if (id === undefined) ids.set(anchor, (id = profileIdOf(table.keys[anchor]!)));
    return id;
  };
  return {
    entity,
    table,
    resolution,
    records: Int32Array.from(records),
    linkStart: Int32Array.from(linkStart),
    linkEnd: Int32Array.from(linkEnd),
    linkFields,
    componentOf: componentIdsIndexed(table),
    profileIdOf: profileIdOfNode,
  };
}

/** Each record's profile id, by record node. */
export function profilesByRecord(full: FullResolution): Map<IdentityKey, string> {
  const out = new Map<IdentityKey, string>();
  for (const r of full.records) out.set(full.table.keys[r]!, full.profileIdOf(r));
  return out;
}

/** Each link's decision, by link index. */
export function* linkDecisions(full: FullResolution): Iterable<{ record: IdentityKey; identity: IdentityKey; seq: number; field: string; outcome: (typeof OUTCOMES)[number]; rule: RejectionRule | null }> {
  const { linkRecord, linkIdentity, linkSeq } = full.table.columns();
  for (let l = 0; l < linkSeq.length; l++) {
    yield {
      record: full.table.keys[linkRecord[l]!]!,
      identity: full.table.keys[linkIdentity[l]!]!,
      seq: linkSeq[l]!,
      field: full.linkFields[l]!,
      outcome: OUTCOMES[full.resolution.outcome[l]!]!,
      rule: full.resolution.rules.get(l) ?? null,
    };
  }
}

export interface RebuildResult {
  entity: Entity;
  records: number;
  links: number;
  profiles: number;
  /** This entity's phases: read + resolve, graph COPYed into the shadows, profiles built and swapped in. */
  ms: { resolve: number; graph: number; profiles: number };
  /** Since the rebuild started: the new graph (both entities, indexed, swapped in) committed. */
  graphReadyMs: number;
  /** Since the rebuild started: this entity's profiles committed. */
  profilesReadyMs: number;
}

/**
 * Replaces the graph, then the profiles, of both entities with a full recompute. Resolutions in
 * flight finish first; none starts until the profiles are in (the graph lock is held across both
 * commits). Nothing else waits: ingestion stores and queues, and readers see the previous graph
 * and profiles until each swap.
 */
export async function rebuildIdentityGraph(db: Knex, opts: { actor?: string } = {}): Promise<RebuildResult[]> {
  const config = await loadIdentityConfig(db);
  const actor = opts.actor ?? 'rebuild';
  // Every phase runs on the connection that holds the graph: the lock cannot be lost unnoticed
  // while the rebuild goes on (its session ending ends the rebuild too).
  return holdGraph(db, async (conn) => {
    const t0 = performance.now();
    const resolved = await inTransactionOn(conn, async () => {
      await allowLargeSorts(conn);
      await createShadow(conn, 'identity_record');
      await createShadow(conn, 'identity_link');
      const out: Array<{ full: FullResolution; resolveMs: number; graphMs: number }> = [];
      for (const entity of ENTITIES) {
        const t = performance.now();
        const full = await fullResolution(conn, config, entity);
        const resolveMs = performance.now() - t;
        await writeGraph(conn, full, actor);
        out.push({ full, resolveMs, graphMs: performance.now() - t - resolveMs });
      }
      await swapShadows(conn, [await indexShadow(conn, 'identity_record'), await indexShadow(conn, 'identity_link')]);
      return out;
    });
    const graphReadyMs = performance.now() - t0;
    // The decision log's entries for the rebuild land after the graph: still before any other
    // writer's (the graph is held), so the log stays in processing order and replays exactly.
    await inTransactionOn(conn, async () => {
      for (const { full } of resolved) await writeLog(conn, full, actor);
    });
    const results: RebuildResult[] = [];
    // Accounts first: people's lead-to-account matching reads the account profiles.
    const accountsFirst = [...resolved].sort((a, b) => Number(a.full.entity === 'person') - Number(b.full.entity === 'person'));
    for (const { full, resolveMs, graphMs } of accountsFirst) {
      const t = performance.now();
      const profiles = await inTransactionOn(conn, async () => {
        await allowLargeSorts(conn);
        return writeProfilesInBulk(db, conn, config, full, actor);
      });
      if (full.entity === 'person') await inTransactionOn(conn, () => matchUnlinkedPeople(conn, config));
      results.push({
        entity: full.entity,
        records: full.records.length,
        links: full.table.linkCount,
        profiles,
        ms: { resolve: resolveMs, graph: graphMs, profiles: performance.now() - t },
        graphReadyMs,
        profilesReadyMs: performance.now() - t0,
      });
    }
    await analyzeAfterRebuild(db);
    return results;
  });
}

/** One entity's graph into the shadows. */
async function writeGraph(conn: PgConn, full: FullResolution, actor: string): Promise<void> {
  const { entity, table } = full;
  const { linkRecord, linkIdentity, linkSeq } = table.columns();
  const now = new Date().toISOString();
  const records = new CopyBuffer(conn, 'identity_record_next (node, entity, record_key, scope, first_seen, profile_id, component_id)');
  for (const r of full.records) {
    const node = table.keys[r]!;
    await records.add(`${copyValue(node)}\t${entity}\t${copyValue(node.slice(node.indexOf(':') + 1))}\t${copyValue(table.scopeOf(r) ?? null)}\t${table.recordSeqOf(r)}\t${full.profileIdOf(r)}\t${full.componentOf[r]}\n`);
  }
  await records.flush();
  const links = new CopyBuffer(conn, 'identity_link_next (node, identity, seq, field, outcome, rule, observed_at, component_id)');
  for (let l = 0; l < linkSeq.length; l++) {
    const rule = full.resolution.rules.get(l) ?? null;
    await links.add(`${copyValue(table.keys[linkRecord[l]!]!)}\t${copyValue(table.keys[linkIdentity[l]!]!)}\t${linkSeq[l]}\t${copyValue(full.linkFields[l]!)}\t${OUTCOMES[full.resolution.outcome[l]!]}\t${copyValue(rule)}\t${now}\t${full.componentOf[linkRecord[l]!]}\n`);
  }
  await links.flush();
}

/** The decision log's entries for the rebuild: one observation per record as it saw it, and each rejected link with its rule. */
async function writeLog(conn: PgConn, full: FullResolution, actor: string): Promise<void> {
  const { entity, table } = full;
  const { linkRecord, linkIdentity, linkSeq } = table.columns();
  const log = new CopyBuffer(conn, 'identity_decision (entity, kind, node, identity, seq, identities, scope, rule, profile_id, actor)');
  for (let i = 0; i < full.records.length; i++) {
    const r = full.records[i]!;
    const ids: string[] = [];
    for (let l = full.linkStart[i]!; l < full.linkEnd[i]!; l++) ids.push(table.keys[linkIdentity[l]!]!);
    await log.add(`${entity}\tobserve\t${copyValue(table.keys[r]!)}\t\\N\t${table.recordSeqOf(r)}\t${copyArray(ids)}\t${copyValue(table.scopeOf(r) ?? null)}\t\\N\t${full.profileIdOf(r)}\t${copyValue(actor)}\n`);
  }
  const key = (l: number) => [table.keys[linkRecord[l]!]!, table.keys[linkIdentity[l]!]!] as const;
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const rejected = [...full.resolution.rules].sort(([a], [b]) => linkSeq[a]! - linkSeq[b]! || cmp(key(a)[0], key(b)[0]) || cmp(key(a)[1], key(b)[1]));
  for (const [l, rule] of rejected) {
    await log.add(`${entity}\treject\t${copyValue(table.keys[linkRecord[l]!]!)}\t${copyValue(table.keys[linkIdentity[l]!]!)}\t${linkSeq[l]}\t\\N\t\\N\t${copyValue(rule)}\t${full.profileIdOf(linkRecord[l]!)}\t${copyValue(actor)}\n`);
  }
  await log.flush();
}
