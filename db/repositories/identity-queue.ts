/**
 * The identity change queue and the resolver's lease and totals (migration 20261207120000).
 * Writers enqueue in their own transaction (NOTIFY is delivered at commit); the resolver claims,
 * resolves and deletes in one micro-batch transaction.
 */
import type { Entity } from '../../domain/identity/config';
import type { PgConn } from '../pg-transaction';

/** LISTEN channel: a queue row was committed (payload: the entity). */
export const QUEUE_CHANNEL = 'tessera_identity_queue';
/** LISTEN channel: a micro-batch committed (payload: the entity); read-your-writes waiters look again. */
export const RESOLVED_CHANNEL = 'tessera_identity_resolved';

export interface QueuedRecord {
  id: number;
  lane: QueueLane;
  xdmClass: string;
  recordKey: string;
  actor: string;
  enqueuedAt: Date;
}

/** stream: written through the streaming API, claimed first; bulk: files, syncs, replays. */
export type QueueLane = 'stream' | 'bulk';

/** Queues the records a write changed; returns their queue ids (in key order). */
export async function enqueueRecords(conn: PgConn, entity: Entity, xdmClass: string, recordKeys: readonly string[], actor: string, lane: QueueLane): Promise<number[]> {
  if (!recordKeys.length) return [];
  const { rows } = await conn.query(
    `/* identity_queue.enqueue */
     INSERT INTO identity_queue (entity, xdm_class, record_key, actor, lane) SELECT $1, $2, k, $4, $5 FROM unnest($3::text[]) k RETURNING id::float8 AS id`,
    [entity, xdmClass, recordKeys, actor, lane],
  );
  await conn.query(`/* identity_queue.notify */ SELECT pg_notify($1, $2)`, [QUEUE_CHANNEL, entity]);
  return rows.map((r: { id: number }) => r.id);
}

/**
 * Claims queued records of one resolver, locking them for this transaction (SKIP LOCKED keeps any
 * second drainer off the same rows): the stream lane's oldest, up to `limits.stream`, when it has
 * any — a micro-batch of streamed records only, so their answers come quickly — else the bulk
 * lane's oldest, up to `limits.bulk`. People never overtake accounts: the person resolver claims
 * only records queued before the oldest account still waiting, so a page's accounts are resolved
 * before its people (lead-to-account matching sees them), as one transaction did before the queue.
 */
export async function claimQueued(conn: PgConn, entity: Entity, limits: { stream: number; bulk: number }): Promise<QueuedRecord[]> {
  if (entity !== 'person' && entity !== 'account') throw new Error(`no resolver for '${entity}'`);
  const beforeAccounts = entity === 'person' ? `AND q.id < coalesce((SELECT min(a.id) FROM identity_queue a WHERE a.entity = 'account' AND a.failed_at IS NULL), 9223372036854775807)` : '';
  for (const lane of ['stream', 'bulk'] as const) {
    // Entity and lane are spelled out (from closed sets), not parameters: each statement gets a
    // plan of its own that reads the head of its index, never a generic one sorting the backlog.
    const { rows } = await conn.query(
      `/* identity_queue.claim_${entity}_${lane} */
       SELECT q.id::float8 AS id, q.lane, q.xdm_class, q.record_key, q.actor, q.enqueued_at FROM identity_queue q
        WHERE q.entity = '${entity}' AND q.failed_at IS NULL AND q.lane = '${lane}' ${beforeAccounts}
        ORDER BY q.id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limits[lane]],
    );
    if (rows.length) {
      return rows.map((r: { id: number; lane: QueueLane; xdm_class: string; record_key: string; actor: string; enqueued_at: Date }) => ({
        id: r.id,
        lane: r.lane,
        xdmClass: r.xdm_class,
        recordKey: r.record_key,
        actor: r.actor,
        enqueuedAt: r.enqueued_at,
      }));
    }
  }
  return [];
}

export async function deleteClaimed(conn: PgConn, ids: readonly number[]): Promise<void> {
  if (!ids.length) return;
  await conn.query(`/* identity_queue.delete_claimed */ DELETE FROM identity_queue WHERE id = ANY($1::bigint[])`, [ids]);
}

/** Sets one record aside after it failed to resolve on its own (the queue behind it moves on); false when it is no longer queued. */
export async function setAside(conn: PgConn, id: number, error: string): Promise<boolean> {
  const { rowCount } = await conn.query(`/* identity_queue.set_aside */ UPDATE identity_queue SET failed_at = clock_timestamp(), error = left($2, 2000) WHERE id = $1 AND failed_at IS NULL`, [id, error]);
  return (rowCount ?? 0) > 0;
}

/** Puts the set-aside records of a resolver back in the queue (after a fix); returns how many. */
export async function requeueSetAside(conn: PgConn, entity: Entity): Promise<number> {
  const { rowCount } = await conn.query(`/* identity_queue.requeue */ UPDATE identity_queue SET failed_at = NULL, error = NULL WHERE entity = $1 AND failed_at IS NOT NULL`, [entity]);
  return rowCount ?? 0;
}

/** Which of these queue ids are still waiting (not yet resolved). */
export async function stillQueued(conn: PgConn, ids: readonly number[]): Promise<number[]> {
  if (!ids.length) return [];
  const { rows } = await conn.query(`/* identity_queue.still_queued */ SELECT id::float8 AS id FROM identity_queue WHERE id = ANY($1::bigint[])`, [ids]);
  return rows.map((r: { id: number }) => r.id);
}

/** How many records of this resolver wait before `id` (0: it is next). */
export async function queuePosition(conn: PgConn, entity: Entity, id: number): Promise<number> {
  // Ahead of a streamed record: the streamed records before it; of a bulk one: every stream record and the bulk ones before it.
  const { rows } = await conn.query(
    `/* identity_queue.position */ SELECT count(*)::int AS n FROM identity_queue q, (SELECT lane FROM identity_queue WHERE id = $2) me
      WHERE q.entity = $1 AND q.failed_at IS NULL AND q.id <> $2 AND (q.lane = 'stream' AND (me.lane = 'bulk' OR q.id < $2) OR q.lane = 'bulk' AND me.lane = 'bulk' AND q.id < $2)`,
    [entity, id],
  );
  return rows[0].n;
}

export interface ResolverStateRow {
  entity: Entity;
  holder: string | null;
  leaseUntil: Date | null;
  batches: number;
  records: number;
  merges: number;
  splits: number;
  profilesWritten: number;
  lastBatchAt: Date | null;
  lastBatchSize: number | null;
  lastBatchMs: number | null;
  lastLagMs: number | null;
  /** Records waiting now, and the age of the oldest (ms; 0 when empty). */
  queueDepth: number;
  oldestQueuedMs: number;
  /** Records set aside after failing to resolve. */
  setAside: number;
}

/** Each resolver's totals with its queue's depth and the age of its oldest record. */
export async function resolverStates(conn: PgConn): Promise<ResolverStateRow[]> {
  const { rows } = await conn.query(
    `/* identity_resolver.states */
     SELECT r.entity, r.holder, r.lease_until, r.batches::float8 AS batches, r.records::float8 AS records, r.merges::float8 AS merges,
            r.splits::float8 AS splits, r.profiles_written::float8 AS profiles_written, r.last_batch_at, r.last_batch_size, r.last_batch_ms, r.last_lag_ms,
            coalesce(q.n, 0)::float8 AS depth, coalesce(extract(epoch FROM clock_timestamp() - q.oldest) * 1000, 0)::float8 AS oldest_ms,
            coalesce(q.failed, 0)::float8 AS set_aside
       FROM identity_resolver r
       LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE failed_at IS NULL) AS n, min(enqueued_at) FILTER (WHERE failed_at IS NULL) AS oldest,
                                 count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed
                            FROM identity_queue q WHERE q.entity = r.entity) q ON true
      ORDER BY r.entity`,
  );
  return rows.map((r: Record<string, unknown>) => ({
    entity: r.entity as Entity,
    holder: r.holder as string | null,
    leaseUntil: r.lease_until as Date | null,
    batches: r.batches as number,
    records: r.records as number,
    merges: r.merges as number,
    splits: r.splits as number,
    profilesWritten: r.profiles_written as number,
    lastBatchAt: r.last_batch_at as Date | null,
    lastBatchSize: r.last_batch_size as number | null,
    lastBatchMs: r.last_batch_ms as number | null,
    lastLagMs: r.last_lag_ms as number | null,
    queueDepth: r.depth as number,
    oldestQueuedMs: Math.round(r.oldest_ms as number),
    setAside: r.set_aside as number,
  }));
}

/** Serialises drains of one resolver without a lease (a test's or an operator's drain): the resolver's row, for this transaction. */
export async function lockResolver(conn: PgConn, entity: Entity): Promise<void> {
  await conn.query(`/* identity_resolver.lock */ SELECT 1 FROM identity_resolver WHERE entity = $1 FOR UPDATE`, [entity]);
}

/**
 * Takes or renews the resolver's lease: granted when free, expired, or already this holder's.
 * Returns false when another holder has it.
 */
export async function takeLease(conn: PgConn, entity: Entity, holder: string, ttlMs: number): Promise<boolean> {
  const { rowCount } = await conn.query(
    `/* identity_resolver.take_lease */
     UPDATE identity_resolver SET holder = $2, lease_until = clock_timestamp() + $3 * interval '1 millisecond'
      WHERE entity = $1 AND (holder IS NULL OR holder = $2 OR lease_until < clock_timestamp())`,
    [entity, holder, ttlMs],
  );
  return rowCount === 1;
}

export async function releaseLease(conn: PgConn, entity: Entity, holder: string): Promise<void> {
  await conn.query(`/* identity_resolver.release_lease */ UPDATE identity_resolver SET holder = NULL, lease_until = NULL WHERE entity = $1 AND holder = $2`, [entity, holder]);
}

export interface BatchTotals {
  records: number;
  merges: number;
  splits: number;
  profilesWritten: number;
  ms: number;
  lagMs: number;
}

/** Adds a committed micro-batch to the resolver's totals and wakes read-your-writes waiters (at commit). */
export async function recordBatch(conn: PgConn, entity: Entity, t: BatchTotals): Promise<void> {
  await conn.query(
    `/* identity_resolver.record_batch */
     UPDATE identity_resolver SET batches = batches + 1, records = records + $2, merges = merges + $3, splits = splits + $4,
            profiles_written = profiles_written + $5, last_batch_at = clock_timestamp(), last_batch_size = $2, last_batch_ms = $6, last_lag_ms = $7
      WHERE entity = $1`,
    [entity, t.records, t.merges, t.splits, t.profilesWritten, Math.round(t.ms), Math.round(t.lagMs)],
  );
  await conn.query(`/* identity_queue.notify_resolved */ SELECT pg_notify($1, $2)`, [RESOLVED_CHANNEL, entity]);
}
