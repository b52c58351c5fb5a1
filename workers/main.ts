/**
 * Worker process entry point (`npm run worker`; docker-compose `worker`). Stateless: run as many
 * as needed on the same task queue. Stops cleanly on SIGINT/SIGTERM: in-flight activities get
 * the grace period, then the database pool and the connection are closed.
 */
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { createDb, redactUrl } from '../db/connection';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { ensureSearchAttributes } from '../platform/temporal';
import { createTesseraWorker } from './tessera-worker';
import { Connection } from '@temporalio/client';

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
  const added = await ensureSearchAttributes(client, config.temporalNamespace);
  if (added.length) log.info({ added }, 'registered search attributes');
  await client.close();

  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const db = createDb(config.databaseUrl);
  const worker = await createTesseraWorker({ connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, db, log });
  log.info({ temporal: config.temporalAddress, namespace: config.temporalNamespace, taskQueue: config.taskQueue, database: redactUrl(config.databaseUrl) }, 'worker started');
  try {
    await worker.run();
  } finally {
    await db.destroy();
    await connection.close();
    log.info('worker stopped');
  }
}

main().catch((e) => {
  process.stderr.write(`worker failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
