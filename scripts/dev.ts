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
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { redactUrl } from '../db/connection';
import { migrateDatabase } from '../db/migrate';
import { DEFAULT_NAMESPACE, loadConfig } from '../platform/config';
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

async function main() {
  const config = loadConfig();
  const dataDir = config.dataDir;
  mkdirSync(dataDir, { recursive: true });
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

    const env = {
      ...process.env,
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE,
      TESSERA_DATA_DIR: dataDir,
      ...(uiUrl ? { TESSERA_TEMPORAL_UI_URL: uiUrl } : {}),
    };
    for (const [name, entry] of [['worker', 'workers/main.ts'], ['api', 'api/server.ts']] as const) {
      // Own process group (Ctrl-C reaches only this script, which stops the children in order);
      // killed with this script however it ends.
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry)], { env, stdio: 'inherit', cwd: root, detached: true });
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
    say('');
    say('Tessera is running:');
    say(`  API            ${apiUrl}   (OpenAPI: ${apiUrl}/docs)`);
    if (uiUrl) say(`  Temporal UI    ${uiUrl}   (namespace ${env.TEMPORAL_NAMESPACE})`);
    say(`  Temporal       ${temporalAddress}`);
    say(`  Postgres       ${redactUrl(pg.url)} (${pg.kind})`);
    say('');
    say('Try it:');
    say(`  curl -s -XPOST ${apiUrl}/v1/ingest/person -H 'content-type: application/json' \\`);
    say(`    -d '{"b2b":{"personKey":{"sourceKey":"00Q5e00001AbC@00D5e0000001.Salesforce"}},"workEmail":{"address":"ada@example.com"}}'`);
    say(`  npm run tessera -- ingest-file examples/persons.csv --class person`);
    say('Ctrl-C stops everything.');
  } catch (e) {
    say(`start-up failed: ${(e as Error).message}`);
    await stopAll(1);
  }
}

void main();
