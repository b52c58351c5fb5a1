/** Every workflow, for the worker's bundle. */
export { backfill } from './backfill';
export { ingestFile } from './ingestion';
export { identityChange, identityRebuild } from './identity';
export { sync, syncStream } from './sync';
export { identityResolver } from './resolver';
export { reconcile } from './reconcile';
