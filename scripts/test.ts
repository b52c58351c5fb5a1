/**
 * `npm test`: one Temporal dev server and one fresh Postgres database for the whole run, then
 * node's test runner over every *.test.ts file. Both are torn down at the end, pass or fail.
 *
 * Postgres: the server of DATABASE_URL if set, else the local one at 127.0.0.1:5432.
 * Extra arguments are test files or folders to run instead of all (e.g. `npm test -- test/api`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Client } from 'pg';
import { createDb, dropDatabase, ensureDatabaseExists } from '../db/connection';
import { applyMigrations } from '../db/migrate';
import { startTemporalDevServer } from './temporal-dev-server';

const root = resolve(__dirname, '..');
const say = (msg: string) => process.stderr.write(`[test] ${msg}\n`);
const TEST_ROOTS = ['domain', 'ingestion', 'db', 'api', 'activities', 'workflows', 'platform', 'test'];

function findTests(path: string, out: string[] = []): string[] {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    findTests(join(path, entry), out);
  }
  return out;
}

async function serverUrl(): Promise<string> {
  if (process.env.DATABASE_URL) {
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = '/postgres';
    return u.toString();
  }
  for (const user of ['postgres', 'root']) {
    const url = `postgres://${user}@127.0.0.1:5432/postgres`;
    const c = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      return url;
    } catch {
      /* try the next user */
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  throw new Error(
    'no Postgres at 127.0.0.1:5432 and DATABASE_URL is not set. Start one (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set DATABASE_URL.',
  );
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = (args.length ? args.map((a) => resolve(a)) : TEST_ROOTS.map((d) => join(root, d)))
    .flatMap((p) => { try { return findTests(p); } catch { return []; } })
    .map((f) => relative(root, f))
    .sort();
  if (!files.length) throw new Error('no test files found');

  const dbUrl = new URL(await serverUrl());
  dbUrl.pathname = `/tessera_test_${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = dbUrl.toString();
  say(`database ${dbUrl.pathname.slice(1)}; starting the Temporal dev server…`);
  const [server] = await Promise.all([
    startTemporalDevServer({ namespace: 'tessera', startTimeoutMs: 120_000 }),
    (async () => {
      await ensureDatabaseExists(databaseUrl);
      const db = createDb(databaseUrl);
      try {
        await applyMigrations(db);
      } finally {
        await db.destroy();
      }
    })(),
  ]);
  say(`Temporal at ${server.address}; running ${files.length} test files`);
  try {
    return await new Promise<number>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          TESSERA_TEST_DATABASE_URL: databaseUrl,
          TEMPORAL_ADDRESS: server.address,
          TEMPORAL_NAMESPACE: 'tessera',
          TESSERA_PAYLOAD_KEY: randomBytes(32).toString('base64'),
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        },
      });
      child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await server.stop();
    await dropDatabase(databaseUrl).catch((e) => say(`could not drop the test database: ${(e as Error).message}`));
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say((e as Error).stack ?? String(e));
    process.exit(1);
  },
);
