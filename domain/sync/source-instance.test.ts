import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cronSchema, sourceInstanceConfigSchema } from './source-instance';

test('cron expressions: five fields with values in range', () => {
  for (const ok of ['*/15 * * * *', '0 3 * * 1-5', '5,35 */2 1 1,6 0']) assert.equal(cronSchema.safeParse(ok).success, true, ok);
  for (const bad of ['75 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 7', 'hourly', '* * * *', '5-1 * * * *', '*/0 * * * *']) {
    assert.equal(cronSchema.safeParse(bad).success, false, bad);
  }
});

test('an instance id becomes part of source keys: no dots or at signs', () => {
  const base = { sourceType: 'marketo', endpoint: 'https://123-ABC-456.mktorest.com', credentialsRef: 'MARKETO_NA' };
  assert.equal(sourceInstanceConfigSchema.safeParse({ ...base, instanceId: '123-ABC-456' }).success, true);
  const bad = sourceInstanceConfigSchema.safeParse({ ...base, instanceId: 'acme.na' });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /source keys/);
});
