/**
 * Builds the connector of a configured instance: its settings from source_instance, its
 * credentials from the secrets (env, *_FILE or the secrets file — never from workflow inputs),
 * every HTTP call gated by the instance's request budget in Postgres. Connectors are cached per
 * process (their token caches with them) until the instance's configuration changes.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { withRequestBudget } from './request-budget';
import { SOURCE_CONNECTORS } from '../../connectors/sources/registry';
import type { SourceConnector, SourceCredentials } from '../../connectors/sources/source-connector';
import { InvalidRequest } from '../../domain/errors';
import { credentialSecretNames, endpointProblem, instancePath, type SourceTypeName } from '../../domain/sync/source-instance';
import { configureBudget } from '../../db/repositories/request-budgets';
import { getSourceInstance, type SourceInstanceRow } from '../../db/repositories/source-instances';
import { readSecret, simulatedSourcesAllowed } from '../../platform/config';
import type { Logger } from '../../platform/logger';

/** A live call renews its lease; a killed worker's lapses after this long and frees its slot. */
const LEASE_TTL_MS = 15_000;

export interface Connection {
  row: SourceInstanceRow;
  label: string;
  connector: SourceConnector;
}

export function budgetKey(sourceType: string, instanceId: string): string {
  return `${sourceType}:${instanceId}`;
}

export function readCredentials(credentialsRef: string, env: NodeJS.ProcessEnv = process.env): SourceCredentials {
  const names = credentialSecretNames(credentialsRef);
  const clientId = readSecret(names.clientId, env);
  const clientSecret = readSecret(names.clientSecret, env);
  const missing = [!clientId && names.clientId, !clientSecret && names.clientSecret].filter(Boolean);
  if (missing.length) throw new InvalidRequest(`missing secrets ${missing.join(' and ')}: set them in the environment, as *_FILE, or in TESSERA_SECRETS_FILE`);
  return { clientId: clientId!, clientSecret: clientSecret! };
}

export function createConnectionCache(deps: { db: Knex; log: Logger }) {
  const cache = new Map<string, { stamp: string; connection: Connection }>();

  return async function connect(sourceType: string, instanceId: string): Promise<Connection> {
    const row = await getSourceInstance(deps.db, sourceType, instanceId);
    const label = instancePath(sourceType, instanceId);
    if (!row) throw new InvalidRequest(`no source instance ${label} is configured`);
    // Checked again when connecting: a row stored before the rule, or while simulators were allowed.
    const endpoints = endpointProblem({ sourceType: row.source_type as SourceTypeName, endpoint: row.endpoint, authEndpoint: row.auth_endpoint ?? undefined }, simulatedSourcesAllowed());
    if (endpoints) throw new InvalidRequest(`source instance ${label}: ${endpoints}`);
    const credentials = readCredentials(row.credentials_ref);
    // A changed configuration or rotated secret makes a new connector (and a new token).
    const stamp = `${row.updated_at.getTime()}:${createHash('sha256').update(`${credentials.clientId}\n${credentials.clientSecret}`).digest('hex')}`;
    const cached = cache.get(label);
    if (cached && cached.stamp === stamp) return cached.connection;

    const module = SOURCE_CONNECTORS[row.source_type];
    const key = budgetKey(row.source_type, row.instance_id);
    await configureBudget(deps.db, key, { ...module.budget, leaseTtlMs: LEASE_TTL_MS });
    const log = deps.log.child({ source: label });
    const connector = module.create({
      instance: { sourceType: row.source_type, instanceId: row.instance_id, endpoint: row.endpoint, authEndpoint: row.auth_endpoint ?? undefined, settings: row.settings },
      credentials,
      gate: (call, signal) => withRequestBudget(deps.db, key, call, { signal }),
      log: { info: (f, m) => log.info(f, m), warn: (f, m) => log.warn(f, m) },
    });
    const connection = { row, label, connector };
    cache.set(label, { stamp, connection });
    return connection;
  };
}
