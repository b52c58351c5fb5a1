/**
 * Worker process entry point (`npm run worker`; docker-compose `worker` and `resolver`). Serves
 * the task queues named by TESSERA_WORKER_QUEUES: `core` (syncs, files, sagas, rebuilds),
 * `resolver` (the identity resolvers), or both. `npm start` runs one process of each, so
 * parsing and validating files never waits behind resolution on one Node thread. Stateless: run
 * as many as needed. Stops cleanly on SIGINT/SIGTERM: in-flight activities get the grace period,
 * then the database pool and the connection are closed.
 */
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { createDb, redactUrl } from '../db/connection';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { ensureSearchAttributes } from '../platform/temporal';
import { ALL_SEARCH_ATTRIBUTES } from '../contracts/search-attributes';
import { createTesseraWorker } from './tessera-worker';
import { Connection } from '@temporalio/client';
import { createServer } from 'node:http';
import { withPgConn } from '../db/pg-transaction';
import { resolverStates } from '../db/repositories/identity-queue';
import { collectResolverFigures, metricsText } from '../platform/metrics';

async function main() {
  const config = loadConfig();
  const log = createLogger('worker', config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  Runtime.install({
    logger: new DefaultLogger((config.logLevel.toUpperCase() === 'DEBUG' ? 'DEBUG' : 'INFO') as LogLevel, (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      log[level === 'trace' ? 'debug' : level]({ ...(entry.meta ?? {}) }, entry.message);
    }),
  });

  const client = await Connection.connect({ address: config.temporalAddress });
  const added = await ensureSearchAttributes(client, config.temporalNamespace, ALL_SEARCH_ATTRIBUTES);
  if (added.length) log.info({ added }, 'registered search attributes');
  await client.close();

  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const db = createDb(config.databaseUrl);
  const taskQueues = config.workerQueues.map((q) => (q === 'core' ? config.taskQueue : config.resolverTaskQueue));
  const workers = await Promise.all(taskQueues.map((taskQueue) => createTesseraWorker({ connection, namespace: config.temporalNamespace, taskQueue, db, log, resolverBatch: config.resolverBatch })));
  collectResolverFigures(() => withPgConn(db, resolverStates));
  const metrics = config.workerMetricsPort ? serveMetrics(config.workerMetricsHost, config.workerMetricsPort) : undefined;
  log.info({ temporal: config.temporalAddress, namespace: config.temporalNamespace, taskQueues, database: redactUrl(config.databaseUrl) }, 'worker started');
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    metrics?.close();
    await db.destroy();
    await connection.close();
    log.info('worker stopped');
  }
}

/** Prometheus scrapes the worker at http://host:port/metrics (the resolvers' micro-batches are timed here). */
function serveMetrics(host: string, port: number) {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    metricsText().then(
      (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
      () => res.writeHead(500).end(),
    );
  });
  server.on('error', (e) => process.stderr.write(`worker metrics endpoint not served on ${host}:${port}: ${e.message}\n`));
  server.listen(port, host);
  return server;
}

main().catch((e) => {
  process.stderr.write(`worker failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
