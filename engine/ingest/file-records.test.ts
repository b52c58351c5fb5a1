import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_RECORD_SCAN, parseCsvRecord, readRecordBatches, RecordSplitter, type FileRecord } from './file-records';

const dir = mkdtempSync(join(tmpdir(), 'tessera-records-'));

function csvField(s: string): string {
  return /[",\r\n]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s;
}

async function readAll(path: string, format: 'csv' | 'jsonl', fromOffset = 0, fromLine = 1, batchSize = 3): Promise<FileRecord[]> {
  const out: FileRecord[] = [];
  for await (const b of readRecordBatches(path, { format, fromOffset, fromLine, batchSize })) {
    assert.equal(b.endOffset, b.records[b.records.length - 1]!.endOffset, 'a batch ends where its last record ends');
    out.push(...b.records);
  }
  return out;
}

test('any CSV rows survive a round trip through the splitter, whatever the chunk boundaries', () => {
  const field = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ',', '"', '\n', '\r\n', ' ', 'x', '1'), maxLength: 8 });
  const row = fc.array(field, { minLength: 2, maxLength: 4 });
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }), fc.boolean(), (rows, cuts, crlf) => {
      const eol = crlf ? '\r\n' : '\n';
      const text = rows.map((r) => r.map(csvField).join(',')).join(eol) + eol;
      const bytes = Buffer.from(text);
      const splitter = new RecordSplitter('csv', 0, 1);
      const out: FileRecord[] = [];
      let at = 0;
      let k = 0;
      while (at < bytes.length) {
        const size = cuts[k++ % cuts.length]!;
        splitter.push(bytes.subarray(at, at + size), out);
        at += size;
      }
      splitter.finish(out);
      assert.deepEqual(out.map((r) => r.fields), rows);
      assert.equal(out[out.length - 1]!.endOffset, bytes.length);
      // Every endOffset is a record boundary: re-splitting from it yields the remaining records.
      for (let i = 0; i < out.length - 1; i++) {
        const rest: FileRecord[] = [];
        const s = new RecordSplitter('csv', out[i]!.endOffset, out[i]!.nextLine);
        s.push(bytes.subarray(out[i]!.endOffset), rest);
        s.finish(rest);
        assert.deepEqual(rest.map((r) => r.fields), rows.slice(i + 1));
      }
    }),
    { numRuns: 200 },
  );
});

test('a malformed CSV row costs only that row', async () => {
  const path = join(dir, 'bad-middle.csv');
  writeFileSync(path, 'a,b\n1,2\n"bad"x,3\n4,5\n"open,6\n7,8\n9,10\n');
  const records = await readAll(path, 'csv');
  assert.deepEqual(records.map((r) => [r.line, r.fields ?? r.error?.slice(0, 22)]), [
    [1, ['a', 'b']],
    [2, ['1', '2']],
    [3, 'unexpected character \''],
    [4, ['4', '5']],
    [5, 'a quoted field is neve'],
    [6, ['7', '8']],
    [7, ['9', '10']],
  ]);
});

test('reading resumes exactly at a committed offset, with line numbers intact', async () => {
  const path = join(dir, 'resume.csv');
  writeFileSync(path, '\ufeffid,name\n1,"multi\nline"\n\n2,b\r\n3,c');
  const all = await readAll(path, 'csv');
  assert.deepEqual(all.map((r) => r.line), [1, 2, 5, 6]);
  assert.deepEqual(all[0]!.fields, ['id', 'name'], 'the BOM is not part of the first column');
  const resumed = await readAll(path, 'csv', all[1]!.endOffset, all[1]!.nextLine);
  assert.deepEqual(resumed.map((r) => [r.line, r.fields]), [[5, ['2', 'b']], [6, ['3', 'c']]]);
});

test('JSONL lines are split on newlines only; quotes do not matter', async () => {
  const path = join(dir, 'lines.jsonl');
  writeFileSync(path, '{"a":"x\\"y"}\n\nnot json "\n{"b":1}');
  const records = await readAll(path, 'jsonl');
  assert.deepEqual(records.map((r) => [r.line, r.text]), [[1, '{"a":"x\\"y"}'], [3, 'not json "'], [4, '{"b":1}']]);
});

test('parseCsvRecord follows RFC 4180', () => {
  assert.deepEqual(parseCsvRecord('a,"b,c","d""e",'), ['a', 'b,c', 'd"e', '']);
  assert.deepEqual(parseCsvRecord(''), ['']);
  assert.match(parseCsvRecord('"a"b') as string, /after the closing quote/);
  assert.match(parseCsvRecord('"abc') as string, /never closed/);
});

test('a quote inside an unquoted field is a literal, not the start of a quoted field', async () => {
  const path = join(dir, 'inch.csv');
  writeFileSync(path, '1,Acme 24" Monitors,a\n2,Beta,b\n3,Gamma 27" Displays,c\n4,"q""uoted\nnewline",d\n');
  const records = await readAll(path, 'csv');
  assert.deepEqual(records.map((r) => r.fields), [['1', 'Acme 24" Monitors', 'a'], ['2', 'Beta', 'b'], ['3', 'Gamma 27" Displays', 'c'], ['4', 'q"uoted\nnewline', 'd']]);
});

test('a line without a line feed within 1 MiB is one error record; reading goes on after it', async () => {
  const path = join(dir, 'long.csv');
  const long = 'x'.repeat(MAX_RECORD_SCAN + 10);
  writeFileSync(path, `a,b\n${long}\n1,2\n`);
  const records = await readAll(path, 'csv', 0, 1, 1);
  assert.equal(records.length, 3);
  assert.match(records[1]!.error!, /no line break within 1 MiB/);
  assert.equal(records[1]!.endOffset, 4 + long.length + 1);
  assert.deepEqual([records[2]!.line, records[2]!.fields], [3, ['1', '2']]);
  // CR-only line endings: the whole file is one over-long "line".
  const mac = join(dir, 'mac.csv');
  writeFileSync(mac, `a,b\r${'1,2\r'.repeat(300_000)}`);
  const macRecords = await readAll(mac, 'csv');
  assert.equal(macRecords.length, 1);
  assert.match(macRecords[0]!.error!, /CR-only/);
  assert.equal(macRecords[0]!.endOffset, 4 + 4 * 300_000);
});
