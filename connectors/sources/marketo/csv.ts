/**
 * Incremental CSV parsing of Marketo bulk export files (RFC 4180 quoting; empty values written as
 * the literal `null`). A file arrives in byte ranges that may cut a row, a quoted field or even a
 * UTF-8 character in two: `parseCsvChunk` parses every complete row and hands back the bytes of
 * the incomplete rest, which the caller prepends to the next range (and keeps in its state).
 */

/** One parsed row: cells as strings, `null` for the literal `null` (unquoted). */
export type CsvRow = Array<string | null>;

export interface CsvChunkResult {
  rows: CsvRow[];
  /** Bytes after the last complete row (to prepend to the next chunk). */
  rest: Buffer;
}

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * Like parseCsvChunk, but hands each row to `onRow` as it is parsed (no array of all rows is
 * kept: less memory and garbage on multi-megabyte pages). Returns the bytes of the incomplete rest.
 *
 * Works on the bytes: rows are found with Buffer.indexOf (memchr) and each quote-free line is
 * decoded once and split; rows with quotes are parsed field by field. The delimiter, quote and
 * newline are ASCII, so they never occur inside a UTF-8 sequence and every field decodes whole.
 */
export function forEachCsvRow(bytes: Buffer, final: boolean, onRow: (row: CsvRow) => void, delimiter = ','): Buffer {
  const end = bytes.length;
  const d = delimiter.charCodeAt(0);
  let pos = 0;
  let nextQuote = bytes.indexOf(QUOTE, 0);
  while (pos < end) {
    let nl = bytes.indexOf(NL, pos);
    if (nl < 0) {
      if (!final) break;
      nl = end;
    }
    if (nextQuote >= 0 && nextQuote < pos) nextQuote = bytes.indexOf(QUOTE, pos);
    if (nextQuote < 0 || nextQuote > nl) {
      let lineEnd = nl;
      if (lineEnd > pos && bytes[lineEnd - 1] === CR) lineEnd--;
      if (lineEnd > pos || nl < end) onRow(splitPlain(bytes.toString('utf8', pos, lineEnd), delimiter));
      pos = nl + 1;
      continue;
    }
    const next = parseQuotedRow(bytes, pos, final, d, onRow);
    if (next < 0) break; // incomplete row: carried over
    pos = next;
  }
  return pos >= end ? bytes.subarray(end) : bytes.subarray(pos);
}

/**
 * Parses the complete rows of `bytes`. With `final`, the input is the end of the file and a last
 * row without a trailing newline is parsed too (an unterminated quote then throws).
 */
export function parseCsvChunk(bytes: Buffer, final = false, delimiter = ','): CsvChunkResult {
  const rows: CsvRow[] = [];
  const rest = forEachCsvRow(bytes, final, (row) => rows.push(row), delimiter);
  return { rows, rest };
}

function splitPlain(line: string, delimiter: string): CsvRow {
  const parts: CsvRow = line.split(delimiter);
  for (let i = 0; i < parts.length; i++) if (parts[i] === 'null') parts[i] = null;
  return parts;
}

/** Parses one row that contains quotes, starting at `start`; returns the index after it, or -1 when incomplete. */
function parseQuotedRow(buf: Buffer, start: number, final: boolean, d: number, onRow: (row: CsvRow) => void): number {
  const row: CsvRow = [];
  const end = buf.length;
  let p = start;
  for (;;) {
    if (p < end && buf[p] === QUOTE) {
      let value = '';
      let i = p + 1;
      for (;;) {
        const q = buf.indexOf(QUOTE, i);
        if (q < 0) {
          if (final) throw new Error('unterminated quoted CSV field at end of file');
          return -1;
        }
        if (q + 1 < end && buf[q + 1] === QUOTE) {
          value += buf.toString('utf8', i, q + 1);
          i = q + 2;
          continue;
        }
        if (q + 1 >= end && !final) return -1; // cannot tell yet whether the quote is doubled
        value += buf.toString('utf8', i, q);
        p = q + 1;
        break;
      }
      row.push(value);
      while (p < end && buf[p] !== d && buf[p] !== NL) p++; // tolerate stray bytes (\r) after the closing quote
    } else {
      let j = p;
      while (j < end && buf[j] !== d && buf[j] !== NL) j++;
      if (j >= end && !final) return -1;
      let k = j;
      if (k > p && buf[k - 1] === CR) k--;
      const v = buf.toString('utf8', p, k);
      row.push(v === 'null' ? null : v);
      p = j;
    }
    if (p >= end) {
      if (!final) return -1;
      onRow(row);
      return end;
    }
    if (buf[p] === NL) {
      onRow(row);
      return p + 1;
    }
    p++; // delimiter
  }
}

/** Quotes a cell for CSV output when needed (simulator side). */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === '') return 'null';
  if (typeof value !== 'string') return String(value);
  if (value.includes(',') || value.includes('"') || value.includes('\n') || value.includes('\r') || value === 'null') {
    return `"${value.replace(/"/g, '""')}"`;
  }
  return value;
}
