import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalEmail, companyDomainOfEmail, isPlaceholder, normaliseDuns, normaliseEmail, normaliseOpaqueId, normalisePhone, normaliseWebDomain } from './normalise';

const ok = (value: string) => ({ ok: true, value });

test('emails are trimmed and lowercased; shared mailboxes and placeholders never identify a person', () => {
  assert.deepEqual(normaliseEmail('  Ada.Lovelace@ACME.example '), ok('ada.lovelace@acme.example'));
  assert.equal(normaliseEmail('info@acme.example').ok, false);
  assert.equal(normaliseEmail('Sales+emea@acme.example').ok, false);
  assert.equal(normaliseEmail('null').ok, false);
  assert.equal(normaliseEmail('not-an-email').ok, false);
});

test('hostile values are refused by length caps before any pattern, and every check is linear', () => {
  // The probe: a 90,000-character "email" that made a backtracking pattern spin for seconds.
  const probe = `a@${'a.'.repeat(45_000)} x`;
  assert.deepEqual(normaliseEmail(probe), { ok: false, reason: 'an email address has at most 254 characters' });
  // Under the cap, the same shape is refused without backtracking.
  assert.equal(normaliseEmail(`a@${'a.'.repeat(100)} x`).ok, false);
  assert.equal(normaliseEmail(`${'a'.repeat(243)}@example.com`).ok, false, '255 characters');
  assert.deepEqual(normaliseEmail(`${'a'.repeat(242)}@example.com`).ok, true, '254 characters');
  assert.equal(normaliseWebDomain(`${'a.'.repeat(130)}com`).ok, false, 'a domain over 253 characters');
  assert.equal(normaliseWebDomain(`http://${'1:'.repeat(5_000)}`).ok, false);
  assert.equal(normalisePhone('+1 '.repeat(1_000)).ok, false);
  assert.equal(normaliseDuns('1-'.repeat(1_000)).ok, false);
  assert.equal(normaliseOpaqueId('k'.repeat(256), 255).ok, false);
  for (const bad of ['a@@b.co', '@b.co', 'a@b', 'a@.co', 'a@b.', 'a b@c.co']) assert.equal(normaliseEmail(bad).ok, false, bad);
  // The same addresses as the pattern it replaces, on anything under the cap.
  const before = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z@. \t]{0,12}$/), (s) => {
      assert.equal(canonicalEmail(s) !== null, !isPlaceholder(s.trim().toLowerCase()) && before.test(s.trim().toLowerCase()), JSON.stringify(s));
    }),
    { numRuns: 5_000 },
  );
});

test('web domains come out bare; free-mail domains never identify a company', () => {
  for (const raw of ['https://www.Acme.example/about?x=1', 'acme.example', 'WWW2.acme.example:443', 'http://acme.example.', 'bob@acme.example']) {
    assert.deepEqual(normaliseWebDomain(raw), ok('acme.example'), raw);
  }
  assert.equal(normaliseWebDomain('gmail.com').ok, false);
  assert.equal(companyDomainOfEmail('ada@gmail.com').ok, false);
  assert.deepEqual(companyDomainOfEmail('ada@sub.acme.example'), ok('sub.acme.example'));
  assert.equal(normaliseWebDomain('n/a').ok, false);
});

test('D-U-N-S numbers are nine digits; placeholders are refused', () => {
  assert.deepEqual(normaliseDuns('15-048-3782'), ok('150483782'));
  assert.equal(normaliseDuns('000000000').ok, false);
  assert.equal(normaliseDuns('12345').ok, false);
});

test('phones are E.164, with a default country for national numbers', () => {
  assert.deepEqual(normalisePhone('+1 (415) 555-2671'), ok('+14155552671'));
  assert.deepEqual(normalisePhone('030 901820', 'DE'), ok('+4930901820'));
  assert.equal(normalisePhone('12').ok, false);
  assert.equal(normalisePhone('unknown').ok, false);
});

test('opaque ids keep their case and refuse placeholders', () => {
  assert.deepEqual(normaliseOpaqueId(' 003Ab '), ok('003Ab'));
  assert.equal(normaliseOpaqueId('anonymous').ok, false);
  assert.equal(normaliseOpaqueId('x'.repeat(1025)).ok, false);
});
