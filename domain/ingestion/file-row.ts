/** Turns one record read from a file (a CSV row or a JSONL line) into an outcome. */
import type { XdmClassSpec } from '../xdm/class-spec';
import type { CompiledMapping } from './column-mapping';
import type { RecordOutcome } from './outcome';
import { payloadTextOf, validateRecord } from './validate-record';

export interface RawFileRecord {
  line: number;
  text: string;
  fields?: string[];
  error?: string;
}

function unreadable(spec: XdmClassSpec, r: RawFileRecord, message: string): RecordOutcome {
  return {
    kind: 'rejected',
    value: { position: r.line, xdmClass: spec.name, recordKey: null, rawKind: 'text', payloadText: r.text, errors: [{ path: '', message: `line ${r.line}: ${message}` }] },
  };
}

export function csvRowOutcome(spec: XdmClassSpec, header: string[], mapping: CompiledMapping, r: RawFileRecord, receivedAt: Date): RecordOutcome {
  if (r.error || !r.fields) return unreadable(spec, r, r.error ?? 'unreadable row');
  if (r.fields.length !== header.length) {
    return unreadable(spec, r, `the row has ${r.fields.length} fields but the header has ${header.length} columns`);
  }
  const row: Record<string, string> = Object.create(null); // a column may be called __proto__
  for (let i = 0; i < header.length; i++) row[header[i]!] = r.fields[i]!;
  return csvRowObjectOutcome(spec, mapping, row, r.line, receivedAt);
}

/** A CSV row already keyed by column (also how quarantine keeps it, so replay uses this path). */
export function csvRowObjectOutcome(spec: XdmClassSpec, mapping: CompiledMapping, row: Record<string, string>, position: number, receivedAt: Date): RecordOutcome {
  const { record, errors } = mapping.apply(row);
  return validateRecord(spec, record, JSON.stringify(record), { position, receivedAt, rawKind: 'csv-row', quarantinePayload: row, priorErrors: errors });
}

export function jsonLineOutcome(spec: XdmClassSpec, r: RawFileRecord, receivedAt: Date): RecordOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.text);
  } catch (e) {
    return unreadable(spec, r, `not valid JSON (${(e as Error).message})`);
  }
  // Re-serialise so that the landing copy is canonical JSON whatever the line's spacing.
  return validateRecord(spec, parsed, payloadTextOf(parsed), { position: r.line, receivedAt });
}
