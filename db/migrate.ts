/** The one way the schema is applied: by `npm start`, the tests, the migrate job and the benchmarks. */
import { join } from 'node:path';
import type { Knex } from 'knex';

export async function applyMigrations(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({
    directory: join(__dirname, 'migrations'),
    loadExtensions: ['.ts'],
    tableName: 'knex_migrations',
  })) as [number, string[]];
  return applied;
}
