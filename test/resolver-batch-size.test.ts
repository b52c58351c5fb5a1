/** How the resolver sizes bulk micro-batches: the largest while nobody streams, short while someone does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BulkBatchSizer } from '../engine/identity/resolver';

test('bulk micro-batches are the largest while nothing is streamed, and about targetMs of work while records are', () => {
  let now = 0;
  const sizer = new BulkBatchSizer(250, 5_000, () => now);
  assert.equal(sizer.size, 5_000, 'no streamed record yet: the largest batch');
  sizer.observe('bulk', 5_000, 2_500); // 2 records/ms
  assert.equal(sizer.size, 5_000);

  sizer.observe('stream', 1, 20);
  assert.equal(sizer.size, 500, '2 records/ms × 250 ms');
  sizer.observe('bulk', 500, 100); // 5 records/ms: the moving average moves toward it
  assert.equal(sizer.size, Math.round((0.7 * 2 + 0.3 * 5) * 250));
  sizer.observe('bulk', 500, 5_000); // slow batches never shrink it below 500
  for (let i = 0; i < 20; i++) sizer.observe('bulk', 500, 5_000);
  assert.equal(sizer.size, 500);

  now += 10_001;
  assert.equal(sizer.size, 5_000, 'streaming stopped 10 s ago: back to the largest batch');
});
