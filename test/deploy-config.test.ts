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
