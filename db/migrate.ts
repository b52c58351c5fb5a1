/** The one way the schema is applied: by `npm start`, the tests, the migrate job and the benchmarks. */
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createDb, ensureDatabaseExists } from './connection';

export async function applyMigrations(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({
    directory: join(__dirname, 'migrations'),
    loadExtensions: ['.ts'],
    tableName: 'knex_migrations',
  })) as [number, string[]];
  return applied;
}

/** Creates the database if it is missing and brings its schema up to date. */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  await ensureDatabaseExists(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    return await applyMigrations(db);
  } finally {
    await db.destroy();
  }
}
