import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { WorkerPool } from './ts-worker';

const ENTRY = join(__dirname, '..', 'test', 'support', 'double-worker.ts');

test('a worker pool runs TypeScript jobs on its threads and answers each job with its own result', async () => {
  const pool = new WorkerPool<number, number>(ENTRY, { factor: 2 }, 2);
  try {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.run(i)));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i * 2));
  } finally {
    await pool.close();
  }
});

test("a job's error rejects that job only; the thread goes on with the next", async () => {
  const pool = new WorkerPool<number, number>(ENTRY, { factor: 3 }, 1);
  try {
    const [bad, good] = await Promise.allSettled([pool.run(-1), pool.run(4)]);
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /negative: -1/);
    assert.deepEqual(good, { status: 'fulfilled', value: 12 });
  } finally {
    await pool.close();
  }
});

test('a thread that dies fails its jobs and every later one at once, without an unhandled rejection', async () => {
  const pool = new WorkerPool<number, number>(ENTRY, { factor: 2 }, 1);
  try {
    const dying = pool.run(-99);
    const behind = pool.run(5); // never awaited before the death: must not crash the process
    await assert.rejects(dying, /exited/);
    await assert.rejects(behind, /exited/);
    await assert.rejects(pool.run(1), /exited/);
  } finally {
    await pool.close();
  }
});
