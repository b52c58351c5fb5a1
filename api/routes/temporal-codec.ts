/**
 * Remote payload codec for the Temporal Web UI (`--ui-codec-endpoint` / TEMPORAL_CODEC_ENDPOINT),
 * so operators can read encrypted inputs and results in the UI. The browser calls it directly,
 * so it answers CORS for the UI origins in TESSERA_CODEC_CORS_ORIGINS. Disabled when
 * TESSERA_CODEC_ENDPOINT=off. Only an operator's or an admin's token may call it (api/access.ts):
 * the Temporal UI sends one when started with `--ui-codec-endpoint-include-credentials` behind a
 * proxy that adds it, or the operator pastes it in the UI's codec settings (docs/docker.md).
 * Malformed payloads, and payloads this key cannot decrypt, answer 400.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../errors';
import { CODEC_SESSION_COOKIE } from '../auth';

const SESSION_SECONDS = 8 * 3600;

const base64 = z.string().max(4 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const codecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string().max(256), base64).optional(), data: base64.optional() })).max(1000),
});

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? []).toString('base64') };
}

export function temporalCodecRoutes(codec: PayloadCodec, allowedOrigins: string[]): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', async (req, reply) => {
      const origin = req.headers.origin;
      if (origin && allowedOrigins.includes(origin)) {
        reply.header('Access-Control-Allow-Origin', origin);
        reply.header('Vary', 'Origin');
        reply.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
        reply.header('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
        reply.header('Access-Control-Allow-Credentials', 'true');
      }
      if (req.method === 'OPTIONS') return reply.code(204).send();
    });
    app.options('/v1/temporal-codec/:op', async (_req, reply) => reply.code(204).send());
    // The browser's session for the Temporal UI: a cookie holding the caller's token, sent only
    // to the codec's routes (Path), never to another site (SameSite=Strict), unreadable by scripts.
    app.post(
      '/v1/temporal-codec/session',
      { schema: { tags: ['operations'], summary: 'Let this browser decode in the Temporal UI: sets an HttpOnly cookie with your token for the codec routes (8 h)' } },
      async (req, reply) => {
        const token = /^Bearer (tsr_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$/.exec(String(req.headers.authorization ?? ''))?.[1];
        if (!token) throw new HttpError(400, 'TokenRequired', 'send your token as Authorization: Bearer … (the OpenAPI UI at /docs does, once authorized)');
        const secure = req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : '';
        reply.header('Set-Cookie', `${CODEC_SESSION_COOKIE}=${token}; Path=/v1/temporal-codec; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure}`);
        return { session: 'set', expiresInSeconds: SESSION_SECONDS, next: 'in the Temporal UI, open the codec settings and turn on "Include cross-origin credentials"' };
      },
    );
    app.delete('/v1/temporal-codec/session', { schema: { tags: ['operations'], summary: "End this browser's codec session" } }, async (_req, reply) => {
      reply.header('Set-Cookie', `${CODEC_SESSION_COOKIE}=; Path=/v1/temporal-codec; Max-Age=0; HttpOnly; SameSite=Strict`);
      return { session: 'ended' };
    });
    for (const op of ['encode', 'decode'] as const) {
      app.post(`/v1/temporal-codec/${op}`, { schema: { hide: true } as object }, async (req) => {
        const body = codecBody.safeParse(req.body ?? {});
        if (!body.success) throw new HttpError(400, 'InvalidPayload', `expected { payloads: [{ metadata, data }] } with base64 values: ${body.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        let out: Payload[];
        try {
          out = await codec[op](body.data.payloads.map(fromJson));
        } catch (e) {
          // Tampered, truncated, or encrypted with a key this process does not hold: the caller's input.
          throw new HttpError(400, 'InvalidPayload', `the payloads cannot be ${op}d: ${(e as Error).name}`);
        }
        return { payloads: out.map(toJson) };
      });
    }
  };
}
