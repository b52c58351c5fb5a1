/**
 * What integration tests share within one test process: the run's database (made fresh by
 * scripts/test.ts), a Temporal environment on the run's dev server, and the workflow bundle
 * (built once per process). Each test uses its own task queue and workflow ids.
 */
import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Knex } from 'knex';
import { createDb } from '../../db/connection';
import { createLogger } from '../../platform/logger';
import { tesseraDataConverter } from '../../platform/temporal';
import { createTesseraWorker } from '../../workers/tessera-worker';

export const log = createLogger('test', process.env.LOG_LEVEL ?? 'warn');

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`npm test\`, which starts Postgres and Temporal for them`);
  return v;
}

let db: Knex | undefined;
export function testDb(): Knex {
  db ??= createDb(requireEnv('TESSERA_TEST_DATABASE_URL'), { max: 10 });
  return db;
}

export async function closeTestDb(): Promise<void> {
  await db?.destroy();
  db = undefined;
}

let env: Promise<TestWorkflowEnvironment> | undefined;
export function temporalEnv(): Promise<TestWorkflowEnvironment> {
  if (!env) Runtime.install({ logger: new DefaultLogger('WARN') });
  env ??= TestWorkflowEnvironment.createFromExistingServer({
    address: requireEnv('TEMPORAL_ADDRESS'),
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'tessera',
    client: { dataConverter: tesseraDataConverter() },
  });
  return env;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => log.error(m) } });
  return bundle;
}

export async function closeTemporal(): Promise<void> {
  if (env) await (await env).teardown();
  env = undefined;
}

export function uniqueTaskQueue(title: string): string {
  return `test-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 40)}-${randomUUID().slice(0, 8)}`;
}

/** A short unique suffix for source instance ids, so tests never see each other's records. */
export function uniqueInstance(prefix = 'inst'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` every 100 ms until it holds; fails naming `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Row count of a table, optionally filtered (a knex where-callback). */
export async function countRows(table: string, where?: (q: Knex.QueryBuilder) => void): Promise<number> {
  const q = testDb()(table).count<{ count: string }[]>({ count: '*' });
  if (where) where(q);
  const [row] = await q;
  return Number(row?.count ?? 0);
}

/** A Tessera worker on the run's dev server and database, polling `taskQueue` (not yet running). */
export async function testWorker(taskQueue: string): Promise<import('@temporalio/worker').Worker> {
  const env = await temporalEnv();
  return createTesseraWorker({ connection: env.nativeConnection, namespace: env.namespace ?? 'tessera', taskQueue, db: testDb(), log, workflowBundle: await workflowBundle() });
}
