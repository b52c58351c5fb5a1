/**
 * Replaying the decision log: the clusters are a projection of it. Folding the observations,
 * removals and do-not-link / allow-link entries in log order rebuilds the evidence (each link with
 * the sequence at which it was first seen), and resolving it gives the clusters and profile ids —
 * the same as the graph holds, under the configuration in force (a configuration change takes
 * effect through a rebuild, which logs its own observations).
 */
import type { Entity, IdentityConfig } from '../../domain/identity/config';
import { profileIdOf } from '../../domain/identity/profile-id';
import { resolveAll, type IdentityKey, type Link } from '../../domain/identity/resolve';
import type { PgConn } from '../../db/pg-transaction';
import { decisionLogPages } from '../../db/repositories/identity-graph';
import { linkingRules } from './resolve-records';

/** `only`: keep just the log entries naming a node that contains one of these strings (a test's own source instances). */
export async function replayDecisionLog(conn: PgConn, config: IdentityConfig, entity: Entity, only?: string[]): Promise<Map<IdentityKey, string>> {
  const mine = (d: { node: string; identity: string | null }) => !only || only.some((o) => d.node.includes(o) || (d.identity ?? '').includes(o));
  const records = new Map<IdentityKey, number>();
  const scopes = new Map<IdentityKey, string>();
  const links = new Map<IdentityKey, Map<IdentityKey, number>>();
  const pairs = new Map<string, readonly [string, string]>();
  for await (const rows of decisionLogPages(conn, entity)) {
    for (const d of rows) {
      if (!mine(d)) continue;
      if (d.kind === 'observe') {
        if (!records.has(d.node)) records.set(d.node, d.seq!);
        if (d.scope === null) scopes.delete(d.node);
        else scopes.set(d.node, d.scope);
        const held = links.get(d.node) ?? new Map<IdentityKey, number>();
        const now = new Map<IdentityKey, number>();
        for (const i of d.identities ?? []) now.set(i, held.get(i) ?? d.seq!);
        links.set(d.node, now);
      } else if (d.kind === 'remove') {
        records.delete(d.node);
        scopes.delete(d.node);
        links.delete(d.node);
      } else if (d.kind === 'do-not-link') {
        pairs.set(`${d.node}\u0000${d.identity}`, [d.node, d.identity!]);
      } else if (d.kind === 'allow-link') {
        pairs.delete(`${d.node}\u0000${d.identity}`);
      }
    }
  }
  const evidence: Link[] = [];
  for (const [record, ids] of links) for (const [identity, seq] of ids) evidence.push({ record, identity, seq });
  const resolution = resolveAll({ records, links: evidence, scopes }, linkingRules(config, [...pairs.values()]));
  const out = new Map<IdentityKey, string>();
  for (const node of records.keys()) out.set(node, profileIdOf(resolution.clusterOf.get(node) ?? node));
  return out;
}
