/** API tokens (create, list, revoke) and the audit log. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { INSTANCE_PATTERN, PRINCIPAL_PATTERN, ROLES, ROLE_DESCRIPTIONS } from '../../domain/access/roles';
import { auditPage, listTokens, revokeToken, type TokenRow } from '../../db/repositories/api-tokens';
import { createApiToken, type TokenVerifier } from '../../control/api-tokens';
import { HttpError } from '../errors';
import type { ApiDeps } from '../app';

const tokenBody = z.strictObject({
  principal: z.string().regex(PRINCIPAL_PATTERN, '1–128 letters, digits or . _ @ + -').describe('Who holds it (a person or a system); the audit log names it'),
  role: z.enum(ROLES).describe(Object.entries(ROLE_DESCRIPTIONS).map(([r, d]) => `${r}: ${d}`).join('; ')),
  instances: z.array(z.string().regex(INSTANCE_PATTERN, 'sourceType/instanceId')).min(1).max(100).optional().describe('ingest only: the source instances whose records it may write'),
  description: z.string().max(500).default(''),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

const publicToken = (t: TokenRow) => ({
  id: t.id,
  principal: t.principal,
  role: t.role,
  instances: t.instances,
  description: t.description,
  createdAt: t.created_at,
  createdBy: t.created_by,
  expiresAt: t.expires_at,
  revokedAt: t.revoked_at,
  revokedBy: t.revoked_by,
  lastUsedAt: t.last_used_at,
});

export function accessRoutes(deps: ApiDeps & { verifier: TokenVerifier }): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/tokens', { schema: { tags: ['access'], summary: 'Create an API token (its secret is shown once, in this answer)', body: tokenBody } }, async (req, reply) => {
      if (req.body.instances && req.body.role !== 'ingest') throw new HttpError(400, 'InvalidRequest', 'instances: only ingest tokens are limited to source instances');
      const expiresAt = req.body.expiresAt ? new Date(req.body.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) throw new HttpError(400, 'InvalidRequest', 'expiresAt: must be in the future');
      const { token, row } = await createApiToken(deps.db, { ...req.body, expiresAt }, req.principal!.principal);
      return reply.code(201).send({ token, ...publicToken(row) });
    });

    app.get(
      '/v1/tokens',
      { schema: { tags: ['access'], summary: 'API tokens (never their secrets)', querystring: z.object({ revoked: z.enum(['true', 'false']).default('false') }) } },
      async (req) => ({ tokens: (await listTokens(deps.db, { includeRevoked: req.query.revoked === 'true' })).map(publicToken) }),
    );

    app.delete(
      '/v1/tokens/:tokenId',
      { schema: { tags: ['access'], summary: 'Revoke an API token (within 5 s on every API process)', params: z.object({ tokenId: z.string().regex(/^[0-9a-f]{16}$/, 'a token id: 16 hex characters') }) } },
      async (req) => {
        if (!(await revokeToken(deps.db, req.params.tokenId, req.principal!.principal))) throw new HttpError(404, 'NotFound', `no active token ${req.params.tokenId}`);
        deps.verifier.forget(req.params.tokenId);
        return { revoked: req.params.tokenId };
      },
    );

    app.get(
      '/v1/audit',
      {
        schema: {
          tags: ['access'],
          summary: 'The audit log, newest first: every state-changing call and every refused one (who, what, when, the answer)',
          querystring: z.object({
            before: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
            principal: z.string().regex(PRINCIPAL_PATTERN).optional(),
            since: z.iso.datetime({ offset: true }).optional(),
          }),
        },
      },
      async (req) => {
        const entries = await auditPage(deps.db, { before: req.query.before, limit: req.query.limit, principal: req.query.principal, since: req.query.since ? new Date(req.query.since) : undefined });
        return { entries, next: entries.length === req.query.limit ? entries.at(-1)!.id : null };
      },
    );
  };
}
