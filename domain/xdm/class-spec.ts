/**
 * The contract between the XDM model (domain/xdm) and the storage / ingestion layers.
 *
 * Every XDM class Tessera stores is described by one `XdmClassSpec`: its zod schema (the
 * boundary check, which also normalises source keys), the canonical table it lands in, how
 * to read its record key, external key, update time and delete flag, and the class-specific
 * columns the storage layer extracts for joins (e.g. a person's account key).
 */
import type { z } from 'zod';

export const XDM_CLASS_NAMES = [
  'account',
  'opportunity',
  'person',
  'account-person',
  'opportunity-person',
  'campaign',
  'campaign-member',
  'marketing-list',
  'marketing-list-member',
  'experience-event',
] as const;

export type XdmClassName = (typeof XDM_CLASS_NAMES)[number];

/** The four parts of Adobe's "B2B Source" data type. */
export interface B2BSource {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
  /** `${sourceID}@${sourceInstanceID}.${sourceType}` */
  sourceKey: string;
}

/** The identity of one stored record of a class. */
export interface RecordKey {
  /** Unique within the class: the B2B sourceKey, or `_id` for experience events. */
  key: string;
  sourceType: string | null;
  sourceInstanceID: string | null;
  sourceID: string | null;
}

export type ColumnType = 'text' | 'timestamptz' | 'boolean' | 'numeric';

/** A class-specific column extracted from the record for joins and filters. */
export interface ExtractedColumn {
  /** snake_case column name in the canonical table, e.g. `account_key`. */
  column: string;
  type: ColumnType;
  /** Table comment text: what the column holds and where it comes from. */
  comment: string;
  /** Reads the value from a record that already passed `schema`. null when absent. */
  extract(record: any): string | number | boolean | null;
}

export type LeafKind = 'string' | 'number' | 'integer' | 'boolean' | 'string-array';

export interface XdmClassSpec {
  name: XdmClassName;
  /** Adobe's class title, e.g. "XDM Business Account". */
  title: string;
  /** Canonical table, e.g. `xdm_account`. */
  table: string;
  /** Dotted path of the primary key object or field, e.g. `accountKey`, `b2b.personKey`, `_id`. */
  keyPath: string;
  /**
   * Validates one record as posted (Adobe's XDM JSON field names) and returns it normalised:
   * every B2B Source object has all four parts filled in.
   */
  schema: z.ZodType<Record<string, unknown>>;
  /**
   * A deletion marker: only the key, `isDeleted: true` and optionally the audit attributes. Sources
   * that report a delete by id alone (Dataverse `$deletedEntity`) send these; the class's full
   * schema would refuse them for want of the fields they no longer have. None for events.
   */
  tombstoneSchema?: z.ZodType<Record<string, unknown>>;
  recordKey(record: any): RecordKey;
  /** extSourceSystemAudit.externalKey.sourceKey, when present. */
  externalKey(record: any): string | null;
  /** extSourceSystemAudit.lastUpdatedDate (events: timestamp), when present. */
  lastUpdated(record: any): Date | null;
  isDeleted(record: any): boolean;
  columns: ExtractedColumn[];
  /**
   * Kind of the scalar at a dotted path (e.g. `workEmail.address` → 'string'), used to coerce
   * CSV cells and to validate mapping files. undefined when the path is not a field of the class.
   */
  leafKind(path: string): LeafKind | undefined;
}
