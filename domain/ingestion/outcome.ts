/**
 * Per-record outcomes of validation: values, not exceptions. One bad record never fails a batch;
 * it becomes a `RejectedRecord` that goes to quarantine with its reasons.
 */
import type { RecordKey, XdmClassName } from '../xdm/class-spec';

export interface FieldError {
  /** Dotted path of the offending field (`workEmail.address`, `items[3].id`), or '' for the record as a whole. */
  path: string;
  message: string;
}

export interface AcceptedRecord {
  /** Position in the request (0-based) or data row number in a file (1-based). */
  position: number;
  xdmClass: XdmClassName;
  key: RecordKey;
  /** The record after validation, normalised. */
  record: Record<string, unknown>;
  /** The record as received (before normalisation), serialised: what the landing table keeps. */
  payloadText: string;
  /** SHA-1 (hex) of class, key and payload: the content identity used for deduplication. */
  checksum: string;
  /** extSourceSystemAudit.lastUpdatedDate (events: timestamp); null when the source gave none (the later arrival then wins). */
  sourceUpdatedAt: Date | null;
  isDeleted: boolean;
  externalKey: string | null;
}

/** xdm: an XDM record; csv-row: a CSV row as {column: cell}; text: unparseable input; source-row: a source record a connector could not map. */
export type RawKind = 'xdm' | 'csv-row' | 'text' | 'source-row';

export interface RejectedRecord {
  position: number;
  xdmClass: XdmClassName;
  /** The record key when it could be read despite the errors. */
  recordKey: string | null;
  rawKind: RawKind;
  /** JSON-able raw record (xdm / csv-row), or undefined when only text exists. */
  payload?: unknown;
  /** The raw text when the input could not be parsed at all. */
  payloadText?: string;
  errors: FieldError[];
}

export type RecordOutcome = { kind: 'accepted'; value: AcceptedRecord } | { kind: 'rejected'; value: RejectedRecord };
