/** CSV / JSONL ingestion through the ingestFile workflow: counts, quarantine, bad input, crash resume. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { Worker as WorkerType } from '@temporalio/worker';
import { createFileIngestion, getFileIngestion } from '../db/repositories/file-ingestions';
import { fileIngestionWorkflowId } from '../contracts/file-ingestion';
import type { ingestFile } from '../workflows/ingestion';
import { fileIngestionProgressQuery } from '../contracts/file-ingestion';
import { tesseraDataConverter } from '../platform/temporal';
import { testApi } from './support/api';
import { closeTemporal, closeTestDb, countRows, requireEnv, temporalEnv, testDb, uniqueInstance, uniqueTaskQueue, workflowBundle, testWorker } from './support/env';
import { personCsv, testFilesDir, writeTestFile } from './support/files';

const taskQueue = uniqueTaskQueue('file-ingestion');
let api: Awaited<ReturnType<typeof testApi>>;
let worker: WorkerType;
let running: Promise<void>;

async function startWorker(queue = taskQueue): Promise<WorkerType> {
  return testWorker(queue);
}

before(async () => {
  api = await testApi({ taskQueue });
  worker = await startWorker();
  running = worker.run();
});

after(async () => {
  worker.shutdown();
  await running;
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

async function ingestThroughApi(body: Record<string, unknown>) {
  const res = await api.app.inject({ method: 'POST', url: '/v1/file-ingestions', payload: body });
  return res;
}

async function waitForWorkflow(workflowId: string) {
  const env = await temporalEnv();
  return env.client.workflow.getHandle<typeof ingestFile>(workflowId).result();
}

describe('file ingestion', () => {
  test('a CSV with bad rows in the middle: the rest is stored, each bad row is quarantined with its line and reason', async () => {
    const inst = uniqueInstance('sf');
    const path = writeTestFile(`${inst}.csv`, personCsv(inst, 2_000, [500, 1501]) + 'P9@x.Salesforce,"unterminated\n');
    const res = await ingestThroughApi({ path, class: 'person', trigger: 'api' });
    assert.equal(res.statusCode, 202, res.body);
    const started = res.json();
    assert.equal(started.workflowId, fileIngestionWorkflowId(started.id));

    const totals = await waitForWorkflow(started.workflowId);
    assert.deepEqual({ rows: totals.rows, accepted: totals.accepted, quarantined: totals.quarantined, status: totals.status }, { rows: 2_001, accepted: 1_998, quarantined: 3, status: 'completed' });
    assert.equal(await countRows('xdm_person', (q) => q.where('source_instance_id', inst)), 1_998);

    const status = await api.app.inject({ method: 'GET', url: `/v1/file-ingestions/${started.id}` });
    assert.equal(status.json().status, 'completed');
    assert.equal(status.json().percent, 100);

    const q = await api.app.inject({ method: 'GET', url: `/v1/quarantine?fileIngestionId=${started.id}` });
    const records = q.json().records as Array<{ position: number; errors: Array<{ path: string; message: string }>; rawKind: string }>;
    assert.deepEqual(records.map((r) => r.position), [501, 1502, 2002], 'line numbers, the header being line 1');
    assert.deepEqual(records[0]!.errors, [{ path: 'b2b.personScore', message: "column 'b2b.personScore': 'not-a-number' is not a number" }]);
    assert.equal(records[0]!.rawKind, 'csv-row');
    assert.match(records[2]!.errors[0]!.message, /line 2002: .*never closed/);
  });

  test('a mapping file maps vendor columns to XDM fields; replaying its quarantine after a mapping fix stores the rows', async () => {
    const inst = uniqueInstance('sf');
    const path = writeTestFile(`${inst}-contacts.csv`, 'Id,Email,First Name,Score\n003A,ADA@EXAMPLE.COM,Ada,10\n003B,bob@example.com,Bob,n/a\n');
    const mapping = {
      fields: {
        'b2b.personKey': { sourceKey: { idColumn: 'Id', sourceInstanceID: inst, sourceType: 'Salesforce' } },
        'workEmail.address': { column: 'Email', transform: 'lowercase' },
        'person.name.firstName': 'First Name',
        'b2b.personScore': 'Score',
      },
    };
    const res = await ingestThroughApi({ path, class: 'person', mapping });
    assert.equal(res.statusCode, 202, res.body);
    const totals = await waitForWorkflow(res.json().workflowId);
    assert.equal(totals.accepted, 1);
    assert.equal(totals.quarantined, 1);
    const row = await testDb()('xdm_person').where({ record_key: `003A@${inst}.Salesforce` }).first();
    assert.equal(row.work_email, 'ada@example.com');
    assert.equal(row.record.person.name.firstName, 'Ada');

    // The fix: stop mapping Score (it is free text in this org).
    const fixed = { fields: { ...mapping.fields, 'b2b.personScore': undefined } };
    delete (fixed.fields as Record<string, unknown>)['b2b.personScore'];
    const replay = await api.app.inject({ method: 'POST', url: '/v1/quarantine/replay', payload: { fileIngestionId: res.json().id, mapping: fixed } });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.deepEqual({ replayed: replay.json().replayed, stillFailing: replay.json().stillFailing }, { replayed: 1, stillFailing: 0 });
    assert.ok(await testDb()('xdm_person').where({ record_key: `003B@${inst}.Salesforce` }).first());
    const again = await api.app.inject({ method: 'POST', url: '/v1/quarantine/replay', payload: { fileIngestionId: res.json().id } });
    assert.equal(again.json().attempted, 0, 'a replayed record is no longer open');
  });

  test('JSONL: one XDM record per line; an unparseable line is quarantined as text', async () => {
    const inst = uniqueInstance('mkto');
    const lines = [
      JSON.stringify({ accountKey: { sourceKey: `1.mkto_org@${inst}.Marketo` }, accountName: 'Acme' }),
      '{"accountKey": {"sourceKey": ',
      JSON.stringify({ accountKey: { sourceKey: `2.mkto_org@${inst}.Marketo` }, accountName: 'Globex', accountParentKey: { sourceKey: `1.mkto_org@${inst}.Marketo` } }),
    ];
    const path = writeTestFile(`${inst}.jsonl`, lines.join('\n'));
    const res = await ingestThroughApi({ path, class: 'account' });
    assert.equal(res.statusCode, 202, res.body);
    const totals = await waitForWorkflow(res.json().workflowId);
    assert.deepEqual([totals.accepted, totals.quarantined], [2, 1]);
    const child = await testDb()('xdm_account').where({ record_key: `2.mkto_org@${inst}.Marketo` }).first();
    assert.equal(child.parent_key, `1.mkto_org@${inst}.Marketo`);

    // The unparseable line can only come back as a corrected record.
    const [bad] = (await api.app.inject({ method: 'GET', url: `/v1/quarantine?fileIngestionId=${res.json().id}` })).json().records;
    assert.equal(bad.position, 2);
    const asIs = await api.app.inject({ method: 'POST', url: `/v1/quarantine/${bad.id}/replay` });
    assert.equal(asIs.json().stillFailing, 1, asIs.body);
    assert.match(asIs.json().results[0].errors[0].message, /send a corrected record/);
    const corrected = await api.app.inject({
      method: 'POST',
      url: `/v1/quarantine/${bad.id}/replay`,
      payload: { record: { accountKey: { sourceKey: `3.mkto_org@${inst}.Marketo` }, accountName: 'Initech' } },
    });
    assert.equal(corrected.json().replayed, 1, corrected.body);
    assert.ok(await testDb()('xdm_account').where({ record_key: `3.mkto_org@${inst}.Marketo` }).first());
    const again = await api.app.inject({ method: 'POST', url: `/v1/quarantine/${bad.id}/replay` });
    assert.equal(again.statusCode, 409, 'a resolved record cannot be replayed twice');
  });

  test('an uploaded CSV body is saved and ingested like a file on the server', async () => {
    const inst = uniqueInstance('up');
    const res = await api.app.inject({ method: 'POST', url: '/v1/file-ingestions/upload?class=person', payload: personCsv(inst, 50), headers: { 'content-type': 'text/csv' } });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().format, 'csv');
    const totals = await waitForWorkflow(res.json().workflowId);
    assert.equal(totals.accepted, 50);
    assert.equal(await countRows('xdm_person', (q) => q.where('source_instance_id', inst)), 50);
    const row = await testDb()('file_ingestion').where({ id: res.json().id }).first();
    assert.ok(row.uploaded_by, 'the upload is counted against its token');
    assert.equal(existsSync(row.path), false, 'an uploaded file is deleted once ingested');
    const empty = await api.app.inject({ method: 'POST', url: '/v1/file-ingestions/upload?class=person', payload: '', headers: { 'content-type': 'text/csv' } });
    assert.equal(empty.statusCode, 400);
    assert.match(empty.json().message, /empty/);

    // A body that stops before its end (the client went away): the request settles, no partial file stays.
    const uploads = join(api.dataDir, 'uploads');
    const before = existsSync(uploads) ? readdirSync(uploads).length : 0;
    const aborted = await api.app.inject({ method: 'POST', url: '/v1/file-ingestions/upload?class=person', payload: personCsv(inst, 500), headers: { 'content-type': 'text/csv' }, simulate: { end: false, split: true, error: false, close: true } });
    assert.equal(aborted.statusCode, 400, aborted.body);
    assert.equal(aborted.json().error, 'UploadAborted');
    assert.equal(existsSync(uploads) ? readdirSync(uploads).length : 0, before, 'the partial upload is removed');
  });

  test('the API reads only files inside its import directories, and caps uploads', async () => {
    const outside = await ingestThroughApi({ path: '/etc/hostname', class: 'person' });
    assert.equal(outside.statusCode, 403);
    assert.match(outside.json().message, /outside the import directories/);
    const escape = await ingestThroughApi({ path: '../../../../../etc/hostname', class: 'person' });
    assert.equal(escape.statusCode, 403);
    const link = join(testFilesDir, `link-${randomUUID()}.csv`);
    (await import('node:fs')).symlinkSync('/etc/hostname', link);
    const viaLink = await ingestThroughApi({ path: link, class: 'person' });
    assert.equal(viaLink.statusCode, 403, 'a symlink inside a root pointing outside is refused');
    const small = await testApi({ taskQueue, maxUploadBytes: 100 });
    try {
      const big = await small.app.inject({ method: 'POST', url: '/v1/file-ingestions/upload?class=person', payload: personCsv('x', 10), headers: { 'content-type': 'text/csv' } });
      assert.equal(big.statusCode, 413);
    } finally {
      await small.close();
    }
    const quota = await testApi({ taskQueue, uploadQuota: { perDay: 1, bytesPerDay: 10_000 } });
    try {
      const upload = (rows: number) => quota.app.inject({ method: 'POST', url: '/v1/file-ingestions/upload?class=person', payload: personCsv(uniqueInstance('q'), rows), headers: { 'content-type': 'text/csv' } });
      assert.equal((await upload(2)).statusCode, 202);
      const second = await upload(2);
      assert.equal(second.statusCode, 429, 'one upload a day for this token');
      assert.equal(second.json().error, 'UploadQuota');
    } finally {
      await quota.close();
    }
  });

  test('files that cannot be ingested are refused up front with every problem listed', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ path: writeTestFile('empty.csv', ''), class: 'person' }, /the file is empty/],
      [{ path: writeTestFile('header-only.csv', 'b2b.personKey.sourceKey\n'), class: 'person' }, /header but no data rows/],
      [{ path: writeTestFile('unknown-cols.csv', 'b2b.personKey.sourceKey,Email,Phone\n1@a.b,x,y\n'), class: 'person' }, /column 'Email' is not an XDM field path.*column 'Phone'/],
      [{ path: join(testFilesDir, 'no-such-file.csv'), class: 'person' }, /no such file/],
      [{ path: writeTestFile('x.jsonl', '{}'), class: 'person', mapping: { fields: { a: 'b' } } }, /mapping applies to CSV files only/],
    ];
    for (const [body, message] of cases) {
      const res = await ingestThroughApi(body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.json().message, message);
    }
    const unknownClass = await ingestThroughApi({ path: '/tmp/x.csv', class: 'people' });
    assert.equal(unknownClass.statusCode, 400);
    assert.match(unknownClass.json().message, /class/);
  });

  test('a file that became unreadable after it was accepted fails the workflow and records why', async () => {
    const id = randomUUID();
    const path = writeTestFile(`${id}.csv`, 'Email\nada@example.com\n'); // no XDM column: refused when opened
    await createFileIngestion(testDb(), { id, xdmClass: 'person', format: 'csv', path, mapping: null, sizeBytes: 24, workflowId: fileIngestionWorkflowId(id) });
    const env = await temporalEnv();
    const handle = await env.client.workflow.start<typeof ingestFile>('ingestFile', { taskQueue, workflowId: fileIngestionWorkflowId(id), args: [{ ingestionId: id }] });
    await assert.rejects(handle.result(), (e: Error & { cause?: { cause?: { type?: string } } }) => e.cause?.cause?.type === 'InvalidFile');
    const row = await getFileIngestion(testDb(), id);
    assert.equal(row!.status, 'failed');
    assert.match(row!.error!, /column 'Email' is not an XDM field path/);
  });

  test('a long file continues as new between slices and still completes with every row', async () => {
    const inst = uniqueInstance('can');
    const id = randomUUID();
    const path = writeTestFile(`${inst}.csv`, personCsv(inst, 95, [50]));
    await createFileIngestion(testDb(), { id, xdmClass: 'person', format: 'csv', path, mapping: null, sizeBytes: 1, workflowId: fileIngestionWorkflowId(id) });
    const env = await temporalEnv();
    const handle = await env.client.workflow.start<typeof ingestFile>('ingestFile', {
      taskQueue,
      workflowId: fileIngestionWorkflowId(id),
      args: [{ ingestionId: id, sliceRecords: 10, batchSize: 5, slicesPerRun: 3 }],
    });
    const totals = await handle.result();
    assert.deepEqual([totals.status, totals.rows, totals.accepted, totals.quarantined], ['completed', 95, 94, 1]);
    const runs = await env.client.workflow.list({ query: `WorkflowId = '${fileIngestionWorkflowId(id)}'` });
    let count = 0;
    for await (const _ of runs) count++;
    assert.ok(count >= 3, `continued as new (${count} runs)`);
    assert.equal((await getFileIngestion(testDb(), id))!.status, 'completed');
  });

  test('the workflow history is encrypted and replays deterministically', async () => {
    const inst = uniqueInstance('sf');
    const path = writeTestFile(`${inst}-replay.csv`, personCsv(inst, 20));
    const res = await ingestThroughApi({ path, class: 'person' });
    await waitForWorkflow(res.json().workflowId);
    const env = await temporalEnv();
    const history = await env.client.workflow.getHandle(res.json().workflowId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0];
    assert.equal(Buffer.from(payload!.metadata!.encoding!).toString(), 'binary/encrypted');
    assert.ok(!Buffer.from(payload!.data!).toString().includes(res.json().id), 'the ingestion id is not readable in the stored input');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: tesseraDataConverter() }, history, res.json().workflowId);
  });

  test('kill -9 of the worker mid-file: a new worker resumes from the checkpoint; no row lost, none stored twice', async () => {
    const inst = uniqueInstance('crash');
    const rows = 60_000;
    const bad = [7, 30_001, 59_999];
    const path = writeTestFile(`${inst}.csv`, personCsv(inst, rows, bad));
    const queue = uniqueTaskQueue('crash');
    const id = randomUUID();
    const db = testDb();
    await createFileIngestion(db, { id, xdmClass: 'person', format: 'csv', path, mapping: null, sizeBytes: 1, workflowId: fileIngestionWorkflowId(id) });
    await db('file_ingestion').where({ id }).update({ size_bytes: (await import('node:fs')).statSync(path).size });

    // A real worker process, killed without warning once some batches are committed.
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'workers', 'main.ts')], {
      env: { ...process.env, DATABASE_URL: requireEnv('TESSERA_TEST_DATABASE_URL'), TESSERA_TASK_QUEUE: queue, LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const env = await temporalEnv();
    const handle = await env.client.workflow.start<typeof ingestFile>('ingestFile', {
      taskQueue: queue,
      workflowId: fileIngestionWorkflowId(id),
      args: [{ ingestionId: id, batchSize: 250, sliceRecords: 20_000, heartbeatTimeout: '2s' }],
    });
    let offsetAtKill = 0;
    for (let i = 0; i < 600; i++) {
      const fi = await getFileIngestion(db, id);
      offsetAtKill = Number(fi!.byte_offset);
      if (Number(fi!.rows_read) >= 5_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await getFileIngestion(db, id);
    assert.equal(atKill!.status, 'running', 'the kill happened mid-file');
    assert.ok(Number(atKill!.byte_offset) < Number(atKill!.size_bytes), 'the kill happened before the end of the file');
    assert.ok(offsetAtKill > 0);

    const rescuer = await startWorker(queue);
    const totals = await rescuer.runUntil(async () => {
      // The query reports each finished slice; the first one the rescuer finishes starts at the checkpoint.
      for (;;) {
        const live = await handle.query(fileIngestionProgressQuery);
        if (live && live.byteOffset >= offsetAtKill) {
          assert.ok(live.percent <= 100, 'progress resumes from the checkpoint');
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return handle.result();
    });
    assert.equal(totals.status, 'completed');
    assert.equal(totals.rows, rows);
    assert.equal(totals.accepted, rows - bad.length);
    assert.equal(totals.quarantined, bad.length);
    assert.equal(await countRows('xdm_person', (q) => q.where('source_instance_id', inst)), rows - bad.length);
    assert.equal(await countRows('landing_record', (q) => q.where('record_key', 'like', `%@${inst}.Salesforce`)), rows - bad.length);
    assert.equal(await countRows('quarantine_record', (q) => q.where('file_ingestion_id', id)), bad.length);
    const batches = await db('ingest_batch').where({ file_ingestion_id: id }).sum<{ n: string }[]>({ n: 'record_count' });
    assert.equal(Number(batches[0]!.n), rows, 'committed batches cover every row exactly once');
  });
});
