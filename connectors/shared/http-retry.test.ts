import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceUnavailable } from '../sources/errors';
import { retryAfterMs, withRetries } from './http-retry';

const gate = <T>(call: () => Promise<T>) => call();
const policy = { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 10, timeoutMs: 5_000 };

test('retries until done; a thrown error is not retried', async () => {
  let n = 0;
  const value = await withRetries(gate, policy, new AbortController().signal, async () => (++n < 3 ? { kind: 'retry', error: new Error('503') } : { kind: 'done', value: n }));
  assert.equal(value, 3);
  let m = 0;
  await assert.rejects(withRetries(gate, policy, new AbortController().signal, async () => { m++; throw new Error('fatal'); }), /fatal/);
  assert.equal(m, 1);
});

test('a Retry-After of minutes is not slept through: the error carries it for Temporal', async () => {
  let n = 0;
  await assert.rejects(
    withRetries(gate, policy, new AbortController().signal, async () => { n++; return { kind: 'retry', error: new SourceUnavailable('Dynamics contoso', '503'), afterMs: 600_000 }; }),
    (e) => e instanceof SourceUnavailable && e.retryAfterMs === 600_000,
  );
  assert.equal(n, 1);
});

test('Retry-After as seconds or an HTTP date', () => {
  assert.equal(retryAfterMs('7'), 7000);
  assert.equal(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2026, 0, 1)), 30_000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(null), undefined);
});
