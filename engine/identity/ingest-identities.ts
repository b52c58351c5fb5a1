/**
 * Identities extracted at ingest (DESIGN §1): a write of person or account records stores, with
 * each canonical row, what its fields say it is — the same extraction the resolver would run,
 * under the configuration version in force — so the resolver and a full recompute read narrow
 * columns instead of the record's JSON.
 */
import type { Knex } from 'knex';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import type { Entity } from '../../domain/identity/config';
import { extractIdentities, storedIdentitiesOf } from '../../domain/identity/extract';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import type { IdentityExtraction } from '../../db/repositories/ingest-batches';
import { blockListOf } from './resolve-records';

const ENTITY_OF_CLASS: Partial<Record<string, Entity>> = { person: 'person', account: 'account' };

/** Which extraction a write of each class stores (undefined: the class carries no identities). */
export type IdentityExtractions = (spec: XdmClassSpec) => IdentityExtraction | undefined;

/**
 * The extractions under the configuration in force, loaded before the write's transaction (the
 * configuration is read on a pooled connection of its own). If the configuration changes before
 * the write commits, its rows carry the older version and are re-extracted by their reader.
 */
export async function identityExtractions(db: Knex): Promise<IdentityExtractions> {
  // Reused for up to a second: the version and the configuration travel together, so a write
  // that uses a just-superseded pair stamps its rows with the older version (re-extracted later).
  const held = recent.get(db);
  if (held && held.until > Date.now()) return held.extractions;
  const extractions = await loadExtractions(db);
  recent.set(db, { extractions, until: Date.now() + 1000 });
  return extractions;
}

const recent = new WeakMap<Knex, { extractions: IdentityExtractions; until: number }>();

async function loadExtractions(db: Knex): Promise<IdentityExtractions> {
  const config = await loadIdentityConfig(db);
  const version = config.version;
  if (version === undefined) return () => undefined;
  const blocks = blockListOf(config);
  const byEntity = new Map<Entity, IdentityExtraction>();
  for (const entity of ['person', 'account'] as const) {
    byEntity.set(entity, {
      configVersion: version,
      of: (r) =>
        storedIdentitiesOf(
          extractIdentities(entity, { recordKey: r.key.key, sourceType: r.key.sourceType, sourceInstanceId: r.key.sourceInstanceID, accountKey: null, record: r.record }, config, blocks),
        ),
    });
  }
  return (spec) => {
    const entity = ENTITY_OF_CLASS[spec.name];
    return entity ? byEntity.get(entity) : undefined;
  };
}
