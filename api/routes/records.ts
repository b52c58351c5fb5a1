/** Read back stored records: the canonical (latest) version and its landing history. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { XDM_CLASS_NAMES } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { getCanonicalRecord, landingHistory, type StoredRecord } from '../../db/repositories/records';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

/**
 * What a person or account record's fields said it is when it was stored: its identities (with
 * their fields) and the values refused, with the reason (why an email did not link it to anyone).
 */
function identitiesOf(row: StoredRecord) {
  if (row.identity_config === undefined) return {};
  if (row.identity_config === null) return { identities: null };
  const fields = row.identity_fields ?? [];
  return {
    identities: {
      configVersion: Number(row.identity_config),
      values: (row.identities ?? []).map((identity, i) => ({ identity, field: fields[i] })),
      refused: row.identity_refused ?? [],
    },
  };
}

export function recordRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/v1/records/:xdmClass/:recordKey',
      {
        schema: {
          tags: ['records'],
          summary: 'The stored version of a record, by class and sourceKey (experience events: _id), with its landing history',
          params: z.object({ xdmClass: z.enum(XDM_CLASS_NAMES), recordKey: z.string().min(1).max(1000) }),
          querystring: z.object({
            landingAfter: z
              .string()
              .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the landingNext of the previous answer')
              .optional()
              .describe('paging the landing history: the landingNext of the previous answer'),
            landingLimit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
        },
      },
      async (req) => {
        const spec = XDM_CLASSES[req.params.xdmClass];
        const row = await getCanonicalRecord(deps.db, spec, req.params.recordKey);
        if (!row) throw new HttpError(404, 'NotFound', `no ${spec.name} record with key '${req.params.recordKey}'`);
        return {
          xdmClass: spec.name,
          recordKey: row.record_key,
          isDeleted: row.is_deleted,
          sourceUpdatedAt: row.source_updated_at,
          receivedAt: row.received_at,
          externalKey: row.external_key,
          record: row.record,
          ...identitiesOf(row),
          ...(await landingHistory(deps.db, spec, req.params.recordKey, { limit: req.query.landingLimit, after: req.query.landingAfter }).then((h) => ({ landing: h.entries, landingNext: h.next }))),
        };
      },
    );
  };
}
