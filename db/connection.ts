/** knex for Tessera's own Postgres database. */
import knexFactory, { type Knex } from 'knex';
import { Client } from 'pg';

/**
 * A pool. `statementTimeoutMs` cancels any statement running longer (and a transaction left idle
 * longer than twice that): the API's pool has one, so no request can hold Postgres for long.
 */
export function createDb(databaseUrl: string, pool: { min?: number; max?: number; statementTimeoutMs?: number } = {}): Knex {
  const timeouts = pool.statementTimeoutMs ? { statement_timeout: pool.statementTimeoutMs, idle_in_transaction_session_timeout: 2 * pool.statementTimeoutMs } : {};
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'tessera', ...timeouts },
    pool: { min: pool.min ?? 0, max: pool.max ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
}

/** Creates the database named in the URL if it does not exist (connecting to `postgres`). */
export async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL ${redactUrl(databaseUrl)} names no database`);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** For logs: the URL without its password. */
export function redactUrl(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database url)';
  }
}

/** Lock contention that a retry resolves: deadlock, serialization failure, lock timeout. */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === '40P01' || code === '40001' || code === '55P03';
}

/** Postgres refused the data itself (data exception, integrity violation): retrying cannot help. */
export function isDataRejected(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

/** True when the error means Postgres could not be reached or went away (answer 503, retry). */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string } | undefined;
  if (!e) return false;
  const codes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006'];
  if (e.code && codes.includes(e.code)) return true;
  if (e.name === 'KnexTimeoutError') return true;
  return /Connection terminated|connect ECONNREFUSED|the database system is (starting up|shutting down)/i.test(e.message ?? '');
}

/** Whether the database answers (the API's health check). */
export async function databaseAnswers(db: Knex): Promise<boolean> {
  return db.raw('SELECT 1').then(() => true, () => false);
}
