#!/usr/bin/env -S npx tsx
/**
 * `tessera`: the operator's command line (`npm run tessera -- <command>`). Talks to the API
 * (TESSERA_API_URL, default http://127.0.0.1:8080); long work shows a progress bar.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { readSourcesFile } from '../control/sources';
import { ApiClient } from './api-client';

interface FileIngestionView {
  id: string;
  status: string;
  percent: number;
  rows: number;
  accepted: number;
  quarantined: number;
  error: string | null;
  workflowId: string;
  workflowUrl?: string;
}

const program = new Command('tessera').description('Operate Tessera: ingest files, sync sources, backfill, inspect and replay quarantine').option('--api <url>', 'API base URL', process.env.TESSERA_API_URL ?? 'http://127.0.0.1:8080');
const api = () => new ApiClient(program.opts<{ api: string }>().api);
const print = (x: unknown): void => void process.stdout.write(`${JSON.stringify(x, null, 2)}\n`);

const tokens = program.command('tokens').description('API tokens (admin): create, list, revoke');
tokens
  .command('create')
  .description('create a token; its secret is printed once')
  .requiredOption('--principal <name>', 'who holds it (kept in the audit log)')
  .requiredOption('--role <role>', 'admin, operator, marketer, auditor or ingest')
  .option('--instance <sourceType/instanceId...>', 'ingest tokens: only these source instances')
  .option('--description <text>', 'what it is for', '')
  .option('--expires <iso-time>', 'when it stops working')
  .action(async (o: { principal: string; role: string; instance?: string[]; description: string; expires?: string }) => {
    const created = await api().request<{ token: string; id: string }>('POST', '/v1/tokens', { principal: o.principal, role: o.role, instances: o.instance, description: o.description, expiresAt: o.expires });
    process.stderr.write('the token (shown once; store it as a secret):\n');
    process.stdout.write(`${created.token}\n`);
    const { token: _secret, ...rest } = created;
    process.stderr.write(`${JSON.stringify(rest, null, 2)}\n`);
  });
tokens
  .command('list')
  .option('--revoked', 'include revoked tokens')
  .action(async (o: { revoked?: boolean }) => print(await api().request('GET', `/v1/tokens?revoked=${o.revoked ? 'true' : 'false'}`)));
tokens
  .command('revoke')
  .argument('<id>', 'the token id (the 16 hex characters after tsr_)')
  .action(async (id: string) => print(await api().request('DELETE', `/v1/tokens/${encodeURIComponent(id)}`)));

program
  .command('audit')
  .description('the audit log, newest first (auditor, admin)')
  .option('--limit <n>', 'entries', '50')
  .option('--principal <name>', 'only this principal')
  .action(async (o: { limit: string; principal?: string }) =>
    print(await api().request('GET', `/v1/audit?limit=${encodeURIComponent(o.limit)}${o.principal ? `&principal=${encodeURIComponent(o.principal)}` : ''}`)),
  );

program
  .command('ingest-file')
  .description('ingest a CSV or JSONL file of one XDM class through the ingestFile workflow')
  .argument('<path>', 'file readable by the API server (relative paths are made absolute here)')
  .requiredOption('-c, --class <class>', 'XDM class, e.g. person, account, opportunity')
  .option('-f, --format <format>', 'csv or jsonl (default: from the extension)')
  .option('-m, --mapping <file>', 'JSON mapping file: { "fields": { "<xdm.path>": "<column>" | {...} } }')
  .option('--no-wait', 'return once the workflow has started')
  .action(async (path: string, opts: { class: string; format?: string; mapping?: string; wait: boolean }) => {
    const mapping = opts.mapping ? JSON.parse(readFileSync(opts.mapping, 'utf8')) : undefined;
    const started = await api().request<FileIngestionView>('POST', '/v1/file-ingestions', { path: resolve(path), class: opts.class, format: opts.format, mapping, trigger: 'cli' });
    process.stderr.write(`started ${started.workflowId}${started.workflowUrl ? ` — ${started.workflowUrl}` : ''}\n`);
    if (!opts.wait) {
      print(started);
      return;
    }
    const bar = new SingleBar({ format: ' {bar} {percentage}% | {rows} rows | {accepted} accepted | {quarantined} quarantined', hideCursor: true }, Presets.shades_classic);
    bar.start(100, 0, { rows: 0, accepted: 0, quarantined: 0 });
    let view = started;
    while (view.status === 'pending' || view.status === 'running') {
      await new Promise((r) => setTimeout(r, 500));
      view = await api().request<FileIngestionView>('GET', `/v1/file-ingestions/${started.id}`);
      bar.update(view.percent, { rows: view.rows, accepted: view.accepted, quarantined: view.quarantined });
    }
    bar.update(view.status === 'completed' ? 100 : view.percent);
    bar.stop();
    print(view);
    if (view.status !== 'completed') process.exitCode = 1;
    else if (view.quarantined) process.stderr.write(`${view.quarantined} record(s) quarantined: tessera quarantine list --file-ingestion ${view.id}\n`);
  });

program
  .command('ingest')
  .description('post XDM records from a JSON file (one record or an array) to the streaming API, 1,000 per request')
  .argument('<class>', 'XDM class')
  .argument('<file>', 'JSON file')
  .action(async (cls: string, file: string) => {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const records = Array.isArray(parsed) ? parsed : [parsed];
    const totals = { accepted: 0, rejected: 0 };
    for (let i = 0; i < records.length; i += 1000) {
      // 422 (every record rejected) is still a per-record answer; anything else stops the command.
      const res = await api().request<{ accepted: number; rejected: number }>('POST', `/v1/ingest/${cls}`, records.slice(i, i + 1000), [422]);
      totals.accepted += res.accepted;
      totals.rejected += res.rejected;
    }
    if (totals.rejected) process.stderr.write(`${totals.rejected} record(s) quarantined: tessera quarantine list --class ${cls}\n`);
    print(totals);
  });

const quarantine = program.command('quarantine').description('rejected records');
quarantine
  .command('list')
  .option('-c, --class <class>')
  .option('--file-ingestion <id>')
  .option('--status <status>', 'open, replayed or discarded', 'open')
  .option('-n, --limit <n>', 'rows', '50')
  .action(async (o: { class?: string; fileIngestion?: string; status: string; limit: string }) => {
    const qs = new URLSearchParams({ status: o.status, limit: o.limit });
    if (o.class) qs.set('class', o.class);
    if (o.fileIngestion) qs.set('fileIngestionId', o.fileIngestion);
    const res = await api().request<{ total: number; records: Array<{ id: string; xdmClass: string; recordKey: string | null; position: number | null; errors: Array<{ path: string; message: string }> }> }>('GET', `/v1/quarantine?${qs}`);
    process.stdout.write(`${res.total} ${o.status} record(s)\n`);
    for (const r of res.records) {
      process.stdout.write(`#${r.id} ${r.xdmClass} ${r.recordKey ?? '(no key)'}${r.position !== null ? ` @${r.position}` : ''}\n`);
      for (const e of r.errors) process.stdout.write(`    ${e.path || '(record)'}: ${e.message}\n`);
    }
  });
quarantine
  .command('replay')
  .description('replay open records through the ingestion path (after fixing the mapping or the schema)')
  .option('--ids <ids...>')
  .option('-c, --class <class>')
  .option('--file-ingestion <id>')
  .option('-m, --mapping <file>', 'corrected mapping for CSV rows')
  .action(async (o: { ids?: string[]; class?: string; fileIngestion?: string; mapping?: string }) => {
    const mapping = o.mapping ? JSON.parse(readFileSync(o.mapping, 'utf8')) : undefined;
    print(await api().request('POST', '/v1/quarantine/replay', { ids: o.ids, class: o.class, fileIngestionId: o.fileIngestion, mapping }));
  });

program
  .command('file-ingestions')
  .description('recent file ingestions')
  .action(async () => print(await api().request('GET', '/v1/file-ingestions')));

const sources = program.command('sources').description('source instances (Marketo, Salesforce, Dynamics) and their syncs');
sources
  .command('list')
  .description('instances with schedule, streams and recent runs')
  .action(async () => print(await api().request('GET', '/v1/sources')));
sources
  .command('apply')
  .description('add or change the instances of a sources file ({"instances": [...]}); their schedules follow')
  .argument('<file>', 'JSON sources file')
  .action(async (file: string) => {
    for (const instance of readSourcesFile(file)) {
      const view = await api().request<{ sourceType: string; instanceId: string }>('POST', '/v1/sources', instance);
      process.stderr.write(`configured ${view.sourceType}/${view.instanceId}\n`);
    }
  });
sources
  .command('reset')
  .description("forget where a stream stands: its next sync reads it from the start")
  .argument('<sourceType>')
  .argument('<instanceId>')
  .argument('<stream>')
  .action(async (type: string, id: string, stream: string) => print(await api().request('POST', `/v1/sources/${type}/${encodeURIComponent(id)}/streams/${encodeURIComponent(stream)}/reset`)));
for (const action of ['pause', 'resume'] as const) {
  sources
    .command(action)
    .description(`${action} an instance's scheduled syncs`)
    .argument('<sourceType>')
    .argument('<instanceId>')
    .action(async (type: string, id: string) => print(await api().request('POST', `/v1/sources/${type}/${encodeURIComponent(id)}/${action}`)));
}

program
  .command('sync')
  .description('sync an instance now (joins the running sync if there is one)')
  .argument('<sourceType>', 'marketo, salesforce or dynamics')
  .argument('<instanceId>', 'Munchkin id, Salesforce org id or Dynamics organisation')
  .action(async (type: string, id: string) => print(await api().request('POST', `/v1/sources/${type}/${encodeURIComponent(id)}/sync`)));

interface BackfillView {
  status: string;
  progress?: { windowsTotal: number; windowsDone: number; records: number; quarantined: number; percent: number };
}

const profiles = program.command('profile').description('unified person and account profiles');
profiles
  .command('get')
  .description('the profile holding an identity (namespace:value, e.g. email:ada@acme.example)')
  .argument('<identity>')
  .option('--account', 'an account profile (default: person)')
  .action(async (identity: string, o: { account?: boolean }) => print(await api().request('GET', `/v1/profiles/${o.account ? 'account' : 'person'}/by-identity?identity=${encodeURIComponent(identity)}`)));
profiles
  .command('history')
  .description("a profile's decision log")
  .argument('<profileId>')
  .option('--account', 'an account profile (default: person)')
  .action(async (id: string, o: { account?: boolean }) => print(await api().request('GET', `/v1/profiles/${o.account ? 'account' : 'person'}/${id}/history`)));

const identity = program.command('identity').description('identity resolution: explain, unlink, merge back');
identity
  .command('explain')
  .description('why two identities are one profile, or what keeps them apart')
  .argument('<a>')
  .argument('<b>')
  .option('--account', 'account identities (default: person)')
  .action(async (a: string, b: string, o: { account?: boolean }) =>
    print(await api().request('GET', `/v1/identity/explain?entity=${o.account ? 'account' : 'person'}&a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`)));
for (const [name, path, what] of [
  ['unlink', '/v1/identity/do-not-link', 'split: the two identities are never one profile again (runs the identityChange saga)'],
  ['allow-link', '/v1/identity/allow-link', 'merge back: remove a do-not-link (runs the identityChange saga)'],
] as const) {
  identity
    .command(name)
    .description(what)
    .argument('<a>')
    .argument('<b>')
    .option('--account', 'account identities (default: person)')
    .option('--reason <text>', 'kept in the decision log', '')
    .action(async (a: string, b: string, o: { account?: boolean; reason: string }) =>
      print(await api().request('POST', path, { entity: o.account ? 'account' : 'person', a, b, reason: o.reason })));
}

program
  .command('backfill')
  .description('re-read a time range of an instance, in the windows the source allows, with a progress bar')
  .argument('<sourceType>')
  .argument('<instanceId>')
  .requiredOption('--from <iso>', 'start of the range (ISO 8601)')
  .requiredOption('--to <iso>', 'end of the range (ISO 8601)')
  .option('--streams <names>', 'comma-separated streams (default: every stream that can be backfilled)')
  .option('--no-wait', 'return once the workflow has started')
  .action(async (type: string, id: string, o: { from: string; to: string; streams?: string; wait: boolean }) => {
    const started = await api().request<{ backfillId: string; workflowId: string; workflowUrl?: string; windows: number }>(
      'POST',
      `/v1/sources/${type}/${encodeURIComponent(id)}/backfills`,
      { from: o.from, to: o.to, streams: o.streams?.split(',').map((s) => s.trim()) },
    );
    process.stderr.write(`started ${started.workflowId} (${started.windows} windows)${started.workflowUrl ? ` — ${started.workflowUrl}` : ''}\n`);
    if (!o.wait) return print(started);
    const bar = new SingleBar({ format: ' {bar} {percentage}% | {done}/{total} windows | {records} records | {quarantined} quarantined', hideCursor: true }, Presets.shades_classic);
    bar.start(100, 0, { done: 0, total: started.windows, records: 0, quarantined: 0 });
    let view: BackfillView;
    do {
      await new Promise((r) => setTimeout(r, 1000));
      view = await api().request<BackfillView>('GET', `/v1/backfills/${started.backfillId}`);
      const p = view.progress;
      if (p) bar.update(p.percent, { done: p.windowsDone, total: p.windowsTotal, records: p.records, quarantined: p.quarantined });
    } while (view.status === 'RUNNING');
    bar.stop();
    print(view);
    if (view.status !== 'COMPLETED') process.exitCode = 1;
  });

program
  .command('reconcile')
  .description("list the ids the source holds for the streams whose API reports no deletes, and mark the stored records it no longer has as deleted (also runs on the instance's reconcileSchedule)")
  .argument('<sourceType>')
  .argument('<instanceId>')
  .option('--streams <names>', 'comma-separated streams (default: every stream that needs reconciling)')
  .option('--force', 'mark the missing records even when they are more than half of a stream (a run that was held)')
  .action(async (type: string, id: string, o: { streams?: string; force?: boolean }) =>
    print(await api().request('POST', `/v1/sources/${type}/${encodeURIComponent(id)}/reconcile`, { force: o.force ?? false, ...(o.streams ? { streams: o.streams.split(',').map((s) => s.trim()) } : {}) })));

interface ResolverView {
  entity: string;
  workflow: string;
  queue: { depth: number; oldestMs: number; setAside: number };
  totals: { batches: number; records: number; profilesWritten: number; merges: number; splits: number };
  lastBatch: { at: string; records: number; ms: number; lagMs: number } | null;
}

program
  .command('status')
  .description('the identity resolvers: queue depth and lag, last micro-batch, merges and splits (what /metrics exports)')
  .option('--json', 'print the API answer as JSON')
  .action(async (o: { json?: boolean }) => {
    const { resolvers } = await api().request<{ resolvers: ResolverView[] }>('GET', '/v1/identity/resolvers');
    if (o.json) return print({ resolvers });
    const rows = resolvers.map((r) => ({
      resolver: r.entity,
      workflow: r.workflow,
      queued: r.queue.depth,
      'lag (s)': (r.queue.oldestMs / 1000).toFixed(1),
      'set aside': r.queue.setAside,
      resolved: r.totals.records,
      batches: r.totals.batches,
      'last batch': r.lastBatch ? `${r.lastBatch.records} in ${r.lastBatch.ms} ms (lag ${r.lastBatch.lagMs} ms)` : '-',
      merges: r.totals.merges,
      splits: r.totals.splits,
    }));
    console.table(rows);
  });

const resolver = program.command('resolver').description('the identity resolvers (one workflow per entity)');
for (const action of ['pause', 'resume', 'requeue'] as const) {
  resolver
    .command(action)
    .description(
      action === 'pause' ? 'pause a resolver: records are still stored and queued, and wait'
      : action === 'resume' ? 'resume a paused resolver'
      : 'put the records a resolver set aside (failed to resolve) back in its queue',
    )
    .argument('<entity>', 'person or account')
    .action(async (entity: string) => print(await api().request('POST', `/v1/identity/resolvers/${encodeURIComponent(entity)}/${action}`)));
}

program.parseAsync().catch((e: Error) => {
  process.stderr.write(`tessera: ${e.message}\n`);
  process.exit(1);
});
