/**
 * What a simulator saw: every request (for assertions), calls per route, the most calls seen in
 * any sliding window and the most requests in flight at once — the figures that prove a
 * connector never exceeded the vendor's limits.
 */
export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  query: string;
  status: number;
  /** Request headers the tests care about (authorization redacted to its scheme). */
  headers: Record<string, string>;
}

export interface RequestStatsSnapshot {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  inFlight: number;
  maxInFlight: number;
  /** The most calls that started within any window of `windowMs` (sim clock). */
  maxCallsInWindow: number;
  windowMs: number;
}

export class RequestStats {
  private log: RequestLogEntry[] = [];
  private starts: number[] = [];
  private startHead = 0;
  private maxInWindow = 0;
  inFlight = 0;
  maxInFlight = 0;
  private byRoute = new Map<string, number>();
  private byStatus = new Map<string, number>();

  constructor(readonly windowMs: number, private readonly keepLog = 20_000) {}

  /** Call when a request starts; returns the number of calls in the current window (this one included). */
  started(at: number): number {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.starts.push(at);
    while (this.startHead < this.starts.length && this.starts[this.startHead]! <= at - this.windowMs) this.startHead++;
    if (this.startHead > 10_000) {
      this.starts = this.starts.slice(this.startHead);
      this.startHead = 0;
    }
    const inWindow = this.starts.length - this.startHead;
    this.maxInWindow = Math.max(this.maxInWindow, inWindow);
    return inWindow;
  }

  /** Calls started in the window ending at `at` (without recording a call). */
  callsInWindow(at: number): number {
    let n = 0;
    for (let i = this.starts.length - 1; i >= this.startHead && this.starts[i]! > at - this.windowMs; i--) n++;
    return n;
  }

  finished(entry: RequestLogEntry, route: string): void {
    this.inFlight--;
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    this.byStatus.set(String(entry.status), (this.byStatus.get(String(entry.status)) ?? 0) + 1);
    this.log.push(entry);
    if (this.log.length > this.keepLog) this.log.splice(0, this.log.length - this.keepLog);
  }

  requests(): readonly RequestLogEntry[] {
    return this.log;
  }

  snapshot(): RequestStatsSnapshot {
    return {
      total: [...this.byRoute.values()].reduce((a, b) => a + b, 0),
      byRoute: Object.fromEntries(this.byRoute),
      byStatus: Object.fromEntries(this.byStatus),
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      maxCallsInWindow: this.maxInWindow,
      windowMs: this.windowMs,
    };
  }

  reset(): void {
    this.log = [];
    this.starts = [];
    this.startHead = 0;
    this.maxInWindow = 0;
    this.maxInFlight = this.inFlight;
    this.byRoute.clear();
    this.byStatus.clear();
  }
}
