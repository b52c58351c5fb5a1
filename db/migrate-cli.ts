/** `npm run migrate`: applies migrations to DATABASE_URL (used by the docker-compose migrate job). */
import { createLogger } from '../platform/logger';
import { createDb, ensureDatabaseExists, redactUrl } from './connection';
import { applyMigrations } from './migrate';

async function main() {
  const log = createLogger('migrate');
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  await ensureDatabaseExists(url);
  const db = createDb(url);
  try {
    const applied = await applyMigrations(db);
    log.info({ database: redactUrl(url), applied }, applied.length ? 'migrations applied' : 'schema is up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((e) => {
  process.stderr.write(`migrate failed: ${(e as Error).message}\n`);
  process.exit(1);
});
