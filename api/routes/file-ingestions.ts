/** File ingestion: start an ingestFile workflow for a file on the server, or for an uploaded body. */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, realpath, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { columnMappingSchema } from '../../domain/ingestion/column-mapping';
import { XDM_CLASS_NAMES } from '../../domain/xdm/class-spec';
import { fileIngestionTotals, getFileIngestion, listFileIngestions, uploadsSince, type FileFormat, type FileIngestionRow } from '../../db/repositories/file-ingestions';

/** Per token, over the last 24 hours (TESSERA_UPLOADS_PER_DAY, TESSERA_UPLOAD_BYTES_PER_DAY). */
export const DEFAULT_UPLOAD_QUOTA = { perDay: 100, bytesPerDay: 20 * 1024 ** 3 };
import { startFileIngestion, type StartFileIngestion } from '../../control/file-ingestions';
import { fileIngestionProgressQuery, percentRead } from '../../contracts/file-ingestion';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

const formatSchema = z.enum(['csv', 'jsonl']);

/**
 * The API reads only files under its import roots (after resolving symlinks and `..`): a path
 * anywhere else could be used to read server files back through the quarantine.
 */
async function allowedPath(requested: string, roots: string[]): Promise<string> {
  const inside = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
  const refuse = () =>
    new HttpError(403, 'PathNotAllowed', `${requested} is outside the import directories (${roots.join(', ')}); copy the file there, upload it, or add its directory to TESSERA_IMPORT_DIRS`);
  const lexical = resolve(requested);
  // Decide on the path as written first, so that answers never reveal what exists elsewhere.
  if (!roots.some((root) => inside(lexical, resolve(root)))) throw refuse();
  const real = await realpath(lexical).catch(() => undefined);
  if (!real) return lexical; // does not exist: inspectFile says so
  const realRoots = await Promise.all(roots.map((root) => realpath(root).catch(() => resolve(root))));
  if (!realRoots.some((root) => inside(real, root))) throw refuse(); // a symlink pointing out
  return real;
}

/**
 * The request body through a PassThrough: a refused upload ends the pipeline without destroying
 * the request itself, so the 413 still reaches the client (on Node 24 an injected request
 * destroyed mid-body never gets its answer). A body that fails or stops before its end (the client
 * aborted, the request timed out) fails the PassThrough, so the pipeline settles and the partial
 * file is removed.
 */
function uploadBody(raw: NodeJS.ReadableStream): PassThrough {
  const body = new PassThrough();
  let ended = false;
  raw.once('end', () => (ended = true));
  raw.once('error', (e: Error) => body.destroy(e));
  raw.once('close', () => {
    if (!ended) body.destroy(new HttpError(400, 'UploadAborted', 'the upload stopped before its end'));
  });
  return raw.pipe(body);
}

/** Counts bytes through a pipeline and fails it past `limit`. */
function byteLimit(limit: number, setting = 'TESSERA_MAX_UPLOAD_BYTES'): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(new HttpError(413, 'PayloadTooLarge', `the upload is larger than ${limit.toLocaleString('en-US')} bytes (${setting})`));
      else done(null, chunk);
    },
  });
}

function view(row: FileIngestionRow, uiUrl: string | undefined, namespace: string) {
  const totals = fileIngestionTotals(row);
  return {
    id: row.id,
    xdmClass: row.xdm_class,
    format: row.format,
    path: row.path,
    ...totals,
    bytesRead: totals.byteOffset,
    percent: percentRead(totals),
    error: row.error,
    workflowId: row.workflow_id,
    workflowUrl: uiUrl ? `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(row.workflow_id)}` : undefined,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
  };
}

export function fileIngestionRoutes(deps: ApiDeps): FastifyPluginAsyncZod {
  async function start(input: Omit<StartFileIngestion, 'tuning'>) {
    const row = await startFileIngestion(deps.db, { client: await deps.temporal.client(), taskQueue: deps.temporal.taskQueue }, input);
    return view(row, deps.temporal.uiUrl, deps.temporal.namespace);
  }

  return async (app) => {
    // Uploaded files are streamed to disk as they arrive, never buffered whole.
    app.addContentTypeParser(['text/csv', 'text/plain', 'application/x-ndjson', 'application/jsonl', 'application/octet-stream'], (_req, payload, done) => done(null, payload));

    app.post(
      '/v1/file-ingestions',
      {
        schema: {
          tags: ['file ingestion'],
          summary: 'Ingest a CSV or JSONL file from one of the server\'s import directories',
          description:
            'Starts an ingestFile workflow (visible in the Temporal UI). CSV columns are XDM field paths, or mapped by `mapping`. ' +
            'The file is checked first: a missing or empty file, unknown columns or a bad mapping answer 400 with every problem.',
          body: z.strictObject({
            path: z.string().min(1).describe('path on the server, inside an import directory (TESSERA_IMPORT_DIRS); relative paths resolve against the first one'),
            class: z.enum(XDM_CLASS_NAMES),
            format: formatSchema.optional().describe('default: from the file extension'),
            mapping: columnMappingSchema.optional(),
            trigger: z.enum(['api', 'cli']).default('api'),
          }),
        },
      },
      async (req, reply) => {
        const b = req.body;
        const path = await allowedPath(isAbsolute(b.path) ? b.path : resolve(deps.importDirs[0] ?? deps.dataDir, b.path), deps.importDirs);
        const format = b.format ?? (path.endsWith('.jsonl') || path.endsWith('.ndjson') ? 'jsonl' : 'csv');
        return reply.code(202).send(await start({ path, xdmClass: b.class, format, mapping: b.mapping ?? null, trigger: b.trigger }));
      },
    );

    app.post(
      '/v1/file-ingestions/upload',
      {
        schema: {
          tags: ['file ingestion'],
          summary: 'Upload a CSV (text/csv) or JSONL (application/x-ndjson) body and ingest it',
          querystring: z.object({ class: z.enum(XDM_CLASS_NAMES), format: formatSchema.optional() }),
        },
      },
      async (req, reply) => {
        const format: FileFormat = req.query.format ?? (String(req.headers['content-type']).includes('ndjson') || String(req.headers['content-type']).includes('jsonl') ? 'jsonl' : 'csv');
        // Each token's uploads of the last 24 hours count against its quota (count and bytes).
        const tokenId = req.principal!.tokenId;
        const quota = deps.uploadQuota ?? DEFAULT_UPLOAD_QUOTA;
        const used = await uploadsSince(deps.db, tokenId, new Date(Date.now() - 86_400_000));
        if (used.count >= quota.perDay) {
          throw new HttpError(429, 'UploadQuota', `this token uploaded ${used.count} files in the last 24 hours, the most it may (TESSERA_UPLOADS_PER_DAY); use an import directory or wait`);
        }
        const room = Math.min(deps.maxUploadBytes, quota.bytesPerDay - used.bytes);
        if (room <= 0) throw new HttpError(429, 'UploadQuota', `this token uploaded ${used.bytes.toLocaleString('en-US')} bytes in the last 24 hours, the most it may (TESSERA_UPLOAD_BYTES_PER_DAY)`);
        const dir = join(deps.dataDir, 'uploads');
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const path = join(dir, `${randomUUID()}.${format}`);
        try {
          // Concurrent uploads of one token are each checked against the usage read above: the quota can be overrun by at most what they upload at once.
          await pipeline(uploadBody(req.body as NodeJS.ReadableStream), byteLimit(room, room < deps.maxUploadBytes ? "this token's TESSERA_UPLOAD_BYTES_PER_DAY" : 'TESSERA_MAX_UPLOAD_BYTES'), createWriteStream(path, { mode: 0o600 }));
          return reply.code(202).send(await start({ path, xdmClass: req.query.class, format, mapping: null, trigger: 'api', uploadedBy: tokenId }));
        } catch (e) {
          await unlink(path).catch(() => undefined);
          // The rest of a refused body is not read: the connection is not kept for another request.
          reply.header('connection', 'close');
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
