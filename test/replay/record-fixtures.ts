/**
 * Records the replay fixtures: runs each workflow branch worth guarding on a fresh dev server and
 * database, and writes its history to test/replay/histories/<release>/. Run once per release
 * (`npx tsx test/replay/record-fixtures.ts 0.1.0`) and commit the files; replay.test.ts then
 * requires every later version of the workflow code to replay them.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { fileIngestionWorkflowId } from '../../workflows/shared/file-ingestion-types';
import { freshDatabase } from '../../bench/support';
import { createFileIngestion } from '../../db/repositories/file-ingestions';
import { createLogger } from '../../platform/logger';
import { connectClient } from '../../platform/temporal';
import { ensureTemporalCli } from '../../scripts/ensure-temporal';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { createTesseraWorker } from '../../workers/tessera-worker';
import { FIXTURE_PAYLOAD_KEY } from './fixture-key';

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
      const firstRun = handle.firstExecutionRunId;
      // The CLI's JSON export is the documented replay format (eventId as strings: proto-JSON).
      const shown = spawnSync(ensureTemporalCli(), ['workflow', 'show', '--address', server.address, '--namespace', 'tessera', '--workflow-id', handle.workflowId, '--run-id', firstRun, '--output', 'json'], { encoding: 'utf8' });
      if (shown.status !== 0) throw new Error(`temporal workflow show failed: ${shown.stderr}`);
      writeFileSync(join(out, `${s.name}.json`), shown.stdout);
      process.stdout.write(`recorded ${s.name}\n`);
    }
  });
  await connection.close();
  await client.connection.close();
  await server.stop();
  await store.drop();
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
