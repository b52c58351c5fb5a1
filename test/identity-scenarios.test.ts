/**
 * Identity resolution in the ingestion path, scenario by scenario, with the ground truth stated in
 * each test: records are posted to the streaming API (resolved in real time), and the profiles
 * they end up in are read back. Every scenario also checks that the incremental graph equals a
 * full recompute of the same data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rebuildIdentityGraph } from '../engine/identity/rebuild';
import { assertGraphMatchesRecompute } from './support/identity-check';
import { closeTestDb, testDb, uniqueInstance } from './support/env';
import { testApi } from './support/api';

let api: Awaited<ReturnType<typeof testApi>>;
/** Every source instance this file creates: the rebuild test compares only their profiles. */
const instances: string[] = [];
const inst = (prefix: string) => {
  const i = uniqueInstance(prefix);
  instances.push(i);
  return i;
};
before(async () => { api = await testApi(); });
after(async () => { await api.close(); await closeTestDb(); });

async function post(cls: string, records: unknown[]) {
  const res = await api.app.inject({ method: 'POST', url: `/v1/ingest/${cls}`, payload: records as object });
  assert.ok(res.statusCode === 200 || res.statusCode === 201 || res.statusCode === 207, res.body);
  const body = res.json();
  assert.equal(body.rejected, 0, JSON.stringify(body.results));
  return body;
}

const key = (type: string, instance: string, id: string) => ({ sourceType: type, sourceInstanceID: instance, sourceID: id, sourceKey: `${id}@${instance}.${type}` });

function contact(org: string, id: string, email: string | null, account: string | null, extra: Record<string, unknown> = {}, updated = '2026-01-01T00:00:00Z') {
  return {
    b2b: { personKey: key('Salesforce', org, id), personType: 'Contact', ...(account ? { accountKey: key('Salesforce', org, account) } : {}) },
    ...(email ? { workEmail: { address: email } } : {}),
    extSourceSystemAudit: { lastUpdatedDate: updated },
    ...extra,
  };
}

function lead(munchkin: string, id: string, email: string | null, extra: Record<string, unknown> = {}, b2b: Record<string, unknown> = {}) {
  return {
    b2b: { personKey: key('Marketo', munchkin, id), personType: 'Lead', ...b2b },
    ...(email ? { workEmail: { address: email } } : {}),
    extSourceSystemAudit: { lastUpdatedDate: '2026-01-02T00:00:00Z' },
    ...extra,
  };
}

function account(type: string, instance: string, id: string, extra: Record<string, unknown> = {}) {
  return { accountKey: key(type, instance, id), extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' }, ...extra };
}

async function profileOf(type: string, instance: string, id: string, entity = 'person'): Promise<string> {
  const ns = entity === 'person' ? 'b2b_person' : 'b2b_account';
  const row = await testDb()('identity_record').where({ node: `${ns}:${id}@${instance}.${type}` }).first();
  assert.ok(row, `${id}@${instance}.${type} is in the graph`);
  return row.profile_id;
}

describe('identity scenarios (ground truth in each test)', () => {
  test('the resolver counts a merge when two profiles join and a split when they part; a profile continuing under another id is neither', async () => {
    const org = inst('00D');
    const mkto = inst('mkto');
    const totals = async () => (await testDb()('identity_resolver').where({ entity: 'person' }).first('merges', 'splits')) as { merges: string; splits: string };
    const delta = (a: { merges: string; splits: string }, b: { merges: string; splits: string }) => ({ merges: Number(b.merges) - Number(a.merges), splits: Number(b.splits) - Number(a.splits) });
    await post('person', [contact(org, '003M', 'mia@merge-x1.com', null)]);
    await post('person', [lead(mkto, '3001', 'mia.m@merge-x1.com')]);
    let t0 = await totals();
    await post('person', [lead(mkto, '3001', 'mia@merge-x1.com', { extSourceSystemAudit: { lastUpdatedDate: '2026-02-01T00:00:00Z' } })]);
    assert.deepEqual(delta(t0, await totals()), { merges: 1, splits: 0 }, 'two profiles joined');
    t0 = await totals();
    await post('person', [lead(mkto, '3001', 'mia.m@merge-x1.com', { extSourceSystemAudit: { lastUpdatedDate: '2026-03-01T00:00:00Z' } })]);
    assert.deepEqual(delta(t0, await totals()), { merges: 0, splits: 1 }, 'one profile parted in two');
    // The anchor (the oldest record) deleted: the lead's profile continues under its own id — no merge, no split.
    await post('person', [lead(mkto, '3001', 'mia@merge-x1.com', { extSourceSystemAudit: { lastUpdatedDate: '2026-04-01T00:00:00Z' } })]);
    t0 = await totals();
    await post('person', [{ b2b: { personKey: key('Salesforce', org, '003M') }, isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: '2026-05-01T00:00:00Z' } }]);
    assert.deepEqual(delta(t0, await totals()), { merges: 0, splits: 0 }, 'the anchor leaving is not a split');
  });

  test('Marketo lead and Salesforce contact joined by the cross-system key, even with different emails', async () => {
    const org = inst('00D');
    const mkto = inst('mkto');
    await post('person', [contact(org, '003A', 'ada@acme-x1.com', null)]);
    await post('person', [lead(mkto, '1001', 'ada.old@acme-x1.com', { extSourceSystemAudit: { lastUpdatedDate: '2026-01-02T00:00:00Z', externalKey: key('Salesforce', org, '003A') } })]);
    assert.equal(await profileOf('Marketo', mkto, '1001'), await profileOf('Salesforce', org, '003A'));
    const p = await testDb()('person_profile').where({ profile_id: await profileOf('Salesforce', org, '003A') }).first();
    assert.deepEqual(p.record_keys.sort(), [`003A@${org}.Salesforce`, `1001@${mkto}.Marketo`].sort());
    assert.deepEqual(p.person_types, ['Contact', 'Lead']);
    // Most recent value wins, with provenance: the Marketo record is newer.
    assert.equal(p.attributes.workEmail.address, 'ada.old@acme-x1.com');
    await assertGraphMatchesRecompute(instances);
  });

  test('a shared mailbox never joins two people; the refusal is explained', async () => {
    const org = inst('00D');
    await post('person', [contact(org, '003S1', 'info@shared-x2.com', 'A1'), contact(org, '003S2', 'info@shared-x2.com', 'A2')]);
    assert.notEqual(await profileOf('Salesforce', org, '003S1'), await profileOf('Salesforce', org, '003S2'));
    assert.equal(await testDb()('identity_link').where({ identity: 'email:info@shared-x2.com' }).count().first().then((r) => Number(r!.count)), 0);
  });

  test('a free-mail address links the same person across systems but never matches an account', async () => {
    const org = inst('00D');
    const mkto = inst('mkto');
    await post('account', [account('Salesforce', org, 'AG', { accountName: 'Gmail Fans', accountOrganization: { website: 'gmail.com' } })]);
    await post('person', [contact(org, '003G', 'grace.x3@gmail.com', null), lead(mkto, '2001', 'grace.x3@gmail.com')]);
    const p = await profileOf('Salesforce', org, '003G');
    assert.equal(await profileOf('Marketo', mkto, '2001'), p);
    const links = await testDb()('profile_account_link').where({ person_profile_id: p });
    assert.deepEqual(links, [], 'no inferred account from a free-mail domain');
  });

  test('a recycled email after a job change: the new hire is a new person, the mover keeps their history', async () => {
    const org = inst('00D');
    await post('account', [account('Salesforce', org, 'OLD', { accountName: 'Old Co' }), account('Salesforce', org, 'NEW', { accountName: 'New Co' })]);
    await post('person', [contact(org, '003M', 'jo@oldco-x4.com', 'OLD')]);
    const mover = await profileOf('Salesforce', org, '003M');
    // The mover changes jobs: same contact id, new account, new email.
    await post('person', [contact(org, '003M', 'jo@newco-x4.com', 'NEW', {}, '2026-02-01T00:00:00Z')]);
    // The old address is given to a new hire at the old company.
    await post('person', [contact(org, '003H', 'jo@oldco-x4.com', 'OLD', {}, '2026-02-02T00:00:00Z')]);
    assert.equal(await profileOf('Salesforce', org, '003M'), mover, 'followed by the stable contact id');
    assert.notEqual(await profileOf('Salesforce', org, '003H'), mover);
    const events = await testDb()('profile_event').where({ profile_id: mover, type: 'job_change' });
    assert.equal(events.length, 1);
    const oldAccount = await profileOf('Salesforce', org, 'OLD', 'account');
    const newAccount = await profileOf('Salesforce', org, 'NEW', 'account');
    assert.deepEqual(events[0].details, { fromAccountProfileId: oldAccount, toAccountProfileId: newAccount });
    const links = await testDb()('profile_account_link').where({ person_profile_id: mover }).orderBy('is_active');
    assert.deepEqual(links.map((l) => [l.account_record_key, l.is_active]), [[`OLD@${org}.Salesforce`, false], [`NEW@${org}.Salesforce`, true]]);
    await assertGraphMatchesRecompute(instances);
  });

  test('two contacts of one org at the same account sharing an address stay two people (scope rule)', async () => {
    const org = inst('00D');
    await post('person', [contact(org, '003R1', 'sam@recycle-x5.com', 'ACC'), contact(org, '003R2', 'sam@recycle-x5.com', 'ACC')]);
    assert.notEqual(await profileOf('Salesforce', org, '003R1'), await profileOf('Salesforce', org, '003R2'));
    const refused = await testDb()('identity_link').where({ identity: 'email:sam@recycle-x5.com', outcome: 'rejected' }).first();
    assert.equal(refused.rule, 'record-scope');
  });

  test('the same human as a contact at two accounts is one person with two account links', async () => {
    const org = inst('00D');
    await post('account', [account('Salesforce', org, 'PARENT', { accountName: 'Holding' }), account('Salesforce', org, 'SUB', { accountName: 'Subsidiary' })]);
    await post('person', [contact(org, '003T1', 'lin@holding-x6.com', 'PARENT'), contact(org, '003T2', 'lin@holding-x6.com', 'SUB')]);
    const p = await profileOf('Salesforce', org, '003T1');
    assert.equal(await profileOf('Salesforce', org, '003T2'), p);
    const links = await testDb()('profile_account_link').where({ person_profile_id: p, via: 'direct' }).orderBy('account_record_key');
    assert.deepEqual(links.map((l) => l.account_record_key), [`PARENT@${org}.Salesforce`, `SUB@${org}.Salesforce`]);
    assert.deepEqual(await testDb()('profile_event').where({ profile_id: p }), [], 'a merge is not a job change');
  });

  test('accounts across CRMs merge by cross-key and DUNS; two accounts of one org never merge by domain', async () => {
    const org = inst('00D');
    const dyn = inst('dyn');
    const mkto = inst('mkto');
    await post('account', [
      account('Salesforce', org, 'A1', { accountName: 'Initech', accountOrganization: { domain: 'initech-x7.com', DUNSNumber: '123456789' } }),
      account('Salesforce', org, 'A2', { accountName: 'Initech Labs', accountOrganization: { domain: 'initech-x7.com' } }),
      account('Dynamics', dyn, 'D1', { accountName: 'Initech Inc', accountOrganization: { DUNSNumber: '123456789' } }),
      account('Marketo', mkto, 'C1', { accountName: 'Initech', extSourceSystemAudit: { externalKey: key('Salesforce', org, 'A1') } }),
    ]);
    const a1 = await profileOf('Salesforce', org, 'A1', 'account');
    assert.equal(await profileOf('Dynamics', dyn, 'D1', 'account'), a1, 'DUNS');
    assert.equal(await profileOf('Marketo', mkto, 'C1', 'account'), a1, 'cross-key');
    assert.notEqual(await profileOf('Salesforce', org, 'A2', 'account'), a1, 'one record per org in a cluster');
    await assertGraphMatchesRecompute(instances);
  });

  test('a hierarchy cycle is detected and reported, never followed; depth is kept through merges', async () => {
    const org = inst('00D');
    const parentKey = (id: string) => ({ accountParentKey: key('Salesforce', org, id) });
    await post('account', [account('Salesforce', org, 'H1'), account('Salesforce', org, 'H2', parentKey('H1')), account('Salesforce', org, 'H3', parentKey('H2'))]);
    const h1 = await profileOf('Salesforce', org, 'H1', 'account');
    const h3 = await testDb()('account_profile').where({ profile_id: await profileOf('Salesforce', org, 'H3', 'account') }).first();
    assert.equal(h3.ultimate_parent_id, h1);
    assert.equal(h3.hierarchy_depth, 2);
    // H1 now claims H3 as its parent: a cycle.
    await post('account', [account('Salesforce', org, 'H1', { ...parentKey('H3'), extSourceSystemAudit: { lastUpdatedDate: '2026-03-01T00:00:00Z' } })]);
    const rows = await testDb()('account_profile').whereIn('profile_id', [h1, h3.profile_id, await profileOf('Salesforce', org, 'H2', 'account')]);
    assert.ok(rows.every((r) => r.in_cycle), 'every member flagged');
  });

  test('a cluster never passes the cap of 50 identities', async () => {
    const web = inst('web');
    // 60 records in 60 scopes (one account each) sharing one address.
    const records = Array.from({ length: 60 }, (_, i) => lead(web, `C${i}`, 'crowd@cap-x8.com', {}, { accountKey: key('Marketo', web, `ACC${i}`) }));
    await post('person', records);
    const profiles: string[] = (await testDb()('identity_record').where('record_key', 'like', `%@${web}.Marketo`).distinct('profile_id')).map((r) => r.profile_id);
    assert.ok(profiles.length > 1, 'the crowd was split');
    const max = await testDb()('person_profile').whereIn('profile_id', profiles).max('identity_count as m').first();
    assert.ok(Number(max!.m) <= 50, `largest profile holds ${max!.m} identities`);
    assert.ok(await testDb()('identity_link').where({ identity: 'email:crowd@cap-x8.com', rule: 'cluster-cap' }).first());
  });

  test('lead-to-account matching: an unlinked lead is matched by work-email domain, and unmatched when the evidence goes', async () => {
    const org = inst('00D');
    const mkto = inst('mkto');
    await post('account', [account('Salesforce', org, 'UMB', { accountName: 'Umbrella Corporation', accountOrganization: { website: 'https://www.umbrella-x9.com' } })]);
    await post('person', [lead(mkto, '3001', 'alice@umbrella-x9.com', {}, { companyName: 'Umbrella Corp' })]);
    const p = await profileOf('Marketo', mkto, '3001');
    const [inferred] = await testDb()('profile_account_link').where({ person_profile_id: p, via: 'inferred' });
    assert.equal(inferred.account_record_key, `UMB@${org}.Salesforce`);
    assert.ok(inferred.score >= 0.6);
    assert.ok(inferred.evidence.some((e: string) => e.includes('umbrella-x9.com')));
    await post('person', [lead(mkto, '3001', 'alice@elsewhere-x9.com', { extSourceSystemAudit: { lastUpdatedDate: '2026-04-01T00:00:00Z' } }, { companyName: 'Elsewhere' })]);
    assert.deepEqual(await testDb()('profile_account_link').where({ person_profile_id: p }), []);
  });

  test('a deleted record leaves its profile; the other half keeps the id', async () => {
    const org = inst('00D');
    const mkto = inst('mkto');
    await post('person', [contact(org, '003D', 'del@del-x10.com', null)]);
    await post('person', [lead(mkto, '4001', 'del@del-x10.com')]);
    const p = await profileOf('Salesforce', org, '003D');
    assert.equal(await profileOf('Marketo', mkto, '4001'), p);
    await post('person', [{ b2b: { personKey: key('Salesforce', org, '003D') }, isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: '2026-05-01T00:00:00Z' } }]);
    const remaining = await profileOf('Marketo', mkto, '4001');
    assert.ok(!(await testDb()('identity_record').where({ node: `b2b_person:003D@${org}.Salesforce` }).first()));
    const prof = await testDb()('person_profile').where({ profile_id: remaining }).first();
    assert.deepEqual(prof.record_keys, [`4001@${mkto}.Marketo`]);
    await assertGraphMatchesRecompute(instances);
  });

  test('a full rebuild gives the same graph, profiles and account links as the incremental path', async () => {
    const db = testDb();
    const snapshot = async () => ({
      people: await db('person_profile').orderBy('profile_id').select('profile_id', 'attributes', 'provenance', 'record_keys', 'person_types', 'identity_count'),
      accounts: await db('account_profile').orderBy('profile_id').select('profile_id', 'attributes', 'record_keys', 'identity_count', 'parent_profile_id', 'ultimate_parent_id', 'hierarchy_depth', 'in_cycle', 'match_domains', 'match_names'),
      links: await db('profile_account_link').orderBy(['person_profile_id', 'account_record_key', 'via', 'source_key']).select('person_profile_id', 'account_record_key', 'via', 'source_key', 'role', 'is_primary', 'is_active', 'score'),
      graph: await db('identity_record').orderBy('node').select('node', 'profile_id'),
    });
    // Only this file's instances (test files may share the database).
    const mine = (rows: Array<Record<string, unknown>>) => rows.filter((r) => instances.some((i) => JSON.stringify(r).includes(i)));
    const before = await snapshot();
    await rebuildIdentityGraph(db, { actor: 'test' });
    const after = await snapshot();
    for (const k of ['people', 'accounts', 'links', 'graph'] as const) assert.deepEqual(mine(after[k]), mine(before[k]), k);
    await assertGraphMatchesRecompute(instances);
  });
});
