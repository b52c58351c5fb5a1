/**
 * Process configuration, read once from the environment (and an optional secrets file).
 * Nothing here is ever passed into workflow inputs: workflows receive ids, not settings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** How the resolver sizes its micro-batches (see engine/identity/resolver.ts). */
export interface ResolverBatchConfig {
  max: number;
  bulkMs: number;
}

export interface TesseraConfig {
  /** Postgres URL of Tessera's own database (not Temporal's). */
  databaseUrl: string | undefined;
  temporalAddress: string;
  temporalNamespace: string;
  /** Syncs, files, sagas, rebuilds (TESSERA_TASK_QUEUE). */
  taskQueue: string;
  /** The identity resolvers' workflows and their long-running activities (TESSERA_RESOLVER_TASK_QUEUE). */
  resolverTaskQueue: string;
  /** Which task queues this worker process serves (TESSERA_WORKER_QUEUES: core, resolver, or both). */
  workerQueues: Array<'core' | 'resolver'>;
  apiHost: string;
  apiPort: number;
  dataDir: string;
  /** Where the API may read files to ingest: TESSERA_IMPORT_DIRS (comma-separated), else the data dir and examples/. */
  importDirs: string[];
  maxUploadBytes: number;
  /** The largest streaming-ingestion request body. */
  maxIngestBodyBytes: number;
  /** Uploads a token may make in 24 hours: how many, and their bytes. */
  uploadQuota: { perDay: number; bytesPerDay: number };
  /** API requests a minute per token (per address without one); 0: no limit. */
  rateLimitPerMinute: number;
  /** The API's Postgres statements are cancelled after this long. */
  apiStatementTimeoutMs: number;
  /** The Temporal Web UI's base URL, to link workflows from API answers. */
  temporalUiUrl: string | undefined;
  /** Serve the Temporal UI's remote payload codec, to these browser origins. */
  codecEndpoint: { enabled: boolean; corsOrigins: string[] };
  /** Host names the API answers to (Host header, port aside); null: any (TESSERA_ALLOWED_HOSTS=any, a proxy checks it). */
  allowedHosts: string[] | null;
  /** Browser origins that may send state-changing requests (default: the Temporal UI's, for the codec). */
  allowedOrigins: string[];
  /** Where the API keeps the start-up admin token (created when it holds none that works); undefined: off. */
  adminTokenFile: string | undefined;
  logLevel: string;
  /** A sources file (`{"instances": [...]}`) the API applies at start: instances and their schedules. */
  sourcesFile: string | undefined;
  /**
   * Resolver micro-batches: most records claimed at once (TESSERA_RESOLVER_MAX_BATCH, default
   * 5,000) and about how long a bulk-lane batch may take (TESSERA_RESOLVER_BATCH_MS, default 250).
   */
  resolverBatch: ResolverBatchConfig;
  /** How long POST /v1/ingest waits for the resolver before answering with the queue position (TESSERA_INGEST_RESOLVE_WAIT_MS). */
  ingestResolveWaitMs: number;
  /** The worker's Prometheus endpoint (TESSERA_WORKER_METRICS_HOST, TESSERA_WORKER_METRICS_PORT; port 0: off). */
  workerMetricsHost: string;
  workerMetricsPort: number;
}

export const DEFAULT_NAMESPACE = 'tessera';
export const DEFAULT_TASK_QUEUE = 'tessera-core';
export const DEFAULT_RESOLVER_TASK_QUEUE = 'tessera-resolver';

function workerQueues(v: string | undefined): Array<'core' | 'resolver'> {
  const names = (v || 'core,resolver').split(',').map((q) => q.trim()).filter(Boolean);
  const bad = names.filter((q) => q !== 'core' && q !== 'resolver');
  if (bad.length || !names.length) throw new Error(`TESSERA_WORKER_QUEUES: '${v}' — use core, resolver, or core,resolver`);
  return [...new Set(names)] as Array<'core' | 'resolver'>;
}

/**
 * Whether sources may point at this machine: only the simulators live there (`npm start` and the
 * tests set TESSERA_SIMULATED_SOURCES=on); a real deployment never does.
 */
export function simulatedSourcesAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.TESSERA_SIMULATED_SOURCES === 'on';
}

/** Loopback names, the API's own host when it is a name or address (not a wildcard), and TESSERA_ALLOWED_HOSTS. */
function allowedHosts(env: NodeJS.ProcessEnv): string[] | null {
  if (env.TESSERA_ALLOWED_HOSTS === 'any') return null;
  const listed = env.TESSERA_ALLOWED_HOSTS ? env.TESSERA_ALLOWED_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean) : [];
  const own = env.TESSERA_API_HOST && !['0.0.0.0', '::'].includes(env.TESSERA_API_HOST) ? [env.TESSERA_API_HOST.includes(':') ? `[${env.TESSERA_API_HOST}]` : env.TESSERA_API_HOST] : [];
  return [...new Set(['localhost', '127.0.0.1', '[::1]', ...own, ...listed])];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): TesseraConfig {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    temporalAddress: env.TEMPORAL_ADDRESS || '127.0.0.1:7233',
    temporalNamespace: env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE,
    taskQueue: env.TESSERA_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    resolverTaskQueue: env.TESSERA_RESOLVER_TASK_QUEUE || DEFAULT_RESOLVER_TASK_QUEUE,
    workerQueues: workerQueues(env.TESSERA_WORKER_QUEUES),
    apiHost: env.TESSERA_API_HOST || '127.0.0.1',
    apiPort: Number(env.TESSERA_API_PORT || 8080),
    dataDir: resolve(env.TESSERA_DATA_DIR || '.data'),
    importDirs: (env.TESSERA_IMPORT_DIRS ? env.TESSERA_IMPORT_DIRS.split(',') : [join(env.TESSERA_DATA_DIR || '.data', 'imports'), resolve(__dirname, '..', 'examples')])
      .map((d) => resolve(d.trim()))
      .filter(Boolean),
    maxUploadBytes: Number(env.TESSERA_MAX_UPLOAD_BYTES || 5 * 1024 ** 3),
    maxIngestBodyBytes: Number(env.TESSERA_MAX_INGEST_BODY_BYTES || 10 * 1024 * 1024),
    rateLimitPerMinute: Number(env.TESSERA_RATE_LIMIT_PER_MINUTE ?? 1200),
    uploadQuota: { perDay: Number(env.TESSERA_UPLOADS_PER_DAY ?? 100), bytesPerDay: Number(env.TESSERA_UPLOAD_BYTES_PER_DAY ?? 20 * 1024 ** 3) },
    apiStatementTimeoutMs: Number(env.TESSERA_API_STATEMENT_TIMEOUT_MS ?? 30_000),
    temporalUiUrl: env.TESSERA_TEMPORAL_UI_URL || undefined,
    codecEndpoint: {
      enabled: (env.TESSERA_CODEC_ENDPOINT ?? 'on') !== 'off',
      corsOrigins: (env.TESSERA_CODEC_CORS_ORIGINS ?? 'http://localhost:8233,http://127.0.0.1:8233').split(',').map((o) => o.trim()),
    },
    allowedHosts: allowedHosts(env),
    allowedOrigins: (env.TESSERA_ALLOWED_ORIGINS ?? env.TESSERA_CODEC_CORS_ORIGINS ?? 'http://localhost:8233,http://127.0.0.1:8233').split(',').map((o) => o.trim()).filter(Boolean),
    adminTokenFile: env.TESSERA_ADMIN_TOKEN_FILE === 'off' ? undefined : resolve(env.TESSERA_ADMIN_TOKEN_FILE || join(env.TESSERA_DATA_DIR || '.data', 'secrets', 'admin.token')),
    logLevel: env.LOG_LEVEL || 'info',
    sourcesFile: env.TESSERA_SOURCES_FILE ? resolve(env.TESSERA_SOURCES_FILE) : undefined,
    resolverBatch: { max: Number(env.TESSERA_RESOLVER_MAX_BATCH ?? 5000), bulkMs: Number(env.TESSERA_RESOLVER_BATCH_MS ?? 250) },
    ingestResolveWaitMs: Number(env.TESSERA_INGEST_RESOLVE_WAIT_MS ?? 2000),
    workerMetricsHost: env.TESSERA_WORKER_METRICS_HOST || '127.0.0.1',
    workerMetricsPort: Number(env.TESSERA_WORKER_METRICS_PORT ?? 9464),
  };
}

/**
 * Reads a secret by name: the environment variable NAME wins, then NAME_FILE (a path whose
 * content is the secret, as Docker/Kubernetes secrets are mounted), then the JSON secrets file
 * named by TESSERA_SECRETS_FILE (`{ "NAME": "value" }`). Returns undefined when none is set.
 */
export function readSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[name];
  if (direct) return direct;
  const file = env[`${name}_FILE`];
  if (file) return readFileSync(file, 'utf8').trim();
  const secretsFile = env.TESSERA_SECRETS_FILE;
  if (secretsFile && existsSync(secretsFile)) {
    const all = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, unknown>;
    const value = all[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}
