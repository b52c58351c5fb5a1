/** Shared by the benchmarks: a fresh database per run, synthetic B2B people, timing helpers. */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Knex } from 'knex';
import { createDb, dropDatabase } from '../db/connection';
import { migrateDatabase } from '../db/migrate';
import { postgresServer } from '../scripts/local-postgres';
import { copyRows, copyValue, inPgTransaction } from '../db/pg-transaction';
import { connectClient } from '../platform/temporal';
import { startTemporalDevServer } from '../scripts/temporal-dev-server';
import { RESOLVER_ENTITIES, resolverWorkflowId } from '../contracts/resolver';
import { ensureResolvers } from '../control/resolvers';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { ingestRecords } from '../engine/ingest/ingest-records';
import { ResolutionWatcher } from '../engine/identity/read-your-writes';

export async function freshDatabase(name: string): Promise<{ url: string; db: Knex; drop(): Promise<void> }> {
  const url = await postgresServer(`tessera_bench_${name}_${randomBytes(3).toString('hex')}`);
  if (!url) throw new Error('no Postgres: set DATABASE_URL or start the local server');
  await migrateDatabase(url);
  const db = createDb(url, { max: 20 });
  return { url, db, drop: async () => { await db.destroy(); await dropDatabase(url); } };
}

/** Four source instances, ~30% of people present in more than one (same email). */
export const INSTANCES = [
  { sourceType: 'Salesforce', sourceInstanceID: '00D5e0000001' },
  { sourceType: 'Marketo', sourceInstanceID: '123-ABC-456' },
  { sourceType: 'Marketo', sourceInstanceID: '789-DEF-012' },
  { sourceType: 'Dynamics', sourceInstanceID: 'contoso-eu' },
];

const FIRST = ['Ada', 'Grace', 'Alan', 'Hedy', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Lamarr', 'Johnson', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson'];

export function personRow(i: number) {
  const inst = INSTANCES[i % INSTANCES.length]!;
  const human = i % 10 < 3 ? Math.floor(i / 4) : i; // ~30% share an email with another instance's record
  const company = human % 5000;
  return {
    key: `P${i}@${inst.sourceInstanceID}.${inst.sourceType}`,
    email: `person${human}@company${company}.example`,
    first: FIRST[i % 10]!,
    last: LAST[(i >> 3) % 10]!,
    type: i % 3 === 0 ? 'Lead' : 'Contact',
    account: `A${company}@${inst.sourceInstanceID}.${inst.sourceType}`,
    score: i % 100,
    updated: new Date(Date.UTC(2026, 0, 1) + (i % 86_400) * 1000).toISOString(),
  };
}

export function personRecord(i: number) {
  const r = personRow(i);
  return {
    b2b: { personKey: { sourceKey: r.key }, personType: r.type, accountKey: { sourceKey: r.account }, personScore: r.score },
    workEmail: { address: r.email },
    person: { name: { firstName: r.first, lastName: r.last } },
    extSourceSystemAudit: { lastUpdatedDate: r.updated },
  };
}

export const PERSON_CSV_HEADER = 'b2b.personKey.sourceKey,workEmail.address,person.name.firstName,person.name.lastName,b2b.personType,b2b.accountKey.sourceKey,b2b.personScore,extSourceSystemAudit.lastUpdatedDate';

export async function writePersonCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  out.write(`${PERSON_CSV_HEADER}\n`);
  let chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    const r = personRow(i);
    chunk.push(`${r.key},${r.email},${r.first},${r.last},${r.type},${r.account},${r.score},${r.updated}`);
    if (chunk.length === 10_000) {
      if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((res) => out.once('drain', () => res()));
      chunk = [];
    }
  }
  if (chunk.length) out.write(`${chunk.join('\n')}\n`);
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

/**
 * The baseline: the fastest raw `INSERT … ON CONFLICT` of the same rows (key, JSON record, update
 * time) into a plain table with only a primary key: COPY into a staging table, then one
 * `INSERT … SELECT … ON CONFLICT DO UPDATE` per batch. No parsing, validation or landing copy.
 */
export async function rawInsertBaseline(db: Knex, rows: number, batchSize: number): Promise<number> {
  await db.raw('CREATE TABLE bench_raw_person (record_key text PRIMARY KEY, record jsonb NOT NULL, updated_at timestamptz NOT NULL)');
  const started = performance.now();
  for (let from = 0; from < rows; from += batchSize) {
    let lines = '';
    for (let i = from; i < Math.min(rows, from + batchSize); i++) {
      const rec = personRecord(i);
      lines += `${copyValue(rec.b2b.personKey.sourceKey)}\t${copyValue(JSON.stringify(rec))}\t${rec.extSourceSystemAudit.lastUpdatedDate}\n`;
    }
    await inPgTransaction(db, async (conn) => {
      await conn.query('CREATE TEMP TABLE IF NOT EXISTS bench_stage (record_key text, record jsonb, updated_at timestamptz) ON COMMIT DELETE ROWS');
      await copyRows(conn, 'bench_stage', lines);
      await conn.query(
        `INSERT INTO bench_raw_person SELECT * FROM bench_stage
         ON CONFLICT (record_key) DO UPDATE SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at`,
      );
    });
  }
  return (performance.now() - started) / 1000;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** `--name value` from a benchmark's arguments, as a number. */
export function numberArg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
}

/**
 * Samples the resolvers' lag (the age of the oldest queued record) every `everyMs` until stopped:
 * what a record written now waits before the resolver passes it.
 */
export function sampleResolverLag(db: Knex, everyMs = 250): { stop(): Promise<{ p50: number; p95: number; max: number; samples: number }> } {
  const samples: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await db.raw(OLDEST_QUEUED_AGE_MS);
      samples.push(rows[0].ms);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      const sorted = [...samples].sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] ?? 0, samples: sorted.length };
    },
  };
}

/**
 * Streams one new person record every `everyMs` through the streaming path until stopped, each
 * answer waiting (up to 10 s) for its profile: what a streamed record waits, ingest to profile,
 * while the benchmark's load runs.
 */
export function streamedRecordProbe(db: Knex, everyMs = 500): { stop(): Promise<{ p50: number; p95: number; max: number; samples: number; resolved: number }> } {
  const watcher = new ResolutionWatcher(db);
  const samples: number[] = [];
  let resolved = 0;
  let stopped = false;
  const loop = (async () => {
    for (let k = 0; !stopped; k++) {
      const t = performance.now();
      const r = await ingestRecords(db, XDM_CLASSES.person, [personRecord(20_000_000 + k)], { resolution: { watcher, waitMs: 10_000 } });
      samples.push(performance.now() - t);
      if (r.resolution?.status === 'resolved') resolved++;
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await watcher.close();
      const sorted = [...samples].sort((a, b) => a - b);
      return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] ?? 0, samples: sorted.length, resolved };
    },
  };
}

/**
 * Age of the oldest queued record, read from the head of each resolver's queue index (a count or
 * min() over a million-row queue every few ms would take a core from the resolvers it measures).
 */
const OLDEST_QUEUED_AGE_MS = `SELECT coalesce(extract(epoch FROM clock_timestamp() - min(e)) * 1000, 0)::float8 AS ms
  FROM (SELECT (SELECT enqueued_at FROM identity_queue q WHERE q.entity = x AND q.failed_at IS NULL ORDER BY q.id LIMIT 1) AS e FROM unnest(ARRAY['person', 'account']) x) s`;

/** Waits until the resolvers have passed every queued record. */
export async function resolverCaughtUp(db: Knex): Promise<void> {
  for (;;) {
    const { rows } = await db.raw(`SELECT EXISTS (SELECT 1 FROM identity_queue WHERE entity = ANY(ARRAY['person', 'account']) AND failed_at IS NULL) AS queued`);
    if (!rows[0].queued) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * What the workflow benchmarks run on: a Temporal dev server, a fresh database, and Tessera's two
 * worker processes as `npm start` runs them (core: syncs and files; resolver: the identity
 * resolver workflows), each its own Node process; `stop()` tears it all down. `cpu()` reads how
 * busy the machine and each worker process have been since the last call.
 */
export async function benchStack(name: string): Promise<{ client: Client; taskQueue: string; db: Knex; cpu(): CpuReading; stop(): Promise<void> }> {
  process.env.TESSERA_PAYLOAD_KEY ??= randomBytes(32).toString('base64');
  const [server, store] = await Promise.all([startTemporalDevServer({ namespace: 'tessera' }), freshDatabase(name)]);
  const client = await connectClient(server.address, 'tessera');
  const taskQueue = `bench-${randomUUID().slice(0, 8)}`;
  const resolverQueue = `${taskQueue}-resolver`;
  const bundle = join(tmpdir(), `tessera-bench-bundle-${process.pid}.js`);
  writeFileSync(bundle, (await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: silentLogger })).code);
  const spawnWorker = (queues: string) =>
    spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'workers', 'main.ts')], {
      env: {
        ...process.env,
        DATABASE_URL: store.url,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: 'tessera',
        TESSERA_TASK_QUEUE: taskQueue,
        TESSERA_RESOLVER_TASK_QUEUE: resolverQueue,
        TESSERA_WORKER_QUEUES: queues,
        TESSERA_WORKFLOW_BUNDLE: bundle,
        TESSERA_WORKER_METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  const workers = { core: spawnWorker('core'), resolver: spawnWorker('resolver') };
  await ensureResolvers(client, resolverQueue);
  const cpu = cpuMeter({ core: workers.core.pid!, resolver: workers.resolver.pid! });
  return {
    client,
    taskQueue,
    db: store.db,
    cpu,
    async stop() {
      for (const entity of RESOLVER_ENTITIES) await client.workflow.getHandle(resolverWorkflowId(entity)).terminate('benchmark over').catch(() => undefined);
      await Promise.all(Object.values(workers).map((w) => new Promise<void>((done) => {
        if (w.exitCode !== null || w.signalCode !== null) return done();
        w.once('exit', () => done());
        w.kill('SIGTERM');
      })));
      await client.connection.close();
      await server.stop();
      await store.drop();
      rmSync(bundle, { force: true });
    },
  };
}

const silentLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => process.stderr.write(`${m}\n`) };

/** Cores busy (of all), and each named process's CPU, as seconds of CPU per second of wall time. */
export interface CpuReading {
  seconds: number;
  machineBusyCores: number;
  cores: number;
  byProcess: Record<string, number>;
}

function cpuMeter(pids: Record<string, number>): () => CpuReading {
  const tick = 100; // USER_HZ on Linux
  const machine = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + f[4]!;
    return { busy: f.reduce((a, b) => a + b, 0) - idle };
  };
  const proc = (pid: number) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]);
    } catch {
      return 0;
    }
  };
  let last = { at: performance.now(), machine: machine().busy, procs: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, proc(p)])) };
  return () => {
    const now = { at: performance.now(), machine: machine().busy, procs: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, proc(p)])) };
    const seconds = (now.at - last.at) / 1000;
    const reading: CpuReading = {
      seconds,
      cores: cpus().length,
      machineBusyCores: (now.machine - last.machine) / tick / seconds,
      byProcess: Object.fromEntries(Object.keys(pids).map((k) => [k, (now.procs[k]! - last.procs[k]!) / tick / seconds])),
    };
    last = now;
    return reading;
  };
}
