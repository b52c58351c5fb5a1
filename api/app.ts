/** Builds the HTTP API (Fastify + zod; OpenAPI at /docs). Used by api/server.ts and the tests. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { PayloadCodec } from '@temporalio/common';
import Fastify, { LogController } from 'fastify';
import { realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Connection } from '@temporalio/client';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Knex } from 'knex';
import type { Logger } from '../platform/logger';
import { errorHandler } from './errors';
import { fileIngestionRoutes } from './routes/file-ingestions';
import { ingestRoutes } from './routes/ingest';
import { quarantineRoutes } from './routes/quarantine';
import { identityRoutes } from './routes/identity';
import { recordRoutes } from './routes/records';
import { resolverRoutes } from './routes/resolvers';
import { sourceRoutes } from './routes/sources';
import { temporalCodecRoutes } from './routes/temporal-codec';
import type { TemporalAccess } from './temporal-access';
import type { ResolutionWatcher } from '../engine/identity/read-your-writes';
import { databaseAnswers } from '../db/connection';
import rateLimit from '@fastify/rate-limit';
import { installAccessControl, rateLimitKeyOf } from './auth';
import { accessRoutes } from './routes/access';
import type { TokenVerifier } from '../control/api-tokens';

export interface ApiDeps {
  db: Knex;
  temporal: TemporalAccess;
  log: Logger;
  /** Relative file paths and uploads resolve here. */
  dataDir: string;
  /**
   * Directories the API may ingest files from (uploads go to dataDir/uploads, always allowed).
   * None may contain the data directory or a secrets directory: buildApp refuses to start.
   */
  importDirs: string[];
  /** Secret files (payload key, secrets file, admin token) no import directory may contain, besides dataDir. */
  secretFiles?: string[];
  maxUploadBytes: number;
  /** Uploads a token may make in 24 hours: how many, how many bytes (default api/routes/file-ingestions.ts DEFAULT_UPLOAD_QUOTA). */
  uploadQuota?: { perDay: number; bytesPerDay: number };
  /** The largest streaming-ingestion request body (default api/routes/ingest.ts DEFAULT_MAX_INGEST_BODY_BYTES). */
  maxIngestBodyBytes?: number;
  /** Read your writes: ingest answers wait up to `waitMs` for the resolver (absent: answer at once). */
  resolution?: { watcher: ResolutionWatcher; waitMs: number };
  /** Serve the Temporal UI's remote codec endpoint with this codec. */
  codec?: { codec: PayloadCodec; corsOrigins: string[] };
  /** Who may call what (api/auth.ts, api/access.ts). */
  access: { verifier: TokenVerifier; allowedHosts: readonly string[] | null; allowedOrigins: readonly string[] };
  /** Requests a minute per token (per address without one); 0: no limit. */
  rateLimitPerMinute?: number;
}

/**
 * No import directory may contain (or be) the data directory, its secrets directory or any secret
 * file: otherwise `POST /v1/file-ingestions` could read Tessera's own keys. Symbolic links are
 * followed on both sides, as the file-ingestion route follows them.
 */
export function assertImportDirsSafe(importDirs: readonly string[], protectedPaths: readonly string[]): void {
  const real = (p: string) => {
    try {
      return realpathSync(resolve(p));
    } catch {
      return resolve(p);
    }
  };
  const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
  const guarded = protectedPaths.map(real);
  for (const dir of importDirs) {
    const exposed = guarded.find((p) => within(p, real(dir)));
    if (exposed) throw new Error(`import directory ${resolve(dir)} contains ${exposed}, which holds Tessera's data or secrets; point TESSERA_IMPORT_DIRS elsewhere`);
  }
}

export async function buildApp(deps: ApiDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    // Per-request access logs are off (at 10+ ingest requests/s they drown the rest); errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // A request (an upload included) is answered within 10 minutes or dropped; slow-loris bodies too.
    requestTimeout: 10 * 60_000,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'NotFound', message: `no route ${req.method} ${req.url.slice(0, 200)}; see /docs` }));
  // A NUL anywhere in the URL (path or query, escaped or not) can reach no route and no column.
  app.addHook('onRequest', async (req, reply) => {
    if (/%00|\u0000/i.test(req.url)) return reply.code(400).send({ error: 'InvalidRequest', message: 'the URL contains a NUL character (%00)' });
  });
  if (deps.rateLimitPerMinute) {
    // One app-wide onRequest hook, added before the access checks so that it runs first: refused
    // requests (a flood of made-up tokens) are throttled too. Per address (five tokens' worth),
    // then per token (keyed before it is verified, by a hash of all of it).
    await app.register(rateLimit, { global: false });
    const limits = [
      { what: 'from this address', check: app.createRateLimit({ max: 5 * deps.rateLimitPerMinute, timeWindow: 60_000, keyGenerator: (req) => `ip:${req.ip}` }) },
      {
        what: 'with this token',
        check: app.createRateLimit({ max: deps.rateLimitPerMinute, timeWindow: 60_000, keyGenerator: (req) => rateLimitKeyOf(req.headers.authorization) ?? `ip:${req.ip}` }),
      },
    ];
    app.addHook('onRequest', async (req, reply) => {
      for (const { what, check } of limits) {
        const r = await check(req);
        if (r.isAllowed || !r.isExceeded) continue;
        return reply
          .code(429)
          .header('Retry-After', String(r.ttlInSeconds))
          .header('X-RateLimit-Limit', String(r.max))
          .send({ error: 'TooManyRequests', message: `more than ${r.max} requests a minute ${what} (TESSERA_RATE_LIMIT_PER_MINUTE); retry in ${r.ttlInSeconds} s` });
      }
    });
  }
  installAccessControl(app, { db: deps.db, ...deps.access });
  assertImportDirsSafe(deps.importDirs, [deps.dataDir, join(deps.dataDir, 'secrets'), ...(deps.secretFiles ?? [])]);

  await app.register(swagger, {
    openapi: {
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token: tsr_<id>_<secret>' } } },
      security: [{ bearer: [] }],
      info: { title: 'Tessera API', version: '0.1.0', description: 'Open-source B2B customer data platform: ingestion, quarantine, file ingestion, source syncs and backfills.' },
      tags: [
        { name: 'ingestion', description: 'Streaming ingestion of XDM records' },
        { name: 'file ingestion', description: 'CSV / JSONL files ingested by a Temporal workflow' },
        { name: 'quarantine', description: 'Rejected records, their reasons, replay' },
        { name: 'records', description: 'Stored records' },
        { name: 'sources', description: 'Source instances (Marketo, Salesforce, Dynamics), sync schedules, backfills' },
        { name: 'operations', description: 'Health' },
        { name: 'access', description: 'API tokens and the audit log' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { tags: ['operations'], summary: 'Liveness and dependencies' } }, async (_req, reply) => {
    const database = (await databaseAnswers(deps.db)) ? ('up' as const) : ('down' as const);
    const temporal = await deps.temporal
      .client()
      .then((c) => (c.connection as Connection).healthService.check({}))
      .then(() => 'up' as const, () => 'down' as const);
    return reply.code(database === 'up' ? 200 : 503).send({ status: database === 'up' ? 'ok' : 'degraded', database, temporal });
  });

  await app.register(ingestRoutes(deps));
  await app.register(quarantineRoutes(deps));
  await app.register(fileIngestionRoutes(deps));
  await app.register(recordRoutes(deps));
  await app.register(sourceRoutes(deps));
  await app.register(identityRoutes(deps));
  await app.register(resolverRoutes(deps));
  await app.register(accessRoutes({ ...deps, verifier: deps.access.verifier }));
  if (deps.codec) await app.register(temporalCodecRoutes(deps.codec.codec, deps.codec.corsOrigins));
  return app;
}
