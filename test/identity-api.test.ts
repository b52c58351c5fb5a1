/**
 * The identity API against a real worker: profiles by identity, "why are these one profile?",
 * a split started from the API running as the identityChange saga (both halves correct, the
 * decision history telling it), a merge back, the compensation drill, and replay of the saga's
 * history on the current code.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Worker, type Worker as WorkerType } from '@temporalio/worker';
import { tesseraDataConverter } from '../platform/temporal';
import { closeTemporal, closeTestDb, temporalEnv, testDb, uniqueInstance, uniqueTaskQueue, workflowBundle, testWorker, eventually } from './support/env';
import { testApi } from './support/api';
import type { PgConn } from '../db/pg-transaction';
import { lockGraph } from '../db/repositories/identity-graph';

const taskQueue = uniqueTaskQueue('identity-api');
let api: Awaited<ReturnType<typeof testApi>>;
let worker: WorkerType;
let running: Promise<void>;

before(async () => {
  api = await testApi({ taskQueue });
  worker = await testWorker(taskQueue);
  running = worker.run();
});

after(async () => {
  worker.shutdown();
  await running;
  await api.close();
  await closeTemporal();
  await closeTestDb();
});

const key = (type: string, instance: string, id: string) => ({ sourceType: type, sourceInstanceID: instance, sourceID: id, sourceKey: `${id}@${instance}.${type}` });
const inject = (method: 'GET' | 'POST', url: string, payload?: object) => api.app.inject({ method, url, ...(payload ? { payload } : {}) });

async function seedPair() {
  const org = uniqueInstance('00D');
  const mkto = uniqueInstance('mkto');
  const email = `kim.${randomUUID().slice(0, 6)}@globex-api.com`;
  const phone = `+1212${2 + Math.floor(Math.random() * 8)}${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
  const person = (type: string, inst: string, id: string, t: string, extra: object = {}) => ({
    b2b: { personKey: key(type, inst, id), personType: type === 'Marketo' ? 'Lead' : 'Contact' },
    workEmail: { address: email.toUpperCase() },
    person: { name: { firstName: 'Kim', lastName: type } },
    extSourceSystemAudit: { lastUpdatedDate: t },
    ...extra,
  });
  let res = await inject('POST', '/v1/ingest/person', [person('Salesforce', org, '003K', '2026-01-01T00:00:00Z')]);
  assert.equal(res.statusCode, 200, res.body);
  const first = res.json().results[0].profileId;
  res = await inject('POST', '/v1/ingest/person', [person('Marketo', mkto, '77', '2026-01-05T00:00:00Z', { mobilePhone: { number: phone } })]);
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().results[0].profileId, first, 'the answer names the profile, already merged');
  return { sf: `b2b_person:003K@${org}.Salesforce`, mk: `b2b_person:77@${mkto}.Marketo`, email: `email:${email}`, phone };
}

/** A transaction holding the graph exclusively (as a rebuild does) until released. */
async function inPgTransactionHeld(db: ReturnType<typeof testDb>) {
  const conn = (await db.client.acquireConnection()) as PgConn;
  await conn.query('BEGIN');
  await lockGraph(conn, 'exclusive');
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await conn.query('COMMIT');
      await db.client.releaseConnection(conn);
    },
  };
}

async function waitFor(workflowId: string) {
  const env = await temporalEnv();
  return env.client.workflow.getHandle(workflowId).result();
}

describe('identity API and sagas', () => {
  test('a profile is found by any identity, spelled as a person would type it, with provenance per attribute', async () => {
    const { sf, mk, email, phone } = await seedPair();
    const res = await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(email.toUpperCase().replace('EMAIL:', 'email:'))}`);
    assert.equal(res.statusCode, 200, res.body);
    const p = res.json();
    assert.deepEqual(p.records.map((r: { recordKey: string }) => `b2b_person:${r.recordKey}`).sort(), [sf, mk].sort());
    assert.equal(p.attributes.person.name.lastName, 'Marketo', 'the most recent record wins');
    assert.equal(p.provenance['person.name.lastName'].recordKey, mk.slice('b2b_person:'.length));
    assert.ok(p.identities.some((i: { identity: string }) => i.identity === `phone:${phone}`));
    const typed = `phone:+1 (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8)}`;
    const byPhone = await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(typed)}`);
    assert.equal(byPhone.json().profileId, p.profileId);
    const bad = await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent('shoe:size-9')}`);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /not a person namespace; known: .*email/);
  });

  test('"why are these one profile?" names the links that joined them', async () => {
    const { sf, mk } = await seedPair();
    const res = await inject('GET', `/v1/identity/explain?a=${encodeURIComponent(sf)}&b=${encodeURIComponent(mk)}`);
    assert.equal(res.statusCode, 200, res.body);
    const e = res.json();
    assert.equal(e.sameProfile, true);
    assert.equal(e.because.length, 2);
    assert.deepEqual(e.because.map((l: { field: string }) => l.field), ['workEmail.address', 'workEmail.address']);
  });

  test('a split from the API runs as a saga, leaves both halves correct, and a merge back restores one profile', async () => {
    const { sf, mk, email } = await seedPair();
    const before = (await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(sf)}`)).json();
    const claimed = await inject('POST', '/v1/identity/unlink', { record: mk, identity: email, reason: 'x', actor: 'someone-else' });
    assert.equal(claimed.statusCode, 400, 'the actor is the token holder, never a field the caller sends');
    const res = await inject('POST', '/v1/identity/unlink', { record: mk, identity: email, reason: 'two different people share this address' });
    assert.equal(res.statusCode, 202, res.body);
    const { workflowId, changeId } = res.json();
    const result = await waitFor(workflowId);
    assert.equal(result.changeId, changeId);

    const a = (await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(sf)}`)).json();
    const b = (await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(mk)}`)).json();
    assert.equal(a.profileId, before.profileId, 'the older half keeps the id');
    assert.notEqual(b.profileId, a.profileId);
    assert.deepEqual(a.records.map((r: { recordKey: string }) => r.recordKey), [sf.slice('b2b_person:'.length)]);
    assert.deepEqual(b.records.map((r: { recordKey: string }) => r.recordKey), [mk.slice('b2b_person:'.length)]);
    assert.equal(b.attributes.person.name.lastName, 'Marketo');
    assert.equal(a.attributes.person.name.lastName, 'Salesforce', 'each half rematerialised from its own records');

    const status = (await inject('GET', `/v1/identity/changes/${changeId}`)).json();
    assert.equal(status.status, 'completed');
    assert.equal(status.actor, 'api:test-admin', "the decision's actor is the token's principal");
    assert.deepEqual(Object.keys(status.steps).sort(), ['destinations', 'graph', 'profiles', 'segments']);
    const explain = (await inject('GET', `/v1/identity/explain?a=${encodeURIComponent(sf)}&b=${encodeURIComponent(mk)}`)).json();
    assert.equal(explain.sameProfile, false);
    assert.ok(explain.refusedLinks.some((l: { rule: string }) => l.rule === 'do-not-link'));
    const history = (await inject('GET', `/v1/profiles/person/${b.profileId}/history`)).json();
    assert.ok(history.decisions.some((d: { kind: string }) => d.kind === 'do-not-link'));
    assert.ok(history.decisions.some((d: { kind: string; rule: string }) => d.kind === 'reject' && d.rule === 'do-not-link'));

    // The next sync of the same data does not undo the operator's decision.
    await inject('POST', '/v1/ingest/person', [{ b2b: { personKey: { sourceKey: mk.slice('b2b_person:'.length) }, personType: 'Lead' }, workEmail: { address: email.slice(6) }, extSourceSystemAudit: { lastUpdatedDate: '2026-02-01T00:00:00Z' } }]);
    assert.notEqual((await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(mk)}`)).json().profileId, a.profileId);

    const back = await inject('POST', '/v1/identity/allow-link', { a: mk, b: email });
    assert.equal(back.statusCode, 202, back.body);
    await waitFor(back.json().workflowId);
    assert.equal((await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(mk)}`)).json().profileId, a.profileId);

    // The saga's history replays on the current code.
    const env = await temporalEnv();
    const h = await env.client.workflow.getHandle(workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), dataConverter: tesseraDataConverter() }, h, workflowId);
  });

  test('when a later step fails for good, the graph change is compensated and the saga fails naming the step', async () => {
    const { sf, mk, email } = await seedPair();
    const [a, b] = [mk, email];
    const id = randomUUID();
    await testDb()('identity_change').insert({ id, entity: 'person', kind: 'do-not-link', a, b, actor: 'drill', reason: 'compensation drill', inject_failure: 'destinations' });
    const env = await temporalEnv();
    const handle = await env.client.workflow.start('identityChange', { taskQueue, workflowId: `identity-change/${id}`, args: [{ changeId: id }] });
    await assert.rejects(handle.result(), (e: Error) => /compensated/.test(String((e as { cause?: Error }).cause?.message ?? e.message)));
    const row = await testDb()('identity_change').where({ id }).first();
    assert.equal(row.status, 'compensated');
    assert.ok(row.steps.graph && row.steps.profiles && row.steps.segments && !row.steps.destinations && row.steps.compensation);
    assert.match(row.error, /destinations/);
    const one = (await inject('GET', `/v1/identity/explain?a=${encodeURIComponent(sf)}&b=${encodeURIComponent(mk)}`)).json();
    assert.equal(one.sameProfile, true, 'the split was undone');
    assert.equal(await testDb()('identity_do_not_link').where({ a: [a, b].sort()[0], b: [a, b].sort()[1] }).first(), undefined);
  });

  test('compensating a repeated do-not-link leaves the first one in place', async () => {
    const { mk, email } = await seedPair();
    const first = await inject('POST', '/v1/identity/do-not-link', { a: mk, b: email, reason: 'first' });
    await waitFor(first.json().workflowId);
    const id = randomUUID();
    await testDb()('identity_change').insert({ id, entity: 'person', kind: 'do-not-link', a: mk, b: email, actor: 'drill', reason: 'repeat', inject_failure: 'segments' });
    const env = await temporalEnv();
    await assert.rejects((await env.client.workflow.start('identityChange', { taskQueue, workflowId: `identity-change/${id}`, args: [{ changeId: id }] })).result());
    assert.equal((await testDb()('identity_change').where({ id }).first()).status, 'compensated');
    const [a, b] = [mk, email].sort();
    assert.ok(await testDb()('identity_do_not_link').where({ a, b }).first(), 'the first change still holds');
  });

  test('an account profile carries its hierarchy, nearest ancestor first, and its people', async () => {
    const org = uniqueInstance('00D');
    const account = (id: string, name: string, parent?: string) => ({
      accountKey: key('Salesforce', org, id), accountName: name, extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' },
      ...(parent ? { accountParentKey: key('Salesforce', org, parent) } : {}),
    });
    assert.equal((await inject('POST', '/v1/ingest/account', [account('G', 'Global'), account('R', 'Region', 'G'), account('L', 'Local', 'R')])).statusCode, 200);
    await inject('POST', '/v1/ingest/person', [{ b2b: { personKey: key('Salesforce', org, '003L'), accountKey: key('Salesforce', org, 'L') }, extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' } }]);
    const res = await inject('GET', `/v1/profiles/account/by-identity?identity=${encodeURIComponent(`b2b_account:L@${org}.Salesforce`)}`);
    assert.equal(res.statusCode, 200, res.body);
    const a = res.json();
    assert.deepEqual(a.hierarchy.ancestors.map((x: { name: string }) => x.name), ['Region', 'Global']);
    assert.equal(a.hierarchy.parent.name, 'Region');
    assert.equal(a.hierarchy.ultimateParentId, a.hierarchy.ancestors[1].profileId);
    assert.equal(a.hierarchy.depth, 2);
    assert.equal(a.people.count, 1);

    // Opportunities and people whole, a page at a time; the roll-ups count every opportunity.
    const opp = (id: string, amount: number, closed: boolean) => ({
      opportunityKey: key('Salesforce', org, id), accountKey: key('Salesforce', org, 'L'), opportunityName: id, isClosed: closed, isWon: closed,
      opportunityAmount: { amount, currencyCode: 'USD' }, extSourceSystemAudit: { lastUpdatedDate: '2026-01-01T00:00:00Z' },
    });
    assert.equal((await inject('POST', '/v1/ingest/opportunity', [opp('O1', 100, false), opp('O2', 50, false), opp('O3', 30, true)])).statusCode, 200);
    const after = (await inject('GET', `/v1/profiles/account/${a.profileId}`)).json();
    assert.deepEqual([after.opportunities.count, after.rollups.openOpportunities, after.rollups.openPipeline, after.rollups.wonAmount], [3, 2, 150, 30]);
    const first = (await inject('GET', `/v1/profiles/account/${a.profileId}/opportunities?limit=2`)).json();
    assert.deepEqual(first.opportunities.map((o: { name: string }) => o.name), ['O1', 'O2']);
    const second = (await inject('GET', `/v1/profiles/account/${a.profileId}/opportunities?limit=2&after=${encodeURIComponent(first.next)}`)).json();
    assert.deepEqual([second.opportunities.map((o: { name: string }) => o.name), second.next], [['O3'], null]);
    const people = (await inject('GET', `/v1/profiles/account/${a.profileId}/people?limit=1`)).json();
    assert.equal(people.people.length, 1);
    assert.equal((await inject('GET', `/v1/profiles/account/${a.profileId}/people?after=${encodeURIComponent(people.next ?? 'bogus')}`)).statusCode, people.next ? 200 : 400);
    assert.equal((await inject('GET', `/v1/profiles/account/${a.profileId}/people?after=bogus`)).statusCode, 400);
  });

  test('while a rebuild holds the graph, records are still stored and profiles still read; a second rebuild is refused with 409; the resolvers catch up after', async () => {
    const { email } = await seedPair();
    // Hold the graph as a rebuild does, so the rebuild workflow waits behind this transaction.
    const holder = await inPgTransactionHeld(testDb());
    try {
      const first = await inject('POST', '/v1/identity/rebuild');
      assert.equal(first.statusCode, 202, first.body);
      const second = await inject('POST', '/v1/identity/rebuild');
      assert.equal(second.statusCode, 409, second.body);
      assert.equal(second.json().error, 'RebuildRunning');
      assert.equal(second.json().details.runId, first.json().runId, '409 names the running rebuild');

      const inst = uniqueInstance('00D');
      const quick = await testApi({ taskQueue, resolvers: false, resolveWaitMs: 300 });
      try {
        const stored = await quick.app.inject({
          method: 'POST',
          url: '/v1/ingest/person',
          payload: { b2b: { personKey: key('Salesforce', inst, '003R') }, workEmail: { address: `rae@${inst}.example` }, extSourceSystemAudit: { lastUpdatedDate: '2026-02-01T00:00:00Z' } },
        });
        assert.equal(stored.statusCode, 200, stored.body);
        assert.equal(stored.json().results[0].outcome, 'inserted', 'ingestion goes on');
        assert.equal(stored.json().resolution.status, 'pending');
      } finally {
        await quick.close();
      }
      const read = await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent(email)}`);
      assert.equal(read.statusCode, 200, 'profiles are still read');
      await holder.release();
      await waitFor(first.json().workflowId);
      await eventually('the resolvers to pass the record stored during the rebuild', async () => Boolean(await testDb()('identity_record').where({ node: `b2b_person:003R@${inst}.Salesforce` }).first()));
    } finally {
      await holder.release();
    }
  });

  test('bad requests get 4xx answers a person can act on', async () => {
    const notARecord = await inject('POST', '/v1/identity/unlink', { record: 'email:a@b-api.com', identity: 'email:c@d-api.com' });
    assert.equal(notARecord.statusCode, 400);
    assert.match(notARecord.json().message, /record node/);
    const unknown = await inject('POST', '/v1/identity/do-not-link', { a: 'email:nobody@nowhere-api.com', b: 'email:other@nowhere-api.com' });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /not in the person graph/);
    const role = await inject('GET', `/v1/profiles/person/by-identity?identity=${encodeURIComponent('email:info@acme.com')}`);
    assert.equal(role.statusCode, 400);
    assert.match(role.json().message, /role mailbox/);
    const noSuch = await inject('GET', `/v1/profiles/account/${randomUUID()}`);
    assert.equal(noSuch.statusCode, 404);
    const badPolicy = await api.app.inject({ method: 'PUT', url: '/v1/identity/settings', payload: { maxClusterSize: 50, recordScope: { person: 'instance-account', account: 'instance' }, leadToAccount: { enabled: true, threshold: 0.5 }, mergePolicy: { person: { kind: 'loudest' }, account: { kind: 'most-recent' } } } });
    assert.equal(badPolicy.statusCode, 400);
    assert.match(badPolicy.json().message, /mergePolicy/);
  });
});
