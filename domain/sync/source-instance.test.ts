import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cronSchema, endpointProblem, sourceInstanceConfigSchema } from './source-instance';

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

test('a source reaches only its vendor\'s documented hosts, over https; loopback only for the simulators', () => {
  const ok = (sourceType: 'marketo' | 'salesforce' | 'dynamics', endpoint: string, authEndpoint?: string) => endpointProblem({ sourceType, endpoint, authEndpoint }, false);
  assert.equal(ok('marketo', 'https://123-abc-456.mktorest.com', 'https://123-abc-456.mktorest.com/identity'), null);
  assert.equal(ok('salesforce', 'https://acme.my.salesforce.com', 'https://login.salesforce.com'), null);
  assert.equal(ok('salesforce', 'https://acme--uat.sandbox.my.salesforce.com', 'https://test.salesforce.com'), null);
  assert.equal(ok('dynamics', 'https://contoso.crm4.dynamics.com', 'https://login.microsoftonline.com'), null);
  assert.match(ok('marketo', 'https://evil.example/rest')!, /evil\.example is not a marketo host/);
  assert.match(ok('salesforce', 'https://acme.my.salesforce.com.evil.example')!, /not a salesforce host/);
  assert.match(ok('dynamics', 'https://contoso.crm.dynamics.com', 'https://login.evil.example')!, /authEndpoint/);
  assert.match(ok('marketo', 'http://123-abc-456.mktorest.com')!, /https only/);
  assert.match(ok('salesforce', 'http://127.0.0.1:9101')!, /only the simulators/);
  assert.equal(endpointProblem({ sourceType: 'salesforce', endpoint: 'http://127.0.0.1:9101' }, true), null);
});
