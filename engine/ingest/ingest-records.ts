/**
 * The streaming path: validate records of one class and store them before answering. Valid
 * records land, are upserted and are queued for the identity resolver; invalid ones go to
 * quarantine; all in one transaction, so a failure (Postgres down) leaves nothing half-written.
 *
 * Read your writes: with `resolution`, the answer waits (up to its bound) for the resolver to pass
 * the queued records and names each record's profile; past the bound it gives the queue position.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { AcceptedRecord, FieldError, RejectedRecord } from '../../domain/ingestion/outcome';
import { NotPermitted } from '../../domain/errors';
import { parseSourceKey } from '../../domain/xdm/source-key';
import { payloadTextOf, validateRecord } from '../../domain/ingestion/validate-record';
import type { XdmClassSpec } from '../../domain/xdm/class-spec';
import { storeIngestBatch, type IngestChannel, type WriteOutcome } from '../../db/repositories/ingest-batches';
import { inPgTransaction, withPgConn } from '../../db/pg-transaction';
import { profileIdsOf, queueForResolution } from '../identity/resolve-stored';
import { identityExtractions } from '../identity/ingest-identities';
import { ingestMetrics } from '../../platform/metrics';
import type { ResolutionWait, ResolutionWatcher } from '../identity/read-your-writes';

export type RecordResult =
  | { index: number; status: 'accepted'; recordKey: string; outcome: WriteOutcome; profileId?: string }
  | { index: number; status: 'rejected'; quarantineId: string; recordKey: string | null; errors: FieldError[] };

export interface IngestResult {
  batchId: string;
  accepted: number;
  rejected: number;
  counts: Record<WriteOutcome, number>;
  /** Whether the profiles in `results` include this write (absent: no profile to wait for). */
  resolution?: ResolutionWait;
  results: RecordResult[];
}

export interface IngestOptions {
  channel?: IngestChannel;
  /** Wait up to `waitMs` for the resolver, then name each record's profile. */
  resolution?: { watcher: ResolutionWatcher; waitMs: number };
  /** Only records of these source instances (`sourcetype/instanceid`, lowercased) may be written; absent: any. */
  instances?: readonly string[] | null;
}

export async function ingestRecords(db: Knex, spec: XdmClassSpec, records: unknown[], opts: IngestOptions = {}): Promise<IngestResult> {
  const channel = opts.channel ?? 'api';
  const receivedAt = new Date();
  const batchId = randomUUID();
  const outcomes = records.map((raw, index) => validateRecord(spec, raw, payloadTextOf(raw), { position: index, receivedAt }));
  const accepted = outcomes.flatMap((o) => (o.kind === 'accepted' ? [o.value] : []));
  const rejected = outcomes.flatMap((o) => (o.kind === 'rejected' ? [o.value] : []));
  if (opts.instances) refuseOtherInstances(accepted, rejected, opts.instances);

  const identities = (await identityExtractions(db))(spec);
  const stored = await inPgTransaction(db, async (tx) => {
    const out = await storeIngestBatch(tx, spec, { batchId, channel, receivedAt, accepted, rejected, classifyNotApplied: true, identities });
    const queued = await queueForResolution(tx, spec.name, out.appliedKeys, channel, 'stream');
    return { ...out, queued };
  });
  ingestMetrics.count(channel, accepted.length, rejected.length);

  let resolution: ResolutionWait | undefined;
  let profiles = new Map<string, string>();
  if (opts.resolution && accepted.length && (spec.name === 'person' || spec.name === 'account')) {
    resolution = stored.queued ? await opts.resolution.watcher.waitFor(stored.queued.entity, stored.queued.ids, opts.resolution.waitMs) : { status: 'resolved', waitedMs: 0 };
    profiles = await withPgConn(db, (conn) => profileIdsOf(conn, spec.name, accepted.map((a) => a.key.key)));
  }

  const results: RecordResult[] = outcomes.map((o) =>
    o.kind === 'accepted'
      ? { index: o.value.position, status: 'accepted', recordKey: o.value.key.key, outcome: stored.outcomes.get(o.value.position)!, ...profileOf(profiles, o.value.key.key) }
      : { index: o.value.position, status: 'rejected', quarantineId: stored.quarantineIds.get(o.value.position)!, recordKey: o.value.recordKey, errors: o.value.errors },
  );
  const { inserted, updated, unchanged, stale, superseded } = stored.counts;
  return { batchId, accepted: accepted.length, rejected: rejected.length, counts: { inserted, updated, unchanged, stale, superseded }, ...(resolution ? { resolution } : {}), results };
}

/**
 * Nothing is stored when any record — valid or not — does not show one of the source instances
 * the caller may write (an invalid record is quarantined, and a replay could store it later).
 */
function refuseOtherInstances(accepted: AcceptedRecord[], rejected: RejectedRecord[], instances: readonly string[]): void {
  const allowed = new Set(instances);
  const claims = [
    ...accepted.map((a) => ({ position: a.position, instance: `${a.key.sourceType}/${a.key.sourceInstanceID}` })),
    ...rejected.map((r) => {
      const key = r.recordKey === null ? null : parseSourceKey(r.recordKey);
      return { position: r.position, instance: key ? `${key.sourceType}/${key.sourceInstanceID}` : 'no source instance' };
    }),
  ].sort((a, b) => a.position - b.position);
  const others = claims.filter((c) => !allowed.has(c.instance.toLowerCase()));
  if (!others.length) return;
  const named = [...new Set(others.map((c) => c.instance))].slice(0, 5);
  throw new NotPermitted(
    `this token may write records of ${instances.join(', ')} only; ${others.length} record(s) belong to ${named.join(', ')} (first at index ${others[0]!.position}); nothing was stored`,
  );
}


function profileOf(profiles: Map<string, string>, key: string): { profileId?: string } {
  const p = profiles.get(key);
  return p ? { profileId: p } : {};
}
