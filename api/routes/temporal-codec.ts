/**
 * Remote payload codec for the Temporal Web UI (`--ui-codec-endpoint` / TEMPORAL_CODEC_ENDPOINT),
 * so operators can read encrypted inputs and results in the UI. The browser calls it directly,
 * so it answers CORS for the UI origins in TESSERA_CODEC_CORS_ORIGINS. Disabled when
 * TESSERA_CODEC_ENDPOINT=off. Put it behind your SSO proxy in production: it decrypts.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyPluginAsync } from 'fastify';

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
    for (const op of ['encode', 'decode'] as const) {
      app.post(`/v1/temporal-codec/${op}`, { schema: { hide: true } as object }, async (req) => {
        const body = req.body as { payloads?: JsonPayload[] } | undefined;
        const payloads = (body?.payloads ?? []).map(fromJson);
        const out = await codec[op](payloads);
        return { payloads: out.map(toJson) };
      });
    }
  };
}
