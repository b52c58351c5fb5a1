/**
 * DESIGN §2's table, checked: a folder imports only from the folders it lists (arrows point down
 * the table). Type-only imports count too, except workflows' `import type` of activities (the
 * proxy's types). KNOWN lists the arrows that still climb, each with why; the test fails when a
 * new one appears, and when a listed one is gone (so the list only shrinks).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';

const root = resolve(__dirname, '..');
const ALLOWED: Record<string, string[]> = {
  api: ['control', 'db', 'domain', 'contracts', 'platform'],
  cli: ['contracts', 'platform'],
  control: ['contracts', 'db', 'domain', 'platform'],
  workers: ['workflows', 'activities', 'platform'],
  workflows: ['contracts', 'domain'],
  activities: ['engine', 'contracts', 'domain', 'platform'],
  engine: ['db', 'connectors', 'domain', 'contracts', 'platform'],
  db: ['domain', 'contracts'],
  connectors: ['domain'],
  simulators: ['domain'],
  contracts: ['domain'],
  domain: [],
  platform: [],
};

/** Arrows that climb today, and why; each is work left (see the closing notes). */
const KNOWN: Record<string, string> = {
  'api -> engine': 'the streaming write path (validate, store, queue, wait for the resolver) and the quarantine replay run in the request',
  'cli -> control': 'the CLI reads and checks a sources file (control/sources.ts) before sending it',
  'control -> connectors': 'a source configuration is checked against its connector (settings, known streams) before it is saved',
  'control -> engine': 'a file is inspected (header, format) before its workflow starts; sources read their credentials for a connection test',
  'activities -> db': 'activities classify Postgres errors (db/connection.ts) and open file-ingestion and sync bookkeeping rows directly',
  'db -> platform': 'db/migrate-cli.ts, an entry point, reads the database URL from the process configuration',
  'simulators -> connectors': 'simulators/marketo/harness.ts drives a connector against the simulator for the connector tests',
  'workers -> db': 'the worker process owns its database pool and reads the resolvers’ figures for /metrics',
  'workers -> contracts': 'the worker registers the search attributes the workflows use',
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'node_modules' || f.startsWith('.')) return [];
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

test('imports point down DESIGN §2 table (known exceptions listed, none new)', () => {
  const seen = new Map<string, string[]>();
  for (const folder of Object.keys(ALLOWED)) {
    for (const file of tsFiles(join(root, folder))) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
        const typeOnly = Boolean(m[1]);
        const target = relative(root, resolve(file, '..', m[2]!)).split(sep)[0]!;
        if (target === folder || !(target in ALLOWED)) continue;
        if (ALLOWED[folder]!.includes(target)) continue;
        if (folder === 'workflows' && target === 'activities' && typeOnly) continue;
        const arrow = `${folder} -> ${target}`;
        seen.set(arrow, [...(seen.get(arrow) ?? []), relative(root, file)]);
      }
    }
  }
  const unexpected = [...seen].filter(([arrow]) => !(arrow in KNOWN)).map(([arrow, files]) => `${arrow}: ${[...new Set(files)].join(', ')}`);
  assert.deepEqual(unexpected, [], 'imports that climb DESIGN §2 table');
  const gone = Object.keys(KNOWN).filter((arrow) => !seen.has(arrow));
  assert.deepEqual(gone, [], 'listed exceptions that no longer exist: take them off KNOWN');
});

/** SQL handed to a database call: a query string, a knex raw statement or a knex table builder. */
const SQL_CALL = [
  /\.(?:query|raw)\(\s*[`'"]\s*(?:\/\*[^*]*\*\/\s*)?(?:SELECT|INSERT|UPDATE|DELETE|WITH|ANALYZE|CREATE|DROP|ALTER|LOCK|SET|DECLARE|FETCH|TRUNCATE|COPY)\b/i,
  /\b(?:db|knex|tx|trx)\(\s*['"][a-z_]+['"]\s*\)/,
];

test('SQL lives in db/ only (DESIGN §2): no other layer sends a statement of its own', () => {
  const offenders: string[] = [];
  for (const folder of Object.keys(ALLOWED).filter((f) => f !== 'db')) {
    for (const file of tsFiles(join(root, folder))) {
      const source = readFileSync(file, 'utf8');
      for (const re of SQL_CALL) {
        for (const m of source.matchAll(new RegExp(re.source, `${re.flags}g`))) {
          const line = source.slice(0, m.index).split('\n').length;
          offenders.push(`${relative(root, file)}:${line}: ${m[0].replace(/\s+/g, ' ').slice(0, 100)}`);
        }
      }
    }
  }
  assert.deepEqual(offenders, []);
});
