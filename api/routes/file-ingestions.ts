/** File ingestion: start an ingestFile workflow for a file on the server, or for an uploaded body. */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { columnMappingSchema, type ColumnMapping } from '../../domain/ingestion/column-mapping';
import { XDM_CLASS_NAMES, type XdmClassName } from '../../domain/xdm/class-spec';
import { XDM_CLASSES } from '../../domain/xdm/registry';
import { createFileIngestion, getFileIngestion, listFileIngestions, type FileFormat, type FileIngestionRow } from '../../db/repositories/file-ingestions';
import { inspectFile } from '../../ingestion/file-ingestion';
import type { ingestFile } from '../../workflows/ingestion';
import { SA } from '../../workflows/shared/search-attributes';
import { fileIngestionProgressQuery } from '../../workflows/shared/file-ingestion-types';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

const formatSchema = z.enum(['csv', 'jsonl']);

export function fileIngestionWorkflowId(id: string): string {
  return `file-ingestion:${id}`;
}

function view(row: FileIngestionRow, uiUrl: string | undefined, namespace: string) {
  const size = Number(row.size_bytes);
  const offset = Number(row.byte_offset);
  return {
    id: row.id,
    xdmClass: row.xdm_class,
    format: row.format,
    path: row.path,
    status: row.status,
    sizeBytes: size,
    bytesRead: offset,
    percent: size ? Math.min(100, Math.floor((offset / size) * 100)) : 0,
    rows: Number(row.rows_read),
    accepted: Number(row.accepted_count),
    quarantined: Number(row.quarantined_count),
    slices: row.slices,
    error: row.error,
    workflowId: row.workflow_id,
    workflowUrl: uiUrl ? `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(row.workflow_id)}` : undefined,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
  };
}

export function fileIngestionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  async function start(input: { path: string; xdmClass: XdmClassName; format: FileFormat; mapping: ColumnMapping | null; trigger: string }) {
    const spec = XDM_CLASSES[input.xdmClass];
    const inspected = await inspectFile(input.path, input.format, spec, input.mapping); // 400 with every problem, before anything starts
    const id = randomUUID();
    const workflowId = fileIngestionWorkflowId(id);
    await createFileIngestion(deps.db, { id, xdmClass: input.xdmClass, format: input.format, path: input.path, mapping: input.mapping, sizeBytes: inspected.sizeBytes, workflowId });
    const client = await deps.temporal.client();
    await client.workflow.start<typeof ingestFile>('ingestFile', {
      workflowId,
      taskQueue: deps.temporal.taskQueue,
      args: [{ ingestionId: id }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: SA.jobKind, value: 'file-ingestion' },
        { key: SA.entityType, value: input.xdmClass },
        { key: SA.entityId, value: id },
        { key: SA.trigger, value: input.trigger },
      ],
    });
    return view((await getFileIngestion(deps.db, id))!, deps.temporal.uiUrl, deps.temporal.namespace);
  }

  return async (app) => {
    // Uploaded files are streamed to disk as they arrive, never buffered whole.
    app.addContentTypeParser(['text/csv', 'text/plain', 'application/x-ndjson', 'application/jsonl', 'application/octet-stream'], (_req, payload, done) => done(null, payload));

    app.post(
      '/v1/file-ingestions',
      {
        schema: {
          tags: ['file ingestion'],
          summary: 'Ingest a CSV or JSONL file that the server can read',
          description:
            'Starts an ingestFile workflow (visible in the Temporal UI). CSV columns are XDM field paths, or mapped by `mapping`. ' +
            'The file is checked first: a missing or empty file, unknown columns or a bad mapping answer 400 with every problem.',
          body: z.strictObject({
            path: z.string().min(1).describe('path on the server (relative paths are resolved against the data directory)'),
            class: z.enum(XDM_CLASS_NAMES),
            format: formatSchema.optional().describe('default: from the file extension'),
            mapping: columnMappingSchema.optional(),
            trigger: z.enum(['api', 'cli']).default('api'),
          }),
        },
      },
      async (req, reply) => {
        const b = req.body;
        const path = isAbsolute(b.path) ? b.path : resolve(deps.dataDir, b.path);
        const format = b.format ?? (path.endsWith('.jsonl') || path.endsWith('.ndjson') ? 'jsonl' : 'csv');
        return reply.code(202).send(await start({ path, xdmClass: b.class, format, mapping: b.mapping ?? null, trigger: b.trigger }));
      },
    );

    app.post(
      '/v1/file-ingestions/upload',
      {
        bodyLimit: 1024 * 1024 * 1024,
        schema: {
          tags: ['file ingestion'],
          summary: 'Upload a CSV (text/csv) or JSONL (application/x-ndjson) body and ingest it',
          querystring: z.object({ class: z.enum(XDM_CLASS_NAMES), format: formatSchema.optional() }),
        },
      },
      async (req, reply) => {
        const format: FileFormat = req.query.format ?? (String(req.headers['content-type']).includes('ndjson') || String(req.headers['content-type']).includes('jsonl') ? 'jsonl' : 'csv');
        const dir = join(deps.dataDir, 'uploads');
        await mkdir(dir, { recursive: true });
        const path = join(dir, `${randomUUID()}.${format}`);
        await pipeline(req.body as NodeJS.ReadableStream, createWriteStream(path));
        try {
          return reply.code(202).send(await start({ path, xdmClass: req.query.class, format, mapping: null, trigger: 'api' }));
        } catch (e) {
          await unlink(path).catch(() => undefined);
          throw e;
        }
      },
    );

    app.get(
      '/v1/file-ingestions',
      { schema: { tags: ['file ingestion'], summary: 'Recent file ingestions', querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }) } },
      async (req) => ({ ingestions: (await listFileIngestions(deps.db, req.query.limit)).map((r) => view(r, deps.temporal.uiUrl, deps.temporal.namespace)) }),
    );

    app.get(
      '/v1/file-ingestions/:id',
      { schema: { tags: ['file ingestion'], summary: 'Status and counts of a file ingestion (live progress while it runs)', params: z.object({ id: z.uuid() }) } },
      async (req) => {
        const row = await getFileIngestion(deps.db, req.params.id);
        if (!row) throw new HttpError(404, 'NotFound', `no file ingestion ${req.params.id}`);
        const out = view(row, deps.temporal.uiUrl, deps.temporal.namespace);
        if (row.status !== 'running') return out;
        try {
          const client = await deps.temporal.client();
          const live = await client.workflow.getHandle(row.workflow_id).query(fileIngestionProgressQuery);
          return { ...out, live };
        } catch (e) {
          if (e instanceof WorkflowNotFoundError || e instanceof HttpError) return out;
          throw e;
        }
      },
    );
  };
}
