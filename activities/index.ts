/** All activities, built once per worker from their dependencies. */
import type { ResolverBatchConfig } from '../platform/config';
import type { Knex } from 'knex';
import type { Logger } from '../platform/logger';
import { createFileIngestionActivities } from './file-ingestion';
import { createIdentityActivities } from './identity';
import { createResolverActivities } from './resolver';
import { createReconcileActivities } from './reconcile';
import { createSyncActivities } from './sync';

export function createActivities(deps: { db: Knex; log: Logger; resolverBatch?: ResolverBatchConfig }) {
  return { ...createFileIngestionActivities(deps), ...createSyncActivities(deps), ...createReconcileActivities(deps), ...createIdentityActivities(deps), ...createResolverActivities(deps) };
}
