/** An API instance on the run's database, for inject()-style tests. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { buildApp } from '../../api/app';
import { lazyTemporal } from '../../api/temporal-access';
import { ResolutionWatcher } from '../../engine/identity/read-your-writes';
import { runResolversUntil } from '../../engine/identity/resolver';
import { log, requireEnv, testDb } from './env';

/**
 * `resolvers` (default on): the identity resolvers' loop (engine/identity/resolver.ts, the code the
 * resolver workflow's activity runs) drains the queue in this process while the API is up, so
 * ingest answers name their profiles. test/resolver-workflow.test.ts runs it through Temporal.
 */
export async function testApi(opts: { db?: Knex; taskQueue?: string; importDirs?: string[]; maxUploadBytes?: number; resolvers?: boolean; resolveWaitMs?: number } = {}) {
  process.env.TESSERA_PAYLOAD_KEY ??= randomBytes(32).toString('base64');
  const db = opts.db ?? testDb();
  const temporal = lazyTemporal({ address: requireEnv('TEMPORAL_ADDRESS'), namespace: process.env.TEMPORAL_NAMESPACE ?? 'tessera', taskQueue: opts.taskQueue ?? 'unused' });
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-api-'));
  const watcher = new ResolutionWatcher(db);
  const app = await buildApp({
    db,
    temporal,
    log,
    dataDir,
    importDirs: opts.importDirs ?? [dataDir, tmpdir()],
    maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024,
    resolution: { watcher, waitMs: opts.resolveWaitMs ?? 10_000 },
  });
  const stop = new AbortController();
  const resolvers =
    opts.resolvers === false
      ? Promise.resolve()
      : runResolversUntil(db, stop.signal, {
          holder: `test-api/${process.pid}/${randomBytes(4).toString('hex')}`,
          idlePollMs: 200,
          onError: (entity, e) => log.error({ err: e.message, entity }, 'test resolver failed; restarting'),
        });
  return {
    app,
    dataDir,
    close: async () => {
      stop.abort();
      await resolvers;
      await app.close();
      await watcher.close();
      await temporal.close();
    },
  };
}
