/**
 * A transaction on a raw pg connection from knex's pool, for the bulk write path: it needs
 * COPY (pg-copy-streams), which knex cannot drive. Same pool, same limits as every other query.
 */
import type { Knex } from 'knex';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type PgConn = ClientBase;

export async function inPgTransaction<T>(db: Knex, fn: (conn: PgConn) => Promise<T>): Promise<T> {
  const conn = (await db.client.acquireConnection()) as PgConn;
  try {
    return await inTransactionOn(conn, () => fn(conn));
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/** One transaction on a connection the caller holds (several in a row keep its session locks). */
export async function inTransactionOn<T>(conn: PgConn, fn: () => Promise<T>): Promise<T> {
  await conn.query('BEGIN');
  try {
    const out = await fn();
    await conn.query('COMMIT');
    return out;
  } catch (e) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * This transaction's commit need not wait for the WAL flush: for writes that are stored again
 * when lost (a sync page and its cursor are lost or kept together, and re-read after a crash).
 */
export async function relaxCommitFlush(conn: PgConn): Promise<void> {
  await conn.query('SET LOCAL synchronous_commit = off');
}

/** Streams rows (already in COPY text format, one per line) into `target`. */
export async function copyRows(conn: PgConn, target: string, lines: string): Promise<void> {
  const stream = conn.query(copyFrom(`COPY ${target} FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
    stream.end(lines);
  });
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value in COPY's text format: \N for null, backslash, tab, newline and CR escaped. */
export function copyValue(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : String(v);
  return NEEDS_ESCAPE.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : s;
}

/**
 * A list as one text parameter (unit-separator joined), for `string_to_array($n, chr(31))` inside
 * `unnest(...)` of many rows: Postgres has no array-of-arrays parameters. Identity values with
 * control characters are refused at extraction; any U+001F left in free text becomes a space.
 */
export function listParam(values: readonly string[]): string {
  return values.map((v) => (v.includes('\u001f') ? v.replace(/\u001f/g, ' ') : v)).join('\u001f');
}

/** A text[] value in COPY's text format: an array literal with each element quoted, then COPY-escaped. */
export function copyArray(values: readonly string[]): string {
  return copyValue(`{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`);
}

/**
 * COPY lines for one target, written in chunks of `every` rows as they are added. A full chunk
 * is sent without waiting for Postgres to take it: the caller builds the next chunk meanwhile
 * (at most one chunk in flight; the connection runs them in order). `flush` waits for all, and
 * reports the first failure.
 */
export class CopyBuffer {
  private lines: string[] = [];
  private inFlight: Promise<void> | null = null;
  private failure: unknown = null;

  constructor(private readonly conn: PgConn, private readonly target: string, private readonly every = 50_000) {}

  async add(line: string): Promise<void> {
    this.lines.push(line);
    if (this.lines.length >= this.every) await this.send();
  }

  async flush(): Promise<void> {
    await this.send();
    await this.inFlight;
    this.inFlight = null;
    if (this.failure) throw this.failure;
  }

  private async send(): Promise<void> {
    await this.inFlight;
    if (this.failure) throw this.failure;
    if (!this.lines.length) return;
    const text = this.lines.join('');
    this.lines = [];
    this.inFlight = copyRows(this.conn, this.target, text).catch((e: unknown) => {
      this.failure ??= e;
    });
  }
}

/** Runs `fn` on one pooled connection, outside any transaction. */
export async function withPgConn<T>(db: Knex, fn: (conn: PgConn) => Promise<T>): Promise<T> {
  const conn = (await db.client.acquireConnection()) as PgConn;
  try {
    return await fn(conn);
  } finally {
    await db.client.releaseConnection(conn);
  }
}

/**
 * The rows of `sql` a page at a time, through a cursor in the caller's transaction: the next page
 * is fetched while the caller works on the current one (Postgres and Node take no turns). The
 * cursor is closed however the caller stops.
 */
export async function* cursorPages<T>(conn: PgConn, name: string, sql: string, params: unknown[], pageSize: number): AsyncGenerator<T[]> {
  await conn.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params);
  const page = () => {
    const p = conn.query(`FETCH ${pageSize} FROM ${name}`);
    p.catch(() => undefined); // awaited below; a failure while the caller works is not unhandled
    return p;
  };
  let next = page();
  try {
    for (;;) {
      const { rows } = await next;
      if (!rows.length) return;
      next = page();
      yield rows as T[];
    }
  } finally {
    await next.catch(() => undefined);
    await conn.query(`CLOSE ${name}`).catch(() => undefined);
  }
}
