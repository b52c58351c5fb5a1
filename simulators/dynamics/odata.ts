/**
 * The OData query subset the simulator understands, as strictly as Dataverse: $filter with
 * eq/ne/gt/ge/lt/le combined by and/or and parentheses (typed literals: unquoted ISO date-times
 * with an offset, GUIDs, numbers, true/false/null, 'strings'), and $orderby. Anything else is a
 * 400 in the Dataverse error envelope.
 */
import type { ColumnType, TableDef } from './data';

export class ODataError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

type Literal = string | number | boolean | null;
export type Predicate = (values: Record<string, unknown>) => boolean;

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

const badQuery = (message: string) => new ODataError(400, '0x80060888', message);

/** Dataverse's answer to a column the table does not have (documented with code `0x0`). */
export const unknownProperty = (name: string, table: Pick<TableDef, 'logical'>) =>
  new ODataError(400, '0x0', `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${table.logical}'.`);

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*('(?:[^']|'')*'|\(|\)|[^\s()']+)/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text))) tokens.push(m[1]!);
  if (text.slice(re.lastIndex).trim() !== '') throw badQuery(`Syntax error at position ${re.lastIndex} in '${text}'.`);
  return tokens;
}

export function parseFilter(text: string, table: TableDef): Predicate {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const t = tokens[i++];
    if (t === undefined) throw badQuery(`Syntax error: unexpected end of '$filter=${text}'.`);
    return t;
  };
  const orExpr = (): Predicate => {
    let left = andExpr();
    while (peek() === 'or') {
      i++;
      const l = left;
      const r = andExpr();
      left = (v) => l(v) || r(v);
    }
    return left;
  };
  const andExpr = (): Predicate => {
    let left = term();
    while (peek() === 'and') {
      i++;
      const l = left;
      const r = term();
      left = (v) => l(v) && r(v);
    }
    return left;
  };
  const term = (): Predicate => {
    if (peek() === '(') {
      i++;
      const inner = orExpr();
      if (next() !== ')') throw badQuery(`Syntax error: ')' expected in '$filter=${text}'.`);
      return inner;
    }
    const field = next();
    const type = table.columns[field];
    if (!type) throw unknownProperty(field, table);
    const op = next();
    if (!OPS.has(op)) throw badQuery(`Syntax error: unknown operator '${op}' in '$filter=${text}'.`);
    const literal = parseLiteral(next(), type, field);
    return comparison(field, type, op, literal);
  };
  const pred = orExpr();
  if (i !== tokens.length) throw badQuery(`Syntax error at '${tokens[i]}' in '$filter=${text}'.`);
  return pred;
}

function parseLiteral(token: string, type: ColumnType, field: string): Literal {
  if (token === 'null') return null;
  switch (type) {
    case 'datetime':
      if (!DATETIME.test(token) || Number.isNaN(Date.parse(token))) {
        throw badQuery(`The DateTimeOffset text '${token}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range (${field}).`);
      }
      return Date.parse(token);
    case 'date':
      if (!DATE.test(token)) throw badQuery(`The Date text '${token}' should be in format 'yyyy-mm-dd' (${field}).`);
      return token;
    case 'guid':
    case 'lookup':
      if (!GUID.test(token)) throw badQuery(`A binary operator with incompatible types was detected: '${field}' is Edm.Guid and '${token}' is not a GUID.`);
      return token.toLowerCase();
    case 'int':
    case 'number':
      if (!/^-?\d+(\.\d+)?$/.test(token)) throw badQuery(`'${token}' is not a number (${field}).`);
      return Number(token);
    case 'bool':
      if (token !== 'true' && token !== 'false') throw badQuery(`'${token}' is not a boolean (${field}).`);
      return token === 'true';
    case 'string':
      if (!/^'.*'$/s.test(token)) throw badQuery(`A binary operator with incompatible types was detected: '${field}' is Edm.String.`);
      return token.slice(1, -1).replace(/''/g, "'");
  }
}

function comparable(type: ColumnType, value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (type === 'datetime') return Date.parse(value as string);
  return value as string | number | boolean;
}

function comparison(field: string, type: ColumnType, op: string, literal: Literal): Predicate {
  return (values) => {
    const v = comparable(type, values[field]);
    if (op === 'eq') return v === literal;
    if (op === 'ne') return v !== literal;
    if (v === null || literal === null) return false;
    switch (op) {
      case 'gt':
        return v > literal;
      case 'ge':
        return v >= literal;
      case 'lt':
        return v < literal;
      default:
        return v <= literal;
    }
  };
}

export interface OrderKey {
  field: string;
  type: ColumnType;
  desc: boolean;
}

export function parseOrderBy(text: string, table: TableDef): OrderKey[] {
  return text.split(',').map((part) => {
    const [field, dir, extra] = part.trim().split(/\s+/);
    if (!field || extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) throw badQuery(`Syntax error in '$orderby=${text}'.`);
    const type = table.columns[field];
    if (!type) throw unknownProperty(field, table);
    return { field, type, desc: dir === 'desc' };
  });
}

/** Compares two rows' values by the order keys (nulls first, as SQL Server sorts them ascending). */
export function compareBy(keys: OrderKey[], a: readonly unknown[], b: readonly unknown[]): number {
  for (let k = 0; k < keys.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    let c: number;
    if (x === null || x === undefined) c = -1;
    else if (y === null || y === undefined) c = 1;
    else c = (x as number | string) < (y as number | string) ? -1 : 1;
    return keys[k]!.desc ? -c : c;
  }
  return 0;
}

export function sortValues(keys: OrderKey[], values: Record<string, unknown>): unknown[] {
  return keys.map((k) => comparable(k.type, values[k.field]));
}
