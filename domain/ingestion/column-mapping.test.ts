import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { XDM_CLASSES } from '../xdm/registry';
import { coerceCell, columnMappingSchema, compileMapping } from './column-mapping';

const person = XDM_CLASSES.person;

test('without a mapping, headers must be XDM field paths of the class', () => {
  const ok = compileMapping(person, ['b2b.personKey.sourceKey', 'workEmail.address', 'b2b.personScore'], null);
  assert.deepEqual(ok.problems, []);
  const { record, errors } = ok.mapping!.apply({ 'b2b.personKey.sourceKey': '1@i.T', 'workEmail.address': 'a@b.co', 'b2b.personScore': '42.5' });
  assert.deepEqual(errors, []);
  assert.deepEqual(record, { b2b: { personKey: { sourceKey: '1@i.T' }, personScore: 42.5 }, workEmail: { address: 'a@b.co' } });

  const bad = compileMapping(person, ['b2b.personKey.sourceKey', 'Email'], null);
  assert.deepEqual(bad.problems, ["column 'Email' is not an XDM field path of XDM Individual Profile; rename it or supply a mapping file".replace('XDM Individual Profile', person.title)]);
});

test('a mapping composes source keys, renames columns, transforms and sets constants', () => {
  const mapping = columnMappingSchema.parse({
    fields: {
      'b2b.personKey': { sourceKey: { idColumn: 'Id', sourceInstanceID: '00Dorg', sourceType: 'Salesforce' } },
      'b2b.accountKey': { sourceKey: { idColumn: 'Company', sourceInstanceID: '123-ABC-456', sourceType: 'Marketo', idSuffix: 'mkto_org' } },
      'workEmail.address': { column: 'Email', transform: 'lowercase' },
      'b2b.personType': { value: 'Contact' },
      'person.name.firstName': 'First',
    },
  });
  const compiled = compileMapping(person, ['Id', 'Company', 'Email', 'First', 'Ignored'], mapping);
  assert.deepEqual(compiled.problems, []);
  const { record } = compiled.mapping!.apply({ Id: '003A', Company: '77', Email: ' ADA@EXAMPLE.COM ', First: 'Ada', Ignored: 'x' });
  assert.deepEqual(record, {
    b2b: {
      personKey: { sourceType: 'Salesforce', sourceInstanceID: '00Dorg', sourceID: '003A' },
      accountKey: { sourceType: 'Marketo', sourceInstanceID: '123-ABC-456', sourceID: '77.mkto_org' },
      personType: 'Contact',
    },
    workEmail: { address: 'ada@example.com' },
    person: { name: { firstName: 'Ada' } },
  });
});

test('mapping problems name the field or column to fix', () => {
  const mapping = columnMappingSchema.parse({ fields: { 'b2b.nope': 'A', 'workEmail.address': 'Missing', 'workEmail': { sourceKey: { idColumn: 'A', sourceInstanceID: 'i', sourceType: 't' } } } });
  const { problems } = compileMapping(person, ['A'], mapping);
  assert.equal(problems.length, 3);
  assert.match(problems.join('\n'), /'b2b.nope' is not a field/);
  assert.match(problems.join('\n'), /column 'Missing' \(for workEmail.address\) is not in the file header/);
  assert.match(problems.join('\n'), /'workEmail' is not a B2B Source field/);
});

test('cells that cannot be coerced are field errors naming the column; empty cells are absent', () => {
  const compiled = compileMapping(person, ['b2b.personKey.sourceKey', 'b2b.personScore', 'b2b.isConverted'], null).mapping!;
  const { record, errors } = compiled.apply({ 'b2b.personKey.sourceKey': '1@i.T', 'b2b.personScore': 'high', 'b2b.isConverted': '' });
  assert.deepEqual(errors, [{ path: 'b2b.personScore', message: "column 'b2b.personScore': 'high' is not a number" }]);
  assert.deepEqual(record, { b2b: { personKey: { sourceKey: '1@i.T' } } });
});

test('coerceCell', () => {
  assert.deepEqual(coerceCell('YES', 'boolean'), { value: true });
  assert.deepEqual(coerceCell('0', 'boolean'), { value: false });
  assert.ok('error' in coerceCell('maybe', 'boolean'));
  assert.deepEqual(coerceCell('12', 'integer'), { value: 12 });
  assert.ok('error' in coerceCell('1.5', 'integer'));
  assert.deepEqual(coerceCell('a; b;', 'string-array'), { value: ['a', 'b'] });
  assert.deepEqual(coerceCell('["a;b"]', 'string-array'), { value: ['a;b'] });
});

test('overlapping target paths are refused; numbers must be plain decimals', () => {
  const mapping = columnMappingSchema.parse({ fields: { 'b2b.personKey': { sourceKey: { idColumn: 'Id', sourceInstanceID: 'i', sourceType: 't' } }, 'b2b.personKey.sourceKey': 'Key' } });
  assert.match(compileMapping(person, ['Id', 'Key'], mapping).problems.join(), /'b2b.personKey' and 'b2b.personKey.sourceKey' overlap/);
  for (const bad of ['0x1F', 'Infinity', '1,000', '1e', '']) assert.ok('error' in coerceCell(bad, 'number'), bad);
  for (const [good, n] of [['-1.5', -1.5], ['.5', 0.5], ['2E3', 2000], [' 7 ', 7]] as const) assert.deepEqual(coerceCell(good, 'number'), { value: n });
  const long = `${'x'.repeat(39)}😀😀`;
  const err = coerceCell(long, 'number') as { error: string };
  assert.ok(err.error.isWellFormed(), 'truncation never splits a surrogate pair');
});

test('a header cell that is not a column name is described, never echoed (a key file is not a CSV)', () => {
  const secret = randomBytes(32).toString('base64'); // what a payload key file holds
  const bad = compileMapping(XDM_CLASSES.person, [secret], null);
  assert.ok(!bad.problems.join(' ').includes(secret), bad.problems.join(' '));
  assert.match(bad.problems[0]!, /a header cell of 44 characters that is not a column name/);
});
