/**
 * The SOQL subset the simulator understands, parsed strictly:
 *
 *   SELECT (COUNT() | field, ...) FROM object
 *   [WHERE condition [AND condition]...]   condition: field op literal | field IN (literal, ...)
 *   [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...]
 *   [LIMIT n]
 *
 * op is = != <> < <= > >=; literals are typed like Salesforce's: unquoted date-times
 * (`2026-11-01T12:00:00Z`, `+hh:mm` offsets, optional fraction) for datetime fields, unquoted
 * dates for date fields, true/false, numbers, quoted strings, null (= and != only). A field that
 * does not exist is INVALID_FIELD, a literal of the wrong type is INVALID_FIELD (as Salesforce
 * says it), anything outside this subset (OR, NOT, NOT IN, LIKE, parentheses, relationship fields,
 * OFFSET, GROUP BY, date literals like LAST_N_DAYS) is MALFORMED_QUERY: never silently ignored.
 * An IN list longer than 4,000 characters is refused too (Salesforce allows 4,000 characters for
 * a string in a WHERE clause; the error code for it is not documented).
 */
import { sortedRows, type FieldDef, type SimRow, type SimTable, type SObjectName, type Tables, type Value } from './data';

export class SoqlError extends Error {
  constructor(readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE', message: string) {
    super(message);
  }
}

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Condition =
  | {
      field: FieldDef;
      op: Op;
      /** datetime: epoch ms; others: the typed value. */
      value: Value;
    }
  | { field: FieldDef; op: 'in'; values: Set<Value> };

const MAX_IN_LIST_CHARS = 4_000;

export interface OrderTerm {
  field: FieldDef;
  desc: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  text: string;
  table: SimTable;
  count: boolean;
  fields: FieldDef[];
  where: Condition[];
  orderBy: OrderTerm[];
  limit: number | null;
}

type Token =
  | { t: 'word'; v: string }
  | { t: 'string'; v: string; raw: string }
  | { t: 'number'; v: number; raw: string }
  | { t: 'datetime'; v: number; raw: string }
  | { t: 'date'; v: string }
  | { t: 'op'; v: string }
  | { t: 'punct'; v: string };

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER = /^-?\d+(\.\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_.]*/;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if (c === "'") {
      let v = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== "'"; j++) {
        if (text[j] === '\\') {
          j++;
          const e = text[j];
          v += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
        } else v += text[j];
      }
      if (j >= text.length) throw new SoqlError('MALFORMED_QUERY', 'unterminated string literal');
      out.push({ t: 'string', v, raw: text.slice(i, j + 1) });
      i = j + 1;
    } else if ((m = DATETIME.exec(rest))) {
      const ms = Date.parse(m[0]);
      const month = Number(m[2]), dayN = Number(m[3]);
      if (!Number.isFinite(ms) || month < 1 || month > 12 || dayN < 1 || dayN > 31 || Number(m[4]) > 23) {
        throw new SoqlError('MALFORMED_QUERY', `invalid date-time literal: ${m[0]}`);
      }
      out.push({ t: 'datetime', v: ms, raw: m[0] });
      i += m[0].length;
    } else if ((m = DATE.exec(rest))) {
      if (!Number.isFinite(Date.parse(m[0]))) throw new SoqlError('MALFORMED_QUERY', `invalid date literal: ${m[0]}`);
      out.push({ t: 'date', v: m[0] });
      i += m[0].length;
    } else if ((m = NUMBER.exec(rest))) {
      out.push({ t: 'number', v: Number(m[0]), raw: m[0] });
      i += m[0].length;
    } else if ((m = WORD.exec(rest))) {
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    } else if ((m = /^(<=|>=|!=|<>|=|<|>)/.exec(rest))) {
      out.push({ t: 'op', v: m[0] === '<>' ? '!=' : m[0] });
      i += m[0].length;
    } else if (c === ',' || c === '(' || c === ')') {
      out.push({ t: 'punct', v: c });
      i++;
    } else {
      throw new SoqlError('MALFORMED_QUERY', `unexpected character '${c}' at position ${i}`);
    }
  }
  return out;
}

const KEYWORDS = new Set(['select', 'from', 'where', 'and', 'or', 'not', 'order', 'by', 'asc', 'desc', 'nulls', 'first', 'last', 'limit', 'offset', 'group', 'having', 'in', 'like', 'includes', 'excludes', 'with', 'for', 'typeof', 'using']);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.i];
  }
  next(): Token | undefined {
    return this.tokens[this.i++];
  }
  isWord(word: string): boolean {
    const t = this.peek();
    return t?.t === 'word' && t.v.toLowerCase() === word;
  }
  expectWord(word: string): void {
    const t = this.next();
    if (t?.t !== 'word' || t.v.toLowerCase() !== word) throw unexpected(t, word.toUpperCase());
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
}

function unexpected(t: Token | undefined, expected?: string): SoqlError {
  const got = t === undefined ? '<EOF>' : 'raw' in t ? t.raw : String(t.v);
  return new SoqlError('MALFORMED_QUERY', `unexpected token: '${got}'${expected ? ` (expected ${expected})` : ''}`);
}

function fieldOf(table: SimTable, name: string): FieldDef {
  if (name.includes('.')) {
    throw new SoqlError('MALFORMED_QUERY', `relationship field '${name}' is not supported by the simulator`);
  }
  const def = table.byLowerName.get(name.toLowerCase());
  if (!def) {
    throw new SoqlError('INVALID_FIELD', `No such column '${name}' on entity '${table.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
  }
  return def;
}

/** Parses `text` against the org's tables; throws SoqlError like the API would. */
export function parseSoql(text: string, tables: Tables): SoqlQuery {
  const p = new Parser(tokenize(text));
  p.expectWord('select');
  let count = false;
  const names: string[] = [];
  if (p.isWord('count')) {
    p.next();
    const open = p.next();
    const close = p.next();
    if (open?.t !== 'punct' || open.v !== '(' || close?.t !== 'punct' || close.v !== ')') {
      throw new SoqlError('MALFORMED_QUERY', 'only COUNT() without a field is supported by the simulator');
    }
    count = true;
  } else {
    for (;;) {
      const t = p.next();
      if (t?.t !== 'word' || KEYWORDS.has(t.v.toLowerCase())) throw unexpected(t, 'a field name');
      if (p.peek()?.t === 'punct' && p.peek()!.v === '(') throw new SoqlError('MALFORMED_QUERY', `function ${t.v}() is not supported by the simulator`);
      names.push(t.v);
      const sep = p.peek();
      if (sep?.t === 'punct' && sep.v === ',') {
        p.next();
        continue;
      }
      break;
    }
  }
  p.expectWord('from');
  const objTok = p.next();
  if (objTok?.t !== 'word') throw unexpected(objTok, 'an object name');
  const objectName = (Object.keys(tables) as SObjectName[]).find((n) => n.toLowerCase() === objTok.v.toLowerCase());
  if (!objectName) throw new SoqlError('INVALID_TYPE', `sObject type '${objTok.v}' is not supported.`);
  const table = tables[objectName];
  const fields = names.map((n) => fieldOf(table, n));
  const seen = new Set<string>();
  for (const def of fields) {
    if (seen.has(def.name)) throw new SoqlError('MALFORMED_QUERY', `duplicate field selected: ${def.name}`);
    seen.add(def.name);
  }

  const where: Condition[] = [];
  if (p.isWord('where')) {
    p.next();
    for (;;) {
      where.push(parseCondition(p, table));
      if (p.isWord('and')) {
        p.next();
        continue;
      }
      break;
    }
  }
  const orderBy: OrderTerm[] = [];
  if (p.isWord('order')) {
    p.next();
    p.expectWord('by');
    for (;;) {
      const t = p.next();
      if (t?.t !== 'word' || KEYWORDS.has(t.v.toLowerCase())) throw unexpected(t, 'a field name');
      const field = fieldOf(table, t.v);
      let desc = false;
      if (p.isWord('asc')) p.next();
      else if (p.isWord('desc')) {
        p.next();
        desc = true;
      }
      let nullsLast = desc;
      if (p.isWord('nulls')) {
        p.next();
        if (p.isWord('first')) nullsLast = false;
        else if (p.isWord('last')) nullsLast = true;
        else throw unexpected(p.peek(), 'FIRST or LAST');
        p.next();
      }
      orderBy.push({ field, desc, nullsLast });
      const sep = p.peek();
      if (sep?.t === 'punct' && sep.v === ',') {
        p.next();
        continue;
      }
      break;
    }
  }
  let limit: number | null = null;
  if (p.isWord('limit')) {
    p.next();
    const t = p.next();
    if (t?.t !== 'number' || !Number.isInteger(t.v) || t.v < 0) throw unexpected(t, 'a non-negative integer');
    limit = t.v;
  }
  if (!p.done()) throw unexpected(p.peek());
  if (count && orderBy.length > 0) throw new SoqlError('MALFORMED_QUERY', 'ORDER BY is not allowed with COUNT()');
  return { text, table, count, fields, where, orderBy, limit };
}

function parseCondition(p: Parser, table: SimTable): Condition {
  const t = p.next();
  if (t?.t === 'punct' && t.v === '(') throw new SoqlError('MALFORMED_QUERY', 'parenthesised conditions are not supported by the simulator');
  if (t?.t !== 'word' || KEYWORDS.has(t.v.toLowerCase())) throw unexpected(t, 'a field name');
  const field = fieldOf(table, t.v);
  if (p.isWord('in')) {
    p.next();
    const open = p.next();
    if (open?.t !== 'punct' || open.v !== '(') throw unexpected(open, '(');
    const values = new Set<Value>();
    let chars = 0;
    for (;;) {
      const lit = p.next();
      if (lit === undefined) throw unexpected(lit, 'a value');
      if (lit.t === 'word' && lit.v.toLowerCase() === 'null') throw new SoqlError('MALFORMED_QUERY', 'null is not supported in an IN list by the simulator');
      chars += ('raw' in lit ? lit.raw : String(lit.v)).length + 1;
      values.add(literal(field, '=', lit));
      const sep = p.next();
      if (sep?.t === 'punct' && sep.v === ',') continue;
      if (sep?.t === 'punct' && sep.v === ')') break;
      throw unexpected(sep, ', or )');
    }
    if (chars > MAX_IN_LIST_CHARS) throw new SoqlError('MALFORMED_QUERY', `the IN list of ${field.name} is longer than ${MAX_IN_LIST_CHARS} characters`);
    return { field, op: 'in', values };
  }
  const opTok = p.next();
  if (opTok?.t !== 'op') throw unexpected(opTok, 'a comparison operator');
  const op = opTok.v as Op;
  const lit = p.next();
  if (lit === undefined) throw unexpected(lit, 'a value');
  if (lit.t === 'word' && lit.v.toLowerCase() === 'null') {
    if (op !== '=' && op !== '!=') throw new SoqlError('MALFORMED_QUERY', `null can only be compared with = or !=`);
    return { field, op, value: null };
  }
  return { field, op, value: literal(field, op, lit) };
}

/** A literal typed for `field`, as Salesforce types it (the wrong type is INVALID_FIELD). */
function literal(field: FieldDef, op: Op, lit: Token): Value {
  const typeError = (kind: string, hint: string) =>
    new SoqlError('INVALID_FIELD', `value of filter criterion for field '${field.name}' must be of type ${kind} ${hint}`);
  switch (field.type) {
    case 'datetime':
      if (lit.t !== 'datetime') throw typeError('dateTime', 'and should not be enclosed in quotes');
      return lit.v;
    case 'date':
      if (lit.t !== 'date') throw typeError('date', 'and should not be enclosed in quotes');
      return lit.v;
    case 'boolean':
      if (lit.t !== 'word' || !['true', 'false'].includes(lit.v.toLowerCase())) throw typeError('boolean', 'and should not be enclosed in quotes');
      if (op !== '=' && op !== '!=') throw new SoqlError('MALFORMED_QUERY', `boolean fields can only be compared with = or !=`);
      return lit.v.toLowerCase() === 'true';
    case 'int':
    case 'double':
    case 'currency':
    case 'percent':
      if (lit.t !== 'number') throw typeError('double', 'and should not be enclosed in quotes');
      return lit.v;
    default:
      if (lit.t !== 'string') throw typeError('string', 'and should be enclosed in quotes');
      if (field.type === 'multipicklist') throw new SoqlError('MALFORMED_QUERY', 'multi-select picklists need INCLUDES/EXCLUDES, which the simulator does not support');
      return lit.v;
  }
}

function cellOf(row: SimRow, field: FieldDef): Value {
  if (field.type === 'datetime') {
    const ms = row.ms[field.name]!;
    return Number.isNaN(ms) ? null : ms;
  }
  return row.values[field.name] ?? null;
}

function matches(row: SimRow, c: Condition): boolean {
  const v = cellOf(row, c.field);
  if (c.op === 'in') return v !== null && c.values.has(v);
  if (c.value === null) return c.op === '=' ? v === null : v !== null;
  if (v === null) return c.op === '!=';
  switch (c.op) {
    case '=':
      return v === c.value;
    case '!=':
      return v !== c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
  }
}

/** Runs the query once: the matching rows (a snapshot), ordered and limited. */
export function runSoql(q: SoqlQuery, includeDeleted: boolean): SimRow[] {
  const byStamp = q.orderBy.length === 2 && !q.orderBy[0]!.desc && !q.orderBy[1]!.desc && q.orderBy[0]!.field.name === 'SystemModstamp' && q.orderBy[1]!.field.name === 'Id';
  const source = byStamp ? sortedRows(q.table) : q.table.rows;
  const out: SimRow[] = [];
  const conds = q.where;
  for (const row of source) {
    if (!includeDeleted && row.values.IsDeleted === true) continue;
    let ok = true;
    for (const c of conds) {
      if (!matches(row, c)) {
        ok = false;
        break;
      }
    }
    if (ok) out.push(row);
  }
  if (q.orderBy.length > 0 && !byStamp) {
    const terms = q.orderBy;
    out.sort((a, b) => {
      for (const t of terms) {
        const x = cellOf(a, t.field);
        const y = cellOf(b, t.field);
        if (x === y) continue;
        if (x === null) return t.nullsLast ? 1 : -1;
        if (y === null) return t.nullsLast ? -1 : 1;
        const d = x < y ? -1 : 1;
        return t.desc ? -d : d;
      }
      return 0;
    });
  }
  return q.limit !== null && out.length > q.limit ? out.slice(0, q.limit) : out;
}
