/** Streaming ingestion: POST /v1/ingest/{class} with one XDM record or an array of up to 1,000. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { XDM_CLASS_NAMES } from '../../domain/xdm/class-spec';
import { findXdmClass } from '../../domain/xdm/registry';
import { ingestRecords } from '../../engine/ingest/ingest-records';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

export const MAX_RECORDS_PER_REQUEST = 1_000;
/** What 1,000 B2B records of a few KB each need, with room to spare (TESSERA_MAX_INGEST_BODY_BYTES). */
export const DEFAULT_MAX_INGEST_BODY_BYTES = 10 * 1024 * 1024;

export function ingestRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/classes', { schema: { tags: ['ingestion'], summary: 'The XDM classes Tessera stores' } }, async () => ({
      classes: XDM_CLASS_NAMES.map((name) => {
        const spec = findXdmClass(name)!;
        return { name, title: spec.title, keyPath: spec.keyPath, table: spec.table };
      }),
    }));

    app.post(
      '/v1/ingest/:xdmClass',
      {
        bodyLimit: deps.maxIngestBodyBytes ?? DEFAULT_MAX_INGEST_BODY_BYTES,
        schema: {
          tags: ['ingestion'],
          summary: 'Ingest XDM records of one class (streaming)',
          description:
            'Body: one XDM record or an array of up to 1,000, with the XDM field names Adobe documents. Valid records are stored ' +
            'before the answer; invalid ones are quarantined. The answer gives, per record, accepted (inserted / updated / unchanged / ' +
            'stale / superseded) or rejected with the field path and reason. 200: all accepted; 207: some rejected; 422: all rejected. ' +
            'Person and account records name their profile: the answer waits (TESSERA_INGEST_RESOLVE_WAIT_MS, default 2 s) for the identity ' +
            'resolver to pass them; `resolution.status` is `resolved`, or `pending` with the `queuePosition` when the bound passed first.',
          params: z.object({ xdmClass: z.string().describe(`one of: ${XDM_CLASS_NAMES.join(', ')}`) }),
          body: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).describe('An XDM record or an array of XDM records'),
        },
      },
      async (req, reply) => {
        const spec = findXdmClass(req.params.xdmClass);
        if (!spec) throw new HttpError(404, 'UnknownClass', `unknown XDM class '${req.params.xdmClass}'; use one of: ${XDM_CLASS_NAMES.join(', ')}`);
        const records = Array.isArray(req.body) ? req.body : [req.body];
        if (records.length === 0) throw new HttpError(400, 'EmptyBatch', 'the array is empty; send at least one record');
        if (records.length > MAX_RECORDS_PER_REQUEST) {
          throw new HttpError(413, 'TooManyRecords', `${records.length.toLocaleString('en-US')} records in one request; send at most ${MAX_RECORDS_PER_REQUEST.toLocaleString('en-US')} per request`);
        }
        // An ingest token limited to source instances writes only their records.
        const instances = req.principal?.role === 'ingest' ? req.principal.instances : null;
        const result = await ingestRecords(deps.db, spec, records, { resolution: deps.resolution, instances });
        const status = result.rejected === 0 ? 200 : result.accepted === 0 ? 422 : 207;
        return reply.code(status).send({ xdmClass: spec.name, ...result });
      },
    );
  };
}
