/** POST /v1/ingest/{class}: per-record outcomes, quarantine, idempotency, ordering, limits, outages. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDb } from '../db/connection';
import { closeTestDb, countRows, requireEnv, testDb, uniqueInstance } from './support/env';
import { testApi } from './support/api';

let api: Awaited<ReturnType<typeof testApi>>;
before(async () => { api = await testApi(); });
after(async () => { await api.close(); await closeTestDb(); });

const post = (cls: string, payload: unknown) => api.app.inject({ method: 'POST', url: `/v1/ingest/${cls}`, payload: payload as object });

function person(instance: string, id: string, extra: Record<string, unknown> = {}, updated = '2026-01-01T00:00:00Z') {
  return {
    b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: instance, sourceID: id }, personType: 'Contact' },
    workEmail: { address: `${id.toLowerCase()}@example.com` },
    extSourceSystemAudit: { lastUpdatedDate: updated },
    ...extra,
  };
}

async function stored(table: string, key: string) {
  return testDb()(table).where({ record_key: key }).first();
}

describe('streaming ingestion', () => {
  test('valid records are stored before the answer; invalid ones come back with field paths and sit in quarantine', async () => {
    const inst = uniqueInstance('sf');
    const res = await post('person', [person(inst, 'P1'), { b2b: { personKey: { sourceKey: 'no-at-sign' } }, workEmail: { address: 42 } }, person(inst, 'P2')]);
    assert.equal(res.statusCode, 207);
    const body = res.json();
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected, 1);
    assert.deepEqual(body.results.map((r: { status: string }) => r.status), ['accepted', 'rejected', 'accepted']);
    assert.equal(body.results[0].recordKey, `P1@${inst}.Salesforce`);
    assert.equal(body.results[0].outcome, 'inserted');
    const paths = body.results[1].errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['b2b.personKey.sourceKey', 'workEmail.address']);

    const row = await stored('xdm_person', `P1@${inst}.Salesforce`);
    assert.equal(row.work_email, 'p1@example.com');
    assert.equal(row.source_instance_id, inst);
    assert.deepEqual(row.record.b2b.personKey, { sourceType: 'Salesforce', sourceInstanceID: inst, sourceID: 'P1', sourceKey: `P1@${inst}.Salesforce` });

    const q = await api.app.inject({ method: 'GET', url: `/v1/quarantine/${body.results[1].quarantineId}` });
    assert.equal(q.statusCode, 200);
    assert.equal(q.json().status, 'open');
    assert.deepEqual(q.json().payload, { b2b: { personKey: { sourceKey: 'no-at-sign' } }, workEmail: { address: 42 } });
    assert.equal(q.json().errors.length, 2);
  });

  test('the same record twice changes nothing: outcome unchanged, one landing row', async () => {
    const inst = uniqueInstance('sf');
    const rec = person(inst, 'P1');
    assert.equal((await post('person', rec)).json().results[0].outcome, 'inserted');
    const before = await stored('xdm_person', `P1@${inst}.Salesforce`);
    const again = await post('person', rec);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().results[0].outcome, 'unchanged');
    const afterRow = await stored('xdm_person', `P1@${inst}.Salesforce`);
    assert.equal(afterRow.updated_at.getTime(), before.updated_at.getTime());
    assert.equal(await countRows('landing_record', (q) => q.where({ xdm_class: 'person', record_key: `P1@${inst}.Salesforce` })), 1);
    const read = await api.app.inject({ method: 'GET', url: `/v1/records/person/${encodeURIComponent(`P1@${inst}.Salesforce`)}` });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().record.workEmail.address, 'p1@example.com');
    assert.equal(read.json().landing.length, 1);
    assert.equal((await api.app.inject({ method: 'GET', url: '/v1/records/person/nobody%40x.y' })).statusCode, 404);
  });

  test('an older update never overwrites a newer one, in any arrival order', async () => {
    const inst = uniqueInstance('sf');
    const newer = person(inst, 'P1', { person: { name: { firstName: 'New' } } }, '2026-03-01T00:00:00Z');
    const older = person(inst, 'P1', { person: { name: { firstName: 'Old' } } }, '2026-02-01T00:00:00Z');
    await post('person', newer);
    const res = await post('person', older);
    assert.equal(res.json().results[0].outcome, 'stale');
    assert.equal((await stored('xdm_person', `P1@${inst}.Salesforce`)).record.person.name.firstName, 'New');
    // Both versions are kept raw in landing.
    assert.equal(await countRows('landing_record', (q) => q.where({ record_key: `P1@${inst}.Salesforce` })), 2);
    // In one batch too: the newest wins whatever its position.
    const inst2 = uniqueInstance('sf');
    const res2 = await post('person', [person(inst2, 'P1', {}, '2026-03-01T00:00:00Z'), person(inst2, 'P1', { person: { name: { firstName: 'Old' } } }, '2026-02-01T00:00:00Z')]);
    assert.deepEqual(res2.json().results.map((r: { outcome: string }) => r.outcome), ['inserted', 'superseded']);
    assert.equal((await stored('xdm_person', `P1@${inst2}.Salesforce`)).record.person, undefined);
  });

  test('isDeleted is honoured and an older update does not resurrect the record', async () => {
    const inst = uniqueInstance('mkto');
    const key = { sourceType: 'Marketo', sourceInstanceID: inst, sourceID: '1001.mkto_org' };
    await post('account', { accountKey: key, accountName: 'Acme', extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' } });
    await post('account', { accountKey: key, accountName: 'Acme', isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: '2026-02-01T00:00:00Z' } });
    await post('account', { accountKey: key, accountName: 'Acme', extSourceSystemAudit: { lastUpdatedDate: '2026-01-15T00:00:00Z' } });
    const row = await stored('xdm_account', `1001.mkto_org@${inst}.Marketo`);
    assert.equal(row.is_deleted, true);
  });

  test('every class is accepted with its documented field names', async () => {
    const inst = uniqueInstance('sf');
    const k = (id: string) => ({ sourceKey: `${id}@${inst}.Salesforce` });
    const cases: Array<[string, object, string]> = [
      ['account', { accountKey: k('001A'), accountName: 'Acme', accountOrganization: { DUNSNumber: '123456789', website: 'https://www.acme.com/x' } }, 'xdm_account'],
      ['opportunity', { opportunityKey: k('006A'), accountKey: k('001A'), opportunityName: 'Big deal', opportunityAmount: { amount: 1200000, currencyCode: 'USD' }, isClosed: false }, 'xdm_opportunity'],
      ['account-person', { accountPersonKey: k('07kA'), accountKey: k('001A'), personKey: k('003A'), isPrimary: true }, 'xdm_account_person'],
      ['opportunity-person', { opportunityPersonKey: k('00KA'), opportunityKey: k('006A'), personKey: k('003A'), personRole: 'Decision Maker' }, 'xdm_opportunity_person'],
      ['campaign', { campaignKey: k('701A'), campaignName: 'Webinar' }, 'xdm_campaign'],
      ['campaign-member', { campaignMemberKey: k('00vA'), campaignKey: k('701A'), personKey: k('003A'), memberStatus: 'Registered' }, 'xdm_campaign_member'],
      ['marketing-list', { marketingListKey: k('L1'), marketingListName: 'Q3 targets' }, 'xdm_marketing_list'],
      ['marketing-list-member', { marketingListMemberKey: k('LM1'), marketingListKey: k('L1'), personKey: k('003A') }, 'xdm_marketing_list_member'],
      ['experience-event', { _id: `evt-${inst}`, timestamp: '2026-05-01T10:00:00Z', eventType: 'web.webpagedetails.pageViews', personKey: k('003A'), web: { webPageDetails: { URL: 'https://acme.com/pricing' } } }, 'xdm_experience_event'],
    ];
    for (const [cls, rec, table] of cases) {
      const res = await post(cls, rec);
      assert.equal(res.statusCode, 200, `${cls}: ${res.body}`);
      const key = res.json().results[0].recordKey;
      assert.ok(await stored(table, key), `${cls} stored in ${table}`);
    }
    assert.equal((await stored('xdm_account', `001A@${inst}.Salesforce`)).website_domain, 'acme.com');
    assert.equal((await stored('xdm_opportunity_person', `00KA@${inst}.Salesforce`)).person_role, 'Decision Maker');
    assert.equal((await stored('xdm_experience_event', `evt-${inst}`)).person_key, `003A@${inst}.Salesforce`);
  });

  test('bad requests answer 4xx with a message a person can act on', async () => {
    const malformed = await api.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: '{"b2b": ', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'InvalidJson');

    const unknown = await post('persons', {});
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /unknown XDM class 'persons'; use one of: account, .*person/);

    const empty = await post('person', []);
    assert.equal(empty.statusCode, 400);

    const tooMany = await post('person', Array.from({ length: 1001 }, (_, i) => person('x', `P${i}`)));
    assert.equal(tooMany.statusCode, 413);
    assert.match(tooMany.json().message, /at most 1,000/);

    const allBad = await post('person', [{ nope: 1 }]);
    assert.equal(allBad.statusCode, 422);
    assert.equal(allBad.json().rejected, 1);

    const inst = uniqueInstance('sf');
    const big = person(inst, 'BIG', { _acme: { notes: 'x'.repeat(101 * 1024) } });
    const oversized = await post('person', [big, person(inst, 'SMALL')]);
    assert.equal(oversized.statusCode, 207);
    assert.match(oversized.json().results[0].errors[0].message, /bytes \(SHA-256 [0-9a-f]{64}\); the limit is 102,400 bytes \(100 KB\)/);
    assert.ok(await stored('xdm_person', `SMALL@${inst}.Salesforce`));

    const nul = await post('person', person(uniqueInstance('sf'), 'NUL', { person: { name: { firstName: 'a\u0000b' } } }));
    assert.equal(nul.statusCode, 422);
    assert.match(nul.json().results[0].errors[0].message, /NUL character/);
  });

  test('Postgres down: 503 with Retry-After, and nothing is half-written', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    const down = await testApi({ db: deadDb, resolvers: false });
    try {
      const res = await down.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: person(uniqueInstance('sf'), 'P1') });
      assert.equal(res.statusCode, 503);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json().error, 'DatabaseUnavailable');
      const health = await down.app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 503);
    } finally {
      await down.close();
      await deadDb.destroy();
    }
  });

  test('rejected input that Postgres cannot hold as text (NUL, broken Unicode) is still quarantined', async () => {
    const inst = uniqueInstance('sf');
    const res = await post('person', [
      { b2b: { personKey: { sourceKey: `a\u0000b@${inst}.Salesforce` } } },
      { b2b: { personKey: { sourceKey: `P1@${inst}.Salesforce` } }, workEmail: { address: 'x\ud83d@example.com' } },
      person(inst, 'OK'),
    ]);
    assert.equal(res.statusCode, 207, res.body);
    assert.deepEqual(res.json().results.map((r: { status: string }) => r.status), ['rejected', 'rejected', 'accepted']);
    const q = await api.app.inject({ method: 'GET', url: `/v1/quarantine/${res.json().results[0].quarantineId}` });
    assert.equal(q.statusCode, 200);
  });

  test('without an update date on either side, the later arrival wins', async () => {
    const inst = uniqueInstance('sf');
    const undated = { b2b: { personKey: { sourceKey: `P1@${inst}.Salesforce` } }, person: { name: { firstName: 'First' } } };
    await post('person', undated);
    const dated = person(inst, 'P1', { person: { name: { firstName: 'Dated' } } }, '2020-01-01T00:00:00Z');
    assert.equal((await post('person', dated)).json().results[0].outcome, 'updated');
    const undatedAgain = { ...undated, person: { name: { firstName: 'Latest' } } };
    assert.equal((await post('person', undatedAgain)).json().results[0].outcome, 'updated');
    assert.equal((await stored('xdm_person', `P1@${inst}.Salesforce`)).record.person.name.firstName, 'Latest');
  });

  test('a failure mid-transaction rolls back the whole request', async () => {
    const inst = uniqueInstance('sf');
    const db = testDb();
    // Make the quarantine insert fail after the canonical upsert has run in the same transaction.
    await db.raw(`CREATE OR REPLACE FUNCTION test_fail_quarantine() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.payload::text LIKE '%${inst}%' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$`);
    await db.raw('CREATE TRIGGER test_fail_quarantine BEFORE INSERT ON quarantine_record FOR EACH ROW EXECUTE FUNCTION test_fail_quarantine()');
    try {
      // One pooled connection: the failed transaction was its first, so its staging tables
      // vanished with the rollback; the next request on the same connection must still work.
      const oneConn = createDb(requireEnv('TESSERA_TEST_DATABASE_URL'), { min: 1, max: 1 });
      const single = await testApi({ db: oneConn, resolvers: false });
      try {
        const res = await single.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: [person(inst, 'P1'), { b2b: { personKey: { sourceKey: `bad@${inst}` } } }] });
        assert.equal(res.statusCode, 500);
        assert.equal(await stored('xdm_person', `P1@${inst}.Salesforce`), undefined);
        assert.equal(await countRows('landing_record', (q) => q.where('record_key', 'like', `%${inst}%`)), 0);
        const next = await single.app.inject({ method: 'POST', url: '/v1/ingest/person', payload: person(inst, 'P2') });
        assert.equal(next.statusCode, 200, next.body);
      } finally {
        await single.close();
        await oneConn.destroy();
      }
    } finally {
      await db.raw('DROP TRIGGER test_fail_quarantine ON quarantine_record; DROP FUNCTION test_fail_quarantine()');
    }
  });
});
