/**
 * Access control for every route, in three checks before any handler runs:
 * 1. Host: the request names this API (a DNS-rebinding page names its own host);
 * 2. Origin: a state-changing request from a browser comes from an allowed origin (a web page
 *    cannot drive a local Tessera with simple POSTs);
 * 3. the route's roles (api/access.ts): 401 without a valid token, 403 for a role not listed.
 * Then every state-changing call, and every refused one, goes to the audit log with the token's
 * principal.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { appendAudit } from '../db/repositories/api-tokens';
import type { Principal, TokenVerifier } from '../control/api-tokens';
import { accessOf, mayCall } from './access';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, once its token is verified (null on public routes and refused requests). */
    principal: Principal | null;
  }
}

export interface AccessControl {
  db: Knex;
  verifier: TokenVerifier;
  /** Host names (no port) the API answers to; null: any (a proxy in front checks it). */
  allowedHosts: readonly string[] | null;
  /** Browser origins allowed to send state-changing requests (the Temporal UI's, for the codec). */
  allowedOrigins: readonly string[];
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host name of a Host header, without its port (IPv6 literals keep their brackets). */
export function hostName(host: string | undefined): string | null {
  if (!host || host.length > 260) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::\d{1,5})?$/.exec(host);
  return m ? m[1]!.toLowerCase() : null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any logger and type provider
export function installAccessControl(app: FastifyInstance<any, any, any, any, any>, ac: AccessControl): void {
  app.decorateRequest('principal', null);
  const hosts = ac.allowedHosts ? new Set(ac.allowedHosts.map((h) => h.toLowerCase())) : null;
  const origins = new Set(ac.allowedOrigins);

  // No route without a role: a route missing from api/access.ts stops the API from starting.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (!accessOf(method, route.url)) throw new Error(`route ${method} ${route.url} has no entry in api/access.ts: declare who may call it`);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    if (hosts) {
      const host = hostName(req.headers.host);
      if (!host || !hosts.has(host)) return refuse(reply, 403, 'HostNotAllowed', `this API does not answer to host '${String(req.headers.host ?? '').slice(0, 80)}'; allowed: ${[...hosts].join(', ')} (TESSERA_ALLOWED_HOSTS)`);
    }
    const origin = req.headers.origin;
    if (MUTATING.has(req.method) && origin !== undefined && !origins.has(origin) && !sameOrigin(origin, req.headers.host)) {
      return refuse(reply, 403, 'OriginNotAllowed', `requests from the web origin '${origin.slice(0, 80)}' may not change anything here (TESSERA_ALLOWED_ORIGINS)`);
    }
    const url = req.routeOptions.url;
    if (url === undefined) return; // no such route: the 404 handler answers
    const access = accessOf(req.method, url);
    if (access === 'public') return;
    if (!access) return refuse(reply, 403, 'Forbidden', `${req.method} ${url} is not open to any role`);
    const presented = bearerToken(req) ?? (url.startsWith(CODEC_PREFIX) ? codecSessionToken(req) : null);
    const principal = presented ? await ac.verifier.verify(presented) : null;
    if (!principal) {
      reply.header('WWW-Authenticate', 'Bearer realm="tessera"');
      return refuse(
        reply,
        401,
        'Unauthorized',
        presented
          ? 'the API token is not valid (unknown, revoked or expired)'
          : "this route needs an API token: send 'Authorization: Bearer tsr_…' (npm start writes an admin token to .data/secrets/admin.token; `tessera tokens create` makes more)",
      );
    }
    req.principal = principal;
    if (!mayCall(principal.role, access)) {
      return refuse(reply, 403, 'Forbidden', `role '${principal.role}' may not call ${req.method} ${url}; it needs one of: ${access.join(', ')}`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    const refused = status === 401 || status === 403 || status === 429;
    if (req.method === 'OPTIONS' || (!MUTATING.has(req.method) && !refused)) return;
    const route = req.routeOptions.url;
    if (route === undefined && !refused) return;
    const p = req.principal;
    await appendAudit(ac.db, {
      principal: p?.principal ?? null,
      tokenId: p?.tokenId ?? null,
      role: p?.role ?? null,
      method: req.method,
      route: route ?? req.url.split('?')[0]!.slice(0, 200),
      params: cappedParams(req.params),
      status,
      outcome: refused ? 'refused' : status < 400 ? 'ok' : 'failed',
      ip: req.ip ?? null,
      requestId: req.id ?? null,
    }).catch((e: Error) => req.log.error({ err: e.message, route }, 'audit entry not written'));
  });
}

/** The codec's routes also accept the token from the codec session cookie (api/routes/temporal-codec.ts). */
const CODEC_PREFIX = '/v1/temporal-codec/';
export const CODEC_SESSION_COOKIE = 'tessera_codec';

/** The API's own pages (the OpenAPI UI at /docs) post from the origin the Host names. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** The codec session cookie's token (the Temporal UI sends it with "Include cross-origin credentials"). */
function codecSessionToken(req: FastifyRequest): string | null {
  const cookie = req.headers.cookie;
  if (typeof cookie !== 'string' || cookie.length > 4096) return null;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CODEC_SESSION_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/**
 * The rate-limit key of a bearer token, before it is verified: a hash of the whole token, so a
 * caller who knows a token's id but not its secret spends a budget of its own, not the holder's.
 */
export function rateLimitKeyOf(header: string | undefined): string | null {
  if (typeof header !== 'string' || header.length > 200) return null;
  const token = /^Bearer (tsr_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$/.exec(header)?.[1];
  return token ? `token:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}` : null;
}

function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || h.length > 200) return null;
  const m = /^Bearer ([!-~]+)$/.exec(h);
  return m ? m[1]! : null;
}

function refuse(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

/** Route parameters as the audit keeps them: strings of at most 200 characters. */
function cappedParams(params: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (params && typeof params === 'object') for (const [k, v] of Object.entries(params)) out[k] = String(v).slice(0, 200);
  return out;
}
