/** The production-shaped stack's files stay in step with the code they configure. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSourcesFile } from '../control/sources';
import { ALL_SEARCH_ATTRIBUTES } from '../contracts/search-attributes';

const CLI_TYPE: Record<string, string> = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' };

test('docker-compose registers exactly the search attributes the code defines', () => {
  const script = readFileSync(join(__dirname, '..', 'deploy', 'temporal', 'create-namespace.sh'), 'utf8');
  const block = /SEARCH_ATTRIBUTES="([^"]*)"/.exec(script)?.[1] ?? '';
  const inScript = block.split('\n').map((l) => l.trim()).filter(Boolean).sort();
  const inCode = ALL_SEARCH_ATTRIBUTES.map((k) => `${k.name}:${CLI_TYPE[k.type]}`).sort();
  assert.deepEqual(inScript, inCode);
});

test('the example sources file is a valid sources file', () => {
  const instances = readSourcesFile(join(__dirname, '..', 'config', 'sources.example.json'));
  assert.deepEqual(instances.map((i) => i.sourceType), ['marketo', 'salesforce', 'dynamics']);
});

test('the image is built on a supported Node LTS, pinned by digest, that package.json allows', () => {
  const dockerfile = readFileSync(join(__dirname, '..', 'Dockerfile'), 'utf8');
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
  assert.ok(froms.length > 0);
  for (const image of froms) assert.match(image, /@sha256:[0-9a-f]{64}$/, `${image} is pinned by digest`);
  const major = Number(/^node:(\d+)/.exec(froms[0]!)?.[1]);
  // Even majors are the LTS lines; 24 is supported until 2028-04-30 (nodejs.org release schedule).
  const supportedUntil: Record<number, string> = { 22: '2027-04-30', 24: '2028-04-30' };
  assert.ok(supportedUntil[major], `Node ${major} is an LTS line this file knows the end of life of`);
  const engines = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).engines.node as string;
  const floor = Number(/>=\s*(\d+)/.exec(engines)?.[1]);
  assert.ok(floor <= major, `package.json engines (${engines}) allow Node ${major}`);
});
