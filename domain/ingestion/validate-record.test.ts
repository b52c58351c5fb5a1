import assert from 'node:assert/strict';
import { test } from 'node:test';
import { XDM_CLASSES } from '../xdm/registry';
import { MAX_RECORD_BYTES, validateRecord } from './validate-record';

const person = XDM_CLASSES.person;
const check = (raw: unknown) => validateRecord(person, raw, JSON.stringify(raw), { position: 0, receivedAt: new Date('2026-01-01T00:00:00Z') });
const key = { b2b: { personKey: { sourceKey: '003A@00Dorg.Salesforce' } } };

test('an accepted record is normalised and carries its key, update time and content hash', () => {
  const out = check({ ...key, extSourceSystemAudit: { lastUpdatedDate: '2026-02-01T00:00:00Z' } });
  assert.equal(out.kind, 'accepted');
  if (out.kind !== 'accepted') return;
  assert.deepEqual(out.value.key, { key: '003A@00Dorg.Salesforce', sourceType: 'Salesforce', sourceInstanceID: '00Dorg', sourceID: '003A' });
  assert.equal(out.value.sourceUpdatedAt?.toISOString(), '2026-02-01T00:00:00.000Z');
  assert.match(out.value.checksum, /^[0-9a-f]{40}$/);
  const undated = check(key);
  assert.equal(undated.kind === 'accepted' && undated.value.sourceUpdatedAt, null, 'no lastUpdatedDate: no update time');
});

test('a refused field keeps the reason the schema gives; other unknown fields are named', () => {
  const refused = check({ ...key, personComponents: [] });
  assert.match(refused.kind === 'rejected' ? refused.value.errors[0]!.message : '', /assembled by the platform/);
  const nested = check({ b2b: { ...key.b2b, bar: 1 } });
  assert.deepEqual(nested.kind === 'rejected' && nested.value.errors[0]!.path, 'b2b.bar');
});

test('size, NUL and non-object records are rejected with the reason; the key is still read for quarantine', () => {
  const big = check({ ...key, _acme: { blob: 'x'.repeat(MAX_RECORD_BYTES) } });
  assert.equal(big.kind === 'rejected' && big.value.recordKey, '003A@00Dorg.Salesforce');
  const nul = check({ ...key, person: { name: { firstName: 'a\u0000' } } });
  assert.equal(nul.kind === 'rejected' && nul.value.rawKind, 'text');
  const arr = check([1, 2]);
  assert.match(arr.kind === 'rejected' ? arr.value.errors[0]!.message : '', /must be a JSON object, got an array/);
});

test('a delete reported by key alone is accepted as a deletion marker; without isDeleted it is still refused', () => {
  const spec = XDM_CLASSES['opportunity-person'];
  const marker = { opportunityPersonKey: { sourceKey: 'c0ffee@contoso.Dynamics' }, isDeleted: true };
  const ok = validateRecord(spec, marker, JSON.stringify(marker), { position: 0, receivedAt: new Date() });
  assert.equal(ok.kind, 'accepted');
  if (ok.kind === 'accepted') {
    assert.equal(ok.value.isDeleted, true);
    assert.equal(ok.value.key.key, 'c0ffee@contoso.Dynamics');
  }
  const notDeleted = { opportunityPersonKey: { sourceKey: 'c0ffee@contoso.Dynamics' } };
  const refused = validateRecord(spec, notDeleted, JSON.stringify(notDeleted), { position: 0, receivedAt: new Date() });
  assert.equal(refused.kind, 'rejected');
  if (refused.kind === 'rejected') assert.ok(refused.value.errors.some((e) => e.path === 'opportunityKey'));
  const person = { b2b: { personKey: { sourceKey: '42@123-ABC-456.Marketo' } }, isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: '2026-11-01T00:00:00Z' } };
  assert.equal(validateRecord(XDM_CLASSES.person, person, JSON.stringify(person), { position: 0, receivedAt: new Date() }).kind, 'accepted');
});
