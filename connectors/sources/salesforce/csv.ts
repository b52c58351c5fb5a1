/**
 * RFC 4180 CSV as Bulk API 2.0 writes query results (COMMA delimiter, LF or CRLF line endings,
 * fields quoted with `"` and `""` for a quote inside, line breaks allowed inside quotes, an empty
 * cell for null). One pass over the text, no per-character string building for unquoted cells.
 */

export class CsvError extends Error {}

/** Parses `text` into rows of cells. Throws CsvError on a quote left open (a cut body). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const len = text.length;
  let i = 0;
  let row: string[] = [];
  while (i < len) {
    let cell: string;
    if (text.charCodeAt(i) === 34 /* " */) {
      let out = '';
      let start = i + 1;
      for (;;) {
        const q = text.indexOf('"', start);
        if (q < 0) throw new CsvError(`unterminated quoted cell in row ${rows.length + 1}`);
        if (text.charCodeAt(q + 1) === 34) {
          out += text.slice(start, q + 1);
          start = q + 2;
          continue;
        }
        out += text.slice(start, q);
        i = q + 1;
        break;
      }
      cell = out;
    } else {
      let j = i;
      while (j < len) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break;
        j++;
      }
      cell = text.slice(i, j);
      i = j;
    }
    row.push(cell);
    if (i >= len) {
      rows.push(row);
      row = [];
      break;
    }
    const c = text.charCodeAt(i);
    if (c === 44 /* , */) {
      i++;
      if (i >= len) {
        row.push('');
        rows.push(row);
        row = [];
      }
    } else if (c === 10 || c === 13) {
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
      rows.push(row);
      row = [];
    } else {
      throw new CsvError(`unexpected character after a quoted cell in row ${rows.length + 1}`);
    }
  }
  return rows;
}
