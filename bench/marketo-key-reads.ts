/**
 * `npm run bench -- marketo-key-reads [--leads N] [--changed PCT]`: the Marketo objects that can
 * only be read by key (companies by the company ids on leads, opportunity roles by lead ids), with
 * N stored leads (default 1,000,000; one company per 10 leads).
 *
 * Measured, through the real path (the engine's readStreamPages with its Postgres key sets, the
 * Marketo connector over HTTP to the simulator):
 *   - Marketo calls per run: the first run (every key), a run after PCT% of the leads changed
 *     (default 1%), and a quiet run — against Marketo's default 50,000 calls a day, at 96 runs a day;
 *   - Postgres time to produce the keys: the key sets' first build, refresh and walks.
 * Baseline, same run: the previous way to find keys — `SELECT DISTINCT` over the instance's stored
 * records, once per page of 300 keys, every run — timed on sample pages and multiplied by the
 * pages of a full walk, which every run made (its calls were the first run's calls, every run).
 *
 * Connector calls skip the request budget (the simulator's limits are lifted): the figure is the
 * number of calls, not how long Marketo's 100 calls / 20 s would make them take.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { marketoConnector } from '../connectors/sources/marketo';
import type { SourceStream } from '../connectors/sources/source-connector';
import { copyRows, copyValue, inPgTransaction } from '../db/pg-transaction';
import { upsertSourceInstance } from '../db/repositories/source-instances';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { preparePage, readStreamPages, storePreparedRecords } from '../engine/ingest/source-sync';
import { identityExtractions } from '../engine/identity/ingest-identities';
import { startMarketoSimulator } from '../simulators/marketo';
import { buildWorld } from '../simulators/world/world';
import { fmt, freshDatabase, numberArg } from './support';

const MUNCHKIN = '555-KEY-555';
const DAILY_QUOTA = 50_000;
const RUNS_PER_DAY = 96;
const PAGE = 300;

const leadRecord = (i: number, company: number, title = 'Engineer') => ({
  b2b: { personKey: { sourceType: 'Marketo', sourceInstanceID: MUNCHKIN, sourceID: String(i), sourceKey: `${i}@${MUNCHKIN}.Marketo` }, accountID: `C${company}` },
  extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00.000Z' },
  workEmail: { address: `lead${i}@example.com` },
  person: { name: { firstName: 'Lead', lastName: String(i) } },
  extendedWorkDetails: { jobTitle: title },
});

/** N leads straight into xdm_person with COPY (the fixture, not what is measured). */
async function loadLeads(db: Knex, n: number, companies: number): Promise<void> {
  const batchId = randomUUID();
  for (let from = 0; from < n; from += 50_000) {
    const lines: string[] = [];
    for (let i = from; i < Math.min(n, from + 50_000); i++) {
      const r = leadRecord(i + 1, i % companies);
      lines.push([`${i + 1}@${MUNCHKIN}.Marketo`, 'Marketo', MUNCHKIN, String(i + 1), 'false', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', `\\x${randomBytes(20).toString('hex')}`, batchId, JSON.stringify(r)].map(copyValue).join('\t'));
    }
    await inPgTransaction(db, (conn) => copyRows(conn, 'xdm_person (record_key, source_type, source_instance_id, source_id, is_deleted, source_updated_at, received_at, content_hash, batch_id, record)', `${lines.join('\n')}\n`));
  }
  await db.raw('ANALYZE xdm_person');
}

/** Changes `count` leads through the sync store path (landing rows included): half move company. */
async function changeLeads(db: Knex, n: number, companies: number, count: number): Promise<void> {
  const identitiesOf = await identityExtractions(db);
  const step = Math.max(1, Math.floor(n / count));
  const picks = Array.from({ length: count }, (_, k) => 1 + ((k * step) % n));
  for (let from = 0; from < picks.length; from += 2_000) {
    const records = picks.slice(from, from + 2_000).map((i, k) => {
      const r = leadRecord(i, k % 2 ? (i + 7) % companies : (i - 1) % companies, k % 2 ? 'Engineer' : 'VP Engineering');
      r.extSourceSystemAudit.lastUpdatedDate = new Date().toISOString();
      return { xdmClass: 'person' as const, record: r };
    });
    const prepared = preparePage({ records, unmappable: [], state: {}, complete: false }, new Date());
    await inPgTransaction(db, (conn) => storePreparedRecords(conn, `marketo/${MUNCHKIN}/leads`, prepared, identitiesOf));
  }
}

/** The old way: one DISTINCT over the instance's records per page. Returns ms per page (mean of samples). */
async function oldPageMs(db: Knex, path: string[], afters: Array<string | null>): Promise<number> {
  const t0 = performance.now();
  for (const after of afters) {
    await db.raw(
      `SELECT DISTINCT v FROM (SELECT record #>> ?::text[] AS v FROM xdm_person WHERE source_instance_id = ?) s
       WHERE v IS NOT NULL AND v <> '' AND (?::text IS NULL OR v > ?::text) ORDER BY v LIMIT ?`,
      [path, MUNCHKIN, after, after, PAGE],
    );
  }
  return (performance.now() - t0) / afters.length;
}

async function runStream(db: Knex, stream: SourceStream, callsBefore: () => Promise<number>): Promise<{ calls: number; ms: number; records: number }> {
  const before = await callsBefore();
  const t0 = performance.now();
  const runStartedAt = new Date().toISOString();
  for (;;) {
    const r = await readStreamPages(db, {
      key: { sourceType: 'marketo', instanceId: MUNCHKIN, stream: stream.name, scope: 'incremental' },
      instanceLabel: `marketo/${MUNCHKIN}`,
      stream,
      runStartedAt,
      maxPages: 100_000,
      maxMs: 60_000,
      signal: new AbortController().signal,
    });
    if (r.totals.complete) return { calls: (await callsBefore()) - before, ms: performance.now() - t0, records: r.totals.records };
  }
}

export async function run(args: string[]): Promise<void> {
  const leads = numberArg(args, 'leads', 1_000_000);
  const changedPct = numberArg(args, 'changed', 1);
  const companies = Math.max(1, Math.floor(leads / 10));
  const credentials = { clientId: 'bench', clientSecret: randomBytes(16).toString('hex') };
  const sim = await startMarketoSimulator({
    world: buildWorld({ people: 20, accounts: 4, marketoShares: [1], opportunitiesPerAccount: 0, campaigns: 0, lists: 0, activitiesPerPerson: 0 }),
    credentials, munchkinId: MUNCHKIN, maxCallsPer20s: 1e9, maxConcurrent: 1_000,
  });
  const { db, drop } = await freshDatabase('key_reads');
  try {
    process.stdout.write(`loading ${fmt(leads)} Marketo leads (${fmt(companies)} companies) with COPY…\n`);
    await loadLeads(db, leads, companies);
    await upsertSourceInstance(db, { sourceType: 'marketo', instanceId: MUNCHKIN, endpoint: sim.url, settings: sim.suggestedSettings, credentialsRef: 'BENCH_KEYS', schedule: '0 3 1 1 *', enabled: true });
    const connector = marketoConnector.create({
      // Runs here are seconds apart and stand for runs 15 minutes apart: no overlap of the changed-keys window.
      instance: { sourceType: 'marketo', instanceId: MUNCHKIN, endpoint: sim.url, settings: { ...sim.suggestedSettings, overlapMs: 0 } },
      credentials,
      gate: (call) => call(),
      log: { info: () => undefined, warn: () => undefined },
    });
    const streams = ['companies', 'opportunity-roles'].map((n) => connector.streams.find((s) => s.name === n)!);
    const calls = async () => sim.stats().total;

    const results: Record<string, Array<{ calls: number; ms: number }>> = {};
    const runAll = async () => {
      for (const s of streams) (results[s.name] ??= []).push(await runStream(db, s, calls));
    };
    process.stdout.write('run 1 (first run: every key; builds the key sets)…\n');
    await runAll();
    const changed = Math.round((leads * changedPct) / 100);
    process.stdout.write(`changing ${fmt(changed)} leads (${changedPct}%) through the sync store path…\n`);
    await changeLeads(db, leads, companies, changed);
    process.stdout.write('run 2 (after the changes), run 3 and 4 (quiet)…\n');
    await runAll();
    await runAll();
    await runAll();

    process.stdout.write('baseline: the previous key query (DISTINCT over the stored records, per page)…\n');
    const samples = [null, 'C5', String(Math.floor(leads / 2))];
    const oldCompanies = await oldPageMs(db, ['b2b', 'accountID'], samples);
    const oldRoles = await oldPageMs(db, ['b2b', 'personKey', 'sourceID'], samples);
    const keySets = await db('source_key_set').select('key_set').count<{ key_set: string; count: string }[]>({ count: '*' }).groupBy('key_set');

    const lines = ['', `marketo-key-reads: ${fmt(leads)} stored leads, ${fmt(companies)} companies; ${fmt(changed)} leads changed before run 2`];
    for (const [name, runs] of Object.entries(results)) {
      const [first, afterChange, quiet] = [runs[0]!, runs[1]!, runs[3]!];
      lines.push(
        `  ${name}:`,
        `    run 1 (every key): ${fmt(first.calls)} calls, ${(first.ms / 1000).toFixed(1)} s`,
        `    run 2 (after the change): ${fmt(afterChange.calls)} calls, ${(afterChange.ms / 1000).toFixed(1)} s`,
        `    quiet run: ${fmt(quiet.calls)} calls, ${(quiet.ms / 1000).toFixed(1)} s`,
        `    per day at ${RUNS_PER_DAY} runs: ${fmt(quiet.calls * RUNS_PER_DAY)} calls quiet (${((quiet.calls * RUNS_PER_DAY * 100) / DAILY_QUOTA).toFixed(1)}% of ${fmt(DAILY_QUOTA)}); before: ${fmt(first.calls * RUNS_PER_DAY)} (${((first.calls * RUNS_PER_DAY * 100) / DAILY_QUOTA).toFixed(0)}%)`,
      );
    }
    const pagesCompanies = Math.ceil(companies / PAGE);
    const pagesRoles = Math.ceil(leads / PAGE);
    lines.push(
      `  key sets: ${keySets.map((k) => `${k.key_set} ${fmt(Number(k.count))}`).join(', ')}`,
      `  baseline (previous key query, every run): companies ${oldCompanies.toFixed(0)} ms/page × ${fmt(pagesCompanies)} pages = ${((oldCompanies * pagesCompanies) / 1000).toFixed(0)} s of Postgres; opportunity roles ${oldRoles.toFixed(0)} ms/page × ${fmt(pagesRoles)} pages = ${((oldRoles * pagesRoles) / 1000).toFixed(0)} s`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await drop();
    await sim.stop();
  }
}
