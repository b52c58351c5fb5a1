/**
 * Dynamics 365 connector against the Dataverse simulator (in-process, port 0): mapping and
 * picklist decoding, full load = ground truth, change-tracking deltas with deletes, expired and
 * otherwise refused delta tokens, change tracking and columns discovered from the org's table
 * definitions, id listings for reconciliation, crash/resume, token refresh, auth failures,
 * service-protection 429s, connection pair dedupe, malformed rows, watermark and backfill reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dynamicsConnector, EXPIRED_NOTICE, missingColumnsNotice, refusedTokenNotice } from '../../connectors/sources/dynamics';
import { ENTITIES, ENTITY_BY_SET, mapRow, normaliseInstant, type MapContext } from '../../connectors/sources/dynamics/mapping';
import { validateRecord } from '../../domain/ingestion/validate-record';
import { PICKLISTS, decodePicklist } from '../../connectors/sources/dynamics/picklists';
import { SourceAuthFailed, SourceRateLimited, SourceRequestRejected } from '../../connectors/sources/errors';
import type { PageResult, ReconcileSpec, SourceConnector, SourceRecord, SourceStream, StreamState, UnmappableRow } from '../../connectors/sources/source-connector';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { startDynamicsSimulator, type DynamicsSimulator } from '../../simulators/dynamics';
import { buildWorld } from '../../simulators/world/world';

const CREDS = { clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 's3cr3t-value~xyz' };
const world = buildWorld({ seed: 11, accounts: 120, people: 1_200, campaigns: 12, lists: 6 });
const silentLog = { info() {}, warn() {} };
const noKnownValues = async () => [] as string[];

function connectorFor(sim: DynamicsSimulator, settings: Record<string, unknown> = {}, credentials = CREDS): SourceConnector {
  return dynamicsConnector.create({
    instance: { sourceType: 'dynamics', instanceId: sim.instanceId, endpoint: sim.url, authEndpoint: sim.authEndpoint, settings: { retry: { baseDelayMs: 10, maxDelayMs: 50 }, ...settings } },
    credentials,
    gate: (call) => call(),
    log: silentLog,
  });
}

const stream = (c: SourceConnector, name: string): SourceStream => c.streams.find((s) => s.name === name)!;

interface Run {
  records: SourceRecord[];
  unmappable: UnmappableRow[];
  pages: PageResult[];
  state: StreamState;
  notices: string[];
}

async function runStream(s: SourceStream, state: StreamState | null, window?: { from: string; to: string }): Promise<Run> {
  const run: Run = { records: [], unmappable: [], pages: [], state: state ?? {}, notices: [] };
  let current = state;
  for (let i = 0; i < 10_000; i++) {
    const page = await s.readPage({ state: current, window, runStartedAt: new Date().toISOString(), signal: new AbortController().signal, knownValues: noKnownValues });
    run.pages.push(page);
    run.records.push(...page.records);
    run.unmappable.push(...page.unmappable);
    run.notices.push(...(page.notices ?? []));
    current = page.state;
    if (page.complete) break;
  }
  run.state = current!;
  return run;
}

/** An in-memory store: latest record per class and key, every record validated with its XDM schema. */
class Store {
  readonly byClass = new Map<XdmClassName, Map<string, Record<string, unknown>>>();
  add(records: SourceRecord[]): void {
    for (const { xdmClass, record } of records) {
      const spec = XDM_CLASSES[xdmClass];
      const parsed = spec.schema.safeParse(record);
      assert.ok(parsed.success, `${xdmClass} record fails the XDM schema: ${JSON.stringify(parsed.error?.issues.slice(0, 3))} ${JSON.stringify(record)}`);
      const key = spec.recordKey(parsed.data).key;
      let m = this.byClass.get(xdmClass);
      if (!m) this.byClass.set(xdmClass, (m = new Map()));
      m.set(key, parsed.data);
    }
  }
  counts(): Partial<Record<XdmClassName, number>> {
    return Object.fromEntries([...this.byClass].map(([k, v]) => [k, v.size]));
  }
}

const apiRequests = (sim: DynamicsSimulator, set: string) => sim.requests().filter((r) => r.path === `/api/data/v9.2/${set}`);

/** Every id a reconcile listing returns, and how many calls it took. */
async function listAll(spec: ReconcileSpec): Promise<{ ids: string[]; calls: number }> {
  const ids: string[] = [];
  let state: StreamState | null = null;
  let calls = 0;
  do {
    const page = await spec.listIds({ state, signal: new AbortController().signal, storedIds: async () => [] });
    ids.push(...page.ids);
    state = page.state;
    calls++;
    assert.ok(calls < 10_000);
  } while (state !== null);
  return { ids, calls };
}

/** The sourceIDs of a class's records in the store (the key at the class's keyPath). */
function storedIds(store: Store, xdmClass: XdmClassName): string[] {
  const path = XDM_CLASSES[xdmClass].keyPath.split('.');
  return [...(store.byClass.get(xdmClass)?.values() ?? [])].map((r) => (path.reduce<any>((o, k) => o[k], r) as { sourceID: string }).sourceID);
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/* ------------------------------------------------------------------------------------------ */

describe('Dynamics mapping (pure)', () => {
  const ctx: MapContext = { instanceId: 'contoso' };
  const A = '0a1b2c3d-0000-4000-a000-000000000001';
  const P = '0a1b2c3d-0000-4000-a000-000000000002';
  const C = '0a1b2c3d-0000-4000-a000-000000000003';
  const O = '0a1b2c3d-0000-4000-a000-000000000004';
  const LK = '@Microsoft.Dynamics.CRM.lookuplogicalname';
  const FV = '@OData.Community.Display.V1.FormattedValue';

  it('decodes picklists: table label, then FormattedValue for custom options, then the code', () => {
    assert.equal(decodePicklist(PICKLISTS.industrycode, { industrycode: 6 }, 'industrycode'), 'Business Services');
    assert.equal(decodePicklist(PICKLISTS.industrycode, { industrycode: 100000001, [`industrycode${FV}`]: 'Education' }, 'industrycode'), 'Education');
    assert.equal(decodePicklist(PICKLISTS.industrycode, { industrycode: 100000042 }, 'industrycode'), '100000042');
    assert.equal(decodePicklist(PICKLISTS.salesstage, { salesstage: 2 }, 'salesstage'), 'Propose');
    assert.equal(decodePicklist(PICKLISTS.salesstage, { salesstage: null }, 'salesstage'), null);
  });

  it('maps an account with its parent, firmographics, address and domain', () => {
    const out = mapRow(ENTITY_BY_SET.get('accounts')!, {
      accountid: A.toUpperCase(), name: 'Northwind Traders', websiteurl: 'https://www.Northwind.com/about', industrycode: 16, numberofemployees: 250,
      revenue: 1_500_000, sic: '5812', telephone1: '+14155550100', address1_line1: '1 Main St', address1_city: 'Paris', address1_country: 'FR',
      [`_parentaccountid_value${LK}`]: 'account', _parentaccountid_value: P, statecode: 0, createdon: '2026-01-02T03:04:05Z', modifiedon: '2026-02-03T04:05:06Z',
    }, ctx) as SourceRecord;
    assert.equal(out.xdmClass, 'account');
    const r = XDM_CLASSES.account.schema.parse(out.record) as any;
    assert.equal(r.accountKey.sourceKey, `${A}@contoso.Dynamics`);
    assert.equal(r.accountParentKey.sourceKey, `${P}@contoso.Dynamics`);
    assert.deepEqual(r.accountOrganization, { numberOfEmployees: 250, annualRevenue: { amount: 1_500_000 }, industry: 'Financial', website: 'https://www.Northwind.com/about', domain: 'northwind.com', SICCode: '5812' });
    assert.deepEqual(r.accountPhysicalAddress, { street1: '1 Main St', city: 'Paris', country: 'FR', countryCode: 'FR' });
    assert.equal(r.extSourceSystemAudit.lastUpdatedDate, '2026-02-03T04:05:06Z');
    assert.equal(r.isDeleted, false);
  });

  it('maps contacts: only an account parentcustomerid becomes the account key', () => {
    const base = { contactid: C, firstname: 'Ada', lastname: 'Chen', emailaddress1: 'ada@northwind.com', emailaddress2: 'ada@gmail.com', jobtitle: 'CTO', donotbulkemail: true, modifiedon: '2026-02-03T04:05:06Z' };
    const withAccount = mapRow(ENTITY_BY_SET.get('contacts')!, { ...base, _parentcustomerid_value: A, [`_parentcustomerid_value${LK}`]: 'account' }, ctx) as SourceRecord;
    const p = XDM_CLASSES.person.schema.parse(withAccount.record) as any;
    assert.equal(p.b2b.accountKey.sourceKey, `${A}@contoso.Dynamics`);
    assert.equal(p.b2b.personType, 'Contact');
    assert.equal(p.workEmail.address, 'ada@northwind.com');
    assert.equal(p.personalEmail.address, 'ada@gmail.com');
    assert.deepEqual(p.consents, { marketing: { email: { val: 'n' } } });
    const withContact = mapRow(ENTITY_BY_SET.get('contacts')!, { ...base, _parentcustomerid_value: P, [`_parentcustomerid_value${LK}`]: 'contact' }, ctx) as SourceRecord;
    assert.equal((withContact.record.b2b as any).accountKey, undefined);
  });

  it('maps a qualified lead as converted, keeping unknown lead sources by their label or code', () => {
    const out = mapRow(ENTITY_BY_SET.get('leads')!, {
      leadid: P, lastname: 'Diaz', companyname: 'Acme', statecode: 1, statuscode: 3, leadsourcecode: 100000000, [`leadsourcecode${FV}`]: 'Content Syndication',
      _parentcontactid_value: C, [`_parentcontactid_value${LK}`]: 'contact', modifiedon: '2026-02-03T04:05:06+0000',
    }, ctx) as SourceRecord;
    const p = XDM_CLASSES.person.schema.parse(out.record) as any;
    assert.deepEqual([p.b2b.personType, p.b2b.isConverted, p.b2b.personStatus, p.b2b.personSource, p.b2b.companyName], ['Lead', true, 'Qualified', 'Content Syndication', 'Acme']);
    assert.equal(p.b2b.convertedContactKey.sourceID, C);
    assert.equal(p.extSourceSystemAudit.lastUpdatedDate, '2026-02-03T04:05:06+00:00');
  });

  it('maps a won opportunity: stage, amounts, closed/won, dates', () => {
    const out = mapRow(ENTITY_BY_SET.get('opportunities')!, {
      opportunityid: O, name: 'Deal', _parentaccountid_value: A, [`_parentaccountid_value${LK}`]: 'account', estimatedvalue: 1000, actualvalue: 1200,
      closeprobability: 100, salesstage: 3, stepname: 'Close', statecode: 1, estimatedclosedate: '2026-03-01', actualclosedate: '2026-03-05',
      msdyn_forecastcategory: 100000005, modifiedon: '2026-03-05T00:00:00Z',
    }, ctx) as SourceRecord;
    const o = XDM_CLASSES.opportunity.schema.parse(out.record) as any;
    assert.deepEqual(
      [o.opportunityStage, o.isClosed, o.isWon, o.opportunityAmount.amount, o.expectedRevenue.amount, o.nextStep, o.expectedCloseDate, o.forecastCategoryName, o.accountKey.sourceID],
      ['Close', true, true, 1200, 1000, 'Close', '2026-03-01', 'Won', A],
    );
  });

  it('maps both rows of a reciprocal connection pair to one relation; ignores non-opportunity connections', () => {
    const M = '0a1b2c3d-0000-4000-a000-00000000000a';
    const R = '0a1b2c3d-0000-4000-a000-00000000000b';
    const common = { statecode: 0, modifiedon: '2026-03-05T00:00:00Z' };
    const entity = ENTITY_BY_SET.get('connections')!;
    const master = mapRow(entity, {
      connectionid: M, ismaster: true, _relatedconnectionid_value: R, _record1id_value: O, [`_record1id_value${LK}`]: 'opportunity', _record2id_value: C,
      [`_record2id_value${LK}`]: 'contact', _record2roleid_value: P, [`_record2roleid_value${FV}`]: 'Decision Maker', ...common,
    }, ctx) as SourceRecord;
    const reciprocal = mapRow(entity, {
      connectionid: R, ismaster: false, _relatedconnectionid_value: M, _record1id_value: C, [`_record1id_value${LK}`]: 'contact', _record2id_value: O,
      [`_record2id_value${LK}`]: 'opportunity', _record1roleid_value: P, [`_record1roleid_value${FV}`]: 'Decision Maker', ...common,
    }, ctx) as SourceRecord;
    assert.deepEqual(master.record, reciprocal.record);
    const rel = XDM_CLASSES['opportunity-person'].schema.parse(master.record) as any;
    assert.deepEqual([rel.opportunityPersonID, rel.opportunityKey.sourceID, rel.personKey.sourceID, rel.personRole], [M, O, C, 'Decision Maker']);
    const accounts = mapRow(entity, { connectionid: M, ismaster: true, _record1id_value: A, [`_record1id_value${LK}`]: 'account', _record2id_value: P, [`_record2id_value${LK}`]: 'account', ...common }, ctx);
    assert.equal(accounts, null);
  });

  it('turns a malformed row into an unmappable row with its key and reason', () => {
    const out = mapRow(ENTITY_BY_SET.get('accounts')!, { accountid: A, name: 'X', modifiedon: '31/13/2026 25:61' }, ctx) as UnmappableRow;
    assert.equal(out.sourceKey, `${A}@contoso.Dynamics`);
    assert.match(out.reason, /modifiedon '31\/13\/2026 25:61' is not an ISO 8601 date-time/);
    const noId = mapRow(ENTITY_BY_SET.get('accounts')!, { name: 'X', modifiedon: '2026-01-01T00:00:00Z' }, ctx) as UnmappableRow;
    assert.equal(noId.sourceKey, null);
    assert.match(noId.reason, /accountid is missing/);
  });

  it('normalises instants to XDM date-times', () => {
    assert.equal(normaliseInstant('2026-01-02T03:04:05Z', 'x'), '2026-01-02T03:04:05Z');
    assert.equal(normaliseInstant('2026-01-02T03:04:05.123+0200', 'x'), '2026-01-02T03:04:05.123+02:00');
    assert.equal(normaliseInstant('2026-01-02T03:04Z', 'x'), '2026-01-02T03:04:00Z');
    assert.throws(() => normaliseInstant('2026-01-02 03:04:05', 'x'));
    assert.throws(() => normaliseInstant('0000-01-02T03:04:05Z', 'x'));
  });
});

/* ------------------------------------------------------------------------------------------ */

describe('Dynamics connector against the simulator', () => {
  let sim: DynamicsSimulator;
  before(async () => {
    sim = await startDynamicsSimulator({ world, credentials: CREDS, organization: 'contoso', retryAfterSeconds: 1 });
  });
  after(async () => sim.stop());

  it('expired delta token (sim clock past ExpireChangeTrackingInDays) → full resync with a notice, after refreshing the expired access token', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS, organization: 'contoso' });
    try {
      const connector = connectorFor(s2, { pageSize: 100 });
      const first = await runStream(stream(connector, 'campaigns'), null);
      s2.clock.advance(8 * 86_400_000);
      const tokenCalls = () => s2.requests().filter((r) => r.path.endsWith('/oauth2/v2.0/token')).length;
      const tokensBefore = tokenCalls();
      const again = await runStream(stream(connector, 'campaigns'), first.state);
      assert.deepEqual(again.notices, [EXPIRED_NOTICE]);
      assert.equal(again.records.length, first.records.length);
      assert.equal(tokenCalls(), tokensBefore + 1, 'the expired access token was refreshed once');
      assert.ok(s2.requests().some((r) => r.status === 401) && s2.requests().some((r) => r.status === 400));
      // the new resting state works
      const third = await runStream(stream(connector, 'campaigns'), again.state);
      assert.deepEqual([third.records.length, third.notices], [0, []]);
      // the data fault variant
      s2.faults.add({ path: '/campaigns$', action: { kind: 'data', name: 'expired-delta' }, times: 1 });
      const fourth = await runStream(stream(connector, 'campaigns'), third.state);
      assert.deepEqual([fourth.records.length, fourth.notices], [first.records.length, [EXPIRED_NOTICE]]);
    } finally {
      await s2.stop();
    }
  });

  it('a multi-page delta: changed rows then deletions, across nextLinks, resumable mid-delta', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS });
    try {
      const connector = connectorFor(s2, { pageSize: 4 });
      const first = await runStream(stream(connector, 'contacts'), null);
      s2.clock.advance(1000);
      s2.mutate({ update: 6, delete: 3, seed: 9 });
      const signal = new AbortController().signal;
      const read = (state: StreamState | null) => stream(connectorFor(s2, { pageSize: 4 }), 'contacts').readPage({ state, runStartedAt: new Date().toISOString(), signal, knownValues: noKnownValues });
      const p1 = await read(first.state);
      assert.equal(p1.complete, false);
      assert.equal(p1.records.length, 4);
      // a new worker resumes from the stored page state
      const rest = await runStream(stream(connectorFor(s2, { pageSize: 4 }), 'contacts'), p1.state);
      const all = [...p1.records, ...rest.records];
      assert.equal(all.filter((r) => r.record.isDeleted === false).length, 6);
      const deletes = all.filter((r) => r.record.isDeleted === true);
      assert.equal(deletes.length, 3);
      // deletions come after the changed rows
      const flags = all.map((r) => r.record.isDeleted === true);
      assert.ok(flags.indexOf(true) > flags.lastIndexOf(false));
      for (const d of deletes) assert.ok(XDM_CLASSES.person.schema.safeParse(d.record).success);
      assert.equal(rest.pages.length, 2);
      assert.ok(first.records.length > 20);
    } finally {
      await s2.stop();
    }
  });

  it('resumes after a crash from a page state, re-fetching no earlier page', async () => {
    const connector = connectorFor(sim, { pageSize: 10 });
    const s = stream(connector, 'contacts');
    const full = await runStream(s, null);
    assert.ok(full.pages.length > 5);
    const signal = new AbortController().signal;
    const read = (state: StreamState | null, c = connector) => stream(c, 'contacts').readPage({ state, runStartedAt: new Date().toISOString(), signal, knownValues: noKnownValues });
    const p1 = await read(null);
    const p2 = await read(p1.state);
    // crash: a new worker, a new connector, only the stored state
    const fresh = connectorFor(sim, { pageSize: 10 });
    const before = apiRequests(sim, 'contacts').length;
    const rest = await runStream(stream(fresh, 'contacts'), p2.state);
    assert.equal(apiRequests(sim, 'contacts').length - before, full.pages.length - 2, 'exactly the remaining pages were fetched');
    const keys = new Set([...p1.records, ...p2.records, ...rest.records].map((r) => (r.record.b2b as any).personKey.sourceKey));
    assert.equal(keys.size, full.records.length);
    assert.ok(JSON.stringify(p2.state).length < 1000, 'the state is small');
  });

  it('refreshes the token once on a 401 and retries', async () => {
    const connector = connectorFor(sim);
    await connector.verify(new AbortController().signal);
    sim.faults.add({ id: 'exp', path: '^/api/data/v9.2/lists$', nth: 1, action: { kind: 'vendor', code: 'expired-token' } });
    const tokensBefore = sim.requests().filter((r) => r.path.endsWith('/token')).length;
    const run = await runStream(stream(connector, 'lists'), null);
    sim.faults.remove('exp');
    assert.equal(run.records.length, sim.groundTruth()['marketing-list']);
    assert.equal(sim.requests().filter((r) => r.path.endsWith('/token')).length, tokensBefore + 1);
  });

  it('a 401 after a fresh token → SourceAuthFailed naming the org', async () => {
    const connector = connectorFor(sim);
    sim.faults.add({ id: 'exp2', path: '^/api/data/v9.2/lists$', times: 2, action: { kind: 'vendor', code: 'expired-token' } });
    await assert.rejects(runStream(stream(connector, 'lists'), null), (err: Error) => err instanceof SourceAuthFailed && /contoso/.test(err.message));
    sim.faults.remove('exp2');
  });

  it('bad credentials → SourceAuthFailed (invalid_client AADSTS7000215) without leaking the secret', async () => {
    const connector = connectorFor(sim, {}, { clientId: CREDS.clientId, clientSecret: 'wrong-secret-123' });
    await assert.rejects(connector.verify(new AbortController().signal), (err: Error) => {
      assert.ok(err instanceof SourceAuthFailed);
      assert.match(err.message, /contoso/);
      assert.match(err.message, /invalid_client: AADSTS7000215/);
      assert.doesNotMatch(err.message, /wrong-secret-123/);
      return true;
    });
    const unknownApp = connectorFor(sim, {}, { clientId: 'nope', clientSecret: CREDS.clientSecret });
    await assert.rejects(unknownApp.verify(new AbortController().signal), SourceAuthFailed);
  });

  it('429 service protection (requests, execution time, concurrency) → waits Retry-After, then retries', async () => {
    const connector = connectorFor(sim);
    await connector.verify(new AbortController().signal);
    for (const code of ['rate-requests', 'rate-time', 'rate-concurrency']) {
      const id = sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 1, action: { kind: 'vendor', code } });
      const from = sim.requests().length;
      const run = await runStream(stream(connector, 'lists'), null);
      sim.faults.remove(id);
      assert.equal(run.records.length, sim.groundTruth()['marketing-list']);
      const log = sim.requests().slice(from).filter((r) => r.path === '/api/data/v9.2/lists');
      assert.deepEqual(log.map((r) => r.status), [429, 200], code);
      // the retry started after the Retry-After (1 s) had passed (request log: finish times, sim clock)
      assert.ok(log[1]!.at - log[0]!.at >= 1000, `${code}: retried after ${log[1]!.at - log[0]!.at} ms`);
    }
  });

  it('429s beyond the retries → SourceRateLimited with retryAfterMs', async () => {
    const connector = connectorFor(sim, { retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    const id = sim.faults.add({ path: '^/api/data/v9.2/lists$', times: 2, action: { kind: 'vendor', code: 'rate-requests' } });
    await assert.rejects(runStream(stream(connector, 'lists'), null), (err: Error) => err instanceof SourceRateLimited && (err as SourceRateLimited).retryAfterMs === 1000);
    sim.faults.remove(id);
  });

  it('concurrency beyond 52 in flight → immediate 429 from the simulator', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS, maxConcurrent: 2 });
    try {
      const connector = connectorFor(s2, { retry: { maxAttempts: 1 } });
      await connector.verify(new AbortController().signal);
      s2.faults.add({ path: '^/api/data/v9.2/', action: { kind: 'delay', ms: 150 } });
      const results = await Promise.allSettled([1, 2, 3, 4, 5].map(() => runStream(stream(connector, 'lists'), null)));
      assert.ok(results.some((r) => r.status === 'rejected' && r.reason instanceof SourceRateLimited));
      assert.ok(s2.requests().some((r) => r.status === 429));
    } finally {
      await s2.stop();
    }
  });

  it('retries 503s, dropped connections and truncated bodies; a 403 privilege error is fatal', async () => {
    const connector = connectorFor(sim, { pageSize: 5 });
    const ids = [
      sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 1, action: { kind: 'vendor', code: 'unavailable' } }),
      sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 2, action: { kind: 'drop' } }),
      sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 3, action: { kind: 'truncate', afterBytes: 200 } }),
      sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 4, action: { kind: 'http', status: 503, body: '<html>busy</html>' } }),
    ];
    const run = await runStream(stream(connector, 'lists'), null);
    ids.forEach((id) => sim.faults.remove(id));
    assert.equal(run.records.length, sim.groundTruth()['marketing-list']);
    const id = sim.faults.add({ path: '^/api/data/v9.2/lists$', nth: 1, action: { kind: 'vendor', code: 'privilege' } });
    await assert.rejects(runStream(stream(connector, 'lists'), null), (err: Error) => err instanceof SourceRequestRejected && /prvReadAccount/.test(err.message));
    sim.faults.remove(id);
  });

  it('deduplicates connection pairs and repeated rows', async () => {
    const connector = connectorFor(sim, { pageSize: 7 });
    const id = sim.faults.add({ path: 'connections$', every: 2, action: { kind: 'data', name: 'duplicate-connection' } });
    const run = await runStream(stream(connector, 'connections'), null);
    sim.faults.remove(id);
    for (const page of run.pages) {
      const keys = page.records.map((r) => (r.record.opportunityPersonKey as any).sourceKey);
      assert.equal(new Set(keys).size, keys.length, 'one record per relation within a page');
    }
    const store = new Store();
    store.add(run.records);
    assert.equal(store.counts()['opportunity-person'], sim.groundTruth()['opportunity-person']);
  });

  it('a malformed row becomes unmappable; the rest of the page goes on', async () => {
    const connector = connectorFor(sim, { pageSize: 20 });
    const clean = await runStream(stream(connector, 'accounts'), null);
    const id = sim.faults.add({ path: 'accounts$', nth: 2, action: { kind: 'data', name: 'malformed-row' } });
    const run = await runStream(stream(connector, 'accounts'), null);
    sim.faults.remove(id);
    assert.equal(run.unmappable.length, 1);
    assert.equal(run.unmappable[0]!.xdmClass, 'account');
    assert.match(run.unmappable[0]!.sourceKey!, /@contoso\.Dynamics$/);
    assert.match(run.unmappable[0]!.reason, /modifiedon/);
    assert.equal(run.pages[1]!.records.length, 19);
    assert.equal(run.records.length + 1, clean.records.length);
  });

  it('watermark stream (listmembers): incremental with overlap; backfill reads one window by modifiedon', async () => {
    const connector = connectorFor(sim, { pageSize: 50, overlapMs: 0 });
    const s = stream(connector, 'listmembers');
    const full = await runStream(s, null);
    const again = await runStream(s, full.state);
    const wm = (full.state as any).watermark as string;
    assert.ok(again.records.every((r) => (r.record.extSourceSystemAudit as any).lastUpdatedDate >= wm));
    assert.ok(again.records.length >= 1 && again.records.length < full.records.length);
    const window = { from: '2026-09-01T00:00:00.000Z', to: '2026-10-01T00:00:00.000Z' };
    const back = await runStream(s, null, window);
    const expected = full.records.filter((r) => {
      const t = Date.parse((r.record.extSourceSystemAudit as any).lastUpdatedDate);
      return t >= Date.parse(window.from) && t < Date.parse(window.to);
    });
    assert.equal(back.records.length, expected.length);
    assert.ok(back.records.length > 0);
  });

  it('the simulator is strict: unknown columns, $filter with change tracking, bad date literals, bad tokens', async () => {
    const token = await (await fetch(sim.authEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CREDS.clientId, client_secret: CREDS.clientSecret, scope: `${sim.url}/.default` }),
    })).json() as { access_token: string; expires_in: number };
    assert.equal(token.expires_in, 3599);
    const get = (q: string, prefer = '', auth = token.access_token) =>
      fetch(`${sim.url}/api/data/v9.2/${q}`, { headers: { authorization: `Bearer ${auth}`, prefer } });
    const unknownColumn = await get('accounts?$select=name,nonexistent');
    assert.equal(unknownColumn.status, 400);
    assert.match(((await unknownColumn.json()) as any).error.message, /nonexistent/);
    assert.equal((await get('accounts?$select=name&$filter=modifiedon gt 2026-01-01T00:00:00Z', 'odata.track-changes')).status, 400);
    assert.equal((await get('accounts?$select=name&$filter=modifiedon gt 2026-01-01 00:00')).status, 400);
    assert.equal((await get('accounts?$select=name&$filter=modifiedon gt 2026-01-01T00:00:00Z')).status, 200);
    const bad = await get('accounts?$select=name', '', 'forged');
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer/);
    const page = await get('accounts?$select=name', 'odata.maxpagesize=9000');
    assert.equal(page.headers.get('preference-applied'), 'odata.maxpagesize=5000');
    assert.equal(page.headers.get('odata-version'), '4.0');
  });
  it('any change token Dataverse refuses (400 of any code, 404, 410, 412, 422) → full resync with a notice; 403 stays fatal; the resync itself is not retried', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS });
    try {
      const connector = connectorFor(s2, { pageSize: 100 });
      const first = await runStream(stream(connector, 'campaigns'), null);
      const total = first.records.length;
      const withToken = (token: string): StreamState => ({ ...first.state, deltaLink: (first.state.deltaLink as string).replace(/\$deltatoken=[^&]*/, `$deltatoken=${token}`) });
      // A token the simulator cannot read, then one of a version the org never reached: 400 0x80060888, not the expiry code.
      for (const token of ['not-a-token', '999999999!0']) {
        const run = await runStream(stream(connector, 'campaigns'), withToken(token));
        assert.equal(run.records.length, total, token);
        assert.equal(run.notices.length, 1);
        assert.match(run.notices[0]!, /^change token refused \(400 0x80060888: The delta token '.*' is not valid\.\): full resync$/);
        // the resync's resting state is a good delta link again
        const next = await runStream(stream(connector, 'campaigns'), run.state);
        assert.deepEqual([next.records.length, next.notices], [0, []]);
      }
      const body = { error: { code: '0x80044183', message: 'The change token is no longer valid. Read the collection again.' } };
      for (const status of [404, 410, 412, 422]) {
        const id = s2.faults.add({ path: '/campaigns$', nth: 1, action: { kind: 'http', status, body } });
        const run = await runStream(stream(connector, 'campaigns'), first.state);
        s2.faults.remove(id);
        assert.deepEqual([run.records.length, run.notices], [total, [refusedTokenNotice(`${status} 0x80044183: The change token is no longer valid.`)]], String(status));
      }
      // A missing privilege is not a token problem: the full read would be refused the same way.
      const forbidden = s2.faults.add({ path: '/campaigns$', nth: 1, action: { kind: 'vendor', code: 'privilege' } });
      await assert.rejects(runStream(stream(connector, 'campaigns'), first.state), (err: Error) => err instanceof SourceRequestRejected && /prvReadAccount/.test(err.message));
      s2.faults.remove(forbidden);
      // The delta link is refused, then so is the full read: the stream fails (no loop of resyncs).
      const gone = s2.faults.add({ path: '/campaigns$', times: 2, action: { kind: 'http', status: 410, body } });
      await assert.rejects(runStream(stream(connector, 'campaigns'), first.state), (err: Error) => err instanceof SourceRequestRejected && /410/.test(err.message));
      s2.faults.remove(gone);
    } finally {
      await s2.stop();
    }
  });

  it('discovers change tracking from EntityDefinitions once per connector: tables with it by delta links, the others by modifiedon watermark', async () => {
    // This org tracks listmembers but not campaigns (the defaults the old hand-kept list assumed the other way round).
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS, changeTrackingSets: ['accounts', 'contacts', 'leads', 'opportunities', 'connections', 'lists', 'listmembers'] });
    try {
      const connector = connectorFor(s2, { pageSize: 200 });
      const store = new Store();
      const resting = new Map<string, StreamState>();
      for (const s of connector.streams) {
        const run = await runStream(s, null);
        assert.deepEqual([run.unmappable, run.notices], [[], []], s.name);
        store.add(run.records);
        resting.set(s.name, run.state);
      }
      assert.deepEqual(store.counts(), s2.groundTruth());
      const definitions = s2.requests().filter((r) => r.path === '/api/data/v9.2/EntityDefinitions');
      assert.equal(definitions.length, 1, 'table definitions are asked once per connector');
      assert.match(decodeURIComponent(definitions[0]!.query), /^\?\$select=LogicalName,EntitySetName,ChangeTrackingEnabled$/);
      const campaigns = apiRequests(s2, 'campaigns');
      assert.ok(campaigns.length > 0 && campaigns.every((r) => !/track-changes/.test(r.headers.prefer ?? '') && /\$orderby=modifiedon/.test(decodeURIComponent(r.query))));
      const members = apiRequests(s2, 'listmembers');
      assert.ok(members.length > 0 && members.every((r) => /odata\.track-changes/.test(r.headers.prefer ?? '') && !/\$orderby|\$filter/.test(decodeURIComponent(r.query))));
      // The next run of listmembers is a delta with deletes; campaigns still by watermark.
      s2.clock.advance(60_000);
      s2.mutate({ update: 2, delete: 3, seed: 4, sets: ['listmembers', 'campaigns'] });
      const delta = await runStream(stream(connector, 'listmembers'), resting.get('listmembers')!);
      assert.equal(delta.records.filter((r) => r.record.isDeleted === true).length, 3);
      assert.equal(delta.records.filter((r) => r.record.isDeleted === false).length, 2);
      const before = s2.requests().length;
      const again = await runStream(stream(connector, 'campaigns'), resting.get('campaigns')!);
      assert.ok(again.records.length >= 2 && again.records.every((r) => r.record.isDeleted === false));
      assert.ok(s2.requests().slice(before).every((r) => /\$filter=modifiedon ge /.test(decodeURIComponent(r.query))));
      assert.equal(s2.requests().filter((r) => r.path === '/api/data/v9.2/EntityDefinitions').length, 1);
    } finally {
      await s2.stop();
    }
  });

  it('`changeTracking` narrows change tracking to the sets it lists; a listed table without it is read by watermark, with a notice', async () => {
    const connector = connectorFor(sim, { pageSize: 500, changeTracking: ['accounts', 'listmembers'] });
    const from = sim.requests().length;
    const contacts = await runStream(stream(connector, 'contacts'), null);
    assert.deepEqual(contacts.notices, []);
    const log = sim.requests().slice(from).filter((r) => r.path === '/api/data/v9.2/contacts');
    assert.ok(log.length > 0 && log.every((r) => !/track-changes/.test(r.headers.prefer ?? '')));
    assert.equal((contacts.state as any).mode, 'watermark');
    const members = await runStream(stream(connector, 'listmembers'), null);
    assert.deepEqual(members.notices, ['listmembers: change tracking is not enabled on the listmember table in this org: read by modifiedon watermark']);
    assert.equal((members.state as any).mode, 'watermark');
    assert.equal(((await runStream(stream(connector, 'accounts'), null)).state as any).mode, 'tracked');
    // A stream whose stored state is a delta link but that is now read by watermark says so.
    const tracked = await runStream(stream(connectorFor(sim, { pageSize: 500 }), 'contacts'), null);
    const switched = await runStream(stream(connector, 'contacts'), tracked.state);
    assert.ok(switched.notices.includes('contacts: now read by modifiedon watermark: full read'));
  });

  it('columns the org lacks (msdyn_forecastcategory) are left out of $select and named in each run\'s notices; a table it lacks is not read', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS, missingColumns: { opportunities: ['msdyn_forecastcategory'] }, missingTables: ['leads'] });
    try {
      const connector = connectorFor(s2, { pageSize: 40 });
      const run = await runStream(stream(connector, 'opportunities'), null);
      assert.ok(run.pages.length > 1);
      assert.deepEqual(run.notices, [missingColumnsNotice(['msdyn_forecastcategory'])], 'once per run, not once per page');
      assert.equal(run.notices[0], 'columns not in this org, not synced: msdyn_forecastcategory');
      assert.equal(run.records.length, s2.groundTruth().opportunity);
      assert.ok(run.records.every((r) => r.record.forecastCategoryName === undefined && typeof r.record.opportunityName === 'string'));
      assert.ok(apiRequests(s2, 'opportunities').every((r) => !/msdyn_forecastcategory/.test(r.query)));
      const again = await runStream(stream(connector, 'opportunities'), run.state);
      assert.deepEqual(again.notices, [missingColumnsNotice(['msdyn_forecastcategory'])]);
      assert.equal(s2.requests().filter((r) => r.path === "/api/data/v9.2/EntityDefinitions(LogicalName='opportunity')/Attributes").length, 1);
      // An org without the lead table: the stream says so and completes; the others are unaffected.
      const leads = await runStream(stream(connector, 'leads'), null);
      assert.deepEqual([leads.records.length, leads.pages.length, leads.notices], [0, 1, ['leads: the lead table does not exist in this org (its solution is not installed): not synced']]);
      assert.equal(apiRequests(s2, 'leads').length, 0);
      const contacts = await runStream(stream(connector, 'contacts'), null);
      assert.deepEqual(contacts.notices, []);
      assert.equal(contacts.records.length, s2.groundTruth().person);
    } finally {
      await s2.stop();
    }
    // A column the mapping cannot do without: the stream is refused, naming it.
    const s3 = await startDynamicsSimulator({ world, credentials: CREDS, missingColumns: { listmembers: ['_entityid_value'] } });
    try {
      await assert.rejects(runStream(stream(connectorFor(s3), 'listmembers'), null), (err: Error) => err instanceof SourceRequestRejected && /the listmember table has no entityid in this org/.test(err.message));
    } finally {
      await s3.stop();
    }
  });

  it('reconcile: one listing per class lists every id the org holds, keyed as the records are, a page per call; deleted rows drop out', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS });
    try {
      const connector = connectorFor(s2, { pageSize: 40 });
      const listing = connector.streams.filter((s) => s.reconcile);
      assert.deepEqual(listing.map((s) => s.name), ['accounts', 'contacts', 'opportunities', 'connections', 'campaigns', 'lists', 'listmembers']);
      const store = new Store();
      for (const s of connector.streams) store.add((await runStream(s, null)).records);
      for (const s of listing) {
        const spec = s.reconcile!;
        assert.deepEqual([spec.xdmClass, spec.idSuffix], [s.xdmClasses[0], ''], s.name);
        const { ids } = await listAll(spec);
        // contacts lists contacts and leads (both are `person`); connections one id per reciprocal pair
        assert.deepEqual(sorted(ids), sorted(storedIds(store, spec.xdmClass)), s.name);
      }
      // Paged by nextLink with only the key columns selected and the stream's page size.
      const from = s2.requests().length;
      const members = await listAll(stream(connector, 'listmembers').reconcile!);
      const log = s2.requests().slice(from);
      assert.equal(members.calls, Math.ceil(members.ids.length / 40));
      assert.equal(log.length, members.calls);
      assert.ok(log.every((r) => r.path === '/api/data/v9.2/listmembers' && /\$select=listmemberid(&|$)/.test(decodeURIComponent(r.query)) && /odata\.maxpagesize=40/.test(r.headers.prefer ?? '')));
      // Deletes a watermark read cannot see: the deleted rows are no longer listed.
      s2.mutate({ delete: 3, seed: 8, sets: ['listmembers'] });
      const after = await listAll(stream(connector, 'listmembers').reconcile!);
      const gone = sorted(members.ids).filter((id) => !after.ids.includes(id));
      assert.equal(gone.length, 3);
      assert.equal(after.ids.length, members.ids.length - 3);
      // A page that promises more but holds nothing is a gap: the listing fails rather than end short.
      const id = s2.faults.add({ path: '/listmembers$', nth: 2, action: { kind: 'http', status: 200, body: { '@odata.context': `${s2.url}/api/data/v9.2/$metadata#listmembers(listmemberid)`, value: [], '@odata.nextLink': `${s2.url}/api/data/v9.2/listmembers?$select=listmemberid&$skiptoken=x` } } });
      await assert.rejects(listAll(stream(connector, 'listmembers').reconcile!), /empty page with a nextLink/);
      s2.faults.remove(id);
    } finally {
      await s2.stop();
    }
  });

  it('the simulator serves table definitions as documented and refuses what the org lacks', async () => {
    const s2 = await startDynamicsSimulator({ world, credentials: CREDS, missingColumns: { opportunities: ['msdyn_forecastcategory'] } });
    try {
      const token = await (await fetch(s2.authEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CREDS.clientId, client_secret: CREDS.clientSecret, scope: `${s2.url}/.default` }),
      })).json() as { access_token: string };
      const get = (q: string, prefer = '') => fetch(`${s2.url}/api/data/v9.2/${q}`, { headers: { authorization: `Bearer ${token.access_token}`, prefer } });
      const defs = await get('EntityDefinitions?$select=LogicalName,EntitySetName,ChangeTrackingEnabled');
      assert.equal(defs.status, 200);
      const body = (await defs.json()) as any;
      assert.equal(body['@odata.context'], `${s2.url}/api/data/v9.2/$metadata#EntityDefinitions(LogicalName,EntitySetName,ChangeTrackingEnabled)`);
      const byName = new Map<string, any>(body.value.map((d: any) => [d.LogicalName, d]));
      assert.deepEqual(Object.keys(byName.get('listmember')).sort(), ['ChangeTrackingEnabled', 'EntitySetName', 'LogicalName', 'MetadataId']);
      assert.deepEqual([byName.get('listmember').ChangeTrackingEnabled, byName.get('listmember').EntitySetName, byName.get('contact').ChangeTrackingEnabled], [false, 'listmembers', true]);
      const filtered = (await (await get("EntityDefinitions?$select=LogicalName&$filter=ChangeTrackingEnabled eq true")).json()) as any;
      assert.ok(filtered.value.every((d: any) => byName.get(d.LogicalName).ChangeTrackingEnabled === true) && !filtered.value.some((d: any) => d.LogicalName === 'listmember'));
      const one = (await (await get("EntityDefinitions(LogicalName='contact')?$select=ChangeTrackingEnabled")).json()) as any;
      assert.equal(one.ChangeTrackingEnabled, true);
      assert.match(one['@odata.context'], /\/\$entity$/);
      const attributes = (await (await get("EntityDefinitions(LogicalName='opportunity')/Attributes?$select=LogicalName")).json()) as any;
      const names = attributes.value.map((a: any) => a.LogicalName);
      assert.ok(names.includes('parentaccountid') && names.includes('opportunityid') && !names.includes('msdyn_forecastcategory'));
      assert.ok(attributes.value.every((a: any) => /^#Microsoft\.Dynamics\.CRM\.\w+AttributeMetadata$/.test(a['@odata.type'])));
      assert.equal((await get('EntityDefinitions?$select=LogicalName&$top=5')).status, 400);
      // Change tracking asked of a table without it.
      const untracked = await get('listmembers?$select=listmemberid', 'odata.track-changes');
      assert.equal(untracked.status, 400);
      assert.match(((await untracked.json()) as any).error.message, /Change tracking is not enabled for the entity 'listmember'/);
      // A column this org lacks, in the documented envelope.
      const unknown = await get('opportunities?$select=name,msdyn_forecastcategory');
      assert.equal(unknown.status, 400);
      assert.deepEqual(await unknown.json(), { error: { code: '0x0', message: "Could not find a property named 'msdyn_forecastcategory' on type 'Microsoft.Dynamics.CRM.opportunity'." } });
      const segment = await get('Account?$select=name');
      assert.equal(segment.status, 404);
      assert.deepEqual(await segment.json(), { error: { code: '0x8006088a', message: "Resource not found for the segment 'Account'." } });
    } finally {
      await s2.stop();
    }
  });
  // Last: it mutates the shared simulator.
  it('full load, then a delta after mutate with updates and $deletedEntity deletes', async () => {
    const connector = connectorFor(sim, { pageSize: 200 });
    const store = new Store();
    const start = sim.requests().length;
    const resting = new Map<string, StreamState>();
    for (const s of connector.streams) {
      const run = await runStream(s, null);
      assert.deepEqual(run.unmappable, [], `${s.name}: no unmappable rows`);
      store.add(run.records);
      resting.set(s.name, run.state);
    }
    assert.deepEqual(store.counts(), sim.groundTruth());
    assert.ok((store.counts().person ?? 0) > 100 && (store.counts()['opportunity-person'] ?? 0) > 10 && (store.counts()['marketing-list-member'] ?? 0) > 10);
    // Change tracking: the initial load sent no $filter/$orderby; the watermark stream did.
    const load = sim.requests().slice(start);
    const accountQueries = load.filter((r) => r.path === '/api/data/v9.2/accounts');
    assert.ok(accountQueries.length > 0 && accountQueries.every((r) => !/\$filter|\$orderby|\$top/.test(decodeURIComponent(r.query)) && /odata\.track-changes/.test(r.headers.prefer ?? '')));
    assert.ok(load.filter((r) => r.path === '/api/data/v9.2/listmembers').every((r) => /\$orderby=modifiedon/.test(decodeURIComponent(r.query))));

    sim.clock.advance(60_000);
    const changed = sim.mutate({ update: 3, delete: 2, seed: 5 });
    assert.deepEqual(changed, { updated: 21, deleted: 12 });
    const simNow = sim.clock.date().toISOString().slice(0, 19) + 'Z';
    const before = sim.requests().length;
    let updates = 0;
    let tombstones = 0;
    for (const s of connector.streams) {
      const run = await runStream(s, resting.get(s.name)!);
      store.add(run.records);
      updates += run.records.filter((r) => (r.record.extSourceSystemAudit as any)?.lastUpdatedDate === simNow && r.record.isDeleted === false).length;
      tombstones += run.records.filter((r) => r.record.isDeleted === true).length;
      if (s.name !== 'listmembers') assert.ok(run.records.length < 10, `${s.name}: a delta, not a reload (${run.records.length})`);
    }
    // connections: one record per pair (both rows changed)
    assert.equal(updates, 21);
    assert.equal(tombstones, 12);
    assert.ok(sim.requests().slice(before).filter((r) => r.path !== '/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token' && !r.path.endsWith('listmembers')).every((r) => /\$deltatoken=/.test(r.query)));
    assert.deepEqual(store.counts(), sim.groundTruth());
    const deletedAccounts = [...store.byClass.get('account')!.values()].filter((r) => r.isDeleted === true);
    assert.equal(deletedAccounts.length, 2);
  });

});

it('every entity\'s deletion marker is a valid record of its class, dated when it arrives', () => {
  const receivedAt = new Date('2026-11-29T12:00:00Z');
  for (const entity of ENTITIES) {
    const marker = entity.tombstone('9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', { instanceId: 'contoso' });
    const outcome = validateRecord(XDM_CLASSES[entity.xdmClass], marker, JSON.stringify(marker), { position: 0, receivedAt });
    assert.equal(outcome.kind, 'accepted', `${entity.entitySet}: ${JSON.stringify(outcome.kind === 'rejected' ? outcome.value.errors : '')}`);
    if (outcome.kind === 'accepted') {
      assert.equal(outcome.value.isDeleted, true);
      assert.deepEqual(outcome.value.sourceUpdatedAt, receivedAt);
    }
  }
});
