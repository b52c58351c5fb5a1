/** Quarantine: list rejected records with their reasons, replay them after a fix, or discard them. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { columnMappingSchema } from '../../domain/ingestion/column-mapping';
import { XDM_CLASS_NAMES } from '../../domain/xdm/class-spec';
import { countQuarantine, discardQuarantine, listQuarantine, type QuarantineRecordRow } from '../../db/repositories/quarantine';
import { replayQuarantine } from '../../engine/ingest/replay-quarantine';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

const idSchema = z.string().regex(/^[1-9]\d{0,17}$/, 'a quarantine id is a positive whole number');
const statusSchema = z.enum(['open', 'replayed', 'discarded']);

function view(r: QuarantineRecordRow) {
  return {
    id: r.id,
    xdmClass: r.xdm_class,
    channel: r.channel,
    status: r.status,
    recordKey: r.record_key,
    fileIngestionId: r.file_ingestion_id,
    position: r.row_number === null ? null : Number(r.row_number),
    errors: r.errors,
    rawKind: r.raw_kind,
    payload: r.payload ?? r.payload_text,
    attempts: r.attempts,
    receivedAt: r.received_at,
    lastAttemptAt: r.last_attempt_at,
    resolvedAt: r.resolved_at,
    resolvedBatchId: r.resolved_batch_id,
  };
}

export function quarantineRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/v1/quarantine',
      {
        schema: {
          tags: ['quarantine'],
          summary: 'List quarantined records with their reasons',
          querystring: z.object({
            class: z.enum(XDM_CLASS_NAMES).optional(),
            fileIngestionId: z.uuid().optional(),
            status: statusSchema.default('open'),
            after: idSchema.optional().describe('paging: the last id of the previous page'),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
        },
      },
      async (req) => {
        const q = req.query;
        const filter = { xdmClass: q.class, fileIngestionId: q.fileIngestionId, status: q.status };
        // The total is counted for the first page only; later pages follow `next`.
        const [rows, total] = await Promise.all([
          listQuarantine(deps.db, { ...filter, afterId: q.after, limit: q.limit }),
          q.after ? Promise.resolve(undefined) : countQuarantine(deps.db, filter),
        ]);
        return { total, records: rows.map(view), next: rows.length === q.limit ? rows[rows.length - 1]!.id : null };
      },
    );

    app.get('/v1/quarantine/:id', { schema: { tags: ['quarantine'], summary: 'One quarantined record', params: z.object({ id: idSchema }) } }, async (req) => {
      const [row] = await listQuarantine(deps.db, { ids: [req.params.id], limit: 1 });
      if (!row) throw new HttpError(404, 'NotFound', `no quarantined record ${req.params.id}`);
      return view(row);
    });

    app.post(
      '/v1/quarantine/replay',
      {
        schema: {
          tags: ['quarantine'],
          summary: 'Replay open quarantined records through the ingestion path',
          description: 'Select by ids, class or file ingestion. CSV rows are re-mapped with `mapping` when given, else with their file\'s mapping.',
          body: z.strictObject({
            ids: z.array(idSchema).min(1).max(1000).optional(),
            class: z.enum(XDM_CLASS_NAMES).optional(),
            fileIngestionId: z.uuid().optional(),
            mapping: columnMappingSchema.optional(),
            limit: z.number().int().min(1).max(1000).default(1000),
          }),
        },
      },
      async (req) => {
        const b = req.body;
        if (!b.ids && !b.class && !b.fileIngestionId) throw new HttpError(400, 'InvalidRequest', 'select the records to replay: ids, class or fileIngestionId');
        return replayQuarantine(deps.db, { ids: b.ids, xdmClass: b.class, fileIngestionId: b.fileIngestionId, mapping: b.mapping, limit: b.limit });
      },
    );

    app.post(
      '/v1/quarantine/:id/replay',
      {
        schema: {
          tags: ['quarantine'],
          summary: 'Replay one quarantined record, optionally corrected',
          params: z.object({ id: idSchema }),
          body: z.strictObject({ record: z.record(z.string(), z.unknown()).optional(), mapping: columnMappingSchema.optional() }).nullish(),
        },
      },
      async (req) => {
        const result = await replayQuarantine(deps.db, { ids: [req.params.id], record: req.body?.record, mapping: req.body?.mapping, limit: 1 });
        if (result.attempted === 0) {
          // Not open (or being replayed right now): say which.
          const [row] = await listQuarantine(deps.db, { ids: [req.params.id], limit: 1 });
          if (!row) throw new HttpError(404, 'NotFound', `no quarantined record ${req.params.id}`);
          throw new HttpError(409, 'AlreadyResolved', `quarantined record ${row.id} is ${row.status === 'open' ? 'being replayed by another request' : `already ${row.status}`}`);
        }
        return result;
      },
    );

    app.post(
      '/v1/quarantine/discard',
      { schema: { tags: ['quarantine'], summary: 'Discard open quarantined records (kept, marked discarded)', body: z.strictObject({ ids: z.array(idSchema).min(1).max(1000) }) } },
      async (req) => ({ discarded: await discardQuarantine(deps.db, req.body.ids) }),
    );
  };
}
