/**
 * The graph the incremental path maintains must equal a full recompute of the stored records and
 * a replay of the decision log — checked in one REPEATABLE READ snapshot, so test files writing
 * at the same time cannot make it flaky.
 */
import assert from 'node:assert/strict';
import { ENTITIES, ENTITY_TABLES, RECORD_NAMESPACE } from '../../domain/identity/config';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import { inPgTransaction } from '../../db/pg-transaction';
import { fullResolution, linkDecisions, profilesByRecord } from '../../engine/identity/rebuild';
import { replayDecisionLog } from '../../engine/identity/replay-log';
import { testDb } from './env';

/**
 * `instances`: check only the records of these source instances (a test that owns them, whose
 * records link to nothing outside them) — the whole database otherwise.
 */
export async function assertGraphMatchesRecompute(instances?: string[]): Promise<void> {
  const mine = (key: string) => !instances || instances.some((i) => key.includes(`@${i}.`));
  const db = testDb();
  const config = await loadIdentityConfig(db);
  await inPgTransaction(db, async (conn) => {
    await conn.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    for (const entity of ENTITIES) {
      const full = await fullResolution(conn, config, entity, instances ? { instances } : {});
      const profileOf = profilesByRecord(full);
      const replayed = await replayDecisionLog(conn, config, entity, instances?.map((i) => `@${i}.`));
      const heldRows = (await conn.query(`SELECT node, profile_id, component_id::float8 AS component_id FROM identity_record WHERE entity = $1`, [entity])).rows.filter((r) => mine(r.node));
      const held = new Map<string, string>(heldRows.map((r) => [r.node, r.profile_id]));
      const componentOf = new Map(full.table.keys.map((k, i) => [k, full.componentOf[i]!]));
      for (const r of heldRows) assert.equal(r.component_id, componentOf.get(r.node), `${entity} ${r.node}: stored component id = full recompute`);
      assert.equal(held.size, profileOf.size, `${entity}: the graph holds every stored record`);
      for (const [node, p] of profileOf) {
        assert.equal(held.get(node), p, `${entity} ${node}: incremental profile = full recompute`);
        assert.equal(replayed.get(node), p, `${entity} ${node}: decision-log replay = full recompute`);
      }
      assert.equal(replayed.size, profileOf.size, `${entity}: the log replays to the same records`);
      const links = (await conn.query(`SELECT node, identity, outcome, rule, component_id::float8 AS component_id FROM identity_link WHERE node LIKE $1`, [`${RECORD_NAMESPACE[entity]}:%`])).rows.filter((l) => mine(l.node));
      for (const l of links) assert.equal(l.component_id, componentOf.get(l.node), `link ${l.node} → ${l.identity}: stored component id = full recompute`);
      const decided = new Map([...linkDecisions(full)].map((d) => [`${d.record} ${d.identity}`, d]));
      assert.equal(links.length, decided.size, `${entity}: same links`);
      for (const l of links) {
        const d = decided.get(`${l.node} ${l.identity}`);
        assert.ok(d, `link ${l.node} → ${l.identity} is in the full recompute`);
        assert.equal(l.outcome, d.outcome, `${l.node} → ${l.identity}`);
        assert.equal(l.rule, d.rule);
      }
      const profiles = new Set(held.values());
      const table = ENTITY_TABLES[entity].profiles;
      const stored = new Set(
        (await conn.query(`SELECT profile_id, record_keys FROM ${table}`)).rows.filter((r) => r.record_keys.some((k: string) => mine(`:${k}`))).map((r) => r.profile_id),
      );
      assert.deepEqual([...stored].filter((p) => !profiles.has(p)), [], `${entity}: no profile without records`);
      assert.deepEqual([...profiles].filter((p) => !stored.has(p)), [], `${entity}: every cluster has its profile`);
    }
  });
}
