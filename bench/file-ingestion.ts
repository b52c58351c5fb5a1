/**
 * File ingestion of N person records (default 1M) from a CSV into the canonical tables, through
 * the real path: the ingestFile workflow on a Temporal dev server, its activity parsing, mapping,
 * validating, landing and upserting in batches with checkpoints.
 * Baseline, same run, same rows: a raw INSERT … ON CONFLICT into a plain table.
 * Target: ≥ 50,000 records/s and ≥ 25% of the baseline's rate.
 */
import { unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFileIngestion } from '../ingestion/start-file-ingestion';
import type { ingestFile } from '../workflows/ingestion';
import { fmt, benchStack, numberArg, rawInsertBaseline, writePersonCsv } from './support';

export async function run(args: string[]): Promise<void> {
  const rows = numberArg(args, 'rows', 1_000_000);
  const batchSize = numberArg(args, 'batch', 5_000);

  const path = join(tmpdir(), `tessera-bench-persons-${rows}.csv`);
  process.stdout.write(`writing ${fmt(rows)} person rows to ${path}…\n`);
  await writePersonCsv(path, rows);

  const stack = await benchStack('file');
  const { client, taskQueue, db } = stack;
  try {
    const t0 = performance.now();
    const started = await startFileIngestion(db, { client, taskQueue }, { path, xdmClass: 'person', format: 'csv', mapping: null, trigger: 'bench', tuning: { batchSize, sliceRecords: 250_000 } });
    const size = Number(started.size_bytes);
    process.stdout.write(`ingesting ${(size / 1e6).toFixed(0)} MB through the ingestFile workflow (batches of ${fmt(batchSize)})…\n`);
    const totals = await client.workflow.getHandle<typeof ingestFile>(started.workflow_id).result();
    const tessera = (performance.now() - t0) / 1000;
    const count = (await db('xdm_person').count<{ count: string }[]>({ count: '*' }))[0]?.count ?? '0';

    process.stdout.write('running the baseline (raw INSERT … ON CONFLICT of the same rows)…\n');
    const baseline = await rawInsertBaseline(db, rows, batchSize);

    const rate = rows / tessera;
    const baseRate = rows / baseline;
    process.stdout.write(
      [
        '',
        `file-ingestion: ${fmt(rows)} person records, ${(size / 1e6).toFixed(0)} MB CSV`,
        `  Tessera (workflow → parse → map → validate → landing + canonical upsert + checkpoint): ${tessera.toFixed(1)} s = ${fmt(rate)} records/s`,
        `    accepted ${fmt(totals.accepted)}, quarantined ${fmt(totals.quarantined)}, canonical rows ${fmt(Number(count))}`,
        `  baseline (raw INSERT … ON CONFLICT, same rows, same batches):                     ${baseline.toFixed(1)} s = ${fmt(baseRate)} records/s`,
        `  Tessera / baseline: ${((rate / baseRate) * 100).toFixed(0)}%   (targets: ≥ 50,000 records/s and ≥ 25%)`,
        '',
      ].join('\n'),
    );
  } finally {
    await stack.stop();
    unlinkSync(path);
  }
}
