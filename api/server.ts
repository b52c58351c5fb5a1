/** API process entry point (`npm run api`; docker-compose `api`). */
import { resolve } from 'node:path';
import { createDb, isDatabaseUnavailable, redactUrl } from '../db/connection';
import { HttpError } from './errors';
import { applySourcesFile, ensureInstanceSchedules } from '../control/sources';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { EncryptionCodec, loadCodecKeys } from '../platform/payload-codec';
import { buildApp } from './app';
import { lazyTemporal } from './temporal-access';
import { ensureResolvers } from '../control/resolvers';
import { ResolutionWatcher } from '../engine/identity/read-your-writes';
import { ensureAdminToken, TokenVerifier } from '../control/api-tokens';

/** The files Tessera's secrets live in (every *_FILE the environment names), so no import directory exposes them. */
function secretFiles(config: ReturnType<typeof loadConfig>): string[] {
  const named = Object.entries(process.env).filter(([k, v]) => k.startsWith('TESSERA_') && k.endsWith('_FILE') && v).map(([, v]) => v!);
  return [...named, ...(config.adminTokenFile ? [config.adminTokenFile] : [])].map((f) => resolve(f));
}

async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL is not set');
  const db = createDb(config.databaseUrl, { max: 20, statementTimeoutMs: config.apiStatementTimeoutMs });
  const keys = loadCodecKeys();
  const temporal = lazyTemporal({
    address: config.temporalAddress,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    uiUrl: config.temporalUiUrl,
  });
  const watcher = new ResolutionWatcher(db);
  const app = await buildApp({
    db,
    resolution: { watcher, waitMs: config.ingestResolveWaitMs },
    temporal,
    log,
    dataDir: config.dataDir,
    importDirs: config.importDirs,
    secretFiles: secretFiles(config),
    maxUploadBytes: config.maxUploadBytes,
    maxIngestBodyBytes: config.maxIngestBodyBytes,
    rateLimitPerMinute: config.rateLimitPerMinute,
    uploadQuota: config.uploadQuota,
    access: { verifier: new TokenVerifier(db), allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins },
    codec: config.codecEndpoint.enabled ? { codec: new EncryptionCodec(keys.current, keys.previous), corsOrigins: config.codecEndpoint.corsOrigins } : undefined,
  });
  if (config.adminTokenFile && (await ensureAdminToken(db, config.adminTokenFile))) {
    log.info({ file: config.adminTokenFile }, 'created an admin API token (send it as Authorization: Bearer …)');
  }
  await app.listen({ host: config.apiHost, port: config.apiPort });
  log.info({ url: `http://${config.apiHost}:${config.apiPort}`, docs: `http://${config.apiHost}:${config.apiPort}/docs`, database: redactUrl(config.databaseUrl) }, 'api started');
  void applySourcesWhenReady(config.sourcesFile);
  let closing = false;
  void startResolversWhenReady();

  /** The identity resolvers run as long as Tessera does: started (or joined) once Temporal answers. */
  async function startResolversWhenReady(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const ids = await ensureResolvers(await temporal.client(), config.resolverTaskQueue);
        log.info({ workflows: ids }, 'identity resolvers running');
        return;
      } catch (e) {
        if (closing) return;
        if (attempt === 1) log.warn({ err: (e as Error).message }, 'identity resolvers: waiting for Temporal');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  /**
   * Every stored instance's schedules, then the sources file: both need Temporal, so they are
   * retried until it is reachable; a bad file is reported once.
   */
  async function applySourcesWhenReady(file: string | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const deps = { db, client: await temporal.client(), taskQueue: config.taskQueue };
        const scheduled = await ensureInstanceSchedules(deps);
        if (scheduled) log.info({ instances: scheduled }, 'source schedules in place');
        if (!file) return;
        const applied = await applySourcesFile(deps, file);
        log.info({ file, instances: applied }, 'sources file applied');
        return;
      } catch (e) {
        const transient = (e instanceof HttpError && e.statusCode === 503) || isDatabaseUnavailable(e);
        if (!transient) return log.error({ file, err: (e as Error).message }, 'sources file not applied');
        if (attempt === 1) log.warn({ file, err: (e as Error).message }, 'sources file: waiting for Temporal and Postgres');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'api stopping');
    await app.close();
    await watcher.close();
    await temporal.close();
    await db.destroy();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((e) => {
  process.stderr.write(`api failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
