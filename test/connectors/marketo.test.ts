/**
 * The Marketo connector against the Marketo simulator: full load = ground truth, incremental,
 * backfill, crash/resume, token expiry, rate/concurrency limits, bulk job queue and quota,
 * truncated/short/malformed files, bad credentials, identity by query parameters, key-only reads
 * (changed keys plus a rotating slice), native CRM sync, reconciliation listings, named-account
 * domains with www., program-member exports several at a time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorld, type World } from '../../simulators/world/world';
import { startMarketoSimulator, type MarketoSimulator, type MarketoSimulatorOptions } from '../../simulators/marketo';
import { listAllIds, MemoryStore, runStream } from '../../simulators/marketo/harness';
import { marketoConnector } from '../../connectors/sources/marketo';
import type { RequestGate, SourceConnector, StreamState } from '../../connectors/sources/source-connector';
import { SourceAuthFailed, SourceIncompleteRead, SourceRequestRejected } from '../../connectors/sources/errors';

const CREDS = { clientId: 'tessera-client', clientSecret: 's3cret' };
const ORG = '00D5e0000000TessEAA';
const STREAM_ORDER = ['leads', 'activities', 'program-members', 'programs', 'static-lists', 'list-members', 'companies', 'named-accounts', 'opportunity-roles', 'opportunities'];
const world: World = buildWorld({ people: 400, accounts: 50, seed: 7 });
const passThrough: RequestGate = (call) => call();

async function sim(extra: Partial<MarketoSimulatorOptions> = {}): Promise<MarketoSimulator> {
  return startMarketoSimulator({ world, credentials: CREDS, salesforceOrgId: ORG, seed: 3, ...extra });
}

function connect(s: MarketoSimulator, settings: Record<string, unknown> = {}, gate: RequestGate = passThrough, creds = CREDS): SourceConnector {
  return marketoConnector.create({
    instance: { sourceType: 'marketo', instanceId: s.instanceId, endpoint: s.url, settings: { ...s.suggestedSettings, baseDelayMs: 1, maxDelayMs: 5, rateLimitWaitMs: 5, ...settings } },
    credentials: creds,
    gate,
    log: { info() {}, warn() {} },
  });
}

async function fullSync(s: MarketoSimulator, c: SourceConnector, store: MemoryStore, runStartedAt = s.clock.date().toISOString()) {
  const states: Record<string, Record<string, unknown>> = {};
  for (const name of STREAM_ORDER) {
    const r = await runStream(c, name, { runStartedAt, store, clock: s.clock });
    assert.ok(r.complete, `${name} completed`);
    states[name] = r.state;
  }
  return states;
}

type LoggedRequest = { method: string; path: string; query: string; status: number };
const requestLog = async (s: MarketoSimulator): Promise<LoggedRequest[]> => (await (await fetch(`${s.url}/__sim/requests`)).json()) as LoggedRequest[];
/** The filterValues of each call to `path` among `log`, in order. */
const filterCalls = (log: LoggedRequest[], path: string): string[][] =>
  log.filter((r) => r.path === path).map((r) => (new URLSearchParams(r.query.replace(/^\?/, '')).get('filterValues') ?? '').split(',').filter(Boolean));
const nonZero = (o: Partial<Record<string, number>>) => Object.fromEntries(Object.entries(o).filter(([, n]) => n));

/**
 * An in-memory gate of the connector's request budget on the simulator clock; when the window is
 * full it lets simulated time pass (advancing the clock) instead of sleeping.
 */
function budgetGate(s: MarketoSimulator): RequestGate {
  const { maxCalls, windowMs, maxInFlight } = marketoConnector.budget;
  const starts: number[] = [];
  let inFlight = 0;
  const waiting: Array<() => void> = [];
  return async (call) => {
    while (inFlight >= maxInFlight) await new Promise<void>((r) => waiting.push(r));
    inFlight++;
    for (;;) {
      const now = s.clock.now();
      while (starts.length && starts[0]! <= now - windowMs) starts.shift();
      if (starts.length < maxCalls) break;
      s.clock.advance(starts[0]! + windowMs - now + 1);
    }
    starts.push(s.clock.now());
    try {
      return await call();
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  };
}

const fileRequests = (s: MarketoSimulator) => Object.entries(s.stats().byRoute).filter(([k]) => k.endsWith('/file.json')).reduce((n, [, v]) => n + v, 0);

describe('Marketo full, incremental and backfill reads', () => {
  let s: MarketoSimulator;
  before(async () => {
    s = await sim();
  });
  after(() => s.stop());

  test('a full initial load equals the ground truth and every record passes its XDM schema', async () => {
    const store = new MemoryStore();
    const c = connect(s, { pageBytes: 8192 });
    const leads = await runStream(c, 'leads', { runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
    assert.equal(leads.expectedRecords, s.data.leads.length, 'expectedRecords = rows the export files announced');
    await fullSync(s, c, store);
    assert.deepEqual(store.invalid, []);
    assert.deepEqual(store.unmappable, []);
    assert.deepEqual(store.counts(), s.groundTruth());
    // Cross-system keys line up with the Salesforce simulator's ids.
    const contact = s.data.leads.find((l) => l.f.sfdcType === 'Contact')!;
    const person = store.get('person', `${contact.id}@${s.instanceId}.Marketo`) as any;
    assert.equal(person.extSourceSystemAudit.externalKey.sourceKey, `${contact.f.sfdcContactId}@${ORG}.Salesforce`);
    assert.ok(s.stats().maxCallsInWindow <= 100);
  });

  test('an incremental run reads only the changes and the deletes', async () => {
    const store = new MemoryStore();
    const c = connect(s);
    const first = await fullSync(s, c, store);
    s.clock.advance(3_600_000);
    const before = new Map([...store.records.get('person')!].map(([k, v]) => [k, JSON.stringify(v)]));
    const changed = s.mutate({ update: 5, delete: 3, seed: 11 });
    assert.equal(changed.deleted, 3);
    const deletedIds = s.data.deletedLeads.map((d) => `${d.leadId}@${s.instanceId}.Marketo`);
    const updatedIds = s.data.leads.filter((l) => l.updatedAt === s.data.deletedLeads[0]!.at && l.deletedAt === null).map((l) => `${l.id}@${s.instanceId}.Marketo`);
    assert.equal(updatedIds.length, 5);
    s.clock.advance(60_000);
    const runStartedAt = s.clock.date().toISOString();
    const incStore = new MemoryStore();
    const inc = await runStream(c, 'leads', { state: first.leads as any, runStartedAt, store: incStore, clock: s.clock });
    assert.ok(inc.complete);
    const read = [...incStore.records.get('person')!.keys()].sort();
    assert.deepEqual(read, [...updatedIds, ...deletedIds].sort());
    for (const id of deletedIds) assert.equal((incStore.get('person', id) as any).isDeleted, true);
    for (const id of updatedIds) assert.notEqual(JSON.stringify(incStore.get('person', id)), before.get(id));
    // Programs: only the updated ones; activities: only the new ones.
    const progs = new MemoryStore();
    await runStream(c, 'programs', { state: first.programs as any, runStartedAt, store: progs, clock: s.clock });
    assert.equal(progs.count('campaign'), 5);
    const acts = new MemoryStore();
    await runStream(c, 'activities', { state: first.activities as any, runStartedAt, store: acts, clock: s.clock });
    assert.equal(acts.count('experience-event'), 5);
    const members = new MemoryStore();
    await runStream(c, 'program-members', { state: first['program-members'] as any, runStartedAt, store: members, clock: s.clock });
    assert.equal(members.count('campaign-member'), 5);
    // A second incremental run with nothing new reads nothing.
    const again = new MemoryStore();
    s.clock.advance(3_600_000);
    await runStream(c, 'leads', { state: inc.state as any, runStartedAt: s.clock.date().toISOString(), store: again, clock: s.clock });
    // The 10-minute overlap before the previous high-water mark re-reads the same 5 updates (the
    // mutation happened 1 min before it), and so does Get Deleted Leads for the deletes. Nothing else.
    assert.deepEqual([...again.records.get('person')!.keys()].sort(), [...updatedIds, ...deletedIds].sort());
    const later = new MemoryStore();
    s.clock.advance(3_600_000);
    const noOverlap = connect(s, { overlapMs: 0 });
    await runStream(noOverlap, 'leads', { state: inc.state as any, runStartedAt: s.clock.date().toISOString(), store: later, clock: s.clock });
    assert.equal(later.count('person'), 0, 'without overlap and without changes nothing is read');
  });

  test('a backfill window reads the leads created in it, in ≤31-day exports', async () => {
    const from = new Date(Date.parse(s.suggestedSettings.initialLoadFrom as string) + 20 * 86_400_000);
    const to = new Date(from.getTime() + 31 * 86_400_000);
    const store = new MemoryStore();
    const c = connect(s);
    assert.deepEqual(c.streams.find((x) => x.name === 'leads')!.backfill, { maxWindowDays: 31 });
    const r = await runStream(c, 'leads', { window: { from: from.toISOString(), to: to.toISOString() }, runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
    assert.ok(r.complete);
    const expected = s.data.leads.filter((l) => l.deletedAt === null && l.createdAt >= from.getTime() && l.createdAt < to.getTime()).length;
    assert.ok(expected > 0);
    assert.equal(store.count('person'), expected);
    assert.equal(r.expectedRecords, expected);
  });
});

describe('Marketo bulk downloads', () => {
  test('crash after page k: resuming from the stored state loses and duplicates nothing and re-fetches at most one page', async () => {
    const s = await sim();
    try {
      const settings = { pageBytes: 4096 };
      const ref = new MemoryStore();
      const runStartedAt = s.clock.date().toISOString();
      const full = await runStream(connect(s, settings), 'leads', { runStartedAt, store: ref, clock: s.clock });
      const baseline = fileRequests(s);
      const store = new MemoryStore();
      let pagesRecords = 0;
      // Crash: the page after page k (k ≥ 8, in the middle of a file) is read but never stored;
      // a new connector (process) resumes from the state stored with page k.
      const reader = connect(s, settings);
      let part = await runStream(reader, 'leads', { runStartedAt, store, clock: s.clock, maxPages: 8 });
      pagesRecords += part.records;
      while (!((part.state as any).job?.offset > 0)) {
        assert.ok(!part.complete);
        part = await runStream(reader, 'leads', { state: part.state as any, runStartedAt, store, clock: s.clock, maxPages: 1 });
        pagesRecords += part.records;
      }
      const lost = await runStream(connect(s, settings), 'leads', { state: part.state as any, runStartedAt, store: new MemoryStore(), clock: s.clock, maxPages: 1 });
      assert.equal(lost.pages, 1);
      const rest = await runStream(connect(s, settings), 'leads', { state: part.state as any, runStartedAt, store, clock: s.clock });
      pagesRecords += rest.records;
      assert.ok(rest.complete);
      assert.equal(pagesRecords, full.records, 'no row read twice across the stored pages, none lost');
      assert.deepEqual([...store.records.get('person')!.keys()].sort(), [...ref.records.get('person')!.keys()].sort());
      const crashed = fileRequests(s) - baseline;
      assert.ok((part.state as any).job?.offset > 0, 'the crash happened in the middle of a file download');
      assert.ok(crashed - baseline <= 1, `resume re-fetched at most one page (${crashed} file requests vs ${baseline})`);
      assert.ok(JSON.stringify(part.state).length < 4096, 'state stays small');
    } finally {
      await s.stop();
    }
  });

  test('the next window is exported while the current file downloads, and the load still equals the ground truth', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore();
      const requestLog = async () => ((await (await fetch(`${s.url}/__sim/requests`)).json()) as Array<{ path: string }>).map((e) => e.path);
      const before = (await requestLog()).length;
      const r = await runStream(connect(s, { pageBytes: 4096 }), 'leads', { runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
      assert.ok(r.complete);
      assert.equal(store.count('person'), s.data.leads.filter((l) => l.deletedAt === null).length);
      const log = (await requestLog()).slice(before);
      const exports = [...new Set(log.map((p) => /\/bulk\/v1\/leads\/export\/([^/]+)\/enqueue\.json$/.exec(p)?.[1]).filter((x): x is string => Boolean(x)))];
      assert.ok(exports.length >= 3, `several windows (${exports.length} exports)`);
      let overlapped = 0;
      for (let i = 1; i < exports.length; i++) {
        const enqueued = log.indexOf(`/bulk/v1/leads/export/${exports[i]}/enqueue.json`);
        const previousFile = log.lastIndexOf(`/bulk/v1/leads/export/${exports[i - 1]}/file.json`);
        if (previousFile < 0) continue; // an empty window: no file to download, nothing to overlap
        assert.ok(enqueued < previousFile, `export ${i + 1} was enqueued before export ${i}'s download ended`);
        overlapped++;
      }
      assert.ok(overlapped >= 2, `${overlapped} windows overlapped with a download`);
    } finally {
      await s.stop();
    }
  });

  test('a truncated file body resumes with Range and the checksum still verifies', async () => {
    const s = await sim();
    try {
      s.faults.add({ path: 'leads/export/.*/file\\.json', nth: 2, action: { kind: 'truncate', afterBytes: 1500 } });
      s.faults.add({ path: 'activities/export/.*/file\\.json', nth: 1, action: { kind: 'truncate', afterBytes: 10 } });
      const store = new MemoryStore();
      const c = connect(s, { pageBytes: 6000 });
      const runStartedAt = s.clock.date().toISOString();
      const r = await runStream(c, 'leads', { runStartedAt, store, clock: s.clock });
      assert.ok(r.complete);
      assert.ok(r.notices.some((n) => /cut at byte .*resuming with Range/.test(n)), r.notices.join('\n'));
      assert.equal(store.count('person'), s.data.leads.length);
      const a = await runStream(c, 'activities', { runStartedAt, store, clock: s.clock });
      assert.ok(a.complete);
      assert.equal(store.count('experience-event'), s.groundTruth()['experience-event']);
      const ranges = s.stats().byStatus['206'] ?? 0;
      assert.ok(ranges > 2);
    } finally {
      await s.stop();
    }
  });

  test('a file shorter than numberOfRecords fails loud with SourceIncompleteRead', async () => {
    const s = await sim();
    try {
      s.faults.add({ times: 1, action: { kind: 'data', name: 'short-file' } });
      const c = connect(s);
      await assert.rejects(runStream(c, 'leads', { runStartedAt: s.clock.date().toISOString(), store: new MemoryStore(), clock: s.clock }), (e: unknown) => e instanceof SourceIncompleteRead && /rows, Marketo reported/.test((e as Error).message));
    } finally {
      await s.stop();
    }
  });

  test('malformed rows become unmappable rows with their key and reason; the rest of the page goes on', async () => {
    const s = await sim();
    try {
      s.faults.add({ path: 'leads', every: 25, action: { kind: 'data', name: 'malformed-row' } });
      s.faults.add({ path: 'activities', every: 40, action: { kind: 'data', name: 'malformed-row' } });
      const store = new MemoryStore();
      const c = connect(s);
      const runStartedAt = s.clock.date().toISOString();
      const r = await runStream(c, 'leads', { runStartedAt, store, clock: s.clock });
      assert.ok(r.complete);
      const bad = store.unmappable.filter((u) => u.xdmClass === 'person');
      assert.ok(bad.length >= 5);
      for (const u of bad) {
        assert.match(u.sourceKey!, /^\d+@123-ABC-456\.Marketo$/);
        assert.match(u.reason, /email 'broken-email.example.com' is not an email address/);
      }
      assert.equal(store.count('person') + bad.length, s.data.leads.length);
      assert.equal(r.expectedRecords, s.data.leads.length);
      await runStream(c, 'activities', { runStartedAt, store, clock: s.clock });
      const badActs = store.unmappable.filter((u) => u.xdmClass === 'experience-event');
      assert.ok(badActs.length > 0 && badActs.every((u) => /activityDate '31\/02\/2026 25:61'/.test(u.reason) && u.sourceKey?.endsWith('@123-ABC-456.Marketo')));
      assert.deepEqual(store.invalid, []);
    } finally {
      await s.stop();
    }
  });

  test('job queue full (1029) and the daily export quota (1029) are waited out, not failed', async () => {
    const s = await sim({ maxQueuedJobs: 1, dailyExportBytes: 20_000, jobSecondsPerStatus: 60 });
    try {
      // Another integration holds the only queue slot.
      const token = await (await fetch(`${s.url}/identity/oauth/token?grant_type=client_credentials&client_id=${CREDS.clientId}&client_secret=${CREDS.clientSecret}`)).json() as { access_token: string };
      const headers = { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' };
      const created = await (await fetch(`${s.url}/bulk/v1/activities/export/create.json`, { method: 'POST', headers, body: JSON.stringify({ format: 'CSV', filter: { createdAt: { startAt: '2026-10-01T00:00:00Z', endAt: '2026-10-02T00:00:00Z' } } }) })).json() as any;
      const queued = await (await fetch(`${s.url}/bulk/v1/activities/export/${created.result[0].exportId}/enqueue.json`, { method: 'POST', headers: { authorization: headers.authorization } })).json() as any;
      assert.equal(queued.result[0].status, 'Queued');
      const store = new MemoryStore();
      const r = await runStream(connect(s), 'leads', { runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
      assert.ok(r.complete);
      assert.ok(r.notices.some((n) => /export queue full \(1029/.test(n)), r.notices.join('\n'));
      assert.ok(r.notices.some((n) => /daily bulk export quota used up/.test(n)), r.notices.join('\n'));
      assert.equal(store.count('person'), s.data.leads.length);
    } finally {
      await s.stop();
    }
  });

  test('failed jobs and completed jobs whose file is missing are re-created', async () => {
    const s = await sim();
    try {
      s.faults.add({ times: 1, action: { kind: 'data', name: 'job-failed' } });
      s.faults.add({ times: 1, action: { kind: 'data', name: 'file-missing' } });
      const store = new MemoryStore();
      const r = await runStream(connect(s), 'leads', { runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
      assert.ok(r.complete);
      assert.ok(r.notices.some((n) => /failed: Failed to process export/.test(n)));
      assert.ok(r.notices.some((n) => /file is missing \(404\)/.test(n)));
      assert.equal(store.count('person'), s.data.leads.length);
    } finally {
      await s.stop();
    }
  });

  test('without the updatedAt filter (1035) incremental lead runs fall back to createdAt', async () => {
    const s = await sim({ updatedAtFilter: false });
    try {
      const c = connect(s);
      const first = await runStream(c, 'leads', { runStartedAt: s.clock.date().toISOString(), store: new MemoryStore(), clock: s.clock });
      s.clock.advance(60_000);
      const r = await runStream(c, 'leads', { state: first.state as any, runStartedAt: s.clock.date().toISOString(), store: new MemoryStore(), clock: s.clock });
      assert.ok(r.complete);
      assert.ok(r.notices.some((n) => /no updatedAt bulk filter \(1035\)/.test(n)));
      assert.equal((r.state as any).filterField, 'createdAt');
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo auth and limits', () => {
  test('bad credentials → SourceAuthFailed naming the instance', async () => {
    const s = await sim();
    try {
      const c = connect(s, {}, passThrough, { clientId: CREDS.clientId, clientSecret: 'wrong' });
      await assert.rejects(c.verify(new AbortController().signal), (e: unknown) => e instanceof SourceAuthFailed && e.message.includes('123-ABC-456') && !e.message.includes('wrong'));
      await assert.rejects(runStream(c, 'programs', { runStartedAt: s.clock.date().toISOString(), store: new MemoryStore() }), SourceAuthFailed);
    } finally {
      await s.stop();
    }
  });

  test('token expiry (602) and invalid tokens (601) mid-run refresh transparently', async () => {
    const s = await sim();
    try {
      const c = connect(s, { pageBytes: 4096 });
      await c.verify(new AbortController().signal);
      s.faults.add({ path: '/rest/v1/lists/', nth: 2, action: { kind: 'vendor', code: '601' } });
      s.faults.add({ path: 'file\\.json', nth: 3, action: { kind: 'vendor', code: '602' } });
      const store = new MemoryStore();
      const runStartedAt = s.clock.date().toISOString();
      const part = await runStream(c, 'leads', { runStartedAt, store, clock: s.clock, maxPages: 6 });
      s.clock.advance(3_601_000); // the token really expires
      const rest = await runStream(c, 'leads', { state: part.state as any, runStartedAt, store, clock: s.clock });
      assert.ok(rest.complete);
      await runStream(c, 'list-members', { runStartedAt, store, clock: s.clock });
      assert.equal(store.count('person'), s.data.leads.length);
      assert.equal(store.count('marketing-list-member'), s.groundTruth()['marketing-list-member']);
      const tokens = s.stats().byRoute['/identity/oauth/token'] ?? 0;
      assert.ok(tokens >= 3, `${tokens} token requests`);
      const statuses = (await (await fetch(`${s.url}/__sim/requests`)).json() as Array<{ path: string; status: number; headers: Record<string, string> }>);
      assert.ok(statuses.every((r) => r.path.startsWith('/identity') || r.headers.authorization === 'Bearer'));
    } finally {
      await s.stop();
    }
  });

  test('606, 615, 5xx, dropped connections and slow responses are retried', async () => {
    const s = await sim();
    try {
      s.faults.add({ path: 'status\\.json', nth: 1, action: { kind: 'vendor', code: '606' } });
      s.faults.add({ path: 'create\\.json', nth: 2, action: { kind: 'vendor', code: '615' } });
      s.faults.add({ path: 'file\\.json', nth: 1, action: { kind: 'http', status: 503, body: 'Service Unavailable' } });
      s.faults.add({ path: 'file\\.json', nth: 3, action: { kind: 'drop' } });
      s.faults.add({ path: 'lists\\.json', nth: 1, action: { kind: 'delay', ms: 50 } });
      s.faults.add({ path: 'programs\\.json', nth: 1, action: { kind: 'vendor', code: '608' } });
      const store = new MemoryStore();
      const c = connect(s, { pageBytes: 8192 });
      const runStartedAt = s.clock.date().toISOString();
      for (const name of ['leads', 'static-lists', 'programs']) assert.ok((await runStream(c, name, { runStartedAt, store, clock: s.clock })).complete);
      assert.equal(store.count('person'), s.data.leads.length);
      assert.equal(store.count('campaign'), s.data.programs.length);
      for (const f of s.faults.list()) assert.equal(f.fired, 1, `fault on ${f.path} fired`);
    } finally {
      await s.stop();
    }
  });

  test('the simulator enforces 10 concurrent calls (615) and 100 calls per 20 s (606)', async () => {
    const s = await sim();
    try {
      const token = await (await fetch(`${s.url}/identity/oauth/token?grant_type=client_credentials&client_id=${CREDS.clientId}&client_secret=${CREDS.clientSecret}`)).json() as { access_token: string };
      s.faults.add({ path: 'lists\\.json', action: { kind: 'delay', ms: 150 } });
      const call = () => fetch(`${s.url}/rest/v1/lists.json`, { headers: { authorization: `Bearer ${token.access_token}` } }).then((r) => r.json() as Promise<any>);
      const burst = await Promise.all(Array.from({ length: 14 }, call));
      assert.ok(burst.some((b) => b.errors?.[0]?.code === '615'));
      s.faults.clear();
      const codes: string[] = [];
      for (let i = 0; i < 110; i++) codes.push((await call()).errors?.[0]?.code ?? 'ok');
      assert.ok(codes.includes('606'));
      s.clock.advance(21_000);
      assert.equal((await call()).success, true);
    } finally {
      await s.stop();
    }
  });

  test('all streams at once through a gate of the connector budget stay within the vendor limits', async () => {
    const s = await sim({ jobSecondsPerStatus: 60 });
    try {
      const { maxCalls, maxInFlight } = marketoConnector.budget;
      assert.ok(maxCalls < 100 && maxInFlight < 10);
      const c = connect(s, { pageBytes: 2048, restPageSize: 20, assetPageSize: 5 }, budgetGate(s));
      const store = new MemoryStore();
      const runStartedAt = s.clock.date().toISOString();
      const first = ['leads', 'activities', 'program-members', 'programs', 'static-lists', 'list-members'];
      await Promise.all(first.map((name) => runStream(c, name, { runStartedAt, store, clock: s.clock }).then((r) => assert.ok(r.complete, name))));
      await Promise.all(['companies', 'opportunity-roles'].map((name) => runStream(c, name, { runStartedAt, store, clock: s.clock })));
      await Promise.all(['named-accounts', 'opportunities'].map((name) => runStream(c, name, { runStartedAt, store, clock: s.clock })));
      const st = s.stats();
      assert.ok(st.total > 150, `${st.total} calls`);
      assert.ok(st.maxCallsInWindow <= 100, `max ${st.maxCallsInWindow} calls in 20 s`);
      assert.ok(st.maxInFlight <= 10, `max ${st.maxInFlight} in flight`);
      assert.equal(st.byStatus['200']! + (st.byStatus['206'] ?? 0), st.total, 'no limit errors at all');
      assert.deepEqual(store.counts(), s.groundTruth());
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo identity', () => {
  test('the identity call sends the client credentials as query parameters; a form body alone is refused', async () => {
    const s = await sim();
    try {
      const form = await fetch(`${s.url}/identity/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CREDS.clientId, client_secret: CREDS.clientSecret }),
      });
      assert.equal(form.status, 401);
      assert.equal(((await form.json()) as { error: string }).error, 'unauthorized');
      await connect(s).verify(new AbortController().signal);
      const identity = (await requestLog(s)).filter((r) => r.path === '/identity/oauth/token');
      const mine = identity.at(-1)!;
      assert.equal(mine.status, 200);
      const q = new URLSearchParams(mine.query.replace(/^\?/, ''));
      assert.equal(q.get('grant_type'), 'client_credentials');
      assert.equal(q.get('client_id'), CREDS.clientId);
      assert.ok(q.get('client_secret'), 'the secret goes in the query, as Adobe documents');
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo key-only reads after the first run', () => {
  let s: MarketoSimulator;
  let store: MemoryStore;
  const settings = { rotatingKeysPerRun: 7, overlapMs: 0 };
  let leadsState: Record<string, unknown> | null = null;
  let companiesState: Record<string, unknown> | null = null;
  const allKeys = () => store.knownValues({ xdmClass: 'person', path: 'b2b.accountID' }, null, 100_000);

  /** One sync run of leads then companies; returns the filterValues of each companies call. The clock then moves on an hour. */
  async function syncRun(c: SourceConnector = connect(s, settings, budgetGate(s))): Promise<string[][]> {
    const runStartedAt = s.clock.date().toISOString();
    const leads = await runStream(c, 'leads', { state: leadsState as any, runStartedAt, store, clock: s.clock });
    assert.ok(leads.complete);
    leadsState = leads.state;
    const before = (await requestLog(s)).length;
    const companies = await runStream(c, 'companies', { state: companiesState as any, runStartedAt, store, clock: s.clock });
    assert.ok(companies.complete);
    companiesState = companies.state;
    const calls = filterCalls((await requestLog(s)).slice(before), '/rest/v1/companies.json');
    s.clock.advance(3_600_000);
    return calls;
  }

  before(async () => {
    s = await sim();
    store = new MemoryStore(() => s.clock.now());
  });
  after(() => s.stop());

  test('the first run reads every key; once nothing changed, a run asks Marketo only for the rotating slice', async () => {
    const first = await syncRun();
    const keys = await allKeys();
    assert.ok(keys.length > 14, `${keys.length} company keys`);
    assert.deepEqual(first.flat().sort(), keys, 'the first run reads every key once');
    assert.equal(store.count('account'), s.data.companies.length);
    // The leads the first run stored are changes for the second run; after it, nothing has changed.
    await syncRun();
    const quiet = await syncRun();
    assert.equal(quiet.length, 1, `one call (${quiet.length})`);
    assert.equal(quiet[0]!.length, 7, 'the rotating slice of 7 keys, nothing else');
  });

  test('a key whose referencing lead changed is re-read', async () => {
    s.mutate({ update: 6, seed: 5 });
    const at = Math.floor(s.clock.now() / 1000) * 1000;
    const changed = s.data.leads.filter((l) => l.updatedAt === at && l.deletedAt === null);
    const expected = new Set(changed.map((l) => String(l.f.externalCompanyId ?? l.f.sfdcAccountId ?? '')).filter(Boolean));
    assert.ok(expected.size > 0, 'some changed leads belong to a company');
    s.clock.advance(60_000);
    const calls = await syncRun(connect(s, { ...settings, rotatingKeysPerRun: 0 }, budgetGate(s)));
    assert.deepEqual(new Set(calls.flat()), expected, 'exactly the companies of the changed leads');
  });

  test('over enough runs, the rotating slice visits every key (wrapping around)', async () => {
    const keys = await allKeys();
    const seen = new Set<string>();
    for (let i = 0; i < Math.ceil(keys.length / 7) + 1; i++) for (const k of (await syncRun()).flat()) seen.add(k);
    assert.deepEqual([...seen].sort(), keys);
    const st = companiesState as any;
    assert.equal(st.v, 2);
    assert.equal(st.run, null);
    assert.ok(st.lastComplete);
  });
});

describe('Marketo key-only read state', () => {
  test('a run cut after any page and resumed by a new process asks for the same keys and pages as an uninterrupted run', async () => {
    const s = await sim();
    try {
      const settings = { restPageSize: 5 };
      const gate = budgetGate(s);
      const runStartedAt = s.clock.date().toISOString();
      const reference = new MemoryStore(() => s.clock.now());
      await runStream(connect(s), 'leads', { runStartedAt, store: reference, clock: s.clock });
      const cut = new MemoryStore(() => s.clock.now());
      cut.put({ records: [...reference.records.get('person')!.values()].map((record) => ({ xdmClass: 'person' as const, record })), unmappable: [] });
      let before = (await requestLog(s)).length;
      const whole = await runStream(connect(s, settings, gate), 'opportunity-roles', { runStartedAt, store: reference, clock: s.clock });
      assert.ok(whole.complete);
      const wholeCalls = (await requestLog(s)).slice(before).filter((r) => r.path === '/rest/v1/opportunities/roles.json').map((r) => r.query);
      assert.ok(wholeCalls.some((q) => q.includes('nextPageToken')), 'some calls page inside one batch of keys');
      before = (await requestLog(s)).length;
      let state: any = null;
      let pages = 0;
      for (let complete = false; !complete; pages++) {
        const part = await runStream(connect(s, settings, gate), 'opportunity-roles', { state, runStartedAt, store: cut, clock: s.clock, maxPages: 1 });
        state = part.state;
        complete = part.complete;
        assert.ok(JSON.stringify(state).length < 4096, 'state stays small');
      }
      const cutCalls = (await requestLog(s)).slice(before).filter((r) => r.path === '/rest/v1/opportunities/roles.json').map((r) => r.query);
      assert.deepEqual(cutCalls, wholeCalls);
      assert.deepEqual([...cut.records.get('opportunity-person')!.keys()].sort(), [...reference.records.get('opportunity-person')!.keys()].sort());
      assert.equal(state.lastComplete, runStartedAt);
    } finally {
      await s.stop();
    }
  });

  test('a state written before rotation (v1) is accepted: at rest it makes a first run, mid-walk it resumes after its key', async () => {
    const s = await sim();
    try {
      const runStartedAt = s.clock.date().toISOString();
      const store = new MemoryStore(() => s.clock.now());
      await runStream(connect(s), 'leads', { runStartedAt, store, clock: s.clock });
      const keys = await store.knownValues({ xdmClass: 'person', path: 'b2b.accountID' }, null, 100_000);
      const c = connect(s, { restPageSize: 5 });
      let before = (await requestLog(s)).length;
      const resting = await runStream(c, 'companies', { state: { v: 1, after: null, batch: null, token: null }, runStartedAt, store, clock: s.clock });
      assert.ok(resting.complete);
      assert.deepEqual(filterCalls((await requestLog(s)).slice(before), '/rest/v1/companies.json').flat(), keys);
      assert.deepEqual({ v: (resting.state as any).v, lastComplete: (resting.state as any).lastComplete }, { v: 2, lastComplete: runStartedAt });
      before = (await requestLog(s)).length;
      const midWalk = await runStream(c, 'companies', { state: { v: 1, after: keys[9]!, batch: null, token: null }, runStartedAt, store, clock: s.clock });
      assert.ok(midWalk.complete);
      assert.deepEqual(filterCalls((await requestLog(s)).slice(before), '/rest/v1/companies.json').flat(), keys.slice(10));
      await assert.rejects(runStream(c, 'companies', { state: { v: 3 }, runStartedAt, store, clock: s.clock }), SourceIncompleteRead);
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo opportunities, named accounts and native CRM sync', () => {
  test('an opportunity whose roles are gone is still read again, by its own marketoGUID', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s, { overlapMs: 0 });
      let runStartedAt = s.clock.date().toISOString();
      const states: Record<string, any> = {};
      for (const name of ['leads', 'opportunity-roles', 'opportunities']) states[name] = (await runStream(c, name, { runStartedAt, store, clock: s.clock })).state;
      const [oppKey, opp] = [...store.records.get('opportunity')!].find(([, r]) => !(r as any).nextStep)! as [string, any];
      const external = opp.extSourceSystemAudit.externalID as string;
      // In Marketo its roles are deleted and the opportunity changes; Tessera no longer holds a role pointing at it.
      const roles = s.data.roles.filter((r) => r.f.externalOpportunityId === external).map((r) => String(r.f.marketoGUID));
      assert.ok(roles.length > 0);
      assert.equal(s.data.remove({ opportunityRoles: roles }), roles.length);
      for (const [k, r] of [...store.records.get('opportunity-person')!]) if ((r as any).opportunityID === external) store.records.get('opportunity-person')!.delete(k);
      const inMarketo = s.data.opportunities.find((o) => o.f.marketoGUID === opp.opportunityID)!;
      inMarketo.f.nextStep = 'Renewal call';
      inMarketo.updatedAt = Math.floor(s.clock.now() / 1000) * 1000;
      s.clock.advance(3_600_000);
      runStartedAt = s.clock.date().toISOString();
      for (const name of ['opportunity-roles', 'opportunities']) assert.ok((await runStream(c, name, { state: states[name], runStartedAt, store, clock: s.clock })).complete);
      assert.equal((store.get('opportunity', oppKey) as any).nextStep, 'Renewal call');
    } finally {
      await s.stop();
    }
  });

  test('an opportunity no role points at is found through the CRM org\'s stored opportunities', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s, { overlapMs: 0 });
      // In Marketo, one opportunity has no role at all.
      const opp = s.data.opportunities[0]!;
      const external = String(opp.f.externalOpportunityId);
      s.data.remove({ opportunityRoles: s.data.roles.filter((r) => r.f.externalOpportunityId === external).map((r) => String(r.f.marketoGUID)) });
      const fromMarketo = () => [...store.records.get('opportunity')!.values()].filter((r: any) => r.opportunityKey.sourceType === 'Marketo').map((r: any) => r.extSourceSystemAudit?.externalID);
      const states: Record<string, StreamState> = {};
      let runStartedAt = s.clock.date().toISOString();
      for (const name of ['leads', 'opportunity-roles', 'opportunities']) states[name] = (await runStream(c, name, { runStartedAt, store, clock: s.clock })).state;
      assert.ok(!fromMarketo().includes(external), 'roles alone cannot find it');

      // The Salesforce org the subscription syncs with has it: its id is Marketo's externalOpportunityId.
      s.clock.advance(60_000);
      store.put({ records: [{ xdmClass: 'opportunity', record: { opportunityKey: { sourceType: 'Salesforce', sourceInstanceID: ORG, sourceID: external, sourceKey: `${external}@${ORG}.Salesforce` }, opportunityName: 'from the CRM' } }], unmappable: [] });
      s.clock.advance(60_000);
      runStartedAt = s.clock.date().toISOString();
      assert.ok((await runStream(c, 'opportunities', { state: states.opportunities, runStartedAt, store, clock: s.clock })).complete);
      assert.ok(fromMarketo().includes(external), 'the next run reads it from Marketo by its CRM id');
    } finally {
      await s.stop();
    }
  });

  test('the simulator offers opportunities only by their documented searchable fields', async () => {
    const s = await sim();
    try {
      const token = (await (await fetch(`${s.url}/identity/oauth/token?grant_type=client_credentials&client_id=${CREDS.clientId}&client_secret=${CREDS.clientSecret}`)).json()) as { access_token: string };
      const get = async (path: string) => (await (await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token.access_token}` } })).json()) as any;
      const byCompany = await get('/rest/v1/opportunities.json?filterType=externalCompanyId&filterValues=0015e0000000001AAA');
      assert.equal(byCompany.success, false);
      assert.equal(byCompany.errors[0].code, '1011');
      const guid = String(s.data.opportunities[0]!.f.marketoGUID);
      const byGuid = await get(`/rest/v1/opportunities.json?filterType=marketoGUID&filterValues=${guid}&fields=marketoGUID`);
      assert.deepEqual(byGuid.result.map((o: any) => o.marketoGUID), [guid]);
    } finally {
      await s.stop();
    }
  });

  test('named accounts whose domain was typed with www. are found from the bare domains of companies', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s);
      const runStartedAt = s.clock.date().toISOString();
      const before = (await requestLog(s)).length;
      for (const name of ['leads', 'companies', 'named-accounts']) assert.ok((await runStream(c, name, { runStartedAt, store, clock: s.clock })).complete);
      const domains = s.data.companyDomains();
      const typedWithWww = s.data.namedAccounts.filter((n) => String(n.f.domainName).startsWith('www.') && domains.has(String(n.f.domainName).slice(4)));
      assert.ok(typedWithWww.length > 0);
      for (const n of typedWithWww) {
        const stored = store.get('account', `${n.f.marketoGUID}.mkto_acct@${s.instanceId}.Marketo`) as any;
        assert.ok(stored, `named account ${n.f.domainName} was read`);
        assert.equal(stored.accountOrganization.domain, String(n.f.domainName).slice(4), 'stored with the bare domain');
      }
      const asked = new Set(filterCalls((await requestLog(s)).slice(before), '/rest/v1/namedaccounts.json').flat());
      for (const d of domains) assert.ok(asked.has(d) && asked.has(`www.${d}`), `${d} asked in both forms`);
    } finally {
      await s.stop();
    }
  });

  test('with native CRM sync, opportunity-roles and opportunities complete empty with a notice and the other streams go on', async () => {
    const s = await sim({ nativeCrmSync: 'salesforce' });
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s);
      const runStartedAt = s.clock.date().toISOString();
      for (const name of STREAM_ORDER) {
        const r = await runStream(c, name, { runStartedAt, store, clock: s.clock });
        assert.ok(r.complete, name);
        if (name === 'opportunity-roles' || name === 'opportunities') {
          assert.equal(r.records, 0);
          assert.ok(r.notices.some((n) => /native CRM sync \(1018 CRM Enabled\).*come from the CRM source/.test(n)), r.notices.join('\n'));
        }
      }
      assert.deepEqual(store.counts(), nonZero(s.groundTruth()));
      const routes = s.stats().byRoute;
      assert.equal(routes['/rest/v1/opportunities/roles/describe.json'], 1, 'found out at first contact, once per connector');
      assert.equal(routes['/rest/v1/opportunities/roles.json'] ?? 0, 0);
      assert.equal(routes['/rest/v1/opportunities.json'] ?? 0, 0);
      // The next run of the same connector asks nothing more.
      const again = await runStream(c, 'opportunity-roles', { runStartedAt, store, clock: s.clock });
      assert.ok(again.complete);
      assert.equal(s.stats().byRoute['/rest/v1/opportunities/roles/describe.json'], 1);
      // The simulator answers the role APIs as Adobe documents for such subscriptions.
      const token = (await (await fetch(`${s.url}/identity/oauth/token?grant_type=client_credentials&client_id=${CREDS.clientId}&client_secret=${CREDS.clientSecret}`)).json()) as { access_token: string };
      const roles = (await (await fetch(`${s.url}/rest/v1/opportunities/roles.json?filterType=leadId&filterValues=1`, { headers: { authorization: `Bearer ${token.access_token}` } })).json()) as any;
      assert.deepEqual(roles.errors, [{ code: '1018', message: 'CRM Enabled' }]);
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo reconciliation listings', () => {
  test('companies, named accounts, opportunities and list members: the stored ids Marketo still has, without the ones deleted in Marketo', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s, { restPageSize: 7 }, budgetGate(s));
      await fullSync(s, c, store);
      const cases = [
        { stream: 'companies', xdmClass: 'account', suffix: '.mkto_org' },
        { stream: 'named-accounts', xdmClass: 'account', suffix: '.mkto_acct' },
        { stream: 'opportunities', xdmClass: 'opportunity', suffix: '' },
        { stream: 'list-members', xdmClass: 'marketing-list-member', suffix: '' },
      ] as const;
      const stored: Record<string, string[]> = {};
      for (const k of cases) {
        const spec = c.streams.find((x) => x.name === k.stream)!.reconcile!;
        assert.deepEqual({ xdmClass: spec.xdmClass, idSuffix: spec.idSuffix }, { xdmClass: k.xdmClass, idSuffix: k.suffix });
        stored[k.stream] = await store.storedIds(k.xdmClass, k.suffix, null, 1_000_000);
        assert.ok(stored[k.stream]!.length > 0, k.stream);
        assert.deepEqual((await listAllIds(c, k.stream, store)).ids.sort(), stored[k.stream], `${k.stream}: everything is still there`);
      }
      const gone = {
        companies: stored.companies![1]!,
        'named-accounts': stored['named-accounts']![0]!,
        opportunities: stored.opportunities![2]!,
        'list-members': stored['list-members']![3]!,
      };
      const [listId, leadId] = gone['list-members'].split('_').map(Number) as [number, number];
      const removed = s.data.remove({
        companies: [Number(gone.companies.replace('.mkto_org', ''))],
        namedAccounts: [gone['named-accounts'].replace('.mkto_acct', '')],
        opportunities: [gone.opportunities],
        listMembers: [{ listId, leadId }],
      });
      assert.equal(removed, 4);
      for (const k of cases) {
        const listed = await listAllIds(c, k.stream, store);
        assert.deepEqual(listed.ids.sort(), stored[k.stream]!.filter((id) => id !== gone[k.stream]), `${k.stream}: all but the deleted one`);
      }
      assert.ok((await listAllIds(c, 'list-members', store)).calls > s.data.lists.length, 'list members are listed a page at a time');
    } finally {
      await s.stop();
    }
  });

  test('a call that fails fails the listing: never a partial answer', async () => {
    const s = await sim();
    try {
      const store = new MemoryStore(() => s.clock.now());
      const c = connect(s, { restPageSize: 7 }, budgetGate(s));
      await fullSync(s, c, store);
      s.faults.add({ path: '/rest/v1/companies\\.json', nth: 1, action: { kind: 'vendor', code: '603', message: 'Access denied' } });
      await assert.rejects(listAllIds(c, 'companies', store), SourceRequestRejected);
      s.faults.add({ path: '/rest/v1/lists/\\d+/leads\\.json', nth: 3, action: { kind: 'vendor', code: '603', message: 'Access denied' } });
      await assert.rejects(listAllIds(c, 'list-members', store), SourceRequestRejected);
      s.faults.add({ path: '/rest/v1/opportunities\\.json', action: { kind: 'http', status: 503, body: 'Service Unavailable' } });
      await assert.rejects(listAllIds(c, 'opportunities', store), (e: unknown) => (e as Error).name === 'SourceUnavailable');
    } finally {
      await s.stop();
    }
  });
});

describe('Marketo program-member exports', () => {
  const manyPrograms: World = buildWorld({ people: 300, accounts: 30, campaigns: 45, seed: 11 });
  const exportsOf = (log: LoggedRequest[]) => {
    const ids: string[] = [];
    for (const r of log) {
      const id = /^\/bulk\/v1\/program\/members\/export\/([^/]+)\/enqueue\.json$/.exec(r.path)?.[1];
      if (id && !ids.includes(id)) ids.push(id);
    }
    return ids;
  };

  test('exports of many programs run several at a time (≤10 programs each), within the configured share of the queue', async () => {
    const s = await startMarketoSimulator({ world: manyPrograms, credentials: CREDS, salesforceOrgId: ORG, seed: 3, jobSecondsPerStatus: 60 });
    try {
      const store = new MemoryStore(() => s.clock.now());
      const r = await runStream(connect(s, { pageBytes: 4096 }), 'program-members', { runStartedAt: s.clock.date().toISOString(), store, clock: s.clock });
      assert.ok(r.complete);
      assert.equal(store.count('campaign-member'), s.groundTruth()['campaign-member']);
      const log = await requestLog(s);
      const exports = exportsOf(log);
      assert.equal(exports.length, 5, '45 programs in exports of 10');
      let inQueue = 0;
      let most = 0;
      const lastFile = new Map(exports.map((id) => [id, log.map((e) => e.path).lastIndexOf(`/bulk/v1/program/members/export/${id}/file.json`)]));
      for (const [i, e] of log.entries()) {
        if (/\/program\/members\/export\/[^/]+\/enqueue\.json$/.test(e.path)) most = Math.max(most, ++inQueue);
        for (const [, at] of lastFile) if (at === i) inQueue--;
      }
      assert.ok(most >= 3, `${most} program-member exports in Marketo's queue at once`);
      assert.ok(most <= 4, `never more than programMemberExportsInFlight (4): ${most}`);
      for (let i = 1; i < exports.length; i++) {
        const enqueued = log.findIndex((e) => e.path === `/bulk/v1/program/members/export/${exports[i]}/enqueue.json`);
        assert.ok(enqueued < lastFile.get(exports[i - 1]!)!, `export ${i + 1} was queued before export ${i} finished downloading`);
      }
    } finally {
      await s.stop();
    }
  });

  test('a program-member run cut after every page resumes its exports made ahead: the same members, no export made twice', async () => {
    const s = await startMarketoSimulator({ world: manyPrograms, credentials: CREDS, salesforceOrgId: ORG, seed: 3, jobSecondsPerStatus: 60 });
    try {
      const runStartedAt = s.clock.date().toISOString();
      const store = new MemoryStore(() => s.clock.now());
      let state: any = null;
      for (let complete = false, pages = 0; !complete; pages++) {
        assert.ok(pages < 500);
        const part = await runStream(connect(s, { pageBytes: 4096 }), 'program-members', { state, runStartedAt, store, clock: s.clock, maxPages: 1 });
        state = part.state;
        complete = part.complete;
      }
      assert.equal(store.count('campaign-member'), s.groundTruth()['campaign-member']);
      const creates = (await requestLog(s)).filter((e) => e.path === '/bulk/v1/program/members/export/create.json').length;
      assert.equal(creates, 5);
      assert.deepEqual(state.programsAhead, []);
    } finally {
      await s.stop();
    }
  });
});
