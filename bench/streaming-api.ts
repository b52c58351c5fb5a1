/**
 * Streaming ingestion through the HTTP API: the API runs as its own process (as deployed).
 * Closed loop (default): `--concurrency` clients post distinct 500-record batches back to back
 * until `--records` are sent: the saturation throughput. Open loop (`--rate N`): requests leave
 * at N records/s whatever the answers, as real traffic does: the latency at that sustained rate.
 * The identity resolvers' loop runs in its own process; each answer waits for its records'
 * profiles up to `--wait-ms` (TESSERA_INGEST_RESOLVE_WAIT_MS, default 2,000; 0: store and answer
 * without waiting). The answers that came back `pending` are counted.
 * Baseline, same run, same records: the raw INSERT … ON CONFLICT of the same batches, no HTTP.
 * Target: ≥ 5,000 records/s sustained with p99 < 200 ms.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../scripts/temporal-dev-server';
import { waitForHttpOk } from '../scripts/wait-for-http';
import { fmt, freshDatabase, numberArg, percentile, personRecord, rawInsertBaseline, resolverCaughtUp } from './support';

export async function run(args: string[]): Promise<void> {
  const total = numberArg(args, 'records', 150_000);
  const perRequest = numberArg(args, 'batch', 500);
  const concurrency = numberArg(args, 'concurrency', 4);
  const rate = numberArg(args, 'rate', 0);
  const waitMs = numberArg(args, 'wait-ms', 2000);
  const store = await freshDatabase('api');
  const port = await freePort();
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'tessera-bench-')), 'admin.token');
  const api = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'api', 'server.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: store.url,
      TEMPORAL_ADDRESS: '127.0.0.1:1', // not needed for streaming ingestion
      TESSERA_API_PORT: String(port),
      TESSERA_INGEST_RESOLVE_WAIT_MS: String(waitMs),
      TESSERA_PAYLOAD_KEY: randomBytes(32).toString('base64'),
      TESSERA_ADMIN_TOKEN_FILE: tokenFile,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const resolvers = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'resolver-process.ts')], { env: { ...process.env, DATABASE_URL: store.url, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitForHttpOk(`${base}/health`);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${readFileSync(tokenFile, 'utf8').trim()}` };
    const requests = Math.ceil(total / perRequest);
    const bodies: string[] = [];
    for (let r = 0; r < requests; r++) {
      const batch = [];
      for (let i = r * perRequest; i < Math.min(total, (r + 1) * perRequest); i++) batch.push(personRecord(i));
      bodies.push(JSON.stringify(batch));
    }
    // Warm-up: a few requests of other records (JIT, connection pool, plan cache).
    for (let w = 0; w < 5; w++) {
      await fetch(`${base}/v1/ingest/person`, { method: 'POST', headers, body: JSON.stringify(Array.from({ length: perRequest }, (_, i) => personRecord(10_000_000 + w * perRequest + i))) });
    }
    const latencies: number[] = [];
    let failures = 0;
    let pending = 0;
    const send = async (body: string) => {
      const start = performance.now();
      const res = await fetch(`${base}/v1/ingest/person`, { method: 'POST', headers, body });
      const answer = (await res.json()) as { resolution?: { status: string } };
      latencies.push(performance.now() - start);
      if (res.status !== 200) failures++;
      if (answer.resolution?.status !== 'resolved') pending++;
    };
    const t0 = performance.now();
    if (rate > 0) {
      process.stdout.write(`posting ${fmt(total)} records at ${fmt(rate)} records/s (open loop, ${perRequest} per request)…\n`);
      const interval = (perRequest / rate) * 1000;
      const sent: Array<Promise<void>> = [];
      for (let r = 0; r < bodies.length; r++) {
        const due = t0 + r * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        sent.push(send(bodies[r]!));
      }
      await Promise.all(sent);
    } else {
      process.stdout.write(`posting ${fmt(total)} records in ${fmt(requests)} requests of ${perRequest}, ${concurrency} at a time…\n`);
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < bodies.length) await send(bodies[next++]!);
        }),
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    await resolverCaughtUp(store.db);
    const resolvedSeconds = (performance.now() - t0) / 1000;
    const count = (await store.db('xdm_person').count<{ count: string }[]>({ count: '*' }))[0]?.count ?? '0';

    process.stdout.write('running the baseline (raw INSERT … ON CONFLICT of the same batches, no HTTP)…\n');
    const baseline = await rawInsertBaseline(store.db, total, perRequest);
    process.stdout.write(
      [
        '',
        `streaming-api: ${fmt(total)} person records, ${perRequest} per request, ${rate > 0 ? `open loop at ${fmt(rate)} records/s` : `${concurrency} concurrent clients`}`,
        `  Tessera API (HTTP → validate → landing + upsert + queue; the answer waits ≤ ${fmt(waitMs)} ms for the profiles): ${seconds.toFixed(1)} s = ${fmt(total / seconds)} records/s`,
        `    request latency p50 ${latencies.length ? percentile(latencies, 50).toFixed(0) : '-'} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, max ${latencies[latencies.length - 1]!.toFixed(0)} ms; non-200 answers: ${failures}; canonical rows ${fmt(Number(count))}`,
        `    answers naming every profile (resolved within the wait): ${fmt(requests - pending)} of ${fmt(requests)}; the resolvers had caught up after ${resolvedSeconds.toFixed(1)} s (${fmt(total / resolvedSeconds)} records/s resolved)`,
        `  baseline (raw INSERT … ON CONFLICT of the same ${perRequest}-row batches):            ${baseline.toFixed(1)} s = ${fmt(total / baseline)} records/s`,
        `  targets: ≥ 5,000 records/s sustained, p99 < 200 ms`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const p of [api, resolvers]) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    await store.drop();
  }
}
