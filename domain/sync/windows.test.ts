import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { planBackfillWindows, splitWindows } from './windows';

test('windows tile the range exactly, in order, none longer than allowed', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 4_000_000_000_000 }),
      fc.integer({ min: 1, max: 400 * 86_400_000 }),
      fc.integer({ min: 1, max: 60 }),
      (startMs, lengthMs, maxDays) => {
        const from = new Date(startMs).toISOString();
        const to = new Date(startMs + lengthMs).toISOString();
        const windows = splitWindows(from, to, maxDays);
        assert.equal(windows[0]!.from, from);
        assert.equal(windows.at(-1)!.to, to);
        windows.forEach((w, i) => {
          assert.equal(w.index, i);
          const len = Date.parse(w.to) - Date.parse(w.from);
          assert.ok(len > 0 && len <= maxDays * 86_400_000);
          if (i > 0) assert.equal(w.from, windows[i - 1]!.to);
        });
      },
    ),
  );
});

test('a 90-day range in 31-day windows is three windows', () => {
  const w = splitWindows('2026-01-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', 31);
  assert.deepEqual(w.map((x) => x.to), ['2026-02-01T00:00:00.000Z', '2026-03-04T00:00:00.000Z', '2026-04-01T00:00:00.000Z']);
});

test('an empty or reversed range is refused', () => {
  assert.throws(() => splitWindows('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z', 31), /must end after/);
  assert.throws(() => splitWindows('nope', '2026-01-01T00:00:00Z', 31), /invalid range/);
});

test('a backfill plan splits each stream by its own longest window, and keeps stream names with the windows', () => {
  const plan = planBackfillWindows([{ name: 'leads', maxWindowDays: 31 }, { name: 'Contact', maxWindowDays: 30 }], '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z');
  assert.deepEqual(plan.filter((w) => w.stream === 'leads').map((w) => w.to), ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  assert.deepEqual(plan.filter((w) => w.stream === 'Contact').map((w) => w.index), [0, 1]);
  assert.equal(plan.length, 4);
});
