import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vendorSummary } from './errors';

test('a vendor error is summarised: its code and first sentence, printable, bounded; never a raw body', () => {
  assert.equal(
    vendorSummary('invalid_client', "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 1"),
    'invalid_client: AADSTS7000215: Invalid client secret provided.',
  );
  assert.equal(vendorSummary('<script>', 'x'), 'x', 'a code that is not a code is dropped');
  assert.equal(vendorSummary(null, `${'a'.repeat(500)}`).length, 120);
  assert.equal(vendorSummary('invalid_grant', 'secret=s3cr3t\u0000\u001b[31m echoed'), 'invalid_grant: secret=s3cr3t[31m echoed');
  assert.equal(vendorSummary(undefined, undefined), '');
});
