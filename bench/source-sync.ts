/**
 * Source syncs from the simulators into the canonical tables, through the real path: the
 * syncStream workflow on a Temporal dev server, the connector over HTTP (budget-gated), the engine
 * validating and storing each page with its cursor.
 *
 *   marketo-bulk     500,000 leads by bulk extract (31-day windows, Range downloads)   target ≥ 20,000 records/s
 *   salesforce-rest  200,000 contacts by REST query paging (2,000 per page)           target ≥ 10,000 records/s
 *
 * Baseline, same run: the same number of person rows inserted raw (COPY + INSERT … ON CONFLICT
 * into a table with only a primary key). The simulator's own counters show the per-instance limits.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { upsertSourceInstance } from '../db/repositories/source-instances';
import { credentialSecretNames } from '../domain/sync/source-instance';
import type { syncStream } from '../workflows/sync';
import { benchStack, fmt, numberArg, rawInsertBaseline, resolverCaughtUp } from './support';

type Kind = 'marketo-bulk' | 'salesforce-rest';

export function runner(kind: Kind) {
  return async function run(args: string[]): Promise<void> {
    const target = kind === 'marketo-bulk' ? numberArg(args, 'leads', 500_000) : numberArg(args, 'contacts', 200_000);
    const credentials = { clientId: 'bench', clientSecret: randomBytes(16).toString('hex') };
    const names = credentialSecretNames('BENCH');
    process.env[names.clientId] = credentials.clientId;
    process.env[names.clientSecret] = credentials.clientSecret;

    process.stdout.write(`starting the ${kind === 'marketo-bulk' ? 'Marketo' : 'Salesforce'} simulator in its own process (world for ${fmt(target)} ${kind === 'marketo-bulk' ? 'leads' : 'contacts'})…\n`);
    // Marketo: every person is a lead of the one instance. Salesforce: ~66% of people are contacts (converted leads included).
    const sim = await startSimulatorProcess(kind === 'marketo-bulk' ? 'marketo' : 'salesforce', kind === 'marketo-bulk'
      ? { world: { people: target, accounts: Math.ceil(target / 25), marketoShares: [1], opportunitiesPerAccount: 0, campaigns: 0, lists: 0, activitiesPerPerson: 0 }, credentials, instanceIndex: 0, munchkinId: '555-BEN-555', jobSecondsPerStatus: 1 }
      : { world: { people: Math.ceil(target / 0.66), accounts: Math.ceil(target / 25), salesforceShare: 1, opportunitiesPerAccount: 0, campaigns: 0, lists: 0, activitiesPerPerson: 0 }, credentials, orgId: '00D5e000000BeNcHAA' });
    const stream = kind === 'marketo-bulk' ? 'leads' : 'Contact';

    const stack = await benchStack(kind.replace('-', '_'));
    const { client, taskQueue, db } = stack;
    try {
      const settings = kind === 'marketo-bulk' ? { ...sim.suggestedSettings, pollIntervalMs: 500 } : { useBulk: false, pageSize: 2000 };
      await upsertSourceInstance(db, {
        sourceType: kind === 'marketo-bulk' ? 'marketo' : 'salesforce',
        instanceId: sim.instanceId,
        endpoint: sim.url,
        ...(kind === 'salesforce-rest' ? { authEndpoint: `${sim.url}/services/oauth2/token` } : {}),
        settings,
        credentialsRef: 'BENCH',
        schedule: '0 3 1 1 *',
        enabled: true,
      });
      process.stdout.write(`syncing the ${stream} stream from the ${kind === 'marketo-bulk' ? 'Marketo' : 'Salesforce'} simulator …\n`);
      const t0 = performance.now();
      const totals = await client.workflow.execute<typeof syncStream>('syncStream', {
        taskQueue,
        workflowId: `bench-${kind}-${randomUUID().slice(0, 8)}`,
        args: [{ sourceType: kind === 'marketo-bulk' ? 'marketo' : 'salesforce', instanceId: sim.instanceId, stream, scope: 'incremental', runStartedAt: new Date().toISOString() }],
      });
      const tessera = (performance.now() - t0) / 1000;
      await resolverCaughtUp(db);
      const resolved = (performance.now() - t0) / 1000;
      const count = Number((await db('xdm_person').count<{ count: string }[]>({ count: '*' }))[0]?.count ?? 0);
      const records = totals.records;
      const limits = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as { total: number; maxCallsInWindow: number; windowMs: number; maxInFlight: number };

      process.stdout.write('running the baseline (raw INSERT … ON CONFLICT of as many person rows)…\n');
      const baseline = await rawInsertBaseline(db, records, 5_000);
      const rate = records / tessera;
      const baseRate = records / baseline;
      const goal = kind === 'marketo-bulk' ? 20_000 : 10_000;
      process.stdout.write(
        [
          '',
          `${kind}: ${fmt(records)} person records`,
          `  Tessera (syncStream workflow → HTTP → parse → map → validate → landing + canonical upsert + cursor, per page): ${tessera.toFixed(1)} s = ${fmt(rate)} records/s`,
          `    pages ${fmt(totals.pages)}, records ${fmt(totals.records)}, quarantined ${fmt(totals.quarantined)}, canonical rows ${fmt(count)}`,
          `  Tessera resolved (the identity resolvers caught up: graph, profiles): ${resolved.toFixed(1)} s = ${fmt(records / resolved)} records/s (${((records / resolved / baseRate) * 100).toFixed(0)}% of the baseline)`,
          `    simulator: ${fmt(limits.total)} requests, at most ${limits.maxCallsInWindow} in any ${limits.windowMs / 1000} s window, at most ${limits.maxInFlight} in flight`,
          `  baseline (raw INSERT … ON CONFLICT, same row count, batches of 5,000): ${baseline.toFixed(1)} s = ${fmt(baseRate)} records/s`,
          `  Tessera / baseline: ${((rate / baseRate) * 100).toFixed(0)}%   (target: ≥ ${fmt(goal)} records/s)`,
          '',
        ].join('\n'),
      );
      if (count !== records - totals.quarantined) throw new Error(`stored ${count} of ${records} records`);
    } finally {
      await stack.stop();
      sim.stop();
    }
  };
}

interface SimulatorProcess {
  url: string;
  instanceId: string;
  suggestedSettings?: Record<string, unknown>;
  stop(): void;
}

/** simulators/serve.ts in a child process: the vendor's work off the worker's thread, as in real life. */
async function startSimulatorProcess(type: string, options: Record<string, unknown>): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'simulators', 'serve.ts'), type, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the ${type} simulator exited (${code})`)));
  });
  return { ...(JSON.parse(line) as Omit<SimulatorProcess, 'stop'>), stop: () => child.kill('SIGTERM') };
}
