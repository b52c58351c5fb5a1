/** Read back stored records: the canonical (latest) version and its landing history. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { XDM_CLASS_NAMES } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

export function recordRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/v1/records/:xdmClass/:recordKey',
      {
        schema: {
          tags: ['records'],
          summary: 'The stored version of a record, by class and sourceKey (experience events: _id), with its landing history',
          params: z.object({ xdmClass: z.enum(XDM_CLASS_NAMES), recordKey: z.string().min(1) }),
        },
      },
      async (req) => {
        const spec = XDM_CLASSES[req.params.xdmClass];
        const row = await deps.db(spec.table).where({ record_key: req.params.recordKey }).first();
        if (!row) throw new HttpError(404, 'NotFound', `no ${spec.name} record with key '${req.params.recordKey}'`);
        const history = await deps
          .db('landing_record')
          .select('batch_id', deps.db.raw("encode(content_hash, 'hex') AS content_hash"), 'received_at')
          .where({ xdm_class: spec.name, record_key: req.params.recordKey })
          .orderBy('id');
        return {
          xdmClass: spec.name,
          recordKey: row.record_key,
          isDeleted: row.is_deleted,
          sourceUpdatedAt: row.source_updated_at,
          receivedAt: row.received_at,
          externalKey: row.external_key,
          record: row.record,
          landing: history.map((h: { batch_id: string; content_hash: string; received_at: Date }) => ({ batchId: h.batch_id, contentHash: h.content_hash, receivedAt: h.received_at })),
        };
      },
    );
  };
}
