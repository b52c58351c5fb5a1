import assert from 'node:assert/strict';
import { test } from 'node:test';
import { streamWaves } from './stream-waves';

test('streams run after their dependencies, independent ones together, in the given order', () => {
  const waves = streamWaves([
    { name: 'leads', dependsOn: [] },
    { name: 'companies', dependsOn: ['leads'] },
    { name: 'programs', dependsOn: [] },
    { name: 'opportunity-roles', dependsOn: ['opportunities'] },
    { name: 'opportunities', dependsOn: ['companies'] },
  ]);
  assert.deepEqual(waves.map((w) => w.map((s) => s.name)), [['leads', 'programs'], ['companies'], ['opportunities'], ['opportunity-roles']]);
});

test('cycles and unknown dependencies are refused', () => {
  assert.throws(() => streamWaves([{ name: 'a', dependsOn: ['b'] }, { name: 'b', dependsOn: ['a'] }]), /cycle: a, b/);
  assert.throws(() => streamWaves([{ name: 'a', dependsOn: ['x'] }]), /unknown stream 'x'/);
});
