/**
 * A simulator's clock: wall time plus an offset tests can advance (token expiry, rate windows,
 * bulk job progression, daily quota resets) without waiting.
 */
export class SimClock {
  private offsetMs = 0;
  constructor(start?: Date) {
    if (start) this.offsetMs = start.getTime() - Date.now();
  }
  now(): number {
    return Date.now() + this.offsetMs;
  }
  date(): Date {
    return new Date(this.now());
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
