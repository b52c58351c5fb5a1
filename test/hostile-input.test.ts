/**
 * Input that cannot hurt: the probes from issue 9 (a backtracking-bait email, an escaped lone
 * surrogate, deep nesting, NUL in a URL, out-of-range paging), oversized records quarantined as a
 * bounded prefix, and a fuzz test — generated hostile records and query strings get 2xx or 4xx,
 * never 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { closeTemporal, closeTestDb, testDb, uniqueInstance } from './support/env';
import { testApi } from './support/api';

let api: Awaited<ReturnType<typeof testApi>>;
before(async () => {
  api = await testApi({ resolvers: false, resolveWaitMs: 0 });
});
after(async () => {
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

const key = (inst: string, id: string) => ({ sourceType: 'Salesforce', sourceInstanceID: inst, sourceID: id });
const ingest = (body: string) => api.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: body, headers: { 'content-type': 'application/json' } });

test('a 90,000-character "email" is refused by the length cap: the record is stored, the value refused with the reason', async () => {
  const inst = uniqueInstance('00D');
  const probe = `a@${'a.'.repeat(45_000)} x`;
  const res = await ingest(JSON.stringify({ b2b: { personKey: key(inst, 'p1') }, identityMap: { Email: [{ id: probe }] } }));
  assert.equal(res.statusCode, 200, res.body);
  const rec = (await api.app.inject({ method: 'GET', url: `/v1/records/person/${encodeURIComponent(`p1@${inst}.Salesforce`)}` })).json();
  assert.deepEqual(rec.identities.values, []);
  assert.match(rec.identities.refused[0].reason, /at most 254 characters/);
  assert.ok(rec.identities.refused[0].value.length <= 255, 'the refused value is kept cut');
});

test('an escaped lone surrogate, a NUL, or nesting deeper than 32 is that record\'s 422, not a 500', async () => {
  const inst = uniqueInstance('00D');
  const person = (id: string, extra: string) => `{"b2b":{"personKey":{"sourceKey":"${id}@${inst}.Salesforce"}}${extra}}`;
  const deep = `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`;
  for (const [extra, reason] of [
    [',"workEmail":{"address":"\\\\ud800\\udc00"}', /unpaired UTF-16 surrogate/],
    [',"workEmail":{"address":"\\ud800"}', /unpaired UTF-16 surrogate/],
    [',"workEmail":{"address":"a\\u0000b"}', /NUL character/],
    [`,"\\udfff":1`, /unpaired UTF-16 surrogate/],
    [`,"extra":${deep}`, /nests deeper than 32 levels/],
  ] as const) {
    const res = await ingest(`[${person('ok', '')},${person('bad', extra)}]`);
    assert.equal(res.statusCode, 207, `${extra.slice(0, 40)}: ${res.body.slice(0, 300)}`);
    const bad = res.json().results[1];
    assert.equal(bad.status, 'rejected');
    assert.match(bad.errors[0].message, reason);
  }
  // Thousands of levels (too deep even to serialise): the record's rejection, not a 500.
  const abyss = await ingest(`[${person('ok2', '')},${'['.repeat(20_000)}${']'.repeat(20_000)}]`);
  assert.equal(abyss.statusCode, 207, abyss.body.slice(0, 300));
  assert.match(abyss.json().results[1].errors[0].message, /nests deeper than 32 levels/);
  // A limited ingest token cannot slip another instance's records in as rejects either.
  const limitedToken = await api.tokenFor('ingest', [`salesforce/${inst.toLowerCase()}`]);
  const sneaky = await api.unauthenticated({ method: 'POST', url: '/v1/ingest/person', payload: `[${person('ok3', '')},{"b2b":{"personKey":{"sourceKey":"x@other-org.Salesforce"}},"workEmail":{"address":42}}]`, headers: { 'content-type': 'application/json', authorization: `Bearer ${limitedToken}` } });
  assert.equal(sneaky.statusCode, 403, sneaky.body);
  const single = await ingest(person('alone', ',"workEmail":{"address":"\\\\ud800\\udc00"}'));
  assert.equal(single.statusCode, 422, single.body);
});

test('an oversized record is quarantined as its first 100 KB with its size and hash', async () => {
  const inst = uniqueInstance('00D');
  const res = await ingest(JSON.stringify({ b2b: { personKey: key(inst, 'big') }, person: { name: { firstName: 'é'.repeat(80_000) } } }));
  assert.equal(res.statusCode, 422, res.body.slice(0, 300));
  const r = res.json().results[0];
  assert.match(r.errors[0].message, /bytes \(SHA-256 [0-9a-f]{64}\); the limit is 102,400 bytes/);
  const row = await testDb()('quarantine_record').where({ id: r.quarantineId }).first();
  assert.equal(row.payload, null);
  assert.ok(Buffer.byteLength(row.payload_text, 'utf8') <= 100 * 1024);
  assert.ok(Buffer.byteLength(row.payload_text, 'utf8') > 100 * 1024 - 4, 'cut on a whole character');
});

test('a NUL in a URL and out-of-range paging answer 400', async () => {
  const inst = uniqueInstance('00D');
  assert.equal((await ingest(JSON.stringify({ b2b: { personKey: key(inst, 'lp') } }))).statusCode, 200);
  const badCursor = Buffer.from(JSON.stringify(['-'.repeat(36), 'a', 'b', 'c'])).toString('base64url');
  for (const url of [
    '/v1/records/person/a%00b',
    '/v1/quarantine?after=1e20',
    '/v1/profiles/person/00000000-0000-4000-8000-000000000000/history?after=1e20',
    '/v1/quarantine?xdmClass=%00',
    `/v1/profiles/account/00000000-0000-4000-8000-000000000000/people?after=${badCursor}`,
    `/v1/records/person/${encodeURIComponent(`lp@${inst}.Salesforce`)}?landingAfter=${encodeURIComponent('2026-13-45 99:99:99+00|00000000-0000-4000-8000-000000000000')}`,
  ]) {
    const res = await api.app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 400, `${url}: ${res.statusCode} ${res.body}`);
  }
});

test('fuzz: generated hostile records and query strings get 2xx or 4xx, never 5xx', async () => {
  const hostileString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('\u0000', '\ud800', '\udfff', 'a@a.', `a@${'a.'.repeat(300)}`, '1e20', '-1', 'NaN', '__proto__', 'constructor', "'; DROP TABLE xdm_person; --", '%00', '../../etc/passwd'),
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(hostileString, tie('v'), { maxKeys: 4 })),
  })).v;
  const inst = uniqueInstance('00D');
  const record = fc.record(
    {
      b2b: fc.oneof(fc.record({ personKey: fc.record({ sourceKey: fc.oneof(hostileString, fc.constant(`fz@${inst}.Salesforce`)) }) }), value),
      workEmail: fc.oneof(fc.record({ address: hostileString }), value),
      identityMap: fc.oneof(fc.record({ Email: fc.array(fc.record({ id: hostileString }), { maxLength: 3 }) }), value),
      person: value,
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.oneof(record, value), { minLength: 1, maxLength: 5 }), async (records) => {
      const res = await ingest(JSON.stringify(records));
      assert.ok(res.statusCode < 500, `${res.statusCode} ${res.body.slice(0, 300)} for ${JSON.stringify(records).slice(0, 300)}`);
    }),
    { numRuns: 150 },
  );
  const routes = ['/v1/quarantine', '/v1/profiles/person/by-identity', '/v1/identity/explain', '/v1/file-ingestions', '/v1/audit', '/v1/tokens'];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...routes), fc.dictionary(fc.constantFrom('after', 'limit', 'identity', 'a', 'b', 'xdmClass', 'before', 'since', 'principal', 'revoked', 'entity'), hostileString, { maxKeys: 4 }), async (route, query) => {
      const qs = Object.entries(query).map(([k, v]) => `${k}=${encodeURIComponent(v.isWellFormed() ? v : v.toWellFormed())}`).join('&');
      const res = await api.app.inject({ method: 'GET', url: `${route}?${qs}` });
      assert.ok(res.statusCode < 500, `${route}?${qs}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    }),
    { numRuns: 200 },
  );
});
