/**
 * The streaming path: validate records of one class and store them before answering. Valid
 * records land and are upserted; invalid ones go to quarantine; all in one transaction, so a
 * failure (Postgres down) leaves nothing half-written.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { FieldError } from '../domain/ingestion/outcome';
import { validateRecord } from '../domain/ingestion/validate-record';
import type { XdmClassSpec } from '../domain/xdm/class-spec';
import { storeIngestBatch, type IngestChannel, type WriteOutcome } from '../db/repositories/ingest-batches';
import { inPgTransaction } from '../db/pg-transaction';
import { profileIdsOf, resolveStoredWithRetry } from '../identity/resolve-stored';
import { loadIdentityConfig } from '../db/repositories/identity-config';

export type RecordResult =
  | { index: number; status: 'accepted'; recordKey: string; outcome: WriteOutcome; profileId?: string }
  | { index: number; status: 'rejected'; quarantineId: string; recordKey: string | null; errors: FieldError[] };

export interface IngestResult {
  batchId: string;
  accepted: number;
  rejected: number;
  counts: Record<WriteOutcome, number>;
  results: RecordResult[];
}

export async function ingestRecords(db: Knex, spec: XdmClassSpec, records: unknown[], channel: IngestChannel = 'api'): Promise<IngestResult> {
  const receivedAt = new Date();
  const batchId = randomUUID();
  const outcomes = records.map((raw, index) => validateRecord(spec, raw, JSON.stringify(raw) ?? 'null', { position: index, receivedAt }));
  const accepted = outcomes.flatMap((o) => (o.kind === 'accepted' ? [o.value] : []));
  const rejected = outcomes.flatMap((o) => (o.kind === 'rejected' ? [o.value] : []));

  const identity = await loadIdentityConfig(db);
  const stored = await inPgTransaction(db, async (tx) => {
    const out = await storeIngestBatch(tx, spec, { batchId, channel, receivedAt, accepted, rejected, classifyNotApplied: true });
    // Resolved in real time: the profile is up to date when the API answers.
    await resolveStoredWithRetry(tx, identity, spec.name, out.appliedKeys, channel);
    const profiles = await profileIdsOf(tx, spec.name, accepted.map((a) => a.key.key));
    return { ...out, profiles };
  });

  const results: RecordResult[] = outcomes.map((o) =>
    o.kind === 'accepted'
      ? { index: o.value.position, status: 'accepted', recordKey: o.value.key.key, outcome: stored.outcomes.get(o.value.position)!, ...profileOf(stored.profiles, o.value.key.key) }
      : { index: o.value.position, status: 'rejected', quarantineId: stored.quarantineIds.get(o.value.position)!, recordKey: o.value.recordKey, errors: o.value.errors },
  );
  const { inserted, updated, unchanged, stale, superseded } = stored.counts;
  return { batchId, accepted: accepted.length, rejected: rejected.length, counts: { inserted, updated, unchanged, stale, superseded }, results };
}

function profileOf(profiles: Map<string, string>, key: string): { profileId?: string } {
  const p = profiles.get(key);
  return p ? { profileId: p } : {};
}
