/**
 * Workflow code runs in Temporal's deterministic sandbox: it may import only the workflow SDK,
 * @temporalio/common, other workflow modules and pure domain/ and contracts/ modules that import nothing. Anything else (activities, db, zod, node:*)
 * is allowed as `import type` only — it would otherwise be bundled into every workflow context.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = join(__dirname, '..', 'workflows');
const pureRoots = [join(__dirname, '..', 'domain'), join(__dirname, '..', 'contracts')];

const ALLOWED_PACKAGES = new Set(['@temporalio/workflow', '@temporalio/common']);

/**
 * A domain or contracts module whose value imports are only the workflow SDK packages and other
 * such modules: pure logic and definitions, safe in the sandbox.
 */
function isPureDomainModule(path: string, seen = new Set<string>()): boolean {
  if (!pureRoots.some((r) => path.startsWith(r))) return false;
  if (seen.has(path)) return true;
  seen.add(path);
  const source = readFileSync(`${path}.ts`, 'utf8');
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const [, , typeOnly, spec] = m;
    if (typeOnly || !spec) continue;
    if (spec.startsWith('.') ? !isPureDomainModule(resolve(path, '..', spec), seen) : !ALLOWED_PACKAGES.has(spec)) return false;
  }
  return !/^\s*import\s+['"]/m.test(source);
}

function workflowFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return workflowFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

test('workflow modules import only workflow-safe code (types excepted)', () => {
  const offences: string[] = [];
  for (const file of workflowFiles(root)) {
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const [, , typeOnly, spec] = m;
      if (typeOnly || !spec) continue;
      const target = resolve(file, '..', spec);
      const ok = spec.startsWith('.') ? target.startsWith(root) || isPureDomainModule(target) : ALLOWED_PACKAGES.has(spec);
      if (!ok) offences.push(`${relative(root, file)} imports '${spec}'`);
    }
  }
  assert.deepEqual(offences, []);
});
