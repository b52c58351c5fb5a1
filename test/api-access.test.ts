/**
 * Who may call what: every route in api/access.ts (and only those) is a route of the API; each
 * answers 401 without a token, 403 to a role it does not list, and lets a listed role through;
 * every state-changing and refused call is in the audit log under the token's principal; ingest
 * tokens write only their instances; tokens are created, listed and revoked; Host and Origin are
 * checked; the codec refuses strangers and malformed payloads; secrets are never readable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROUTE_ACCESS } from '../api/access';
import { assertImportDirsSafe } from '../api/app';
import { ROLES, type Role } from '../domain/access/roles';
import { EncryptionCodec } from '../platform/payload-codec';
import { closeTemporal, closeTestDb, eventually, testDb, uniqueInstance } from './support/env';
import { testApi } from './support/api';
import { testFilesDir } from './support/files';

let api: Awaited<ReturnType<typeof testApi>>;
const tokens = new Map<Role, string>();

before(async () => {
  api = await testApi({ resolvers: false, resolveWaitMs: 0, codec: { codec: new EncryptionCodec({ id: 'k1', key: randomBytes(32) }), corsOrigins: ['http://localhost:8233'] } });
  for (const role of ROLES) tokens.set(role, await api.tokenFor(role));
});
after(async () => {
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

const SAMPLE: Record<string, string> = {
  xdmClass: 'person',
  entity: 'person',
  profileId: '00000000-0000-4000-8000-000000000000',
  id: '1',
  sourceType: 'salesforce',
  instanceId: 'no-such-org',
  stream: 'Contact',
  backfillId: '00000000-0000-4000-8000-000000000000',
  changeId: '00000000-0000-4000-8000-000000000000',
  name: 'email',
  recordKey: 'x',
  tokenId: '0000000000000000',
  op: 'decode',
};
const urlOf = (route: string) => route.replace(/:(\w+)/g, (_, p: string) => SAMPLE[p] ?? 'x');
const bearer = (role: Role) => ({ authorization: `Bearer ${tokens.get(role)}` });

describe('every route declares its roles', () => {
  const guarded = Object.entries(ROUTE_ACCESS).filter((e): e is [string, readonly Role[]] => e[1] !== 'public');

  test('the access table names exactly the routes the API has', () => {
    for (const key of Object.keys(ROUTE_ACCESS)) {
      const [method, url] = key.split(' ') as [string, string];
      assert.ok(api.app.hasRoute({ method: method as 'GET', url }), `${key} is in api/access.ts but is not a route`);
    }
  });

  test('no token: 401; a role not listed: 403; a listed role gets through (a bad body then answers 400, nothing runs)', async () => {
    for (const [key, roles] of guarded) {
      const [method, route] = key.split(' ') as ['GET' | 'POST' | 'PUT' | 'DELETE', string];
      const url = urlOf(route);
      const body = method === 'GET' ? {} : { payload: '{', headers: { 'content-type': 'application/json' } };
      const anonymous = await api.unauthenticated({ method, url, ...body });
      assert.equal(anonymous.statusCode, 401, `${key} without a token: ${anonymous.body}`);
      assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="tessera"');
      const forged = await api.unauthenticated({ method, url, headers: { authorization: `Bearer tsr_${'0'.repeat(16)}_${'A'.repeat(43)}` } });
      assert.equal(forged.statusCode, 401, `${key} with an unknown token`);
      const outsider = ROLES.find((r) => !roles.includes(r));
      if (outsider) {
        const refused = await api.unauthenticated({ method, url, ...body, headers: { ...(body.headers ?? {}), ...bearer(outsider) } });
        assert.equal(refused.statusCode, 403, `${key} as ${outsider}: ${refused.body}`);
        assert.match(refused.json().message, new RegExp(`role '${outsider}' may not call`));
      }
      const member = roles.find((r) => r !== 'admin') ?? 'admin';
      const allowed = await api.unauthenticated({ method, url, ...body, headers: { ...(body.headers ?? {}), ...bearer(member) } });
      assert.ok(![401, 403].includes(allowed.statusCode), `${key} as ${member}: ${allowed.statusCode} ${allowed.body}`);
      if (method !== 'GET') assert.ok([400, 415].includes(allowed.statusCode), `${key} as ${member} with a bad body: ${allowed.statusCode} ${allowed.body}`);
    }
  });

  test('every state-changing call, and every refused one, is in the audit log under its principal', async () => {
    const mutating = guarded.filter(([key]) => !key.startsWith('GET '));
    await eventually('audit entries for every mutating route', async () => {
      const rows: Array<{ method: string; route: string; outcome: string; principal: string | null }> = await testDb()('audit_log').select('method', 'route', 'outcome', 'principal');
      return mutating.every(([key]) => {
        const [method, route] = key.split(' ');
        const of = rows.filter((r) => r.method === method && r.route === route);
        return of.some((r) => r.outcome === 'refused' && r.principal === null) && of.some((r) => r.outcome === 'failed' && r.principal?.startsWith('test-'));
      });
    });
    const res = await api.app.inject({ method: 'POST', url: '/v1/tokens', payload: { principal: 'audit-probe', role: 'marketer' } });
    assert.equal(res.statusCode, 201, res.body);
    await eventually('the token creation to be audited as ok', async () => Boolean(await testDb()('audit_log').where({ route: '/v1/tokens', method: 'POST', outcome: 'ok', principal: 'test-admin' }).first()));
    const page = await api.app.inject({ method: 'GET', url: '/v1/audit?limit=5', headers: bearer('auditor') });
    assert.equal(page.statusCode, 200, page.body);
    assert.equal(page.json().entries.length, 5);
    assert.equal((await api.app.inject({ method: 'GET', url: '/v1/audit', headers: bearer('operator') })).statusCode, 403);
  });
});

test('tokens: created with the secret shown once, listed without it, revoked at once', async () => {
  const created = await api.app.inject({ method: 'POST', url: '/v1/tokens', payload: { principal: 'ci-bot', role: 'auditor', description: 'reads the audit log' } });
  assert.equal(created.statusCode, 201, created.body);
  const { token, id } = created.json();
  assert.match(token, /^tsr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal((await api.unauthenticated({ method: 'GET', url: '/v1/audit?limit=1', headers: { authorization: `Bearer ${token}` } })).statusCode, 200);
  const listed = (await api.app.inject({ method: 'GET', url: '/v1/tokens' })).json().tokens;
  assert.ok(listed.some((t: { id: string }) => t.id === id));
  assert.ok(!JSON.stringify(listed).includes(token.split('_')[2]), 'no secret in the list');
  assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/tokens/${id}` })).statusCode, 200);
  assert.equal((await api.unauthenticated({ method: 'GET', url: '/v1/audit?limit=1', headers: { authorization: `Bearer ${token}` } })).statusCode, 401);
  const wrong = await api.app.inject({ method: 'POST', url: '/v1/tokens', payload: { principal: 'x', role: 'marketer', instances: ['salesforce/org1'] } });
  assert.equal(wrong.statusCode, 400);
});

test('an ingest token writes its own source instances only; nothing of a mixed request is stored', async () => {
  const mine = uniqueInstance('00D');
  const theirs = uniqueInstance('00D');
  const token = await api.tokenFor('ingest', [`salesforce/${mine}`]);
  const person = (inst: string, id: string) => ({ b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: inst, sourceID: id } }, workEmail: { address: `${id}@${inst}.example` } });
  const headers = { authorization: `Bearer ${token}` };
  const ok = await api.unauthenticated({ method: 'POST', url: '/v1/ingest/person', payload: [person(mine, 'a')], headers });
  assert.ok([200, 207].includes(ok.statusCode), ok.body);
  const mixed = await api.unauthenticated({ method: 'POST', url: '/v1/ingest/person', payload: [person(mine, 'b'), person(theirs, 'c')], headers });
  assert.equal(mixed.statusCode, 403, mixed.body);
  assert.match(mixed.json().message, new RegExp(`Salesforce/${theirs}.*nothing was stored`));
  assert.equal(await testDb()('xdm_person').whereIn('record_key', [`b@${mine}.Salesforce`, `c@${theirs}.Salesforce`]).first(), undefined);
  assert.equal((await api.unauthenticated({ method: 'GET', url: '/v1/profiles/person/by-identity?identity=email:a@x.example', headers })).statusCode, 403);
});

test('a request naming another host, or a state change from a foreign web origin, is refused', async () => {
  const rebinding = await api.app.inject({ method: 'GET', url: '/v1/sources', headers: { host: 'attacker.example:8080' } });
  assert.equal(rebinding.statusCode, 403);
  assert.equal(rebinding.json().error, 'HostNotAllowed');
  const crossSite = await api.app.inject({ method: 'POST', url: '/v1/identity/rebuild', headers: { origin: 'https://attacker.example', 'content-type': 'text/plain' }, payload: '{}' });
  assert.equal(crossSite.statusCode, 403);
  assert.equal(crossSite.json().error, 'OriginNotAllowed');
  const ui = await api.app.inject({ method: 'POST', url: '/v1/temporal-codec/decode', headers: { origin: 'http://localhost:8233' }, payload: { payloads: [] } });
  assert.equal(ui.statusCode, 200, ui.body);
  assert.equal((await api.app.inject({ method: 'GET', url: '/health', headers: { host: '127.0.0.1:8080' } })).statusCode === 403, false);
});

test('the codec decodes only for operators and admins, and answers 400 to malformed or foreign payloads', async () => {
  const anonymous = await api.unauthenticated({ method: 'POST', url: '/v1/temporal-codec/decode', payload: { payloads: [] } });
  assert.equal(anonymous.statusCode, 401);
  assert.equal((await api.app.inject({ method: 'POST', url: '/v1/temporal-codec/decode', payload: { payloads: [] }, headers: bearer('marketer') })).statusCode, 403);
  for (const payload of [{ payloads: 'x' }, { payloads: [{ data: '***' }] }, { payloads: [{ metadata: { encoding: Buffer.from('binary/encrypted').toString('base64'), 'encryption-key-id': Buffer.from('other').toString('base64') }, data: 'AAAA' }] }]) {
    const res = await api.app.inject({ method: 'POST', url: '/v1/temporal-codec/decode', payload });
    assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().error, 'InvalidPayload');
  }
});

test('a browser session for the Temporal UI: the codec takes the token from its cookie, no other route does', async () => {
  const operator = tokens.get('operator')!;
  const set = await api.app.inject({ method: 'POST', url: '/v1/temporal-codec/session', headers: { authorization: `Bearer ${operator}`, origin: 'http://localhost:80', host: 'localhost:80' } });
  assert.equal(set.statusCode, 200, set.body);
  const cookie = String(set.headers['set-cookie']);
  assert.match(cookie, /^tessera_codec=tsr_[\w-]+; Path=\/v1\/temporal-codec; Max-Age=28800; HttpOnly; SameSite=Strict$/);
  const pair = cookie.split(';')[0]!;
  const decoded = await api.unauthenticated({ method: 'POST', url: '/v1/temporal-codec/decode', payload: { payloads: [] }, headers: { cookie: pair, origin: 'http://localhost:8233' } });
  assert.equal(decoded.statusCode, 200, decoded.body);
  assert.equal((await api.unauthenticated({ method: 'GET', url: '/v1/sources', headers: { cookie: pair } })).statusCode, 401, 'the cookie opens the codec only');
  const foreign = await api.unauthenticated({ method: 'POST', url: '/v1/temporal-codec/decode', payload: { payloads: [] }, headers: { cookie: pair, origin: 'https://attacker.example' } });
  assert.equal(foreign.statusCode, 403, 'a foreign page cannot use the session');
  assert.equal((await api.unauthenticated({ method: 'POST', url: '/v1/temporal-codec/session', headers: { cookie: pair } })).statusCode, 400, 'a session is opened with the token itself');
});

test('each token has its own rate limit: past it, 429 with Retry-After, audited as refused', async () => {
  const limited = await testApi({ resolvers: false, rateLimitPerMinute: 3 });
  try {
    const a = await limited.tokenFor('auditor');
    const b = await limited.tokenFor('auditor');
    const call = (token: string) => limited.unauthenticated({ method: 'GET', url: '/v1/audit?limit=1', headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) assert.equal((await call(a)).statusCode, 200);
    const over = await call(a);
    assert.equal(over.statusCode, 429, over.body);
    assert.ok(Number(over.headers['retry-after']) > 0);
    assert.match(over.json().message, /more than 3 requests a minute with this token/);
    assert.equal((await call(b)).statusCode, 200, 'another token has its own budget');
    await eventually('the 429 to be audited', async () => Boolean(await testDb()('audit_log').where({ route: '/v1/audit', status: 429, outcome: 'refused' }).first()));
    // Made-up tokens are throttled too (per address, five tokens' worth), before any is looked up.
    const forged = () => limited.unauthenticated({ method: 'GET', url: '/v1/sources', headers: { authorization: `Bearer tsr_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}` } });
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await forged()).statusCode);
    assert.ok(statuses.includes(401) && statuses.at(-1) === 429, statuses.join(','));
  } finally {
    await limited.close();
  }
});

test('secrets cannot be read through the API: the data and secrets directories are never import directories', async () => {
  const secretsDir = join(api.dataDir, 'secrets');
  mkdirSync(secretsDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  writeFileSync(join(secretsDir, 'payload.key'), `${key}\n`, { mode: 0o600 });
  for (const path of [join(secretsDir, 'payload.key'), 'secrets/payload.key', '../secrets/payload.key', `${testFilesDir}/../${secretsDir}/payload.key`]) {
    const res = await api.app.inject({ method: 'POST', url: '/v1/file-ingestions', payload: { path, class: 'person' } });
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${path}: ${res.statusCode}`);
    assert.ok(!res.body.includes(key) && !res.body.includes(key.slice(0, 20)), `${path}: the answer echoes the key`);
  }
  assert.throws(() => assertImportDirsSafe([join(api.dataDir, '..')], [api.dataDir]), /contains .* Tessera's data or secrets/);
  assert.throws(() => assertImportDirsSafe([secretsDir], [api.dataDir, join(secretsDir, 'payload.key')]), /contains/);
  const link = join(testFilesDir, `up-${randomBytes(4).toString('hex')}`);
  symlinkSync(join(api.dataDir, '..'), link);
  assert.throws(() => assertImportDirsSafe([link], [api.dataDir]), /contains/, 'a symbolic link to a parent of the data directory');
  assert.doesNotThrow(() => assertImportDirsSafe([join(api.dataDir, 'imports')], [api.dataDir, secretsDir]));
  assert.doesNotThrow(() => assertImportDirsSafe([testFilesDir], [join(testFilesDir, '..', 'elsewhere.key')]), 'a secret file beside, not inside');
});
