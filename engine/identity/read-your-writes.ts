/**
 * Read your writes (the freshness contract, docs/identity-resolution.md): a writer that wants its
 * records' profiles waits, up to a bound, until the resolver has passed its queue rows. One
 * LISTEN connection per process wakes every waiter when a micro-batch commits; each waiter then
 * asks which of its rows are still queued. Past the bound the caller answers with the queue
 * position instead of failing.
 */
import type { Knex } from 'knex';
import type { Entity } from '../../domain/identity/config';
import { listen, type Listener } from '../../db/listen';
import { withPgConn } from '../../db/pg-transaction';
import { queuePosition, RESOLVED_CHANNEL, stillQueued } from '../../db/repositories/identity-queue';

export type ResolutionWait =
  | { status: 'resolved'; waitedMs: number }
  | { status: 'pending'; waitedMs: number; /** Records of the resolver queued before this write's first pending one. */ queuePosition: number };

/** Without a NOTIFY (a lost LISTEN connection), waiters look again this often. */
const POLL_MS = 100;

export class ResolutionWatcher {
  private listener?: Promise<Listener>;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly db: Knex) {}

  /** Waits until none of `queueIds` (rows of `entity`'s resolver) is queued, or `timeoutMs` passed. */
  async waitFor(entity: Entity, queueIds: readonly number[], timeoutMs: number): Promise<ResolutionWait> {
    const started = Date.now();
    if (!queueIds.length) return { status: 'resolved', waitedMs: 0 };
    this.listener ??= listen(this.db, RESOLVED_CHANNEL, () => this.wakeAll());
    await this.listener;
    let pending = [...queueIds];
    for (;;) {
      // Registered before the look, so a commit between the look and the wait is not missed.
      const next = this.nextWake(Math.min(POLL_MS, Math.max(0, started + timeoutMs - Date.now())));
      pending = await withPgConn(this.db, (conn) => stillQueued(conn, pending));
      if (!pending.length) {
        next.cancel();
        return { status: 'resolved', waitedMs: Date.now() - started };
      }
      if (Date.now() - started >= timeoutMs) {
        next.cancel();
        const position = await withPgConn(this.db, (conn) => queuePosition(conn, entity, Math.min(...pending)));
        return { status: 'pending', waitedMs: Date.now() - started, queuePosition: position };
      }
      await next.promise;
    }
  }

  async close(): Promise<void> {
    this.wakeAll();
    await (await this.listener?.catch(() => undefined))?.close();
    this.listener = undefined;
  }

  private wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  private nextWake(ms: number): { promise: Promise<void>; cancel(): void } {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ms);
      done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
    });
    return { promise, cancel: () => done() };
  }
}
