/**
 * `npm start`: Tessera on one machine with embedded defaults.
 *
 * Starts the Temporal dev server (state in .data/temporal/, Web UI on 8233, Tessera's namespace
 * and search attributes), picks Postgres (DATABASE_URL, else the local server, else embedded),
 * applies migrations, starts the worker and the API as child processes, prints the URLs, and
 * stops everything cleanly on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { redactUrl } from '../db/connection';
import { migrateDatabase } from '../db/migrate';
import { DEFAULT_NAMESPACE, loadConfig } from '../platform/config';
import { startDefaultStack } from '../simulators/default-stack';
import { choosePostgres } from './local-postgres';
import { startTemporalDevServer, type DevServer } from './temporal-dev-server';
import { waitForHttpOk } from './wait-for-http';

const root = resolve(__dirname, '..');
const say = (msg: string) => process.stdout.write(`[tessera] ${msg}\n`);

function ensurePayloadKey(dataDir: string): void {
  if (process.env.TESSERA_PAYLOAD_KEY || process.env.TESSERA_PAYLOAD_KEY_FILE) return;
  const file = join(dataDir, 'secrets', 'payload.key');
  if (!existsSync(file)) {
    mkdirSync(join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    say(`created a payload encryption key in ${file} (keep it: Temporal histories are encrypted with it)`);
  }
  process.env.TESSERA_PAYLOAD_KEY_FILE = file;
}

/**
 * The simulated SaaS sources (two Marketo instances, a Salesforce org, a Dynamics org) with the
 * sources file and secrets the API and worker read. TESSERA_SIMULATORS=off skips them (bring your
 * own TESSERA_SOURCES_FILE and secrets).
 */
async function startSimulatedSources(dataDir: string): Promise<{ env: Record<string, string>; instances: string[]; stop(): Promise<void> } | undefined> {
  if (process.env.TESSERA_SIMULATORS === 'off') return undefined;
  say('starting the simulated sources (2 Marketo instances, 1 Salesforce org, 1 Dynamics org)…');
  const stack = await startDefaultStack({
    basePort: Number(process.env.TESSERA_SIMULATOR_PORT || 9101),
    schedule: process.env.TESSERA_SYNC_SCHEDULE || '*/15 * * * *',
  });
  const sourcesFile = join(dataDir, 'sources.simulated.json');
  writeFileSync(sourcesFile, `${JSON.stringify({ instances: stack.sources.map((s) => s.config) }, null, 2)}\n`);
  const secretsFile = process.env.TESSERA_SECRETS_FILE || join(dataDir, 'secrets', 'sources.json');
  const existing = existsSync(secretsFile) ? (JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>) : {};
  mkdirSync(dirname(secretsFile), { recursive: true, mode: 0o700 });
  writeFileSync(secretsFile, `${JSON.stringify({ ...existing, ...Object.assign({}, ...stack.sources.map((s) => s.secrets)) }, null, 2)}\n`, { mode: 0o600 });
  for (const s of stack.sources) say(`  ${s.config.sourceType.padEnd(10)} ${s.config.instanceId.padEnd(20)} ${s.simulator.url}`);
  return {
    env: { TESSERA_SOURCES_FILE: process.env.TESSERA_SOURCES_FILE || sourcesFile, TESSERA_SECRETS_FILE: secretsFile, TESSERA_SIMULATED_SOURCES: 'on' },
    instances: stack.sources.map((s) => `${s.config.sourceType}/${s.config.instanceId}`),
    stop: stack.stop,
  };
}

/** Once the API has applied the sources file (schedules created), syncs every instance right away. */
async function startFirstSyncs(apiUrl: string, token: string, instances: string[]): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  for (let i = 0; i < 60; i++) {
    const listed = (await fetch(`${apiUrl}/v1/sources`, { headers }).then((r) => r.json()).catch(() => ({ instances: [] }))) as { instances: Array<{ sourceType: string; instanceId: string }> };
    const known = new Set(listed.instances.map((x) => `${x.sourceType}/${x.instanceId}`));
    if (instances.every((x) => known.has(x))) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const path of instances) {
    const res = await fetch(`${apiUrl}/v1/sources/${path}/sync`, { method: 'POST', headers });
    const body = (await res.json().catch(() => ({}))) as { workflowId?: string; message?: string };
    say(res.ok ? `first sync of ${path}: ${body.workflowId ?? 'started'}` : `could not start the first sync of ${path}: ${body.message ?? res.status}`);
  }
}

async function main() {
  const config = loadConfig();
  const dataDir = config.dataDir;
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(join(dataDir, 'imports'), { recursive: true });
  ensurePayloadKey(dataDir);

  const stops: Array<() => Promise<void>> = [];
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await Promise.all(children.map((c) => new Promise<void>((done) => {
      if (c.exitCode !== null || c.signalCode !== null) return done();
      c.once('exit', () => done());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 30_000).unref();
    })));
    for (const stop of stops.reverse()) await stop().catch((e) => say(`while stopping: ${(e as Error).message}`));
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const apiUrl = `http://${config.apiHost}:${config.apiPort}`;
    let temporalAddress = process.env.TEMPORAL_ADDRESS;
    let uiUrl = process.env.TESSERA_TEMPORAL_UI_URL;
    if (!temporalAddress) {
      say('starting the Temporal dev server (builds the Temporal CLI on first run)…');
      const server: DevServer = await startTemporalDevServer({
        namespace: process.env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE,
        port: Number(process.env.TESSERA_TEMPORAL_PORT || 7233),
        uiPort: Number(process.env.TESSERA_TEMPORAL_UI_PORT || 8233),
        dbFile: join(dataDir, 'temporal', 'dev.db'),
        logFile: join(dataDir, 'logs', 'temporal.log'),
        extraArgs: ['--ui-codec-endpoint', `${apiUrl}/v1/temporal-codec`],
      });
      stops.push(server.stop);
      temporalAddress = server.address;
      uiUrl = server.uiUrl;
    }

    const pg = await choosePostgres(dataDir);
    stops.push(pg.stop);
    say(`Postgres: ${pg.kind} — ${redactUrl(pg.url)}`);
    const applied = await migrateDatabase(pg.url);
    say(applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date');

    const simulated = await startSimulatedSources(dataDir);
    if (simulated) stops.push(simulated.stop);

    const env = {
      ...process.env,
      ...simulated?.env,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE,
      TESSERA_DATA_DIR: dataDir,
      ...(uiUrl ? { TESSERA_TEMPORAL_UI_URL: uiUrl } : {}),
    };
    // Two worker processes (one per task queue), so both cores work: the core worker parses and
    // stores files and sync pages while the resolver worker resolves identities.
    const processes = [
      ['worker', 'workers/main.ts', { TESSERA_WORKER_QUEUES: 'core', TESSERA_WORKER_METRICS_PORT: process.env.TESSERA_WORKER_METRICS_PORT || '9464' }],
      ['resolver', 'workers/main.ts', { TESSERA_WORKER_QUEUES: 'resolver', TESSERA_WORKER_METRICS_PORT: String(Number(process.env.TESSERA_WORKER_METRICS_PORT || 9464) + 1) }],
      ['api', 'api/server.ts', {}],
    ] as const;
    for (const [name, entry, extra] of processes) {
      // Own process group (Ctrl-C reaches only this script, which stops the children in order);
      // killed with this script however it ends.
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry)], { env: { ...env, ...extra }, stdio: 'inherit', cwd: root, detached: true });
      process.on('exit', () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
      child.on('exit', (code, signal) => {
        if (!stopping) {
          say(`${name} exited (${signal ?? code}); stopping everything`);
          void stopAll(1);
        }
      });
      children.push(child);
    }

    await waitForHttpOk(`${apiUrl}/health`);
    // The API created the admin token at its first start (or keeps the one that still works).
    const tokenFile = config.adminTokenFile ?? '$TESSERA_TOKEN_FILE';
    const token = config.adminTokenFile ? readFileSync(config.adminTokenFile, 'utf8').trim() : (process.env.TESSERA_TOKEN ?? '');
    if (simulated) await startFirstSyncs(apiUrl, token, simulated.instances);
    say('');
    say('Tessera is running:');
    say(`  API            ${apiUrl}   (OpenAPI: ${apiUrl}/docs)`);
    if (uiUrl) say(`  Temporal UI    ${uiUrl}   (namespace ${env.TEMPORAL_NAMESPACE})`);
    say(`  Temporal       ${temporalAddress}`);
    say(`  Postgres       ${redactUrl(pg.url)} (${pg.kind})`);
    say(`  Metrics        ${apiUrl}/metrics, workers on :${process.env.TESSERA_WORKER_METRICS_PORT || 9464} and :${Number(process.env.TESSERA_WORKER_METRICS_PORT || 9464) + 1}   (tessera status)`);
    say('');
    say(`Every API call needs a token. The admin token is in ${tokenFile} (mode 600); the CLI reads it from there:`);
    say(`  export TESSERA_TOKEN=$(cat ${tokenFile})`);
    say(`  npm run tessera -- tokens create --principal my-etl --role ingest     (roles: admin, operator, marketer, auditor, ingest)`);
    say('');
    say('Try it:');
    say(`  curl -s -XPOST ${apiUrl}/v1/ingest/person -H "authorization: Bearer $TESSERA_TOKEN" -H 'content-type: application/json' \\`);
    say(`    -d '{"b2b":{"personKey":{"sourceKey":"00Q5e00001AbC@00D5e0000001.Salesforce"}},"workEmail":{"address":"ada@example.com"}}'`);
    say(`  npm run tessera -- ingest-file examples/persons.csv --class person`);
    if (simulated) {
      say(`  npm run tessera -- sources list                  (schedules, streams, runs; the UI: TesseraJobKind = 'sync')`);
      say(`  npm run tessera -- backfill marketo ${simulated.instances.find((i) => i.startsWith('marketo/'))!.split('/')[1]} --from 2026-08-01T00:00:00Z --to 2026-10-01T00:00:00Z`);
    }
    say('Ctrl-C stops everything.');
  } catch (e) {
    say(`start-up failed: ${(e as Error).message}`);
    await stopAll(1);
  }
}

void main();
