/** One error shape for every API answer that is not a success: `{ error, message, details? }`. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDatabaseUnavailable, isTransientConflict } from '../db/connection';
import { Conflict, InvalidFile, InvalidRequest, NotFound, NotPermitted } from '../domain/errors';

export class HttpError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
  }
}

export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.code, message: err.message, details: err.details });
  if (err instanceof InvalidFile) return reply.code(400).send({ error: 'InvalidFile', message: err.message, details: { problems: err.problems } });
  if (err instanceof InvalidRequest) return reply.code(400).send({ error: 'InvalidRequest', message: err.message });
  if (err instanceof NotFound) return reply.code(404).send({ error: 'NotFound', message: err.message });
  if (err instanceof Conflict) return reply.code(409).send({ error: 'Conflict', message: err.message });
  if (err instanceof NotPermitted) return reply.code(403).send({ error: 'Forbidden', message: err.message });
  if (hasZodFastifySchemaValidationErrors(err)) {
    const problems = err.validation.map((v) => ({ path: [err.validationContext, ...v.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.'), message: v.message }));
    return reply.code(400).send({ error: 'InvalidRequest', message: problems.map((p) => `${p.path}: ${p.message}`).join('; '), details: { problems } });
  }
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (fe.statusCode === 400 && err instanceof SyntaxError)) {
    return reply.code(400).send({ error: 'InvalidJson', message: `the request body is not valid JSON: ${err.message}` });
  }
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return reply.code(400).send({ error: 'InvalidJson', message: 'the request body is empty; send a JSON record or an array of records' });
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send({
      error: 'PayloadTooLarge',
      message: 'the request body is larger than this endpoint accepts (TESSERA_MAX_INGEST_BODY_BYTES, default 10 MB); send fewer records per request (at most 1,000, each at most 100 KB)',
    });
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'UnsupportedMediaType', message: err.message });
  // Postgres data exceptions (class 22: a date out of range, a malformed uuid) are the request's values.
  if (/^22[0-9A-Z]{3}$/.test(String((err as { code?: string }).code ?? ''))) {
    req.log.warn({ err: err.message, code: (err as { code?: string }).code }, 'a request value Postgres refused');
    return reply.code(400).send({ error: 'InvalidRequest', message: 'a value in the request is not valid for its field (out of range or malformed)' });
  }
  if ((err as { code?: string }).code === '57014') {
    return reply.code(503).header('Retry-After', '5').send({ error: 'StatementTimeout', message: 'the database took longer than this API allows (TESSERA_API_STATEMENT_TIMEOUT_MS); nothing was changed, retry later or ask for less' });
  }
  if (isTransientConflict(err)) {
    return reply.code(503).header('Retry-After', '1').send({ error: 'Conflict', message: 'the records collided with a concurrent write; nothing was stored, retry the request' });
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err: err.message }, 'database unavailable');
    return reply.code(503).header('Retry-After', '5').send({ error: 'DatabaseUnavailable', message: 'the database is unavailable; nothing was stored, retry later' });
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return reply.code(fe.statusCode).send({ error: fe.code ?? 'BadRequest', message: err.message });
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send({ error: 'InternalError', message: 'an unexpected error occurred; it has been logged' });
}
