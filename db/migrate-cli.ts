/** `npm run migrate`: applies migrations to DATABASE_URL (used by the docker-compose migrate job). */
import { createLogger } from '../platform/logger';
import { redactUrl } from './connection';
import { migrateDatabase } from './migrate';

async function main() {
  const log = createLogger('migrate');
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const applied = await migrateDatabase(url);
  log.info({ database: redactUrl(url), applied }, applied.length ? 'migrations applied' : 'schema is up to date');
}

main().catch((e) => {
  process.stderr.write(`migrate failed: ${(e as Error).message}\n`);
  process.exit(1);
});
