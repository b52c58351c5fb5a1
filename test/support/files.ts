/** Builders for test files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'tessera-files-'));
/** Where test files are written: the test API's import directory. */
export const testFilesDir = dir;

export function writeTestFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A person CSV whose columns are XDM paths; `bad` lists data-row numbers (1-based) to break. */
export function personCsv(instance: string, rows: number, bad: number[] = []): string {
  const lines = ['b2b.personKey.sourceKey,workEmail.address,person.name.firstName,b2b.personScore'];
  for (let i = 1; i <= rows; i++) {
    const score = bad.includes(i) ? 'not-a-number' : String(i % 100);
    lines.push(`P${i}@${instance}.Salesforce,p${i}@example.com,"Name, ${i}",${score}`);
  }
  return `${lines.join('\n')}\n`;
}
