/**
 * Key sets (source_key_set): the distinct values stored from one source instance at one record
 * path, for sources that read some objects only by key (Marketo companies by the company ids on
 * leads, opportunity roles by lead ids...). A walk pages through the index instead of a DISTINCT
 * over every stored record of the instance, and can ask for only the values whose records changed
 * since a given instant.
 *
 * The set is brought up to date by the reader at the start of each walk, from the records landed
 * since the previous refresh (landing_record's identity id orders arrivals); ingestion does no
 * extra work. Landings younger than SETTLE_MS are read again at the next refresh, so a transaction
 * that took a lower id but committed later is not skipped.
 */
import type { Knex } from 'knex';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import { inPgTransaction } from '../pg-transaction';

export interface KeySetRef {
  sourceType: string;
  instanceId: string;
  /** The sourceType of the stored records' keys (`Marketo`): an instance id is unique only within its type. */
  recordSourceType: string;
  spec: XdmClassSpec;
  /** Dotted path inside the stored record, split: ['b2b', 'accountID']. */
  path: string[];
}

/** Landings younger than this are read again at the next refresh (commit order is not id order). */
export const SETTLE_MS = 15 * 60_000;

/** Values added by one refresh above which the table's statistics are refreshed too. */
const ANALYZE_AFTER_ROWS = 10_000;

const keySetName = (ref: KeySetRef) => `${ref.spec.name}:${ref.path.join('.')}`;

/**
 * Brings the key set up to date: on its first use from every stored record of the instance (one
 * scan), afterwards from the records landed since the last refresh (an index range on landing ids).
 * Refreshes of one key set are serialised; a value's `changed_at` is the latest landing carrying it.
 * `unlessWithinMs`: nothing to do if the set was refreshed that recently.
 */
export async function refreshKeySet(db: Knex, ref: KeySetRef, opts: { unlessWithinMs?: number } = {}): Promise<void> {
  const name = keySetName(ref);
  const key = [ref.sourceType, ref.instanceId, name];
  if (opts.unlessWithinMs !== undefined) {
    const { rows } = await db.raw(
      `/* key_set.fresh */ SELECT 1 FROM source_key_set_refresh WHERE source_type = ? AND source_instance_id = ? AND key_set = ? AND refreshed_at > now() - make_interval(secs => ?)`,
      [...key, opts.unlessWithinMs / 1000],
    );
    if (rows.length) return;
  }
  await inPgTransaction(db, async (conn) => {
    await conn.query(`SELECT pg_advisory_xact_lock(4, hashtext($1))`, [key.join('|')]);
    const { rows } = await conn.query<{ landing_id: string }>(
      `/* key_set.marker */ SELECT landing_id FROM source_key_set_refresh WHERE source_type = $1 AND source_instance_id = $2 AND key_set = $3`,
      key,
    );
    const marker = rows[0]?.landing_id ?? null;
    let added: number;
    if (marker === null) {
      ({ rowCount: added } = await conn.query(
        `/* key_set.build:${ref.spec.table} */ INSERT INTO source_key_set (source_type, source_instance_id, key_set, value, changed_at)
         SELECT $1, $2, $3, v, max(at) FROM (SELECT record #>> $4::text[] AS v, received_at AS at FROM ${ref.spec.table} WHERE source_instance_id = $2 AND source_type = $5) s
         WHERE v IS NOT NULL AND v <> ''
         GROUP BY v
         ON CONFLICT DO NOTHING`,
        [...key, ref.path, ref.recordSourceType],
      ) as { rowCount: number });
    } else {
      ({ rowCount: added } = await conn.query(
        `/* key_set.refresh:${ref.spec.table} */ INSERT INTO source_key_set AS k (source_type, source_instance_id, key_set, value, changed_at)
         SELECT $1, $2, $3, v, max(at) FROM (
           SELECT c.record #>> $4::text[] AS v, l.received_at AS at
           FROM landing_record l JOIN ${ref.spec.table} c ON c.record_key = l.record_key
           WHERE l.id > $5 AND l.xdm_class = $6 AND c.source_instance_id = $2 AND c.source_type = $7
         ) s
         WHERE v IS NOT NULL AND v <> ''
         GROUP BY v
         ON CONFLICT (source_type, source_instance_id, key_set, value) DO UPDATE SET changed_at = EXCLUDED.changed_at
         WHERE k.changed_at < EXCLUDED.changed_at`,
        [...key, ref.path, marker, ref.spec.name, ref.recordSourceType],
      ) as { rowCount: number });
    }
    // A walk right after a large build must not be planned on the empty table's statistics (it
    // would sort the whole set on every page instead of reading the index in order).
    if (added >= ANALYZE_AFTER_ROWS) await conn.query('ANALYZE source_key_set');
    // The next refresh starts after the last landing old enough to be committed in order.
    await conn.query(
      `/* key_set.advance */ INSERT INTO source_key_set_refresh (source_type, source_instance_id, key_set, landing_id, refreshed_at)
       SELECT $1, $2, $3, coalesce((SELECT max(id) FROM landing_record WHERE id > coalesce($4::bigint, 0) AND received_at < now() - make_interval(secs => $5)), $4::bigint, 0), now()
       ON CONFLICT (source_type, source_instance_id, key_set) DO UPDATE SET landing_id = GREATEST(source_key_set_refresh.landing_id, EXCLUDED.landing_id), refreshed_at = EXCLUDED.refreshed_at`,
      [...key, marker, SETTLE_MS / 1000],
    );
  });
}

/**
 * One page of the key set, ascending, after `after`: every value, or only those whose records
 * changed at or after `changedSince`, or only those ending with `suffix`.
 */
export async function keySetPage(db: Knex, ref: KeySetRef, after: string | null, limit: number, only: { changedSince?: string; suffix?: string } = {}): Promise<string[]> {
  const since = only.changedSince ?? null;
  const suffix = only.suffix ?? '';
  const { rows } = await db.raw(
    `/* key_set.page */ SELECT value FROM source_key_set
     WHERE source_type = ? AND source_instance_id = ? AND key_set = ?
       AND (?::timestamptz IS NULL OR changed_at >= ?::timestamptz)
       AND (?::text IS NULL OR value > ?::text)
       AND right(value, length(?)) = ?
     ORDER BY value LIMIT ?`,
    [ref.sourceType, ref.instanceId, keySetName(ref), since, since, after, after, suffix, suffix, limit],
  );
  return rows.map((r: { value: string }) => r.value);
}
