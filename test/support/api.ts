/** An API instance on the run's database, for inject()-style tests. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { buildApp } from '../../api/app';
import { lazyTemporal } from '../../api/temporal-access';
import { log, requireEnv, testDb } from './env';

export async function testApi(opts: { db?: Knex; taskQueue?: string; importDirs?: string[]; maxUploadBytes?: number } = {}) {
  process.env.TESSERA_PAYLOAD_KEY ??= randomBytes(32).toString('base64');
  const temporal = lazyTemporal({ address: requireEnv('TEMPORAL_ADDRESS'), namespace: process.env.TEMPORAL_NAMESPACE ?? 'tessera', taskQueue: opts.taskQueue ?? 'unused' });
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-api-'));
  const app = await buildApp({ db: opts.db ?? testDb(), temporal, log, dataDir, importDirs: opts.importDirs ?? [dataDir, tmpdir()], maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024 });
  return { app, dataDir, close: async () => { await app.close(); await temporal.close(); } };
}
