/** One request budget shared by several workers: the rolling window and the in-flight cap hold. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Knex } from 'knex';
import { BudgetWaitAborted, withRequestBudget } from '../engine/ingest/request-budget';
import { createDb } from '../db/connection';
import { configureBudget, release, tryTake, UnknownBudget } from '../db/repositories/request-budgets';
import { closeTestDb, requireEnv, testDb } from './support/env';

let workers: Knex[];
before(async () => {
  workers = [1, 2, 3].map(() => createDb(requireEnv('TESSERA_TEST_DATABASE_URL'), { max: 4 }));
  // Test-only audit: every call and every lease start/end, stamped with Postgres' clock.
  await testDb().raw(`
    CREATE TABLE IF NOT EXISTS test_budget_audit (budget_key text, event text, lease_id uuid, at timestamptz);
    CREATE OR REPLACE FUNCTION test_budget_audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_TABLE_NAME = 'request_budget_call' THEN INSERT INTO test_budget_audit VALUES (NEW.budget_key, 'call', NULL, NEW.called_at);
      ELSIF TG_OP = 'INSERT' THEN INSERT INTO test_budget_audit VALUES (NEW.budget_key, 'grant', NEW.lease_id, clock_timestamp());
      ELSE INSERT INTO test_budget_audit VALUES (OLD.budget_key, 'end', OLD.lease_id, clock_timestamp()); END IF;
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS test_budget_call_audit ON request_budget_call;
    DROP TRIGGER IF EXISTS test_budget_lease_audit ON request_budget_lease;
    CREATE TRIGGER test_budget_call_audit AFTER INSERT ON request_budget_call FOR EACH ROW EXECUTE FUNCTION test_budget_audit_fn();
    CREATE TRIGGER test_budget_lease_audit AFTER INSERT OR DELETE ON request_budget_lease FOR EACH ROW EXECUTE FUNCTION test_budget_audit_fn();
  `);
});
after(async () => {
  await Promise.all(workers.map((w) => w.destroy()));
  await closeTestDb();
});

test('twelve callers on three workers never exceed the rolling window or the in-flight cap', async () => {
  const key = `marketo:${randomUUID().slice(0, 8)}`;
  const limits = { maxCalls: 8, windowMs: 1000, maxInFlight: 3, leaseTtlMs: 10_000 };
  await configureBudget(testDb(), key, limits);
  let remaining = 30;
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const db = workers[i % workers.length]!;
      while (remaining > 0) {
        remaining--;
        await withRequestBudget(db, key, () => new Promise((r) => setTimeout(r, 20 + ((i * 37) % 60))));
      }
    }),
  );
  const { rows } = await testDb().raw(`SELECT event, lease_id, at FROM test_budget_audit WHERE budget_key = ? ORDER BY at, event DESC`, [key]);
  const events = rows as Array<{ event: string; lease_id: string; at: Date }>;
  const calls = events.filter((e) => e.event === 'call').map((e) => e.at.getTime());
  assert.ok(calls.length >= 30);
  for (let i = 0; i + limits.maxCalls < calls.length; i++) {
    assert.ok(calls[i + limits.maxCalls]! - calls[i]! >= limits.windowMs, `calls ${i}..${i + limits.maxCalls} fit in one window`);
  }
  let inFlight = 0;
  let peak = 0;
  for (const e of events) {
    if (e.event === 'grant') peak = Math.max(peak, ++inFlight);
    else if (e.event === 'end') inFlight--;
  }
  assert.ok(peak <= limits.maxInFlight, `peak in flight ${peak}`);
  assert.equal(peak, limits.maxInFlight, 'the cap was actually reached');
});

test('a slot held by a crashed worker frees itself when its lease expires', async () => {
  const key = `sfdc:${randomUUID().slice(0, 8)}`;
  await configureBudget(testDb(), key, { maxCalls: 100, windowMs: 1000, maxInFlight: 1, leaseTtlMs: 200 });
  const first = await tryTake(workers[0]!, key);
  assert.equal(first.granted, true);
  const blocked = await tryTake(workers[1]!, key);
  assert.deepEqual(blocked.granted ? 'granted' : blocked.reason, 'in-flight');
  await new Promise((r) => setTimeout(r, 250));
  const after = await tryTake(workers[1]!, key);
  assert.equal(after.granted, true, 'the expired lease no longer counts');
  if (after.granted) await release(workers[1]!, after.leaseId);
});

test('the wait for a full window says how long, and can be cancelled', async () => {
  const key = `dyn:${randomUUID().slice(0, 8)}`;
  await configureBudget(testDb(), key, { maxCalls: 1, windowMs: 60_000, maxInFlight: 5, leaseTtlMs: 1000 });
  await withRequestBudget(workers[0]!, key, async () => undefined);
  const denied = await tryTake(workers[0]!, key);
  assert.ok(!denied.granted && denied.reason === 'rate' && denied.retryAfterMs > 50_000 && denied.retryAfterMs <= 60_001);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 50);
  await assert.rejects(withRequestBudget(workers[0]!, key, async () => 'never', { signal: abort.signal }), BudgetWaitAborted);
  await assert.rejects(tryTake(workers[0]!, 'nope:unknown'), UnknownBudget);
});

test('a long call keeps its slot by renewing its lease; a dead worker\'s lease lapses after the TTL', async () => {
  const key = `salesforce:${randomUUID().slice(0, 8)}`;
  await configureBudget(testDb(), key, { maxCalls: 100, windowMs: 1000, maxInFlight: 1, leaseTtlMs: 300 });
  let secondTry: Awaited<ReturnType<typeof tryTake>> | undefined;
  await withRequestBudget(testDb(), key, async () => {
    await new Promise((r) => setTimeout(r, 700));
    secondTry = await tryTake(testDb(), key);
  });
  assert.equal(secondTry?.granted, false, 'the slot was still held after twice the TTL');
  // A worker that takes a slot and dies never releases it: the slot comes back after the TTL.
  const orphan = await tryTake(testDb(), key);
  assert.equal(orphan.granted, true);
  assert.equal((await tryTake(testDb(), key)).granted, false);
  await new Promise((r) => setTimeout(r, 400));
  const later = await tryTake(testDb(), key);
  assert.equal(later.granted, true);
  if (later.granted) await release(testDb(), later.leaseId);
});
