/**
 * Turns a CSV row ({column: cell}) into an XDM record, by column name or by a mapping file.
 *
 * Without a mapping, every column header must be an XDM field path of the class
 * (`b2b.personKey.sourceKey`, `workEmail.address`). A mapping file names, per XDM field path,
 * where the value comes from:
 *
 * ```json
 * { "fields": {
 *     "b2b.personKey": { "sourceKey": { "idColumn": "Id", "sourceInstanceID": "00D5e000000abcd", "sourceType": "Salesforce" } },
 *     "workEmail.address": { "column": "Email", "transform": "lowercase" },
 *     "person.name.firstName": "FirstName",
 *     "b2b.personType": { "value": "Contact" } } }
 * ```
 *
 * Cells are coerced to the field's kind (number, integer, boolean, string list); an empty cell
 * means "no value". A cell that cannot be coerced is reported as a field error naming the column.
 */
import { z } from 'zod';
import type { LeafKind, XdmClassSpec } from '../xdm/class-spec';
import type { FieldError } from './outcome';

const transformSchema = z.enum(['trim', 'lowercase', 'uppercase']);

const fieldSourceSchema = z.union([
  z.string().min(1),
  z.strictObject({ column: z.string().min(1), transform: transformSchema.optional() }),
  z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]) }),
  z.strictObject({
    sourceKey: z.strictObject({
      idColumn: z.string().min(1),
      sourceInstanceID: z.string().min(1),
      sourceType: z.string().min(1),
      /** Marketo account tables: companies are `{id}.mkto_org`, named accounts `{id}.mkto_acct`. */
      idSuffix: z.enum(['mkto_org', 'mkto_acct']).optional(),
    }),
  }),
]);

export const columnMappingSchema = z.strictObject({
  fields: z.record(z.string().min(1), fieldSourceSchema).refine((f) => Object.keys(f).length > 0, 'a mapping needs at least one field'),
});

export type ColumnMapping = z.infer<typeof columnMappingSchema>;
type FieldSource = z.infer<typeof fieldSourceSchema>;

/** A mapping compiled against one class and one CSV header: a list of setters. */
export interface CompiledMapping {
  apply(row: Record<string, string>): { record: Record<string, unknown>; errors: FieldError[] };
}

interface Setter {
  path: string;
  read(row: Record<string, string>): { value?: unknown; error?: string };
}

/** Checks a mapping (or the bare header) against the class and the header; returns problems a person can fix. */
export function compileMapping(spec: XdmClassSpec, header: string[], mapping: ColumnMapping | null): { mapping?: CompiledMapping; problems: string[] } {
  const problems: string[] = [];
  const columns = new Set(header);
  const setters: Setter[] = [];
  const sources: Array<[string, FieldSource]> = mapping ? Object.entries(mapping.fields) : header.map((h) => [h, h]);

  for (const [path, source] of sources) {
    if (typeof source === 'object' && 'sourceKey' in source) {
      if (spec.leafKind(`${path}.sourceKey`) !== 'string') {
        problems.push(`'${path}' is not a B2B Source field of ${spec.title}`);
        continue;
      }
      const sk = source.sourceKey;
      if (!columns.has(sk.idColumn)) problems.push(`column '${sk.idColumn}' (for ${path}) is not in the file header`);
      setters.push({
        path,
        read: (row) => {
          const id = (row[sk.idColumn] ?? '').trim();
          if (!id) return {};
          const sourceID = sk.idSuffix ? `${id}.${sk.idSuffix}` : id;
          return { value: { sourceType: sk.sourceType, sourceInstanceID: sk.sourceInstanceID, sourceID } };
        },
      });
      continue;
    }
    const kind = spec.leafKind(path);
    if (!kind) {
      problems.push(
        mapping
          ? `'${path}' is not a field of ${spec.title}`
          : `column ${shownColumn(path)} is not an XDM field path of ${spec.title}; rename it or supply a mapping file`,
      );
      continue;
    }
    if (typeof source === 'object' && 'value' in source) {
      const constant = source.value;
      setters.push({ path, read: () => ({ value: constant }) });
      continue;
    }
    const column = typeof source === 'string' ? source : source.column;
    const transform = typeof source === 'string' ? undefined : source.transform;
    if (!columns.has(column)) problems.push(`column '${column}' (for ${path}) is not in the file header`);
    setters.push({
      path,
      read: (row) => {
        const cell = row[column];
        if (cell === undefined || cell === '') return {};
        const text = transform === 'lowercase' ? cell.trim().toLowerCase() : transform === 'uppercase' ? cell.trim().toUpperCase() : transform === 'trim' ? cell.trim() : cell;
        const coerced = coerceCell(text, kind);
        return 'error' in coerced ? { error: `column '${column}': ${coerced.error}` } : { value: coerced.value };
      },
    });
  }
  problems.push(...overlaps(setters.map((x) => x.path)));
  if (problems.length) return { problems };

  return {
    problems,
    mapping: {
      apply(row) {
        const record: Record<string, unknown> = {};
        const errors: FieldError[] = [];
        for (const s of setters) {
          const { value, error } = s.read(row);
          if (error) errors.push({ path: s.path, message: error });
          else if (value !== undefined) setPath(record, s.path, value);
        }
        return { record, errors };
      },
    },
  };
}

/** Two target paths where one is inside the other ('a' and 'a.b') would overwrite each other. */
function overlaps(paths: string[]): string[] {
  const problems: string[] = [];
  const sorted = [...paths].sort();
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.startsWith(`${sorted[i - 1]}.`)) problems.push(`fields '${sorted[i - 1]}' and '${sorted[i]}' overlap: map one or the other`);
  }
  return problems;
}

/** Plain decimal numbers only: no hex (0x1F), binary, 'Infinity' or thousands separators. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const TRUE = new Set(['true', '1', 'yes', 'y', 't']);
const FALSE = new Set(['false', '0', 'no', 'n', 'f']);

export function coerceCell(cell: string, kind: LeafKind): { value: unknown } | { error: string } {
  switch (kind) {
    case 'string':
      return { value: cell };
    case 'number':
    case 'integer': {
      const t = cell.trim();
      const n = Number(t);
      if (!DECIMAL.test(t) || !Number.isFinite(n)) return { error: `'${truncate(cell)}' is not a number` };
      if (kind === 'integer' && !Number.isInteger(n)) return { error: `'${truncate(cell)}' is not a whole number` };
      return { value: n };
    }
    case 'boolean': {
      const v = cell.trim().toLowerCase();
      if (TRUE.has(v)) return { value: true };
      if (FALSE.has(v)) return { value: false };
      return { error: `'${truncate(cell)}' is not a boolean (use true/false, 1/0 or yes/no)` };
    }
    case 'string-array': {
      const t = cell.trim();
      if (t.startsWith('[')) {
        try {
          const arr = JSON.parse(t) as unknown;
          if (Array.isArray(arr) && arr.every((x) => typeof x === 'string')) return { value: arr };
        } catch {
          /* reported below */
        }
        return { error: `'${truncate(cell)}' is not a JSON array of strings` };
      }
      return { value: t.split(';').map((s) => s.trim()).filter(Boolean) };
    }
  }
}

/** The first 40 characters (code points: never half an emoji). */
function truncate(s: string): string {
  const chars = Array.from(s);
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : s;
}

export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    const next = node[key];
    if (next && typeof next === 'object' && !Array.isArray(next)) node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  node[parts[parts.length - 1]!] = value;
}

/**
 * A header cell as an error names it: quoted when it looks like a column name (letters, digits,
 * spaces, . _ - ( ) # /, at most 100 characters), else only described — a file that is not a CSV
 * (a key, a password file) never has its content echoed back through an error.
 */
export function shownColumn(name: string): string {
  return /^[\p{L}\p{N} _.()#/-]{1,100}$/u.test(name) ? `'${name}'` : `(a header cell of ${name.length} characters that is not a column name)`;
}
