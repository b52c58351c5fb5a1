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
import { dropDatabase } from '../db/connection';
import { migrateDatabase } from '../db/migrate';
import { postgresServer } from './local-postgres';
import { startTemporalDevServer } from './temporal-dev-server';

const root = resolve(__dirname, '..');
const say = (msg: string) => process.stderr.write(`[test] ${msg}\n`);

function findTests(path: string, out: string[] = []): string[] {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    findTests(join(path, entry), out);
  }
  return out;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = (args.length ? args.map((a) => resolve(a)) : [root])
    .flatMap((p) => { try { return findTests(p); } catch { return []; } })
    .map((f) => relative(root, f))
    .sort();
  if (!files.length) throw new Error('no test files found');

  const name = `tessera_test_${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = await postgresServer(name);
  if (!databaseUrl) {
    throw new Error(
      'no Postgres at 127.0.0.1:5432 and DATABASE_URL is not set. Start one (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set DATABASE_URL.',
    );
  }
  say(`database ${name}; starting the Temporal dev server…`);
  const [server] = await Promise.all([startTemporalDevServer({ namespace: 'tessera', startTimeoutMs: 120_000 }), migrateDatabase(databaseUrl)]);
  say(`Temporal at ${server.address}; running ${files.length} test files`);
  let child: ReturnType<typeof spawn> | undefined;
  // Interrupted (Ctrl-C, a CI timeout): stop the tests, then clean up as on a normal end.
  const interrupted = new Promise<number>((done) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        say(`${sig}: stopping the tests and cleaning up`);
        child?.kill(sig);
        done(sig === 'SIGINT' ? 130 : 143);
      });
    }
  });
  try {
    return await Promise.race([interrupted, new Promise<number>((done) => {
      child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          TESSERA_TEST_DATABASE_URL: databaseUrl,
          TEMPORAL_ADDRESS: server.address,
          TEMPORAL_NAMESPACE: 'tessera',
          TESSERA_PAYLOAD_KEY: randomBytes(32).toString('base64'),
          // Sources in the tests are the simulators, on this machine.
          TESSERA_SIMULATED_SOURCES: 'on',
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        },
      });
      child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
    })]);
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
