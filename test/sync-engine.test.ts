/**
 * The sync engine's page loop against Postgres, with a small in-memory source at the connector
 * contract: data and cursor move together, a crash re-reads at most the page in flight, racing
 * attempts cannot store a page twice, short reads fail loudly, unmappable rows are quarantined.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PageResult, ReadRequest, SourceStream } from '../connectors/sources/source-connector';
import { SourceIncompleteRead } from '../connectors/sources/errors';
import { CheckpointMoved } from '../domain/errors';
import { upsertSourceInstance } from '../db/repositories/source-instances';
import { getCursor, type CursorKey } from '../db/repositories/sync-cursors';
import { readStreamPages } from '../engine/ingest/source-sync';
import { closeTestDb, countRows, testDb, uniqueInstance } from './support/env';

const RUN = '2026-11-01T00:00:00.000Z';
const NEXT_RUN = '2026-11-02T00:00:00.000Z';

before(async () => undefined);
after(closeTestDb);

/** A source of `total` people served `pageSize` at a time; state = {next}; a record per id. */
function peopleStream(instanceId: string, o: { total: number; pageSize: number; failAtPage?: number; expected?: number; badEvery?: number; unmappableEvery?: number }) {
  const reads: number[] = [];
  let served = 0;
  const stream: SourceStream = {
    name: 'people',
    xdmClasses: ['person'],
    backfill: null,
    async readPage(req: ReadRequest): Promise<PageResult> {
      const next = (req.state?.next as number | undefined) ?? 0;
      served++;
      if (o.failAtPage !== undefined && served === o.failAtPage) throw new Error('connection reset (simulated crash)');
      reads.push(next);
      const end = Math.min(o.total, next + o.pageSize);
      const records: PageResult['records'] = [];
      const unmappable: PageResult['unmappable'] = [];
      for (let i = next; i < end; i++) {
        const sourceKey = `${i}@${instanceId}.Marketo`;
        if (o.unmappableEvery && i % o.unmappableEvery === 0) {
          unmappable.push({ xdmClass: 'person', sourceKey, reason: 'row 3 has 7 columns, the header has 9', raw: `${i},"broken` });
          continue;
        }
        records.push({
          xdmClass: 'person',
          record: {
            b2b: { personKey: { sourceKey } },
            workEmail: { address: o.badEvery && i % o.badEvery === 0 ? 'not an email' : `p${i}@example.com` },
            extSourceSystemAudit: { lastUpdatedDate: '2026-10-01T00:00:00Z' },
          },
        });
      }
      const complete = end >= o.total;
      return { records, unmappable, state: { next: end }, complete, ...(complete && o.expected !== undefined ? { expectedRecords: o.expected } : {}) };
    },
  };
  return { stream, reads };
}

async function instance(): Promise<string> {
  const id = uniqueInstance('mkto');
  await upsertSourceInstance(testDb(), { sourceType: 'marketo', instanceId: id, endpoint: 'http://127.0.0.1:1', settings: {}, credentialsRef: 'TEST', schedule: '*/15 * * * *', enabled: true });
  return id;
}

const key = (instanceId: string): CursorKey => ({ sourceType: 'marketo', instanceId, stream: 'people', scope: 'incremental' });
const read = (instanceId: string, stream: SourceStream, runStartedAt = RUN, maxPages = 1000) =>
  readStreamPages(testDb(), { key: key(instanceId), instanceLabel: `marketo/${instanceId}`, stream, runStartedAt, maxPages, maxMs: 60_000, signal: new AbortController().signal });
const people = (instanceId: string) => countRows('xdm_person', (q) => q.where('source_instance_id', instanceId));

test('a run reads every page, stores each with its cursor, and ends complete', async () => {
  const id = await instance();
  const { stream, reads } = peopleStream(id, { total: 95, pageSize: 10 });
  const r = await read(id, stream);
  assert.deepEqual(r.totals, { pages: 10, records: 95, quarantined: 0, complete: true, notices: [] });
  assert.equal(await people(id), 95);
  assert.deepEqual(reads, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const c = await getCursor(testDb(), key(id));
  assert.deepEqual(c?.state, { next: 95 });
  // The same run again is a no-op; the next run starts from the resting state.
  assert.equal((await read(id, stream)).totals.pages, 10);
  assert.equal(reads.length, 10);
  const next = await read(id, stream, NEXT_RUN);
  assert.deepEqual(next.totals, { pages: 1, records: 0, quarantined: 0, complete: true, notices: [] });
  assert.deepEqual(reads.at(-1), 95);
});

test('a crash mid-run resumes at the page after the last stored one: nothing lost, nothing stored twice', async () => {
  const id = await instance();
  const first = peopleStream(id, { total: 100, pageSize: 10, failAtPage: 5 });
  await assert.rejects(read(id, first.stream), /connection reset/);
  const c = await getCursor(testDb(), key(id));
  assert.equal(c?.run_pages, 4);
  assert.equal(await people(id), 40);
  const second = peopleStream(id, { total: 100, pageSize: 10 });
  const r = await read(id, second.stream);
  assert.equal(second.reads[0], 40, 'resumes at the first page not stored');
  assert.equal(r.totals.records, 100);
  assert.equal(await people(id), 100);
  assert.equal(await countRows('landing_record', (q) => q.where('record_key', 'like', `%@${id}.Marketo`)), 100);
});

test('a call returns after maxPages and the next call goes on from the cursor', async () => {
  const id = await instance();
  const { stream, reads } = peopleStream(id, { total: 50, pageSize: 10 });
  const a = await read(id, stream, RUN, 2);
  assert.equal(a.totals.complete, false);
  assert.equal(a.totals.pages, 2);
  const b = await read(id, stream, RUN, 100);
  assert.equal(b.totals.complete, true);
  assert.deepEqual(reads, [0, 10, 20, 30, 40]);
});

test('two attempts racing on one cursor: the stale one stores nothing (CheckpointMoved)', async () => {
  const id = await instance();
  const slow = peopleStream(id, { total: 30, pageSize: 10 });
  const fast = peopleStream(id, { total: 30, pageSize: 10 });
  // The slow attempt reads its first page, then waits until the fast attempt has stored everything.
  let release!: () => void;
  let firstRead!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slowHasRead = new Promise<void>((r) => (firstRead = r));
  const slowStream: SourceStream = { ...slow.stream, readPage: async (req) => { const p = await slow.stream.readPage(req); firstRead(); await gate; return p; } };
  const slowRun = read(id, slowStream);
  await slowHasRead;
  await read(id, fast.stream);
  release();
  await assert.rejects(slowRun, (e) => e instanceof CheckpointMoved);
  assert.equal(await people(id), 30);
  assert.equal((await getCursor(testDb(), key(id)))?.run_pages, 3);
});

test('fewer records than the source announced: the run fails loudly and is not complete', async () => {
  const id = await instance();
  const { stream } = peopleStream(id, { total: 20, pageSize: 10, expected: 25 });
  await assert.rejects(read(id, stream), (e) => e instanceof SourceIncompleteRead && /said 25 records, 20 were read/.test(e.message));
  const c = await getCursor(testDb(), key(id));
  assert.equal(c?.run_complete, false);
  assert.equal(c?.run_pages, 1, 'the last page is not stored, so a retry reads it again');
});

test('invalid and unmappable rows go to quarantine with the stream and reason; the run goes on', async () => {
  const id = await instance();
  const { stream } = peopleStream(id, { total: 40, pageSize: 10, badEvery: 7, unmappableEvery: 10 });
  const r = await read(id, stream);
  assert.equal(r.totals.complete, true);
  assert.equal(r.totals.records, 40);
  const rows = await testDb()('quarantine_record').where('sync_stream', `marketo/${id}/people`).orderBy('record_key');
  const unmappable = rows.filter((q) => q.raw_kind === 'source-row');
  const invalid = rows.filter((q) => q.raw_kind === 'xdm');
  assert.equal(unmappable.length, 4);
  assert.equal(invalid.length, 5); // 7, 14, 21, 28, 35 (0 is unmappable)
  assert.equal(r.totals.quarantined, 9);
  assert.match(JSON.stringify(unmappable[0].errors), /header has 9/);
  assert.equal(unmappable[0].payload_text.startsWith('0,'), true);
  assert.match(JSON.stringify(invalid[0].errors), /workEmail/);
  assert.equal(await people(id), 31);
});
