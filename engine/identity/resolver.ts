/**
 * The identity resolver (DESIGN §1, §4): the single writer per entity that drains the change
 * queue the write path fills. Each micro-batch is one transaction that
 *   1. takes the resolver's lease (or, for a lease-less drain, the resolver's row lock), so two
 *      drains of one entity never interleave and the decision log stays in processing order;
 *   2. claims up to `limit` queued records (oldest first);
 *   3. resolves the components they touch and rematerialises the touched profiles once;
 *   4. deletes the claimed rows and adds the batch to the resolver's totals.
 * A crash before the commit leaves the rows queued (nothing lost); after it, they are gone
 * (nothing applied twice).
 *
 * A record that fails on its own (not a lock conflict, not an outage) is found by halving the
 * batch and set aside with its error, so one bad record never stalls the queue behind it.
 */
import type { Knex } from 'knex';
import type { Entity } from '../../domain/identity/config';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { isDatabaseUnavailable, isTransientConflict } from '../../db/connection';
import { listen, type Listener } from '../../db/listen';
import { inPgTransaction, withPgConn } from '../../db/pg-transaction';
import { loadIdentityConfig } from '../../db/repositories/identity-config';
import {
  claimQueued,
  deleteClaimed,
  lockResolver,
  QUEUE_CHANNEL,
  recordBatch,
  releaseLease,
  setAside,
  takeLease,
  type QueuedRecord,
  type QueueLane,
} from '../../db/repositories/identity-queue';
import { resolveQueuedGroups, type QueuedGroup } from './resolve-stored';
import { addUpTotals, RESOLVER_ENTITIES, type ResolverTotals } from '../../contracts/resolver';

export interface MicroBatch {
  entity: Entity;
  /** Queue rows claimed and resolved (0: the queue was empty). */
  records: number;
  profilesWritten: number;
  merges: number;
  splits: number;
  /** Records set aside after failing on their own. */
  setAside: number;
  ms: number;
  /** Enqueue → commit of the oldest record in the batch. */
  lagMs: number;
  /** Another holder has the lease: nothing was done. */
  leaseLost?: boolean;
  /** The lane the records were claimed from. */
  lane?: QueueLane;
}

export interface MicroBatchOptions {
  /** Most records claimed at once (streamed records; bulk ones too unless `bulkLimit` says fewer). */
  limit: number;
  /** Most bulk-lane records claimed at once (the resolver loop sizes it to a duration). */
  bulkLimit?: number;
  /** The lease holder (the resolver activity); absent for an operator's or a test's drain. */
  holder?: string;
  leaseMs?: number;
}

/** A lease lapses this long after the holder's last micro-batch or idle look (the activity heartbeat timeout is shorter). */
const LEASE_MS = 15_000;

/** One micro-batch: claim, resolve, write, delete; one transaction (retried on lock conflicts). */
export async function resolveMicroBatch(db: Knex, entity: Entity, opts: MicroBatchOptions): Promise<MicroBatch> {
  const started = performance.now();
  const empty: MicroBatch = { entity, records: 0, profilesWritten: 0, merges: 0, splits: 0, setAside: 0, ms: 0, lagMs: 0 };
  const config = await loadIdentityConfig(db);
  let onlyFirst: number | undefined; // bisecting a failure: how many of the oldest records to take
  let lastClaimed: number[] = []; // the queue ids the last attempt claimed (rolled back if it failed)
  let setAsideCount = 0;
  for (let conflicts = 0; ; ) {
    try {
      const out = await inPgTransaction(db, async (conn) => {
        lastClaimed = [];
        if (opts.holder) {
          if (!(await takeLease(conn, entity, opts.holder, opts.leaseMs ?? LEASE_MS))) return { ...empty, leaseLost: true };
        } else await lockResolver(conn, entity);
        const claimed = await claimQueued(conn, entity, onlyFirst ? { stream: onlyFirst, bulk: onlyFirst } : { stream: opts.limit, bulk: Math.min(opts.bulkLimit ?? opts.limit, opts.limit) });
        lastClaimed = claimed.map((c) => c.id);
        if (!claimed.length) return empty;
        const summary = await resolveQueuedGroups(conn, config, entity, groupsOf(claimed), causeOf(entity, claimed));
        await deleteClaimed(conn, claimed.map((c) => c.id));
        const oldest = claimed.reduce((min, c) => Math.min(min, c.enqueuedAt.getTime()), Infinity);
        const batch: MicroBatch = {
          entity,
          lane: claimed[0]!.lane,
          records: claimed.length,
          profilesWritten: summary.profiles,
          merges: summary.merges,
          splits: summary.splits,
          setAside: setAsideCount,
          ms: performance.now() - started,
          lagMs: Math.max(0, Date.now() - oldest),
        };
        await recordBatch(conn, entity, batch);
        return batch;
      });
      return out;
    } catch (e) {
      if (isTransientConflict(e) && ++conflicts <= 10) continue;
      if (isTransientConflict(e) || isDatabaseUnavailable(e)) throw e;
      // The batch failed on its data: halve it until the one record that fails alone is found.
      const size = Math.min(onlyFirst ?? opts.limit, lastClaimed.length || 1);
      if (size > 1) {
        onlyFirst = Math.max(1, Math.floor(size / 2));
        continue;
      }
      if (lastClaimed.length !== 1) throw e; // it failed before claiming anything: not a record's fault
      const failed = await setAsideRecord(db, entity, opts, lastClaimed[0]!, e as Error);
      if (!failed) throw e;
      setAsideCount++;
      onlyFirst = undefined;
    }
  }
}

/** Sets aside the record that failed alone (by its queue id); false when it is gone or the lease is. */
async function setAsideRecord(db: Knex, entity: Entity, opts: MicroBatchOptions, id: number, error: Error): Promise<boolean> {
  return inPgTransaction(db, async (conn) => {
    if (opts.holder) {
      if (!(await takeLease(conn, entity, opts.holder, opts.leaseMs ?? LEASE_MS))) return false;
    } else await lockResolver(conn, entity);
    return setAside(conn, id, `${error.name}: ${error.message}`);
  });
}

/**
 * Consecutive rows of one class and actor form a group, so records are resolved in queue order
 * (evidence order decides which of two conflicting links wins; it must not depend on batching).
 */
function groupsOf(claimed: QueuedRecord[]): QueuedGroup[] {
  const groups: QueuedGroup[] = [];
  for (const c of claimed) {
    const last = groups[groups.length - 1];
    if (last && last.xdmClass === c.xdmClass && last.actor === c.actor) last.recordKeys.push(c.recordKey);
    else groups.push({ xdmClass: c.xdmClass as XdmClassName, recordKeys: [c.recordKey], actor: c.actor });
  }
  return groups;
}

/** The profile_change outbox's cause: the one writer of the batch, or the resolver when several. */
function causeOf(entity: Entity, claimed: QueuedRecord[]): string {
  const actors = new Set(claimed.map((c) => c.actor));
  return actors.size === 1 ? [...actors][0]! : `resolver:${entity}`;
}

/**
 * Drains the queue until it is empty, without a lease (tests and the fixture recorder): accounts
 * first, then people, as the resolvers would. Returns the records resolved.
 */
export async function drainIdentityQueue(db: Knex, opts: { limit?: number } = {}): Promise<number> {
  let total = 0;
  for (;;) {
    let round = 0;
    for (const entity of ['account', 'person'] as const) {
      for (;;) {
        const b = await resolveMicroBatch(db, entity, { limit: opts.limit ?? 2000 });
        if (!b.records && !b.setAside) break;
        round += b.records;
      }
    }
    total += round;
    if (!round) return total;
  }
}

export interface ResolverRunOptions {
  /** Who holds the lease while this run lasts (unique per activity attempt). */
  holder: string;
  /** Return after about this long (the workflow then starts the next run). */
  runForMs: number;
  /** Largest micro-batch (records claimed at once; default 5,000). */
  maxBatch?: number;
  /**
   * About how long a bulk micro-batch may take while records are being streamed (default 250 ms):
   * its size follows the measured rate, so a streamed record never waits long behind one.
   */
  bulkBatchMs?: number;
  /** With no NOTIFY, look at the queue this often anyway. */
  idlePollMs?: number;
  signal?: AbortSignal;
  /** After every micro-batch and every idle wake-up (heartbeat, metrics). */
  onProgress?: (totals: ResolverRunTotals, last?: MicroBatch) => void;
}

/** What one run did (the workflow adds runs up). */
export type ResolverRunTotals = Omit<ResolverTotals, 'runs'>;

/**
 * The resolver's loop for one run: micro-batches back to back while there is work, each taking
 * what is queued up to `maxBatch` records (a lone streamed record is a batch of one, a backlog is
 * worked off in large batches, where the per-transaction cost is spread thin); when the queue is
 * empty, waits for a NOTIFY from a committing writer (or the poll interval). Releases the lease
 * when it returns or is aborted.
 */
export async function runResolver(db: Knex, entity: Entity, opts: ResolverRunOptions): Promise<ResolverRunTotals> {
  const totals: ResolverRunTotals = { batches: 0, records: 0, profilesWritten: 0, merges: 0, splits: 0, setAside: 0 };
  const limit = opts.maxBatch ?? 5000;
  const sizer = new BulkBatchSizer(opts.bulkBatchMs ?? 250, limit);
  const wake = new Wakeup();
  const listener: Listener = await listen(db, QUEUE_CHANNEL, (payload) => {
    if (payload === undefined || payload === entity) wake.fire();
  });
  const onAbort = () => wake.fire();
  opts.signal?.addEventListener('abort', onAbort);
  const deadline = Date.now() + opts.runForMs;
  try {
    while (!opts.signal?.aborted && Date.now() < deadline) {
      wake.clear();
      const b = await resolveMicroBatch(db, entity, { limit, bulkLimit: sizer.size, holder: opts.holder });
      if (b.records && b.lane) sizer.observe(b.lane, b.records, b.ms);
      if (b.leaseLost) {
        // Another resolver holds the lease (a previous attempt still finishing): stand by.
        opts.onProgress?.(totals);
        await wake.wait(Math.min(opts.idlePollMs ?? 1000, deadline - Date.now()));
        continue;
      }
      if (b.records || b.setAside) {
        addUpTotals(totals, { batches: 1, records: b.records, profilesWritten: b.profilesWritten, merges: b.merges, splits: b.splits, setAside: b.setAside });
        opts.onProgress?.(totals, b);
        continue;
      }
      opts.onProgress?.(totals);
      await wake.wait(Math.min(opts.idlePollMs ?? 1000, Math.max(0, deadline - Date.now())));
    }
    return totals;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await listener.close();
    await withPgConn(db, (conn) => releaseLease(conn, entity, opts.holder)).catch(() => undefined);
  }
}

/**
 * Every entity's resolver loop in this process until `signal` aborts, without Temporal (tests,
 * benchmarks). A loop that fails is started again after a short pause.
 */
export async function runResolversUntil(db: Knex, signal: AbortSignal, opts: { holder: string; idlePollMs?: number; onError?: (entity: Entity, e: Error) => void }): Promise<void> {
  await Promise.all(
    RESOLVER_ENTITIES.map(async (entity) => {
      while (!signal.aborted) {
        try {
          await runResolver(db, entity, { holder: `${opts.holder}/${entity}`, runForMs: 3_600_000, idlePollMs: opts.idlePollMs, signal });
        } catch (e) {
          if (signal.aborted) return;
          opts.onError?.(entity, e as Error);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }),
  );
}

/** Below this, a micro-batch's fixed costs (claim, lease, component loads) outweigh its records. */
const MIN_BULK_BATCH = 500;
/** Streamed records seen this recently keep bulk micro-batches short. */
const STREAM_QUIET_MS = 10_000;

/**
 * The size of the next bulk micro-batch. While records are being streamed (one seen in the last
 * STREAM_QUIET_MS), a batch is what the resolver passes in `targetMs` at its recent rate (a moving
 * average over bulk batches, at least MIN_BULK_BATCH), so a streamed record waits behind one short
 * batch at most; otherwise the largest batch, where the per-transaction cost is spread thinnest.
 */
export class BulkBatchSizer {
  private perMs: number | null = null;
  private lastStreamAt = -Infinity;

  constructor(private readonly targetMs: number, private readonly max: number, private readonly now: () => number = () => performance.now()) {}

  get size(): number {
    if (this.now() - this.lastStreamAt > STREAM_QUIET_MS) return this.max;
    if (this.perMs === null) return Math.min(this.max, 1_000);
    return Math.max(Math.min(MIN_BULK_BATCH, this.max), Math.min(this.max, Math.round(this.perMs * this.targetMs)));
  }

  observe(lane: QueueLane, records: number, ms: number): void {
    if (lane === 'stream') {
      this.lastStreamAt = this.now();
      return;
    }
    if (ms <= 0 || records <= 0) return;
    const rate = records / ms;
    this.perMs = this.perMs === null ? rate : 0.7 * this.perMs + 0.3 * rate;
  }
}

/** A latch: `fire` wakes the current (or the next) `wait`. */
class Wakeup {
  private fired = false;
  private waiter?: () => void;
  fire(): void {
    this.fired = true;
    this.waiter?.();
  }
  clear(): void {
    this.fired = false;
  }
  wait(ms: number): Promise<void> {
    if (this.fired || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.waiter = undefined;
        resolve();
      }
      this.waiter = done;
    });
  }
}
