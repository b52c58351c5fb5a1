/**
 * Reads a CSV or JSONL file as a stream of records with exact byte offsets, so that an
 * ingestion can commit a checkpoint ("everything before byte N is stored") and resume there
 * after a crash.
 *
 * Why not a CSV library: we need (1) the byte offset of every record boundary, and (2) a bad
 * row to cost only that row. csv-parse's recovery after a quoting error swallows the rest of
 * the file into one error. Here records are split on bytes (quote, CR and LF never occur inside
 * UTF-8 multi-byte sequences), each record is parsed on its own (RFC 4180), and an unclosed
 * quote costs one line: if no closing quote appears within MAX_RECORD_SCAN bytes or before the
 * end of the file, the first line of the record is reported and reading resumes on the next.
 */
import { createReadStream } from 'node:fs';

/** A record longer than this cannot be valid (records are capped at 100 KB); stop looking for its end. */
export const MAX_RECORD_SCAN = 1024 * 1024;

export type FileFormat = 'csv' | 'jsonl';

export interface FileRecord {
  /** Line number where the record starts (1-based; for CSV, line 1 is the header). */
  line: number;
  /** Raw text of the record, without its line terminator. */
  text: string;
  /** Byte offset just after the record (and its line terminator). */
  endOffset: number;
  /** Line number of the record after this one. */
  nextLine: number;
  /** CSV: the parsed fields, unless `error`. */
  fields?: string[];
  /** Why the record could not be read at all. */
  error?: string;
}

export interface RecordBatch {
  records: FileRecord[];
  /** Byte offset just after the last record of the batch: the checkpoint once it is stored. */
  endOffset: number;
  /** Line number of the next record. */
  nextLine: number;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const COMMA = 44;

/**
 * Yields batches of at most `batchSize` records starting at `fromOffset` (a record boundary).
 * Empty lines are skipped; a UTF-8 BOM at offset 0 is skipped.
 */
export async function* readRecordBatches(
  path: string,
  opts: { format: FileFormat; fromOffset: number; fromLine: number; batchSize: number; signal?: AbortSignal },
): AsyncGenerator<RecordBatch> {
  const splitter = new RecordSplitter(opts.format, opts.fromOffset, opts.fromLine);
  const stream = createReadStream(path, { start: opts.fromOffset, highWaterMark: 1024 * 1024, signal: opts.signal });
  let pending: FileRecord[] = [];
  const full = function* (final: boolean): Generator<RecordBatch> {
    while (pending.length >= opts.batchSize || (final && pending.length > 0)) {
      const records = pending.slice(0, opts.batchSize);
      pending = pending.slice(opts.batchSize);
      const last = records[records.length - 1]!;
      yield { records, endOffset: last.endOffset, nextLine: last.nextLine };
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    splitter.push(chunk, pending);
    yield* full(false);
  }
  splitter.finish(pending);
  yield* full(true);
}

/** Splits bytes into records. Keeps the unfinished tail between pushes. */
export class RecordSplitter {
  private buf: Buffer = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private base: number;
  private line: number;
  private atFileStart: boolean;
  /** Dropping the rest of an over-long line, up to its line feed. */
  private skipping = false;
  private readonly csv: boolean;

  constructor(format: FileFormat, fromOffset: number, fromLine: number) {
    this.csv = format === 'csv';
    this.base = fromOffset;
    this.line = fromLine;
    this.atFileStart = fromOffset === 0;
  }

  push(chunk: Buffer, out: FileRecord[]): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.scan(false, out);
  }

  finish(out: FileRecord[]): void {
    this.scan(true, out);
  }

  /**
   * Scans complete records out of the buffer. A record ends at a line feed outside quotes; in a
   * CSV a quote opens a quoted field only at the start of a field (elsewhere it is a literal, as
   * in `24" monitor`), and `""` inside a quoted field is an escaped quote.
   */
  private scan(eof: boolean, out: FileRecord[]): void {
    if (this.skipping && !this.skipToLineEnd(out, eof)) return;
    const buf = this.buf;
    let start = 0;
    if (this.atFileStart) {
      if (buf.length < 3 && !eof) return;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
      this.atFileStart = false;
    }
    let i = start;
    let inQuotes = false;
    let fieldStart = true;
    let firstNewline = -1;
    let innerLines = 0;
    let waitForMore = false;
    while (i < buf.length) {
      const b = buf[i]!;
      if (inQuotes) {
        if (b === QUOTE) {
          if (i + 1 >= buf.length && !eof) {
            waitForMore = true; // is it `""` (escaped) or a closing quote? the next byte tells
            break;
          }
          if (buf[i + 1] === QUOTE) i++;
          else inQuotes = false;
        } else if (b === LF) {
          if (firstNewline < 0) firstNewline = i;
          innerLines++;
        }
        fieldStart = false;
      } else if (b === LF) {
        this.emit(out, start, i, i + 1, innerLines + 1);
        start = i + 1;
        innerLines = 0;
        firstNewline = -1;
        fieldStart = true;
      } else if (this.csv && b === QUOTE && fieldStart) {
        inQuotes = true;
        fieldStart = false;
      } else {
        fieldStart = this.csv && b === COMMA;
      }
      i++;
      if (i - start > MAX_RECORD_SCAN) {
        if (inQuotes && firstNewline >= 0) {
          // No closing quote within any plausible record: report the first line, go on after it.
          this.unclosed(out, start, firstNewline);
          start = i = firstNewline + 1;
        } else {
          // No line feed within any plausible record (CR-only line endings, a binary file…).
          this.tooLong(out, start);
          this.base += i;
          this.buf = buf.subarray(i);
          this.skipping = true;
          this.scan(eof, out);
          return;
        }
        inQuotes = false;
        fieldStart = true;
        firstNewline = -1;
        innerLines = 0;
      }
    }
    if (eof && !waitForMore && start < buf.length) {
      if (inQuotes && firstNewline >= 0) {
        this.unclosed(out, start, firstNewline);
        this.buf = buf.subarray(firstNewline + 1);
        this.base += firstNewline + 1;
        this.scan(true, out);
        return;
      }
      this.emit(out, start, buf.length, buf.length, innerLines + 1);
      start = buf.length;
    }
    this.base += start;
    this.buf = buf.subarray(start);
  }

  /**
   * Drops bytes up to and including the next line feed, then emits the over-long record (its
   * extent is known only now). False when the buffer ran out first.
   */
  private skipToLineEnd(out: FileRecord[], eof: boolean): boolean {
    const lf = this.buf.indexOf(LF);
    const consumed = lf < 0 ? this.buf.length : lf + 1;
    this.base += consumed;
    this.buf = this.buf.subarray(consumed);
    if (lf < 0 && !eof) return false;
    this.skipping = false;
    this.line += 1;
    const rec = this.pendingTooLong!;
    this.pendingTooLong = undefined;
    out.push({ ...rec, endOffset: this.base, nextLine: this.line });
    return lf >= 0;
  }

  private emit(out: FileRecord[], start: number, end: number, next: number, lines: number): void {
    const line = this.line;
    this.line += lines;
    let stop = end;
    if (stop > start && this.buf[stop - 1] === CR) stop--;
    if (stop === start) return; // an empty line is not a record
    const text = this.buf.toString('utf8', start, stop);
    const rec: FileRecord = { line, text, endOffset: this.base + next, nextLine: this.line };
    if (this.csv) {
      const parsed = parseCsvRecord(text);
      if (typeof parsed === 'string') rec.error = parsed;
      else rec.fields = parsed;
    }
    out.push(rec);
  }

  private unclosed(out: FileRecord[], start: number, newline: number): void {
    let stop = newline;
    if (stop > start && this.buf[stop - 1] === CR) stop--;
    const line = this.line;
    this.line += 1;
    out.push({
      line,
      text: this.buf.toString('utf8', start, stop),
      endOffset: this.base + newline + 1,
      nextLine: this.line,
      error: 'a quoted field is never closed (unbalanced " on this line)',
    });
  }

  /** A line with no line feed within MAX_RECORD_SCAN bytes: reported once its end is found. */
  private tooLong(_out: FileRecord[], start: number): void {
    this.pendingTooLong = {
      line: this.line,
      text: `${this.buf.toString('utf8', start, start + 200)}…`,
      endOffset: 0,
      nextLine: 0,
      error: `no line break within ${MAX_RECORD_SCAN / 1024 / 1024} MiB: the line is not a record (line endings must be LF or CRLF; CR-only files need converting)`,
    };
  }

  private pendingTooLong: FileRecord | undefined;
}

/**
 * Parses one CSV record (RFC 4180: comma-separated, fields optionally in double quotes, a quote
 * inside a quoted field doubled). Returns the fields, or an error message.
 */
export function parseCsvRecord(text: string): string[] | string {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (i < n && text.charCodeAt(i) === QUOTE) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return `a quoted field starting at character ${i + 1} is never closed`;
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === n) return fields;
      if (text.charCodeAt(i) !== COMMA) return `unexpected character '${text[i]}' after the closing quote at character ${i + 1}`;
      i++;
    } else {
      const c = text.indexOf(',', i);
      if (c < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, c));
      i = c + 1;
    }
  }
}
