import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_IDENTITY_CONFIG } from './config';
import { BlockList, extractIdentities, identitiesFromStored, REFUSED_VALUE_MAX, storedIdentitiesOf } from './extract';

const blocks = new BlockList(DEFAULT_IDENTITY_CONFIG.blocked);
const facts = (record: Record<string, unknown>) => ({ recordKey: 'p1@org.Salesforce', sourceType: 'Salesforce', sourceInstanceId: 'org', accountKey: 'a1@org.Salesforce', record });

test('what ingest stores of a record reads back as the same identities and scope the resolver would extract', () => {
  const emails = fc.oneof(fc.emailAddress(), fc.constantFrom('info@acme.example', 'null', '', 'Ada@Acme.example', ' ada@acme.example '));
  fc.assert(
    fc.property(fc.array(emails, { maxLength: 3 }), fc.option(fc.string({ maxLength: 20 })), (addresses, phone) => {
      const record = {
        workEmail: addresses[0] === undefined ? undefined : { address: addresses[0] },
        identityMap: { Email: addresses.slice(1).map((id) => ({ id })) },
        ...(phone === null ? {} : { mobilePhone: { number: phone } }),
      };
      const x = extractIdentities('person', facts(record), DEFAULT_IDENTITY_CONFIG, blocks);
      const stored = storedIdentitiesOf(x);
      const back = identitiesFromStored('person', facts(record), stored.keys, stored.fields, DEFAULT_IDENTITY_CONFIG);
      assert.deepEqual(back, { ...x, refused: [] });
      assert.deepEqual(stored.refused ?? [], x.refused);
    }),
  );
});

test('refused values are kept with the reason, cut to a bounded length without splitting a character', () => {
  const long = `${'a'.repeat(REFUSED_VALUE_MAX - 1)}😀@x`; // the emoji straddles the cut
  const x = extractIdentities('person', facts({ workEmail: { address: 'info@acme.example' }, identityMap: { Email: [{ id: long }] } }), DEFAULT_IDENTITY_CONFIG, blocks);
  const stored = storedIdentitiesOf(x);
  assert.equal(stored.keys.length, 0);
  assert.match(stored.refused![0]!.reason, /role mailbox/);
  const cut = stored.refused![1]!.value;
  assert.ok(cut.length <= REFUSED_VALUE_MAX + 1 && cut.endsWith('…'));
  assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut), 'no lone high surrogate');
  assert.equal(storedIdentitiesOf(extractIdentities('person', facts({ workEmail: { address: 'ada@acme.example' } }), DEFAULT_IDENTITY_CONFIG, blocks)).refused, null);
});
