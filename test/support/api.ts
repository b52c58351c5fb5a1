/** An API instance on the run's database, for inject()-style tests. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { InjectOptions } from 'fastify';
import { buildApp, type ApiDeps } from '../../api/app';
import { createApiToken, TokenVerifier } from '../../control/api-tokens';
import type { Role } from '../../domain/access/roles';
import { lazyTemporal } from '../../api/temporal-access';
import { ResolutionWatcher } from '../../engine/identity/read-your-writes';
import { runResolversUntil } from '../../engine/identity/resolver';
import { log, requireEnv, testDb } from './env';
import { testFilesDir } from './files';

/**
 * `resolvers` (default on): the identity resolvers' loop (engine/identity/resolver.ts, the code the
 * resolver workflow's activity runs) drains the queue in this process while the API is up, so
 * ingest answers name their profiles. test/resolver-workflow.test.ts runs it through Temporal.
 */
export async function testApi(
  opts: { db?: Knex; taskQueue?: string; importDirs?: string[]; maxUploadBytes?: number; resolvers?: boolean; resolveWaitMs?: number; allowedHosts?: string[] | null; codec?: ApiDeps['codec']; rateLimitPerMinute?: number; uploadQuota?: ApiDeps['uploadQuota'] } = {},
) {
  process.env.TESSERA_PAYLOAD_KEY ??= randomBytes(32).toString('base64');
  const db = opts.db ?? testDb();
  const temporal = lazyTemporal({ address: requireEnv('TEMPORAL_ADDRESS'), namespace: process.env.TEMPORAL_NAMESPACE ?? 'tessera', taskQueue: opts.taskQueue ?? 'unused' });
  // The data directory (uploads, secrets) lies outside every import directory, as the API insists.
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-api-'));
  const watcher = new ResolutionWatcher(db);
  const app = await buildApp({
    db,
    temporal,
    log,
    dataDir,
    importDirs: opts.importDirs ?? [testFilesDir],
    maxUploadBytes: opts.maxUploadBytes ?? 10 * 1024 * 1024,
    resolution: { watcher, waitMs: opts.resolveWaitMs ?? 10_000 },
    access: { verifier: new TokenVerifier(db, 0), allowedHosts: opts.allowedHosts === undefined ? ['localhost', '127.0.0.1'] : opts.allowedHosts, allowedOrigins: ['http://localhost:8233'] },
    ...(opts.codec ? { codec: opts.codec } : {}),
    ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
    ...(opts.uploadQuota ? { uploadQuota: opts.uploadQuota } : {}),
  });
  // Requests carry an admin token unless they send their own Authorization header;
  // `unauthenticated` sends none, `tokenFor` makes tokens of other roles.
  const admin = await tokenFor('admin');
  const unauthenticated = app.inject.bind(app) as (o: InjectOptions) => ReturnType<typeof app.inject>;
  (app as unknown as { inject: (o: InjectOptions) => unknown }).inject = (o: InjectOptions) => unauthenticated({ ...o, headers: { authorization: `Bearer ${admin}`, ...(o.headers ?? {}) } });
  async function tokenFor(role: Role, instances?: string[]): Promise<string> {
    // Tokens live in the run's database (a test of a dead database gets 503 from the check itself).
    return (await createApiToken(testDb(), { principal: `test-${role}`, role, instances: instances ?? null }, 'test')).token;
  }
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
    unauthenticated,
    tokenFor,
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
