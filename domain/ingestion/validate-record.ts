/** The boundary check every record passes, whatever channel it came through. */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { XdmClassSpec } from '../xdm/class-spec';
import type { FieldError, RawKind, RecordOutcome } from './outcome';

/** Adobe's Profile record limit: a record over 100 KB is rejected. */
export const MAX_RECORD_BYTES = 100 * 1024;

/** Identifies one content of one record: the same record sent twice has the same hash. */
export function contentHash(xdmClass: string, key: string, payloadText: string): string {
  return createHash('sha1').update(xdmClass).update('\n').update(key).update('\n').update(payloadText).digest('hex');
}

export function formatZodPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

export function zodErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const base = formatZodPath(issue.path);
    // zod reports an unknown key on its parent object: name the key itself. Keep a message the
    // schema wrote (e.g. why personComponents is refused); replace only zod's generic one.
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as unknown as { keys: string[] }).keys;
      const generic = issue.message.startsWith('Unrecognized key');
      return {
        path: keys.length === 1 ? [base, keys[0]].filter(Boolean).join('.') : base,
        message: generic
          ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}: not part of the XDM class (custom fields belong under a '_<tenant>' object)`
          : issue.message,
      };
    }
    return { path: base, message: issue.message };
  });
}

/** Reads the record key of a raw (possibly invalid) record, for quarantine listings. */
/** One line naming every problem, e.g. `instanceId: may contain only…; schedule: must be…`. */
export function zodIssuesText(error: z.ZodError): string {
  return zodErrors(error).map((e) => `${e.path || '(body)'}: ${e.message}`).join('; ');
}

export function peekRecordKey(spec: XdmClassSpec, raw: unknown): string | null {
  let node: unknown = raw;
  for (const part of spec.keyPath.split('.')) {
    if (!node || typeof node !== 'object') return null;
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.sourceKey === 'string') return o.sourceKey;
    if (typeof o.sourceID === 'string' && typeof o.sourceInstanceID === 'string' && typeof o.sourceType === 'string') {
      return `${o.sourceID}@${o.sourceInstanceID}.${o.sourceType}`;
    }
  }
  return null;
}

/** How deep a record may nest (objects and arrays); deeper input is refused before anything walks it recursively. */
export const MAX_RECORD_DEPTH = 32;

/**
 * What Postgres cannot store in JSON, or Tessera will not walk: NUL characters and unpaired UTF-16
 * surrogates in any key or string (however they were escaped in the JSON text), and nesting
 * deeper than MAX_RECORD_DEPTH. One iterative pass over the parsed value.
 */
export function unstorableValue(value: unknown): string | null {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = badText(v);
      if (problem) return problem;
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_RECORD_DEPTH) return `the record nests deeper than ${MAX_RECORD_DEPTH} levels`;
      if (Array.isArray(v)) for (const item of v) stack.push([item, depth + 1]);
      else
        for (const [k, item] of Object.entries(v)) {
          const problem = badText(k);
          if (problem) return problem;
          stack.push([item, depth + 1]);
        }
    }
  }
  return null;
}

function badText(s: string): string | null {
  if (s.includes('\u0000')) return 'the record contains a NUL character (\\u0000), which cannot be stored; remove it at the source';
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) return 'the record contains an unpaired UTF-16 surrogate (broken Unicode); fix the encoding at the source';
  return null;
}

/**
 * A record's text as received, for landing and quarantine: its JSON, or — for a value nested too
 * deep to serialise (thousands of levels) — a note saying so; validation then refuses it by depth.
 */
export function payloadTextOf(raw: unknown): string {
  if (unstorableValue(raw)?.startsWith('the record nests')) return `(not kept: nested deeper than ${MAX_RECORD_DEPTH} levels)`;
  return JSON.stringify(raw) ?? 'null';
}

/** Quarantine keeps this much of an oversized record (with its size and SHA-256). */
export const QUARANTINED_PREFIX_BYTES = 100 * 1024;

export interface ValidateOptions {
  position: number;
  receivedAt: Date;
  rawKind?: RawKind;
  /** The raw payload to keep in quarantine when it differs from `record` (a CSV row before mapping). */
  quarantinePayload?: unknown;
  /** Errors found before schema validation (e.g. CSV cells that are not numbers). */
  priorErrors?: FieldError[];
}

/**
 * Validates one record of a class. `payloadText` is the record serialised as received (the
 * caller usually has it already: it is what the landing table keeps and what the size limit
 * is measured on).
 */
export function validateRecord(spec: XdmClassSpec, raw: unknown, payloadText: string, opts: ValidateOptions): RecordOutcome {
  const reject = (errors: FieldError[]): RecordOutcome => ({
    kind: 'rejected',
    value: {
      position: opts.position,
      xdmClass: spec.name,
      recordKey: peekRecordKey(spec, raw),
      rawKind: opts.rawKind ?? 'xdm',
      payload: opts.quarantinePayload ?? raw,
      errors,
    },
  });

  const bytes = Buffer.byteLength(payloadText, 'utf8');
  if (bytes > MAX_RECORD_BYTES) {
    const sha256 = createHash('sha256').update(payloadText, 'utf8').digest('hex');
    const rejected = reject([{ path: '', message: `record is ${bytes.toLocaleString('en-US')} bytes (SHA-256 ${sha256}); the limit is ${MAX_RECORD_BYTES.toLocaleString('en-US')} bytes (100 KB); quarantine keeps its first 100 KB` }]);
    // Only the first 100 KB is kept as evidence (as text: a cut JSON document is not JSON).
    if (rejected.kind === 'rejected') Object.assign(rejected.value, { payload: undefined, payloadText: utf8Prefix(payloadText, QUARANTINED_PREFIX_BYTES), rawKind: 'text' });
    return rejected;
  }
  const unstorable = unstorableValue(raw);
  if (unstorable) {
    const rejected = reject([{ path: '', message: unstorable }]);
    // Keep the evidence as escaped text: a JSON column could not hold it either.
    if (rejected.kind === 'rejected') Object.assign(rejected.value, { payload: undefined, payloadText, rawKind: 'text' });
    return rejected;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return reject([{ path: '', message: `a ${spec.title} record must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}` }]);
  }
  let parsed = spec.schema.safeParse(raw);
  // A delete reported by key alone is a valid deletion marker, not a broken record.
  if (!parsed.success && (raw as { isDeleted?: unknown }).isDeleted === true && spec.tombstoneSchema) {
    const marker = spec.tombstoneSchema.safeParse(raw);
    if (marker.success) parsed = marker;
  }
  const errors = [...(opts.priorErrors ?? []), ...(parsed.success ? [] : zodErrors(parsed.error))];
  if (!parsed.success || errors.length > 0) return reject(errors);

  const record = parsed.data;
  const key = spec.recordKey(record);
  return {
    kind: 'accepted',
    value: {
      position: opts.position,
      xdmClass: spec.name,
      key,
      record,
      payloadText,
      checksum: contentHash(spec.name, key.key, payloadText),
      // A delete without a date happened no later than we learned of it: dated by arrival, so an
      // older version read afterwards (a backfill) cannot bring the record back.
      sourceUpdatedAt: spec.lastUpdated(record) ?? (spec.isDeleted(record) ? opts.receivedAt : null),
      isDeleted: spec.isDeleted(record),
      externalKey: spec.externalKey(record),
    },
  };
}

/** The longest prefix of `s` of at most `bytes` UTF-8 bytes that ends on a whole character. */
function utf8Prefix(s: string, bytes: number): string {
  const buf = Buffer.from(s, 'utf8').subarray(0, bytes);
  let end = buf.length;
  // Step back over a multi-byte character the cut went through (continuation bytes are 10xxxxxx).
  let i = end - 1;
  while (i >= 0 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i >= 0) {
    const lead = buf[i]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - i < need) end = i;
  }
  return buf.subarray(0, end).toString('utf8');
}
