import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  buildSourceKey,
  findSourceKeyPartProblem,
  marketoAccountTable,
  marketoCompanySourceId,
  marketoNamedAccountSourceId,
  parseSourceKey,
  stripMarketoAccountSuffix,
  toB2BSource,
  type SourceKeyParts,
} from './source-key';

const salesforceContact: SourceKeyParts = {
  sourceType: 'Salesforce',
  sourceInstanceID: '00D4W000000FgYJUA0',
  sourceID: '0035e00001AbCdE',
};

describe('buildSourceKey', () => {
  test('joins the parts as sourceID@sourceInstanceID.sourceType', () => {
    assert.equal(buildSourceKey(salesforceContact), '0035e00001AbCdE@00D4W000000FgYJUA0.Salesforce');
  });

  test('allows any character in the sourceID, including @ and .', () => {
    const key = buildSourceKey({ sourceType: 'Marketo', sourceInstanceID: '123-ABC-456', sourceID: 'a@b.c.mkto_org' });
    assert.equal(key, 'a@b.c.mkto_org@123-ABC-456.Marketo');
  });

  for (const part of ['sourceType', 'sourceInstanceID', 'sourceID'] as const) {
    test(`refuses a blank ${part}`, () => {
      assert.throws(() => buildSourceKey({ ...salesforceContact, [part]: '  ' }), {
        message: `Cannot build a source key: ${part} must not be blank`,
      });
    });
  }

  for (const part of ['sourceType', 'sourceInstanceID'] as const) {
    for (const separator of ['@', '.']) {
      test(`refuses a ${part} containing '${separator}'`, () => {
        const value = `acme${separator}na`;
        assert.throws(() => buildSourceKey({ ...salesforceContact, [part]: value }), {
          message: `Cannot build a source key: ${part} '${value}' must not contain '@' or '.'`,
        });
      });
    }
  }
});

describe('toB2BSource', () => {
  test('returns all four parts', () => {
    assert.deepEqual(toB2BSource(salesforceContact), {
      ...salesforceContact,
      sourceKey: '0035e00001AbCdE@00D4W000000FgYJUA0.Salesforce',
    });
  });

  test('throws like buildSourceKey', () => {
    assert.throws(() => toB2BSource({ ...salesforceContact, sourceType: '' }), /sourceType must not be blank/);
  });
});

describe('parseSourceKey', () => {
  test('splits a key into its parts', () => {
    assert.deepEqual(parseSourceKey('1234567.mkto_org@123-ABC-456.Marketo'), {
      sourceType: 'Marketo',
      sourceInstanceID: '123-ABC-456',
      sourceID: '1234567.mkto_org',
      sourceKey: '1234567.mkto_org@123-ABC-456.Marketo',
    });
  });

  test('splits at the last @, so the sourceID may contain @', () => {
    assert.deepEqual(parseSourceKey('jane@acme.com@acme-na.salesforce'), {
      sourceType: 'salesforce',
      sourceInstanceID: 'acme-na',
      sourceID: 'jane@acme.com',
      sourceKey: 'jane@acme.com@acme-na.salesforce',
    });
  });

  const malformed: Array<[string, string]> = [
    ['no @', '0035e00001AbCdE.Salesforce'],
    ['no . after the last @', '0035e00001AbCdE@Salesforce'],
    ['an empty sourceID', '@00D4W000000FgYJUA0.Salesforce'],
    ['a blank sourceID', '  @00D4W000000FgYJUA0.Salesforce'],
    ['an empty instance', '0035e00001AbCdE@.Salesforce'],
    ['an empty type', '0035e00001AbCdE@00D4W000000FgYJUA0.'],
    ['an instance containing . (ambiguous)', '1@acme.prod.Salesforce'],
    ['the empty string', ''],
  ];
  for (const [why, key] of malformed) {
    test(`returns null for a key with ${why}`, () => {
      assert.equal(parseSourceKey(key), null);
    });
  }
});

describe('findSourceKeyPartProblem', () => {
  test('returns null for valid parts', () => {
    assert.equal(findSourceKeyPartProblem(salesforceContact), null);
  });

  test('names the offending part', () => {
    assert.deepEqual(findSourceKeyPartProblem({ ...salesforceContact, sourceInstanceID: 'a.b' }), {
      part: 'sourceInstanceID',
      message: "sourceInstanceID 'a.b' must not contain '@' or '.'",
    });
  });
});

describe('source key properties', () => {
  const nonBlank = (constraints: fc.StringConstraints = {}) =>
    fc.string({ minLength: 1, unit: 'binary', ...constraints }).filter((s) => s.trim() !== '');
  const separatorFree = nonBlank().filter((s) => !s.includes('@') && !s.includes('.'));
  const validParts = fc.record({ sourceType: separatorFree, sourceInstanceID: separatorFree, sourceID: nonBlank() });

  test('parse(build(parts)) gives back the parts and the key', () => {
    fc.assert(
      fc.property(validParts, (parts) => {
        const sourceKey = buildSourceKey(parts);
        assert.deepEqual(parseSourceKey(sourceKey), { ...parts, sourceKey });
      }),
    );
  });

  test('whatever parses rebuilds to the same key', () => {
    const keyLike = fc.string({ unit: fc.constantFrom('a', 'B', '1', '@', '.', ' ', '-') });
    fc.assert(
      fc.property(keyLike, (key) => {
        const parsed = parseSourceKey(key);
        if (parsed) assert.equal(buildSourceKey(parsed), key);
      }),
    );
  });
});

describe('Marketo account suffixes', () => {
  test('company and named-account ids get their table suffix', () => {
    assert.equal(marketoCompanySourceId(1234567), '1234567.mkto_org');
    assert.equal(marketoNamedAccountSourceId('89'), '89.mkto_acct');
  });

  test('the table is read back from the suffix', () => {
    assert.equal(marketoAccountTable('1234567.mkto_org'), 'company');
    assert.equal(marketoAccountTable('89.mkto_acct'), 'named-account');
    assert.equal(marketoAccountTable('1234567'), null);
    assert.equal(marketoAccountTable('.mkto_org'), null);
  });

  test('stripping the suffix gives the native Marketo id', () => {
    assert.equal(stripMarketoAccountSuffix('1234567.mkto_org'), '1234567');
    assert.equal(stripMarketoAccountSuffix('89.mkto_acct'), '89');
    assert.equal(stripMarketoAccountSuffix('0015e00000XyZ'), '0015e00000XyZ');
  });

  test('a suffixed company id makes a valid account source key', () => {
    const key = buildSourceKey({
      sourceType: 'Marketo',
      sourceInstanceID: '123-ABC-456',
      sourceID: marketoCompanySourceId(1234567),
    });
    assert.equal(key, '1234567.mkto_org@123-ABC-456.Marketo');
    assert.equal(marketoAccountTable(parseSourceKey(key)!.sourceID), 'company');
  });
});
