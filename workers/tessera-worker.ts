/** Builds Tessera's worker: one task queue, every workflow and activity, the encrypting data converter. */
import type { ResolverBatchConfig } from '../platform/config';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Knex } from 'knex';
import { createActivities } from '../activities';
import type { Logger } from '../platform/logger';
import { tesseraDataConverter } from '../platform/temporal';

export interface TesseraWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Knex;
  log: Logger;
  /** Most records a resolver micro-batch claims (default 5,000). */
  resolverBatch?: ResolverBatchConfig;
  /** A pre-built bundle (tests build it once per process), else TESSERA_WORKFLOW_BUNDLE (a bundle file), else the worker bundles workflows/ itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createTesseraWorker(deps: TesseraWorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle }
      : process.env.TESSERA_WORKFLOW_BUNDLE ? { workflowBundle: { codePath: process.env.TESSERA_WORKFLOW_BUNDLE } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({ db: deps.db, log: deps.log, resolverBatch: deps.resolverBatch }),
    dataConverter: tesseraDataConverter(),
    shutdownGraceTime: '20s',
    maxConcurrentActivityTaskExecutions: 20,
    // Heartbeats reach Temporal at least every 2 s, so a cancellation (a paused resolver) is seen within seconds.
    maxHeartbeatThrottleInterval: '2s',
  });
}
