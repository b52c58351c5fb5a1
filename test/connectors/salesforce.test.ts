/**
 * The Salesforce connector against the Salesforce simulator (in-process, port 0): full loads
 * (REST and Bulk 2.0), incremental runs, overlap, crash/resume, auth, retries, stale cursors,
 * truncated bodies, malformed rows, quota stops, backfill windows, records purged from the recycle
 * bin or hard-deleted (the delete log, sObject Get Deleted), and the simulator's strictness.
 * Bulk jobs run on the simulator clock: where the connector asks to wait, the test advances it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { salesforceConnector } from '../../connectors/sources/salesforce';
import { SourceAuthFailed, SourceIncompleteRead, SourceQuotaExhausted, SourceUnavailable } from '../../connectors/sources/errors';
import type { PageResult, SourceConnector, SourceStream, StreamState } from '../../connectors/sources/source-connector';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { validateRecord } from '../../domain/ingestion/validate-record';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { startSalesforceSimulator, type SalesforceSimulator, type SalesforceSimulatorOptions } from '../../simulators/salesforce';
import { buildWorld, type World } from '../../simulators/world/world';

const CREDENTIALS = { clientId: 'sf-client', clientSecret: 'sf-secret-value' };
const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 };
let world: World;

before(() => {
  world = buildWorld({ seed: 7, accounts: 150, people: 1_500 });
});

const sims: SalesforceSimulator[] = [];
after(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});

async function startSim(extra: Partial<SalesforceSimulatorOptions> = {}): Promise<SalesforceSimulator> {
  const sim = await startSalesforceSimulator({ world, credentials: CREDENTIALS, seed: 3, ...extra });
  sims.push(sim);
  return sim;
}

function connect(sim: SalesforceSimulator, settings: Record<string, unknown> = {}, credentials = CREDENTIALS): SourceConnector {
  return salesforceConnector.create({
    instance: { sourceType: 'salesforce', instanceId: sim.instanceId, endpoint: sim.url, settings: { retry: FAST_RETRY, ...settings } },
    credentials,
    gate: (call) => call(),
    log: { info() {}, warn() {} },
  });
}

const stream = (c: SourceConnector, name: string): SourceStream => c.streams.find((s) => s.name === name)!;

interface Drained {
  records: Array<{ xdmClass: XdmClassName; record: Record<string, any> }>;
  unmappable: PageResult['unmappable'];
  notices: string[];
  pages: PageResult[];
  state: StreamState;
  waits: number;
  expectedRecords?: number;
  runStartedAt: string;
}

/** Reads a stream to `complete`, advancing the sim clock when asked to wait. */
async function drain(s: SourceStream, sim: SalesforceSimulator, opts: { state?: StreamState | null; window?: { from: string; to: string }; maxPages?: number } = {}): Promise<Drained> {
  const runStartedAt = sim.clock.date().toISOString();
  const out: Drained = { records: [], unmappable: [], notices: [], pages: [], state: {}, waits: 0, runStartedAt };
  let state = opts.state ?? null;
  for (let n = 0; n < (opts.maxPages ?? 1_000); n++) {
    const page = await s.readPage({ state, window: opts.window, runStartedAt, signal: AbortSignal.timeout(30_000), knownValues: async () => [] });
    out.pages.push(page);
    out.records.push(...page.records);
    out.unmappable.push(...page.unmappable);
    out.notices.push(...(page.notices ?? []));
    state = page.state;
    if (page.waitMs !== undefined) {
      assert.equal(page.records.length, 0);
      out.waits++;
      sim.clock.advance(page.waitMs);
    }
    if (page.complete) {
      out.expectedRecords = page.expectedRecords;
      break;
    }
  }
  out.state = state!;
  return out;
}

/** An instant floored to the minute, as ISO: where Salesforce's replication API cuts. */
const minuteOf = (isoOrMs: string | number) => new Date(Math.floor((typeof isoOrMs === 'number' ? isoOrMs : Date.parse(isoOrMs)) / 60_000) * 60_000).toISOString();

const keyOf = (r: { xdmClass: XdmClassName; record: Record<string, unknown> }) => XDM_CLASSES[r.xdmClass].recordKey(XDM_CLASSES[r.xdmClass].schema.parse(r.record)).key;
const idOf = (r: { xdmClass: XdmClassName; record: Record<string, unknown> }) => keyOf(r).split('@')[0]!;
const sortedJson = (rs: Drained['records']) => rs.map((r) => JSON.stringify(r)).sort();

async function fullLoad(c: SourceConnector, sim: SalesforceSimulator) {
  const byStream = new Map<string, Drained>();
  for (const s of c.streams) byStream.set(s.name, await drain(s, sim));
  return byStream;
}

function countByClass(loads: Map<string, Drained>): Partial<Record<XdmClassName, number>> {
  const out: Partial<Record<XdmClassName, number>> = {};
  for (const d of loads.values()) for (const r of d.records) out[r.xdmClass] = (out[r.xdmClass] ?? 0) + 1;
  return out;
}

describe('Salesforce full load', () => {
  test('REST: every class matches the ground truth, keys are unique and records pass the XDM schemas', async () => {
    const sim = await startSim();
    const loads = await fullLoad(connect(sim, { useBulk: false, pageSize: 500 }), sim);
    assert.deepEqual(countByClass(loads), sim.groundTruth());
    const keys = new Set<string>();
    for (const d of loads.values()) {
      assert.equal(d.unmappable.length, 0);
      for (const r of d.records) {
        const parsed = XDM_CLASSES[r.xdmClass].schema.safeParse(r.record);
        assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues));
        keys.add(`${r.xdmClass}|${keyOf(r)}`);
      }
    }
    assert.equal(keys.size, Object.values(sim.groundTruth()).reduce((a, b) => a + b, 0));
    // Cross-system keys: the person key of a contact is its Salesforce id in this org.
    const contact = sim.tables.Contact.rows[0]!;
    const mapped = loads.get('Contact')!.records.find((r) => idOf(r) === contact.Id)!;
    assert.equal(mapped.record.b2b.personKey.sourceKey, `${contact.Id}@${sim.instanceId}.Salesforce`);
    assert.equal(mapped.record.workEmail.address, contact.values.Email);
    // The resting state is the largest SystemModstamp read, not the run's start; the delete log
    // was read up to the run's start (whole minutes).
    const maxStamp = Math.max(...sim.tables.Contact.rows.map((r) => r.ms.SystemModstamp!));
    const contacts = loads.get('Contact')!;
    assert.deepEqual(contacts.state, { v: 1, kind: 'resting', watermark: new Date(maxStamp).toISOString(), deleted: minuteOf(contacts.runStartedAt) });
  });

  test('Bulk API 2.0 and REST give the same records; the bulk run announces its count', async () => {
    const sim = await startSim();
    const rest = await drain(stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact'), sim);
    const bulk = await drain(stream(connect(sim, { bulkThreshold: 100, bulkMaxRecords: 250 }), 'Contact'), sim);
    assert.ok(bulk.notices.some((n) => /Bulk API 2\.0 job/.test(n)));
    assert.ok(bulk.waits >= 1);
    assert.equal(bulk.expectedRecords, sim.tables.Contact.rows.length);
    assert.deepEqual(sortedJson(bulk.records), sortedJson(rest.records));
    // The same watermark; each run read the delete log up to its own start.
    assert.deepEqual({ ...bulk.state, deleted: minuteOf(rest.runStartedAt) }, rest.state);
    assert.equal(bulk.state.deleted, minuteOf(bulk.runStartedAt));
    const accounts = await drain(stream(connect(sim, { bulkThreshold: 1, bulkMaxRecords: 64 }), 'Account'), sim);
    const accountsRest = await drain(stream(connect(sim, { useBulk: false }), 'Account'), sim);
    assert.deepEqual(sortedJson(accounts.records), sortedJson(accountsRest.records));
    assert.ok(sim.stats().byRoute['/services/data/v62.0/jobs/query/{id}/results']! >= Math.ceil(sim.tables.Account.rows.length / 64));
  });

  test('a crash while a bulk job runs resumes polling the same job', async () => {
    const sim = await startSim();
    const first = await stream(connect(sim, { bulkThreshold: 1 }), 'Lead').readPage({
      state: null, runStartedAt: sim.clock.date().toISOString(), signal: AbortSignal.timeout(10_000), knownValues: async () => [],
    });
    assert.ok(first.waitMs! > 0);
    sim.clock.advance(first.waitMs!);
    const resumed = await drain(stream(connect(sim, { bulkThreshold: 1 }), 'Lead'), sim, { state: first.state });
    assert.equal(resumed.records.length, sim.tables.Lead.rows.length);
    assert.equal(sim.stats().byRoute['/services/data/v62.0/jobs/query'], 1);
  });

  test('a slow bulk job is waited for; a Failed job falls back to REST with a notice', async () => {
    const sim = await startSim();
    sim.faults.add({ action: { kind: 'data', name: 'slow-bulk-job' }, times: 1 });
    const slow = await drain(stream(connect(sim, { bulkThreshold: 1, bulkPollMs: 5_000 }), 'Campaign'), sim);
    assert.ok(slow.waits >= 10, `waited ${slow.waits} times`);
    assert.equal(slow.records.length, sim.tables.Campaign.rows.length);

    sim.faults.add({ action: { kind: 'data', name: 'bulk-job-failed' }, times: 1 });
    const failed = await drain(stream(connect(sim, { bulkThreshold: 1, pageSize: 200 }), 'Contact'), sim);
    assert.ok(failed.notices.some((n) => /Failed .*reading with REST/.test(n)), failed.notices.join('; '));
    assert.equal(failed.records.length, sim.tables.Contact.rows.length);
    assert.equal(failed.expectedRecords, undefined);
  });
});

describe('Salesforce incremental runs', () => {
  test('after mutate, a run reads the updates and the deletes (isDeleted) since the watermark, with the overlap', async () => {
    const sim = await startSim();
    const c = connect(sim, { useBulk: false });
    const full = await fullLoad(c, sim);
    sim.clock.advance(60_000);
    const changed = sim.mutate({ update: 3, delete: 2, seed: 11 });
    assert.deepEqual(changed, { updated: 24, deleted: 16 });
    sim.clock.advance(1_000);
    for (const s of c.streams) {
      const resting = full.get(s.name)!.state as { watermark: string };
      const run = await drain(s, sim, { state: resting });
      assert.ok(run.pages[run.pages.length - 1]!.complete);
      const table = sim.tables[s.name as keyof typeof sim.tables];
      const since = Date.parse(resting.watermark) - 5 * 60_000;
      const expected = table.rows.filter((r) => r.ms.SystemModstamp! > since).map((r) => r.Id).sort();
      assert.deepEqual(run.records.map(idOf).sort(), expected, s.name);
      const deleted = table.rows.filter((r) => r.values.IsDeleted === true).map((r) => r.Id).sort();
      assert.equal(deleted.length, 2);
      assert.deepEqual(run.records.filter((r) => r.record.isDeleted === true).map(idOf).sort(), deleted);
      const newWatermark = Math.max(...table.rows.map((r) => r.ms.SystemModstamp!));
      assert.deepEqual(run.state, { v: 1, kind: 'resting', watermark: new Date(newWatermark).toISOString(), deleted: minuteOf(run.runStartedAt) });
      // Soft deletes are still in the recycle bin: queryAll delivers them, Get Deleted adds no marker.
      assert.equal(run.records.length, new Set(run.records.map(idOf)).size);
    }
    // The updated Contacts carry their new title.
    const contacts = await drain(stream(c, 'Contact'), sim, { state: full.get('Contact')!.state });
    assert.equal(contacts.records.filter((r) => / \(rev 1\)$/.test(r.record.extendedWorkDetails?.jobTitle ?? '')).length, 3);
  });

  test('rows committed late with an older SystemModstamp are caught by the overlap window (and missed without it)', async () => {
    const sim = await startSim();
    const c = connect(sim, { useBulk: false, objects: ['Contact'] });
    const first = await drain(stream(c, 'Contact'), sim);
    sim.clock.advance(60_000);
    sim.mutate({ update: 2, seed: 1 });
    const second = await drain(stream(c, 'Contact'), sim, { state: first.state });
    const watermark = Date.parse((second.state as { watermark: string }).watermark);
    const before = new Map(sim.tables.Contact.rows.map((r) => [r.Id, r]));
    sim.faults.add({ path: '^/Contact$', action: { kind: 'data', name: 'late-commit' }, times: 2 });
    sim.mutate({ update: 2, seed: 2 });
    const late = sim.tables.Contact.rows.filter((r) => before.get(r.Id) !== r);
    assert.equal(late.length, 2);
    for (const r of late) assert.ok(r.ms.SystemModstamp! < watermark, 'the late rows are stamped before the watermark');

    const withOverlap = await drain(stream(c, 'Contact'), sim, { state: second.state });
    const ids = new Set(withOverlap.records.map(idOf));
    for (const r of late) assert.ok(ids.has(r.Id), `late row ${r.Id} read`);

    const noOverlap = await drain(stream(connect(sim, { useBulk: false, objects: ['Contact'], overlapMinutes: 0 }), 'Contact'), sim, { state: second.state });
    const missed = new Set(noOverlap.records.map(idOf));
    for (const r of late) assert.ok(!missed.has(r.Id), 'without the overlap the late rows are lost');
  });

  test('a backfill window reads the rows modified inside it only', async () => {
    const sim = await startSim();
    const from = '2026-09-01T00:00:00.000Z';
    const to = '2026-10-01T00:00:00.000Z';
    const run = await drain(stream(connect(sim, { pageSize: 200 }), 'Contact'), sim, { window: { from, to } });
    const expected = sim.tables.Contact.rows.filter((r) => r.ms.SystemModstamp! >= Date.parse(from) && r.ms.SystemModstamp! < Date.parse(to)).map((r) => r.Id).sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(run.records.map(idOf).sort(), expected);
    await assert.rejects(
      stream(connect(sim), 'Contact').readPage({ state: null, window: { from: '2026-01-01T00:00:00Z', to: '2026-06-01T00:00:00Z' }, runStartedAt: to, signal: AbortSignal.timeout(5_000), knownValues: async () => [] }),
      /longer than 30 days/,
    );
  });
});

describe('Salesforce resilience', () => {
  test('crash/resume: a new connector resumes from a page state and re-reads at most the page in flight', async () => {
    const sim = await startSim();
    const settings = { useBulk: false, pageSize: 200 };
    const all = sim.tables.Contact.rows.length;
    const pagesTotal = Math.ceil(all / 200);
    const s1 = stream(connect(sim, settings), 'Contact');
    const runStartedAt = sim.clock.date().toISOString();
    const read = (s: SourceStream, state: StreamState | null) => s.readPage({ state, runStartedAt, signal: AbortSignal.timeout(10_000), knownValues: async () => [] });
    const p1 = await read(s1, null);
    const p2 = await read(s1, p1.state);
    await read(s1, p2.state); // page 3 is fetched, then the worker dies before storing it
    const s2 = stream(connect(sim, settings), 'Contact');
    const ids = new Set([...p1.records, ...p2.records].map(idOf));
    let state = p2.state;
    for (;;) {
      const page = await read(s2, state);
      for (const r of page.records) ids.add(idOf(r));
      state = page.state;
      if (page.complete) break;
    }
    assert.equal(ids.size, all);
    const queries = (sim.stats().byRoute['/services/data/v62.0/queryAll'] ?? 0) + (sim.stats().byRoute['/services/data/v62.0/queryAll/{locator}'] ?? 0);
    assert.equal(queries, pagesTotal + 1);
  });

  test('401 INVALID_SESSION_ID mid-run: a new token, the call retried, the run completes', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/queryAll/', action: { kind: 'vendor', code: 'INVALID_SESSION_ID' }, nth: 2, times: 1 });
    const run = await drain(stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact'), sim);
    assert.equal(new Set(run.records.map(idOf)).size, sim.tables.Contact.rows.length);
    assert.equal(sim.stats().byRoute['/services/oauth2/token'], 2);
    assert.equal(sim.stats().byStatus['401'], 1);
  });

  test('a session that idles out on the sim clock is renewed', async () => {
    const sim = await startSim({ sessionTimeoutMs: 60_000 });
    const c = connect(sim, { useBulk: false });
    await drain(stream(c, 'Campaign'), sim);
    sim.clock.advance(120_000);
    const again = await drain(stream(c, 'Campaign'), sim);
    assert.equal(again.records.length, sim.tables.Campaign.rows.length);
    assert.equal(sim.stats().byRoute['/services/oauth2/token'], 2);
  });

  test('bad credentials or a refused fresh token → SourceAuthFailed naming the org, secret never shown', async () => {
    const sim = await startSim();
    const bad = connect(sim, {}, { clientId: CREDENTIALS.clientId, clientSecret: 'wrong-secret-xyz' });
    await assert.rejects(bad.verify(AbortSignal.timeout(5_000)), (err: Error) => {
      assert.ok(err instanceof SourceAuthFailed);
      assert.match(err.message, new RegExp(sim.instanceId));
      assert.match(err.message, /invalid_client/);
      assert.doesNotMatch(err.message, /wrong-secret-xyz/);
      return true;
    });
    sim.faults.add({ path: '/queryAll', action: { kind: 'vendor', code: 'INVALID_SESSION_ID' } });
    await assert.rejects(drain(stream(connect(sim, { useBulk: false }), 'Account'), sim), SourceAuthFailed);
    await connect(sim).verify(AbortSignal.timeout(5_000));
  });

  test('503 and 500 (with and without JSON bodies) are retried; persistent 503 → SourceUnavailable', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/queryAll', action: { kind: 'http', status: 503, body: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'down' }] }, nth: 1, times: 1 });
    sim.faults.add({ path: '/queryAll', action: { kind: 'http', status: 503 }, nth: 2, times: 1 });
    sim.faults.add({ path: '/queryAll', action: { kind: 'http', status: 500, body: 'Internal Server Error' }, nth: 3, times: 1 });
    const run = await drain(stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact'), sim);
    assert.equal(new Set(run.records.map(idOf)).size, sim.tables.Contact.rows.length);
    assert.equal(sim.stats().byStatus['503'], 2);
    assert.equal(sim.stats().byStatus['500'], 1);

    sim.faults.add({ path: '/queryAll', action: { kind: 'http', status: 503 } });
    await assert.rejects(drain(stream(connect(sim, { useBulk: false }), 'Account'), sim), SourceUnavailable);
  });

  test('403 REQUEST_LIMIT_EXCEEDED for concurrent long requests is retried; the daily variant is not', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/queryAll', action: { kind: 'vendor', code: 'REQUEST_LIMIT_EXCEEDED' }, times: 2 });
    const run = await drain(stream(connect(sim, { useBulk: false }), 'Campaign'), sim);
    assert.equal(run.records.length, sim.tables.Campaign.rows.length);
    assert.equal(sim.stats().byStatus['403'], 2);
    sim.faults.add({ path: '/queryAll', action: { kind: 'vendor', code: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' } });
    await assert.rejects(drain(stream(connect(sim, { useBulk: false }), 'Campaign'), sim), SourceQuotaExhausted);
    assert.equal(sim.stats().byStatus['403'], 3);
  });

  test('a stale cursor (INVALID_QUERY_LOCATOR) restarts the query at the last stored stamp: nothing skipped, nothing from scratch', async () => {
    const sim = await startSim();
    const s = stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact');
    const runStartedAt = sim.clock.date().toISOString();
    const read = (state: StreamState | null) => s.readPage({ state, runStartedAt, signal: AbortSignal.timeout(10_000), knownValues: async () => [] });
    const p1 = await read(null);
    const p2 = await read(p1.state);
    const last = (p2.state as { last: { stamp: string } }).last.stamp;
    sim.clock.advance(16 * 60_000); // the cursor idles out
    const ids = new Set([...p1.records, ...p2.records].map(idOf));
    const notices: string[] = [];
    let state = p2.state;
    for (;;) {
      const page = await read(state);
      notices.push(...(page.notices ?? []));
      for (const r of page.records) ids.add(idOf(r));
      state = page.state;
      if (page.complete) break;
    }
    assert.equal(ids.size, sim.tables.Contact.rows.length);
    assert.ok(notices.some((n) => /INVALID_QUERY_LOCATOR/.test(n)));
    const restart = sim.stats().byStatus['400'];
    assert.equal(restart, 1);
    const queries = (await (await fetch(`${sim.url}/__sim/requests`)).json()) as Array<{ path: string; query: string }>;
    const restarted = queries.filter((q) => q.path.endsWith('/queryAll')).map((q) => decodeURIComponent(q.query.replace(/\+/g, ' ')));
    assert.equal(restarted.length, 2);
    assert.match(restarted[1]!, new RegExp(`SystemModstamp >= ${last.slice(0, 19)}Z AND`));
  });

  test('a truncated bulk chunk is fetched again; a chunk that is always cut fails with SourceIncompleteRead', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/results$', action: { kind: 'truncate', afterBytes: 700 }, nth: 2, times: 1 });
    const run = await drain(stream(connect(sim, { bulkThreshold: 1, bulkMaxRecords: 300 }), 'Contact'), sim);
    assert.equal(run.records.length, sim.tables.Contact.rows.length);
    assert.equal(sim.stats().byRoute['/services/data/v62.0/jobs/query/{id}/results'], Math.ceil(sim.tables.Contact.rows.length / 300) + 1);

    sim.faults.add({ path: '/results$', action: { kind: 'truncate', afterBytes: 700 } });
    await assert.rejects(drain(stream(connect(sim, { bulkThreshold: 1, bulkMaxRecords: 300 }), 'Lead'), sim), SourceIncompleteRead);
  });

  test('a truncated REST page is fetched again', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/queryAll/', action: { kind: 'truncate', afterBytes: 1_000 }, times: 1 });
    const run = await drain(stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact'), sim);
    assert.equal(new Set(run.records.map(idOf)).size, sim.tables.Contact.rows.length);
    assert.equal(sim.faults.list()[0]!.fired, 1);
    const pages = Math.ceil(sim.tables.Contact.rows.length / 200);
    assert.equal(sim.stats().byRoute['/services/data/v62.0/queryAll/{locator}'], pages - 1 + 1);
  });

  test('malformed rows are unmappable with their key and reason; the rest of the page goes on (REST and bulk)', async () => {
    const sim = await startSim();
    sim.faults.add({ path: '/queryAll', action: { kind: 'data', name: 'malformed-row' }, nth: 5, times: 1 });
    const run = await drain(stream(connect(sim, { useBulk: false, pageSize: 200 }), 'Contact'), sim);
    assert.equal(run.unmappable.length, 1);
    assert.equal(run.records.length, sim.tables.Contact.rows.length - 1);
    const bad = run.unmappable[0]!;
    assert.equal(bad.xdmClass, 'person');
    assert.match(bad.reason, /Email 'not an email'/);
    assert.equal(bad.sourceKey, `${sim.tables.Contact.rows.length && (bad.raw as { Id: string }).Id}@${sim.instanceId}.Salesforce`);

    sim.faults.add({ path: '/results$', action: { kind: 'data', name: 'malformed-row' }, nth: 3, times: 1 });
    const bulk = await drain(stream(connect(sim, { bulkThreshold: 1 }), 'Account'), sim);
    assert.equal(bulk.unmappable.length, 1);
    assert.match(bulk.unmappable[0]!.reason, /CreatedDate/);
    assert.equal(bulk.records.length + bulk.unmappable.length, bulk.expectedRecords);
  });

  test('the connector stops at the configured share of the daily API cap (SourceQuotaExhausted), before the org runs out', async () => {
    const sim = await startSim({ dailyApiLimit: 20 });
    await assert.rejects(drain(stream(connect(sim, { useBulk: false, pageSize: 200, quotaStopPercent: 15 }), 'Contact'), sim), SourceQuotaExhausted);
    assert.equal(sim.apiUsage().used, 3);

    // Another client used the org's allocation up: the API answers 403 REQUEST_LIMIT_EXCEEDED (TotalRequests).
    const exhausted = await startSim({ dailyApiLimit: 2 });
    const other = connect(exhausted, { quotaStopPercent: 100 });
    await other.verify(AbortSignal.timeout(5_000));
    await other.verify(AbortSignal.timeout(5_000));
    await assert.rejects(drain(stream(connect(exhausted, { useBulk: false, pageSize: 200, quotaStopPercent: 100 }), 'Contact'), exhausted), (err: Error) => {
      assert.ok(err instanceof SourceQuotaExhausted);
      assert.match(err.message, /TotalRequests/);
      return true;
    });
  });
});

describe('Salesforce deletes the recycle bin no longer holds (sObject Get Deleted)', () => {
  interface LoggedCall {
    path: string;
    query: string;
    status: number;
  }
  const requestLog = async (sim: SalesforceSimulator) => (await (await fetch(`${sim.url}/__sim/requests`)).json()) as LoggedCall[];
  /** The Get Deleted calls the simulator answered: object, start, end (ms), status. */
  async function getDeletedCalls(sim: SalesforceSimulator) {
    return (await requestLog(sim))
      .filter((e) => /\/sobjects\/[A-Za-z]+\/deleted\/?$/.test(e.path))
      .map((e) => {
        const q = new URLSearchParams(e.query.replace(/^\?/, ''));
        return { object: e.path.split('/')[5]!, start: Date.parse(q.get('start')!), end: Date.parse(q.get('end')!), status: e.status };
      });
  }
  /** The `Id IN (…)` lookups the connector made. */
  async function lookups(sim: SalesforceSimulator) {
    return (await requestLog(sim)).filter((e) => e.path.endsWith('/queryAll') && / IN \(/.test(new URLSearchParams(e.query.replace(/^\?/, '')).get('q') ?? ''));
  }
  /** A key-only deletion marker (the class's tombstone shape), as opposed to a full record. */
  const isMarker = (r: { xdmClass: XdmClassName; record: Record<string, unknown> }) => XDM_CLASSES[r.xdmClass].tombstoneSchema!.safeParse(r.record).success;
  const markerId = (r: { xdmClass: XdmClassName; record: Record<string, unknown> }) => {
    const spec = XDM_CLASSES[r.xdmClass];
    return spec.recordKey(spec.tombstoneSchema!.parse(r.record)).sourceID!;
  };
  const deletedAt = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}.000+00:00`;

  test('a record purged from the recycle bin becomes a deletion marker dated by its delete; one still in the bin is left to queryAll', async () => {
    const sim = await startSim();
    const s = stream(connect(sim, { useBulk: false, objects: ['Contact'] }), 'Contact');
    const first = await drain(s, sim);
    assert.equal(first.records.filter(isMarker).length, 0);
    sim.clock.advance(60_000);
    sim.mutate({ delete: 3, seed: 5 });
    const softDeleted = sim.tables.Contact.rows.filter((r) => r.values.IsDeleted === true);
    assert.equal(softDeleted.length, 3);
    const deletedMs = new Map(softDeleted.map((r) => [r.Id, r.ms.SystemModstamp!]));
    const purged = sim.emptyRecycleBin({ object: 'Contact', ids: softDeleted.slice(0, 2).map((r) => r.Id) });
    assert.equal(purged.length, 2);
    const inBin = softDeleted[2]!.Id;
    sim.clock.advance(60_000); // Salesforce ignores seconds: a delete is listed once its minute is over

    const second = await drain(s, sim, { state: first.state });
    const markers = second.records.filter(isMarker);
    assert.deepEqual(markers.map(markerId).sort(), [...purged].sort());
    for (const m of markers) {
      const id = markerId(m);
      assert.deepEqual(m, {
        xdmClass: 'person',
        record: { b2b: { personKey: { sourceType: 'Salesforce', sourceInstanceID: sim.instanceId, sourceID: id, sourceKey: `${id}@${sim.instanceId}.Salesforce` } }, isDeleted: true, extSourceSystemAudit: { lastUpdatedDate: deletedAt(deletedMs.get(id)!) } },
      });
      // The ingestion path stores it as a delete of that key, dated by the delete.
      const outcome = validateRecord(XDM_CLASSES.person, m.record, JSON.stringify(m.record), { position: 0, receivedAt: new Date() });
      assert.equal(outcome.kind, 'accepted');
      if (outcome.kind === 'accepted') {
        assert.equal(outcome.value.isDeleted, true);
        assert.equal(outcome.value.sourceUpdatedAt?.getTime(), deletedMs.get(id));
      }
    }
    // The delete still in the recycle bin arrives once: the full row queryAll read, flagged.
    const binRows = second.records.filter((r) => !isMarker(r) && idOf(r) === inBin);
    assert.equal(binRows.length, 1);
    assert.equal(binRows[0]!.record.isDeleted, true);
    assert.ok(!markers.some((m) => markerId(m) === inBin));
  });

  test('a hard-deleted record (Bulk API hardDelete, never in the recycle bin) becomes a deletion marker', async () => {
    const sim = await startSim();
    const c = connect(sim, { useBulk: false, objects: ['Account', 'Opportunity'] });
    const before = new Map<string, Drained>();
    for (const name of ['Account', 'Opportunity']) before.set(name, await drain(stream(c, name), sim));
    sim.clock.advance(60_000);
    const gone = { Account: sim.hardDelete({ object: 'Account', count: 2, seed: 3 }), Opportunity: sim.hardDelete({ object: 'Opportunity', count: 1, seed: 4 }) };
    const all = [...gone.Account, ...gone.Opportunity];
    for (const id of all) assert.ok(![...sim.tables.Account.rows, ...sim.tables.Opportunity.rows].some((r) => r.Id === id), 'gone from the tables');
    sim.clock.advance(60_000);
    for (const name of ['Account', 'Opportunity'] as const) {
      const run = await drain(stream(c, name), sim, { state: before.get(name)!.state });
      assert.deepEqual(run.records.filter(isMarker).map(markerId).sort(), [...gone[name]].sort(), name);
      assert.ok(!run.records.some((r) => !isMarker(r) && gone[name].includes(idOf(r))), `${name}: queryAll no longer returns them`);
      for (const m of run.records.filter(isMarker)) assert.equal(m.record[name === 'Account' ? 'accountID' : 'opportunityID'], markerId(m));
    }
  });

  test('the deleted watermark is latestDateCovered (not the run end), and the next run starts there minus the overlap', async () => {
    const sim = await startSim({ replicationLagMs: 10 * 60_000 });
    const s = stream(connect(sim, { useBulk: false, objects: ['Lead'] }), 'Lead');
    const first = await drain(s, sim);
    assert.equal((first.state as { deleted: string }).deleted, minuteOf(first.runStartedAt));

    sim.clock.advance(30 * 60_000);
    sim.faults.add({ path: '/Lead/deleted', action: { kind: 'data', name: 'replication-lag' }, times: 1 });
    const second = await drain(s, sim, { state: first.state });
    const covered = (second.state as { deleted: string }).deleted;
    assert.equal(covered, minuteOf(Date.parse(second.runStartedAt) - 10 * 60_000), 'a long transaction holds latestDateCovered back');

    sim.clock.advance(30 * 60_000);
    sim.hardDelete({ object: 'Lead', count: 1, seed: 8 });
    sim.clock.advance(60_000);
    const third = await drain(s, sim, { state: second.state });
    assert.equal(third.records.filter(isMarker).length, 1);
    const calls = await getDeletedCalls(sim);
    assert.equal(calls.length, 3);
    assert.equal(calls[1]!.start, Date.parse(first.state.deleted as string) - 5 * 60_000);
    assert.equal(calls[2]!.start, Date.parse(covered) - 5 * 60_000, 'the next read starts from latestDateCovered − overlap');
    assert.equal(calls[2]!.end, Date.parse(minuteOf(third.runStartedAt)), 'and ends at the run high-water mark');
    assert.equal((third.state as { deleted: string }).deleted, minuteOf(third.runStartedAt));
  });

  test('a deleted watermark older than the 15 days Salesforce keeps: a notice, and the read starts at the earliest date allowed', async () => {
    const sim = await startSim();
    const s = stream(connect(sim, { useBulk: false, objects: ['Campaign'] }), 'Campaign');
    const first = await drain(s, sim);
    assert.match(first.notices.join(' '), /Campaign: purged and hard-deleted records are read from .* \(Salesforce keeps 15 days\)/);
    sim.clock.advance(20 * 86_400_000);
    const gone = sim.hardDelete({ object: 'Campaign', count: 1, seed: 2 });
    sim.clock.advance(60_000);
    const second = await drain(s, sim, { state: first.state });
    assert.match(second.notices.join(' '), /Campaign: deletes were last read up to .*, more than 15 days ago: records purged or hard-deleted before .* may not be marked deleted/);
    assert.deepEqual(second.records.filter(isMarker).map(markerId), gone);
    const calls = await getDeletedCalls(sim);
    assert.ok(calls.every((c) => c.status === 200), JSON.stringify(calls));
    const now = sim.clock.now();
    const start = calls[calls.length - 1]!.start;
    assert.ok(start >= now - 15 * 86_400_000 && start <= now - 15 * 86_400_000 + 10 * 60_000, `start ${new Date(start).toISOString()} is clamped to 15 days back`);
  });

  test('crash/resume in the deletes phase re-reads at most the page in flight', async () => {
    const sim = await startSim();
    const settings = { useBulk: false, pageSize: 200, objects: ['Contact'] };
    const first = await drain(stream(connect(sim, settings), 'Contact'), sim);
    sim.clock.advance(60_000);
    const gone = sim.hardDelete({ object: 'Contact', count: 450, seed: 6 });
    assert.equal(gone.length, 450);
    sim.clock.advance(60_000);
    const runStartedAt = sim.clock.date().toISOString();
    const read = (s: SourceStream, state: StreamState | null) => s.readPage({ state, runStartedAt, signal: AbortSignal.timeout(10_000), knownValues: async () => [] });
    const s1 = stream(connect(sim, settings), 'Contact');
    const queryDone = await read(s1, first.state); // nothing changed by SystemModstamp: the query is done, the deletes phase next
    assert.equal(queryDone.complete, false);
    assert.equal(queryDone.records.length, 0);
    const d1 = await read(s1, queryDone.state);
    await read(s1, d1.state); // page 2 of the delete log is read, then the worker dies before storing it
    const s2 = stream(connect(sim, settings), 'Contact');
    const markers = [...d1.records];
    let state = d1.state;
    let pages = 1;
    for (;;) {
      const page = await read(s2, state);
      markers.push(...page.records);
      state = page.state;
      pages++;
      if (page.complete) break;
    }
    assert.equal(pages, 3);
    assert.deepEqual(markers.map(markerId).sort(), [...gone].sort());
    assert.equal(new Set(markers.map(markerId)).size, 450, 'no marker twice');
    // The first load's call, then clean 3 Get Deleted calls and 2 + 2 + 1 lookups (150 ids each).
    // The crash re-read one page: one call, two lookups.
    assert.equal((await getDeletedCalls(sim)).length, 1 + 3 + 1);
    assert.equal((await lookups(sim)).length, 5 + 2);
    assert.equal((state as { deleted: string }).deleted, minuteOf(runStartedAt));
  });

  test('an object that is not replicateable: a notice, and Get Deleted is never called', async () => {
    const sim = await startSim({ nonReplicateable: ['CampaignMember'] });
    const run = await drain(stream(connect(sim, { useBulk: false }), 'CampaignMember'), sim);
    assert.equal(run.records.length, sim.tables.CampaignMember.rows.length);
    assert.match(run.notices.join(' '), /CampaignMember is not replicateable: records purged from the recycle bin or hard-deleted are not seen/);
    assert.deepEqual(await getDeletedCalls(sim), []);
    assert.equal((run.state as { deleted: string | null }).deleted, null);
  });

  test('a delete log Salesforce purged (INVALID_REPLICATION_DATE): the start moves forward by halves, the run completes and says what may be missed', async () => {
    const sim = await startSim({ deleteLogLimit: 5 });
    const s = stream(connect(sim, { useBulk: false, objects: ['Contact'] }), 'Contact');
    const first = await drain(s, sim);
    sim.clock.advance(60_000);
    sim.hardDelete({ object: 'Contact', count: 10, seed: 1 });
    sim.clock.advance(3 * 3_600_000); // older than two hours: the background purge may drop them
    const recent = sim.hardDelete({ object: 'Contact', count: 2, seed: 2 });
    sim.clock.advance(60_000);
    const second = await drain(s, sim, { state: first.state });
    assert.ok(second.pages[second.pages.length - 1]!.complete);
    assert.match(second.notices.join(' '), /Contact: Salesforce refused the deletes from .* \(.*INVALID_REPLICATION_DATE.*\); records purged or hard-deleted between .* and .* may not be marked deleted/);
    const marked = new Set(second.records.filter(isMarker).map(markerId));
    for (const id of recent) assert.ok(marked.has(id), `the recent hard delete ${id} is marked`);
    const calls = await getDeletedCalls(sim);
    assert.ok(calls.some((c) => c.status === 400) && calls[calls.length - 1]!.status === 200);
  });

  test('EXCEEDED_ID_LIMIT: the window is halved and the rest read after it', async () => {
    const sim = await startSim();
    const s = stream(connect(sim, { useBulk: false, objects: ['Lead'] }), 'Lead');
    const first = await drain(s, sim);
    sim.clock.advance(60 * 60_000);
    const gone = sim.hardDelete({ object: 'Lead', count: 4, seed: 7 });
    sim.clock.advance(60 * 60_000);
    sim.faults.add({ path: '/Lead/deleted', action: { kind: 'vendor', code: 'EXCEEDED_ID_LIMIT', message: 'record limit reached. narrow your start and end dates' }, nth: 1, times: 1 });
    const second = await drain(s, sim, { state: first.state });
    assert.deepEqual(second.records.filter(isMarker).map(markerId).sort(), [...gone].sort());
    const calls = await getDeletedCalls(sim);
    const [refused, half, rest] = calls.slice(-3);
    assert.equal(refused!.status, 400);
    assert.equal(half!.start, refused!.start);
    assert.ok(half!.end < refused!.end);
    assert.equal(rest!.start, half!.end);
    assert.equal(rest!.end, refused!.end);
  });

  test('a backfill reads the delete log for its window while Salesforce still keeps it, and says so when it does not', async () => {
    const sim = await startSim();
    const c = connect(sim, { useBulk: false, objects: ['Contact'] });
    sim.clock.advance(60_000);
    const gone = sim.hardDelete({ object: 'Contact', count: 3, seed: 4 });
    sim.clock.advance(60_000);
    const now = sim.clock.now();
    const recent = await drain(stream(c, 'Contact'), sim, { window: { from: new Date(now - 2 * 86_400_000).toISOString(), to: new Date(now).toISOString() } });
    assert.deepEqual(recent.records.filter(isMarker).map(markerId).sort(), [...gone].sort());
    const callsBefore = (await getDeletedCalls(sim)).length;
    const old = await drain(stream(c, 'Contact'), sim, { window: { from: '2026-09-01T00:00:00.000Z', to: '2026-10-01T00:00:00.000Z' } });
    assert.equal(old.records.filter(isMarker).length, 0);
    assert.match(old.notices.join(' '), /Salesforce reports deletes of the last 15 days only: records purged or hard-deleted in this window are not marked deleted/);
    assert.equal((await getDeletedCalls(sim)).length, callsBefore, 'no call for a window Salesforce no longer answers');
  });
});

describe('Salesforce simulator strictness', () => {
  async function token(sim: SalesforceSimulator): Promise<string> {
    const res = await fetch(`${sim.url}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CREDENTIALS.clientId, client_secret: CREDENTIALS.clientSecret }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.expires_in, undefined);
    return body.access_token as string;
  }

  test('SOQL: unknown fields, unsupported syntax and mistyped literals are refused; query hides deleted rows, queryAll shows them', async () => {
    const sim = await startSim();
    const t = await token(sim);
    const q = async (soql: string, endpoint = 'query') => {
      const res = await fetch(`${sim.url}/services/data/v62.0/${endpoint}?q=${encodeURIComponent(soql)}`, { headers: { authorization: `Bearer ${t}` } });
      return { status: res.status, body: (await res.json()) as any, limit: res.headers.get('sforce-limit-info') };
    };
    const unknown = await q('SELECT Id, Nickname__x FROM Contact');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body[0].errorCode, 'INVALID_FIELD');
    assert.equal((await q('SELECT Id FROM Contact WHERE IsDeleted = false OR Id = null')).body[0].errorCode, 'MALFORMED_QUERY');
    assert.equal((await q("SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01T00:00:00Z'")).body[0].errorCode, 'INVALID_FIELD');
    assert.equal((await q('SELECT Id FROM Contact OFFSET 5')).body[0].errorCode, 'MALFORMED_QUERY');
    assert.equal((await q('SELECT Id FROM Nope__c')).body[0].errorCode, 'INVALID_TYPE');
    const limited = await q('SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp > 2026-01-01T00:00:00.000+00:00 ORDER BY SystemModstamp DESC, Id LIMIT 3');
    assert.equal(limited.status, 200);
    assert.equal(limited.body.records.length, 3);
    assert.match(limited.body.records[0].SystemModstamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.match(limited.limit!, /^api-usage=\d+\/100000$/);
    sim.mutate({ delete: 1, seed: 4 });
    const live = await q('SELECT COUNT() FROM Campaign');
    const all = await q('SELECT COUNT() FROM Campaign', 'queryAll');
    assert.equal(all.body.totalSize - live.body.totalSize, 1);
    assert.equal((await q('SELECT COUNT() FROM Campaign WHERE IsDeleted = true', 'queryAll')).body.totalSize, 1);
    const res = await fetch(`${sim.url}/services/data/v62.0/query?q=${encodeURIComponent('SELECT Id FROM Account')}`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as any)[0].errorCode, 'INVALID_SESSION_ID');
  });

  test('replication API: updated and deleted ids by minute, with the 30 / 15 day limits', async () => {
    const sim = await startSim();
    const t = await token(sim);
    sim.clock.advance(120_000);
    sim.mutate({ update: 2, delete: 1, seed: 9 });
    sim.clock.advance(120_000);
    const now = sim.clock.now();
    const get = async (kind: string, start: number, end: number) => {
      const res = await fetch(
        `${sim.url}/services/data/v62.0/sobjects/Account/${kind}/?start=${encodeURIComponent(new Date(start).toISOString())}&end=${encodeURIComponent(new Date(end).toISOString())}`,
        { headers: { authorization: `Bearer ${t}` } },
      );
      return { status: res.status, body: (await res.json()) as any };
    };
    const updated = await get('updated', now - 10 * 60_000, now);
    assert.equal(updated.body.ids.length, 2);
    assert.match(updated.body.latestDateCovered, /:00\.000\+0000$/);
    const deleted = await get('deleted', now - 10 * 60_000, now);
    assert.deepEqual(deleted.body.deletedRecords.map((d: { id: string }) => d.id), sim.tables.Account.rows.filter((r) => r.values.IsDeleted).map((r) => r.Id));
    assert.equal((await get('updated', now - 31 * 86_400_000, now)).body[0].errorCode, 'INVALID_REPLICATION_DATE');
    assert.equal((await get('deleted', now - 16 * 86_400_000, now)).body[0].errorCode, 'INVALID_REPLICATION_DATE');
  });

  test('Get Deleted: a soft delete is in queryAll and the log; a purge or hard delete leaves the log only; the one-minute rule; controls over HTTP', async () => {
    const sim = await startSim();
    const t = await token(sim);
    const auth = { authorization: `Bearer ${t}` };
    const deleted = async (start: number, end: number, bearer = t) => {
      const res = await fetch(
        `${sim.url}/services/data/v62.0/sobjects/Account/deleted/?start=${encodeURIComponent(new Date(start).toISOString())}&end=${encodeURIComponent(new Date(end).toISOString())}`,
        { headers: { authorization: `Bearer ${bearer}` } },
      );
      return { status: res.status, body: (await res.json()) as any };
    };
    const queryAll = async (soql: string) => (await (await fetch(`${sim.url}/services/data/v62.0/queryAll?q=${encodeURIComponent(soql)}`, { headers: auth })).json()) as any;
    const control = async (name: string, body: unknown) =>
      (await (await fetch(`${sim.url}/__sim/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { removed: string[] };

    sim.clock.advance(60_000);
    sim.mutate({ delete: 1, seed: 12 });
    const soft = sim.tables.Account.rows.find((r) => r.values.IsDeleted === true)!.Id;
    const { removed: [hard] } = await control('hardDelete', { object: 'Account', count: 1, seed: 2 });
    sim.clock.advance(120_000);
    const now = sim.clock.now();
    const both = `SELECT Id, IsDeleted FROM Account WHERE Id IN ('${soft}', '${hard}')`;
    assert.deepEqual((await queryAll(both)).records.map((r: any) => [r.Id, r.IsDeleted]), [[soft, true]]);

    const listed = await deleted(now - 10 * 60_000, now);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.deletedRecords.map((d: { id: string }) => d.id).sort(), [soft, hard!].sort());
    for (const d of listed.body.deletedRecords) assert.match(d.deletedDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/);
    assert.equal(Date.parse(listed.body.latestDateCovered.replace('+0000', 'Z')), Math.floor(now / 60_000) * 60_000);
    assert.ok(Date.parse(listed.body.earliestDateAvailable.replace('+0000', 'Z')) < now - 15 * 86_400_000);

    assert.deepEqual((await control('emptyRecycleBin', { object: 'Account' })).removed, [soft]);
    assert.equal((await queryAll(both)).totalSize, 0, 'purged: gone from queryAll');
    assert.equal((await deleted(now - 10 * 60_000, now)).body.deletedRecords.length, 2, 'still in the delete log');

    const minute = Math.floor(now / 60_000) * 60_000;
    assert.equal((await deleted(minute - 60_000, minute + 30_000)).body[0].errorCode, 'INVALID_REPLICATION_DATE', 'start must precede end by more than a minute');
    assert.equal((await deleted(now - 10 * 60_000, now, 'nope')).status, 401);
    const described = (await (await fetch(`${sim.url}/services/data/v62.0/sobjects/Account/describe`, { headers: auth })).json()) as { replicateable: boolean };
    assert.equal(described.replicateable, true);
    const many = Array.from({ length: 220 }, (_, i) => `'001${String(i).padStart(15, '0')}'`).join(',');
    assert.equal((await queryAll(`SELECT Id FROM Account WHERE Id IN (${many})`))[0].errorCode, 'MALFORMED_QUERY', 'an IN list over 4,000 characters');
  });

  test('bulk results must be read with the job API version, and not before the job completes', async () => {
    const sim = await startSim();
    const t = await token(sim);
    const headers = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
    const created = (await (
      await fetch(`${sim.url}/services/data/v62.0/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: 'SELECT Id, Name FROM Account' }) })
    ).json()) as { id: string; state: string };
    assert.equal(created.state, 'UploadComplete');
    const early = await fetch(`${sim.url}/services/data/v62.0/jobs/query/${created.id}/results`, { headers });
    assert.ok(early.status >= 400 && early.status < 500);
    sim.clock.advance(10_000);
    assert.equal((await fetch(`${sim.url}/services/data/v61.0/jobs/query/${created.id}/results`, { headers })).status, 409);
    const ok = await fetch(`${sim.url}/services/data/v62.0/jobs/query/${created.id}/results?maxRecords=1000`, { headers });
    assert.equal(ok.headers.get('sforce-locator'), 'null');
    assert.equal(Number(ok.headers.get('sforce-numberofrecords')), sim.tables.Account.rows.length);
    const unknownField = await fetch(`${sim.url}/services/data/v62.0/jobs/query`, { method: 'POST', headers, body: JSON.stringify({ operation: 'query', query: 'SELECT Id FROM Account', extra: 1 }) });
    assert.equal(unknownField.status, 400);
  });
});

describe('Salesforce org features', () => {
  test('an org without multi-currency, Data.com or contacts-to-multiple-accounts: fields and objects it lacks are reported, the rest is read', async () => {
    const sim = await startSim({ omitObjects: ['AccountContactRelation'], omitFields: ['CurrencyIsoCode', 'DunsNumber'] });
    try {
      const c = connect(sim, { useBulk: false });
      const loads = await fullLoad(c, sim);
      assert.deepEqual(countByClass(loads), Object.fromEntries(Object.entries(sim.groundTruth()).filter(([, n]) => n)));
      const acr = loads.get('AccountContactRelation')!;
      assert.equal(acr.records.length, 0);
      assert.match(acr.notices.join(' '), /AccountContactRelation does not exist in this org/);
      assert.match(loads.get('Account')!.notices.join(' '), /fields not in this org, not synced: .*DunsNumber/);
      assert.match(loads.get('Opportunity')!.notices.join(' '), /CurrencyIsoCode/);
      for (const d of loads.values()) for (const r of d.records) XDM_CLASSES[r.xdmClass].schema.parse(r.record);
      const queries = sim.stats().byRoute;
      assert.ok(!Object.keys(queries).some((r) => r.includes('AccountContactRelation') && r.includes('query')), 'the missing object is never queried');
    } finally {
      await sim.stop();
    }
  });
});
