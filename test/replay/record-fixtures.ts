/**
 * Records the replay fixtures: runs each workflow branch worth guarding on a fresh dev server and
 * database, and writes its history to test/replay/histories/<release>/. Run once per release
 * (`npx tsx test/replay/record-fixtures.ts 0.1.0`) and commit the files; replay.test.ts then
 * requires every later version of the workflow code to replay them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { fileIngestionWorkflowId } from '../../contracts/file-ingestion';
import { freshDatabase } from '../../bench/support';
import { createFileIngestion } from '../../db/repositories/file-ingestions';
import { upsertSourceInstance } from '../../db/repositories/source-instances';
import { createBackfill } from '../../db/repositories/sync-runs';
import { startDynamicsSimulator } from '../../simulators/dynamics';
import { buildWorld } from '../../simulators/world/world';
import { createLogger } from '../../platform/logger';
import { ingestRecords } from '../../engine/ingest/ingest-records';
import { drainIdentityQueue } from '../../engine/identity/resolver';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { connectClient } from '../../platform/temporal';
import { ensureTemporalCli } from '../../scripts/ensure-temporal';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { createTesseraWorker } from '../../workers/tessera-worker';
import { FIXTURE_PAYLOAD_KEY } from './fixture-key';
import { RESOLVER_ENTITIES, resolverWorkflowId } from '../../contracts/resolver';
import { ensureResolvers } from '../../control/resolvers';

async function main() {
  const release = process.argv[2];
  if (!release) throw new Error('usage: record-fixtures.ts <release>');
  process.env.TESSERA_PAYLOAD_KEY = FIXTURE_PAYLOAD_KEY;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const out = join(__dirname, 'histories', release);
  mkdirSync(out, { recursive: true });
  const dir = join(out, '.inputs');
  mkdirSync(dir, { recursive: true });

  const [server, store] = await Promise.all([startTemporalDevServer({ namespace: 'tessera' }), freshDatabase('fixtures')]);
  const connection = await NativeConnection.connect({ address: server.address });
  const client = await connectClient(server.address, 'tessera');
  const taskQueue = `fixtures-${randomUUID().slice(0, 8)}`;
  const worker = await createTesseraWorker({ connection, namespace: 'tessera', taskQueue, db: store.db, log: createLogger('fixtures', 'warn') });
  const scenarios: Array<{ name: string; content: string; input: Record<string, unknown> }> = [
    // Several slices (continue within a run), a bad row quarantined, completed.
    { name: 'ingestFile-completed-slices', content: 'b2b.personKey.sourceKey,b2b.personScore\n' + Array.from({ length: 30 }, (_, i) => `P${i}@fx.Salesforce,${i === 7 ? 'x' : i}`).join('\n'), input: { sliceRecords: 10, batchSize: 5 } },
    // Continues as new after 2 slices (this history is the first run's, ending in CONTINUED_AS_NEW).
    { name: 'ingestFile-continued-as-new', content: 'b2b.personKey.sourceKey\n' + Array.from({ length: 30 }, (_, i) => `C${i}@fx.Salesforce`).join('\n'), input: { sliceRecords: 5, batchSize: 5, slicesPerRun: 2 } },
    // Refused at open (unknown column): the failure is recorded, then the workflow fails.
    { name: 'ingestFile-failed-invalid-file', content: 'Email\nada@example.com\n', input: {} },
  ];
  await worker.runUntil(async () => {
    for (const s of scenarios) {
      const id = randomUUID();
      const path = join(dir, `${s.name}.csv`);
      writeFileSync(path, s.content);
      await createFileIngestion(store.db, { id, xdmClass: 'person', format: 'csv', path, mapping: null, sizeBytes: s.content.length, workflowId: fileIngestionWorkflowId(id) });
      const handle = await client.workflow.start('ingestFile', { taskQueue, workflowId: fileIngestionWorkflowId(id), args: [{ ingestionId: id, ...s.input }] });
      await handle.result().catch(() => undefined);
      // The first run's history (for a continued workflow, the run that continued as new).
      save(s.name, handle.workflowId, handle.firstExecutionRunId);
    }
    await recordSyncFixtures();
    await recordIdentityFixtures();
    await recordResolverFixture();
  });
  await connection.close();
  await client.connection.close();
  await server.stop();
  await store.drop();

  /** Writes a run's history; the CLI's JSON export is the documented replay format (eventId as strings: proto-JSON). */
  function save(name: string, workflowId: string, runId?: string): void {
    const shown = spawnSync(ensureTemporalCli(), ['workflow', 'show', '--address', server.address, '--namespace', 'tessera', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json'], { encoding: 'utf8' });
    if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
    writeFileSync(join(out, `${name}.json`), shown.stdout);
    const index = join(out, 'workflow-ids.json');
    const ids = existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as Record<string, string>) : {};
    writeFileSync(index, `${JSON.stringify({ ...ids, [`${name}.json`]: workflowId }, null, 2)}\n`);
    process.stdout.write(`recorded ${name}\n`);
  }

  /** sync (parent with a child per stream), one syncStream, a backfill, a sync refused by the source, and reconciliations. */
  async function recordSyncFixtures(): Promise<void> {
    const credentials = { clientId: 'fixtures', clientSecret: 'fixture-secret' };
    process.env.TESSERA_SOURCE_FX_DYN_CLIENT_ID = credentials.clientId;
    process.env.TESSERA_SOURCE_FX_DYN_CLIENT_SECRET = credentials.clientSecret;
    process.env.TESSERA_SOURCE_FX_BAD_CLIENT_ID = credentials.clientId;
    process.env.TESSERA_SOURCE_FX_BAD_CLIENT_SECRET = 'wrong';
    const sim = await startDynamicsSimulator({ world: buildWorld({ people: 60, accounts: 10, campaigns: 2, lists: 2 }), credentials, organization: 'fixtures' });
    try {
      const base = { sourceType: 'dynamics' as const, endpoint: sim.url, authEndpoint: sim.authEndpoint, settings: { pageSize: 20 }, schedule: '0 3 1 1 *', enabled: true };
      await upsertSourceInstance(store.db, { ...base, instanceId: 'fixtures', credentialsRef: 'FX_DYN' });
      await upsertSourceInstance(store.db, { ...base, instanceId: 'fixtures-bad', credentialsRef: 'FX_BAD' });
      const sync = await client.workflow.start('sync', { taskQueue, workflowId: 'sync/dynamics/fixtures-2026-11-29T00:00:00Z', args: [{ sourceType: 'dynamics', instanceId: 'fixtures', trigger: 'api' }] });
      await sync.result();
      save('sync-completed', sync.workflowId);
      save('syncStream-completed', `${sync.workflowId}/accounts`);
      const bad = await client.workflow.start('sync', { taskQueue, workflowId: 'sync/dynamics/fixtures-bad-2026-11-29T00:00:00Z', args: [{ sourceType: 'dynamics', instanceId: 'fixtures-bad', trigger: 'api' }] });
      await bad.result().catch(() => undefined);
      save('sync-failed-auth', bad.workflowId);
      const backfillId = randomUUID();
      await createBackfill(store.db, { id: backfillId, source_type: 'dynamics', instance_id: 'fixtures', range_from: new Date('2026-07-01T00:00:00Z'), range_to: new Date('2026-11-01T00:00:00Z'), streams: ['accounts', 'contacts'], windows: null, requested_by: 'fixtures' });
      const bf = await client.workflow.start('backfill', { taskQueue, workflowId: `backfill/dynamics/fixtures/${backfillId}`, args: [{ sourceType: 'dynamics', instanceId: 'fixtures', backfillId }] });
      await bf.result();
      save('backfill-completed', bf.workflowId);
      // reconcile: every class listed and weighed; and one whose listings are refused (each stream fails, the run fails at the end).
      const rec = await client.workflow.start('reconcile', { taskQueue, workflowId: 'reconcile/dynamics/fixtures/manual', args: [{ sourceType: 'dynamics', instanceId: 'fixtures', trigger: 'api' }] });
      await rec.result();
      save('reconcile-completed', rec.workflowId);
      const recBad = await client.workflow.start('reconcile', { taskQueue, workflowId: 'reconcile/dynamics/fixtures-bad/manual', args: [{ sourceType: 'dynamics', instanceId: 'fixtures-bad', trigger: 'api' }] });
      await recBad.result().catch(() => undefined);
      save('reconcile-failed-streams', recBad.workflowId);
    } finally {
      await sim.stop();
    }
  }

  /**
   * identityResolver: started, drains a write, paused (its run cancelled), resumed, drains another,
   * then terminated (it never ends by itself); the history up to there must replay.
   */
  async function recordResolverFixture(): Promise<void> {
    await ensureResolvers(client, taskQueue);
    const handle = client.workflow.getHandle(resolverWorkflowId('person'));
    const person = (id: string) => ({ b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: 'fx-res', sourceID: id } }, workEmail: { address: `${id}@resolver.fixtures.example` } });
    const resolvedCount = async () => Number((await store.db('identity_queue').count<{ n: string }[]>({ n: '*' }))[0]!.n);
    const drained = async () => {
      for (let i = 0; i < 300 && (await resolvedCount()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    };
    await ingestRecords(store.db, XDM_CLASSES.person, [person('R1')]);
    await drained();
    await handle.signal('pause');
    for (let i = 0; i < 300 && !(await handle.query<{ paused: boolean; draining: boolean }>('status')).paused; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 300 && (await handle.query<{ draining: boolean }>('status')).draining; i++) await new Promise((r) => setTimeout(r, 100));
    await handle.signal('resume');
    await ingestRecords(store.db, XDM_CLASSES.person, [person('R2')]);
    await drained();
    for (const entity of RESOLVER_ENTITIES) await client.workflow.getHandle(resolverWorkflowId(entity)).terminate('fixture recorded');
    save('identityResolver-paused-resumed', handle.workflowId);
  }

  /** identityChange: a split that completes, and one whose last step fails for good and is compensated. */
  async function recordIdentityFixtures(): Promise<void> {
    const person = (type: string, instance: string, id: string) => ({
      b2b: { personKey: { sourceType: type, sourceInstanceID: instance, sourceID: id } },
      workEmail: { address: 'kim@fixtures.example' },
      extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' },
    });
    await ingestRecords(store.db, XDM_CLASSES.person, [person('Salesforce', 'fx-org', '003A'), person('Marketo', 'fx-mk', '1')]);
    await drainIdentityQueue(store.db);
    for (const [name, injectFailure] of [['identityChange-completed', null], ['identityChange-compensated', 'destinations']] as const) {
      const id = randomUUID();
      await store.db('identity_change').insert({ id, entity: 'person', kind: 'do-not-link', a: 'b2b_person:1@fx-mk.Marketo', b: 'email:kim@fixtures.example', actor: 'fixtures', reason: name, inject_failure: injectFailure });
      const h = await client.workflow.start('identityChange', { taskQueue, workflowId: `identity-change/${id}`, args: [{ changeId: id }] });
      await h.result().catch(() => undefined);
      save(name, h.workflowId);
      if (!injectFailure) {
        const back = randomUUID();
        await store.db('identity_change').insert({ id: back, entity: 'person', kind: 'allow-link', a: 'b2b_person:1@fx-mk.Marketo', b: 'email:kim@fixtures.example', actor: 'fixtures', reason: 'merge back' });
        await (await client.workflow.start('identityChange', { taskQueue, workflowId: `identity-change/${back}`, args: [{ changeId: back }] })).result();
      }
    }
  }
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
