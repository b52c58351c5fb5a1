/**
 * Splitting a backfill range into the windows a source allows (Marketo bulk extract: 31 days).
 * Pure and deterministic: the backfill workflow and the API compute the same windows.
 */
export interface Window {
  index: number;
  /** ISO 8601, inclusive. */
  from: string;
  /** ISO 8601, exclusive. */
  to: string;
}

const DAY_MS = 86_400_000;

/** Consecutive windows of at most `maxWindowDays` covering [from, to) exactly, oldest first. */
export function splitWindows(from: string, to: string, maxWindowDays: number): Window[] {
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new RangeError(`invalid range ${from} .. ${to}`);
  if (start >= end) throw new RangeError(`the range must end after it starts (${from} .. ${to})`);
  if (!(maxWindowDays > 0)) throw new RangeError(`maxWindowDays must be positive, got ${maxWindowDays}`);
  const step = Math.floor(maxWindowDays * DAY_MS);
  const windows: Window[] = [];
  for (let t = start, index = 0; t < end; t += step, index++) {
    windows.push({ index, from: new Date(t).toISOString(), to: new Date(Math.min(end, t + step)).toISOString() });
  }
  return windows;
}

/** The windows of a backfill of several streams over one range, each split by its stream's longest window. */
export function planBackfillWindows(streams: ReadonlyArray<{ name: string; maxWindowDays: number }>, from: string, to: string): Array<Window & { stream: string }> {
  return streams.flatMap((s) => splitWindows(from, to, s.maxWindowDays).map((w) => ({ stream: s.name, ...w })));
}
