/**
 * Replays quarantined records through the same validation and storage path, typically after a
 * mapping fix (CSV rows are kept as {column: cell}, so a corrected mapping applies to them) or
 * a schema-compatible correction of the record itself.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { compileMapping, type ColumnMapping } from '../../domain/ingestion/column-mapping';
import { csvRowObjectOutcome } from '../../domain/ingestion/file-row';
import type { AcceptedRecord, FieldError, RecordOutcome } from '../../domain/ingestion/outcome';
import { validateRecord } from '../../domain/ingestion/validate-record';
import { InvalidRequest } from '../../domain/errors';
import type { XdmClassName } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { storeIngestBatch } from '../../db/repositories/ingest-batches';
import { identityExtractions } from '../identity/ingest-identities';
import { mappingsOfFileIngestions } from '../../db/repositories/file-ingestions';
import { inPgTransaction, type PgConn } from '../../db/pg-transaction';
import { queueForResolution } from '../identity/resolve-stored';
import { ingestMetrics } from '../../platform/metrics';
import { lockOpenQuarantine, markReplayed, recordFailedReplay, type QuarantineRecordRow } from '../../db/repositories/quarantine';

export interface ReplayRequest {
  ids?: string[];
  xdmClass?: XdmClassName;
  fileIngestionId?: string;
  /** A corrected mapping for CSV rows (else the mapping of the file they came from). */
  mapping?: ColumnMapping;
  /** A corrected record, when replaying exactly one id. */
  record?: Record<string, unknown>;
  limit: number;
}

export interface ReplayResult {
  attempted: number;
  replayed: number;
  stillFailing: number;
  results: Array<{ id: string; status: 'replayed' | 'failed'; recordKey: string | null; errors?: FieldError[] }>;
}

export async function replayQuarantine(db: Knex, req: ReplayRequest): Promise<ReplayResult> {
  if (req.record && req.ids?.length !== 1) throw new InvalidRequest('a corrected record can only be replayed for exactly one quarantine id');
  const identitiesOf = await identityExtractions(db);
  return inPgTransaction(db, async (conn) => {
    const rows = await lockOpenQuarantine(conn, { ids: req.ids, xdmClass: req.xdmClass, fileIngestionId: req.fileIngestionId, limit: req.limit });
    const storedMappings = await fileMappings(conn, rows);
    const receivedAt = new Date();
    const result: ReplayResult = { attempted: rows.length, replayed: 0, stillFailing: 0, results: [] };

    const byClass = new Map<XdmClassName, Array<{ row: QuarantineRecordRow; outcome: RecordOutcome }>>();
    rows.forEach((row, position) => {
      const outcome = replayOutcome(row, position, req, storedMappings, receivedAt);
      const list = byClass.get(row.xdm_class) ?? [];
      list.push({ row, outcome });
      byClass.set(row.xdm_class, list);
    });

    for (const [xdmClass, items] of byClass) {
      const accepted: AcceptedRecord[] = [];
      const acceptedIds: string[] = [];
      const failures: Array<{ id: string; errors: FieldError[] }> = [];
      for (const { row, outcome } of items) {
        if (outcome.kind === 'accepted') {
          accepted.push(outcome.value);
          acceptedIds.push(row.id);
          result.results.push({ id: row.id, status: 'replayed', recordKey: outcome.value.key.key });
        } else {
          failures.push({ id: row.id, errors: outcome.value.errors });
          result.results.push({ id: row.id, status: 'failed', recordKey: outcome.value.recordKey ?? row.record_key, errors: outcome.value.errors });
        }
      }
      if (accepted.length) {
        const batchId = randomUUID();
        const stored = await storeIngestBatch(conn, XDM_CLASSES[xdmClass], { batchId, channel: 'replay', receivedAt, accepted, rejected: [], identities: identitiesOf(XDM_CLASSES[xdmClass]) });
        await queueForResolution(conn, xdmClass, stored.appliedKeys, 'replay');
        await markReplayed(conn, acceptedIds, batchId);
      }
      await recordFailedReplay(conn, failures);
      ingestMetrics.count('replay', accepted.length, 0);
      result.replayed += accepted.length;
      result.stillFailing += failures.length;
    }
    return result;
  });
}

function replayOutcome(row: QuarantineRecordRow, position: number, req: ReplayRequest, storedMappings: Map<string, ColumnMapping | null>, receivedAt: Date): RecordOutcome {
  const spec = XDM_CLASSES[row.xdm_class];
  if (req.record) return validateRecord(spec, req.record, JSON.stringify(req.record), { position, receivedAt });
  switch (row.raw_kind) {
    case 'xdm':
      return validateRecord(spec, row.payload, JSON.stringify(row.payload), { position, receivedAt });
    case 'csv-row': {
      const csvRow = row.payload as Record<string, string>;
      const mapping = req.mapping ?? (row.file_ingestion_id ? storedMappings.get(row.file_ingestion_id) ?? null : null);
      const compiled = compileMapping(spec, Object.keys(csvRow), mapping);
      if (!compiled.mapping) {
        if (req.mapping) throw new InvalidRequest(`the mapping does not fit quarantined row ${row.id}: ${compiled.problems.join('; ')}`);
        return { kind: 'rejected', value: { position, xdmClass: spec.name, recordKey: row.record_key, rawKind: 'csv-row', payload: csvRow, errors: compiled.problems.map((m) => ({ path: '', message: m })) } };
      }
      return csvRowObjectOutcome(spec, compiled.mapping, csvRow, position, receivedAt);
    }
    case 'text':
    case 'source-row':
      // Input that could not be parsed (or mapped) stays so: only a corrected record can replace it.
      return {
        kind: 'rejected',
        value: {
          position,
          xdmClass: spec.name,
          recordKey: row.record_key,
          rawKind: row.raw_kind,
          payload: row.payload ?? undefined,
          payloadText: row.payload_text ?? undefined,
          errors: [{ path: '', message: `this input could not be ${row.raw_kind === 'text' ? 'parsed' : 'mapped to XDM'}, so it cannot be replayed as it is; send a corrected record: POST /v1/quarantine/${row.id}/replay {"record": {…}}` }],
        },
      };
  }
}

async function fileMappings(conn: PgConn, rows: QuarantineRecordRow[]): Promise<Map<string, ColumnMapping | null>> {
  return mappingsOfFileIngestions(conn, [...new Set(rows.map((r) => r.file_ingestion_id).filter((x): x is string => !!x))]);
}
