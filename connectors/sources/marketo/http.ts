/**
 * The Marketo HTTP layer: identity (client credentials, cached token, refresh on 600/601/602),
 * the REST envelope (HTTP 200 + success:false + string error codes), the retry matrix of
 * connector-apis.md §1.9 on top of the shared withRetries loop, and ranged file downloads that
 * keep the bytes of a body cut mid-transfer (the caller resumes from there with Range).
 */
import { z } from 'zod';
import { isNetworkError, withRetries, type AttemptVerdict, type RetryPolicy } from '../../shared/http-retry';
import type { ConnectorContext } from '../source-connector';
import { SourceAuthFailed, SourceQuotaExhausted, SourceRateLimited, SourceRequestRejected, SourceUnavailable, vendorSummary } from '../errors';
import { msUntilCentralMidnight } from './dates';
import type { MarketoSettings } from './settings';

const tokenSchema = z.object({ access_token: z.string().min(1), token_type: z.string().optional(), expires_in: z.number() });

/** Identity refusals are OAuth-style bodies (`{"error":"unauthorized","error_description":"..."}`), not the REST envelope. */
const identityErrorSchema = z.object({ error: z.string().optional(), error_description: z.string().optional() });

const envelopeSchema = z.object({
  requestId: z.string().optional(),
  success: z.boolean(),
  errors: z.array(z.object({ code: z.union([z.string(), z.number()]).transform(String), message: z.string().optional() })).optional(),
  warnings: z.array(z.unknown()).optional(),
  result: z.array(z.unknown()).optional(),
  moreResult: z.boolean().optional(),
  nextPageToken: z.string().optional(),
});
export type MarketoEnvelope = z.infer<typeof envelopeSchema>;

/** A response-level Marketo error the caller handles itself (e.g. 1029 job queue / export quota, 1035). */
export class MarketoApiError extends Error {
  constructor(readonly code: string, readonly detail: string) {
    super(`Marketo error ${code}: ${detail}`);
    this.name = 'MarketoApiError';
  }
}

export interface RangeResult {
  /** Bytes received (all of them, or the part received before the connection broke). */
  bytes: Buffer;
  /** Total file size from Content-Range (or Content-Length on a 200). */
  total: number | null;
  /** The body ended before the announced length. */
  truncated: boolean;
  /** 404: the file is not there (job not complete, expired, or missing). */
  notFound: boolean;
}

/** 600/601/602 inside an attempt: the token must be fetched again (outside the gate). */
class TokenRejected extends Error {
  constructor(readonly code: string, readonly detail: string) {
    super(`token rejected: ${code} ${detail}`);
  }
}

const AUTH_CODES = new Set(['600', '601', '602']);
const TRANSIENT_CODES = new Set(['604', '608', '611', '713', '614', '502']);
/** Codes the bulk/stream logic handles (returned as MarketoApiError, never retried here). */
const PASS_THROUGH = new Set(['1029', '1035']);

export class MarketoHttp {
  private token: { value: string; expiresAt: number } | null = null;
  private tokenPromise: Promise<string> | null = null;
  readonly policy: RetryPolicy;
  private readonly fetchFn: typeof fetch;
  readonly label: string;

  constructor(private readonly ctx: ConnectorContext, private readonly settings: MarketoSettings) {
    this.policy = { maxAttempts: settings.maxAttempts, baseDelayMs: settings.baseDelayMs, maxDelayMs: settings.maxDelayMs, timeoutMs: settings.timeoutMs };
    this.fetchFn = ctx.fetch ?? fetch;
    this.label = `Marketo ${ctx.instance.instanceId}`;
  }

  private get base(): string {
    return this.ctx.instance.endpoint.replace(/\/+$/, '');
  }

  /** The cached token, or a new one (Marketo returns the same token until it expires). */
  async accessToken(signal: AbortSignal, force = false): Promise<string> {
    if (!force && this.token && this.token.expiresAt > Date.now() + 5_000) return this.token.value;
    if (!this.tokenPromise) {
      this.tokenPromise = this.fetchToken(signal).finally(() => {
        this.tokenPromise = null;
      });
    }
    return this.tokenPromise;
  }

  private async fetchToken(signal: AbortSignal): Promise<string> {
    // Adobe documents grant_type, client_id and client_secret as query parameters of the identity
    // call, for GET and POST alike; a form body is not part of the contract.
    const query = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.ctx.credentials.clientId, client_secret: this.ctx.credentials.clientSecret });
    const url = `${(this.ctx.instance.authEndpoint ?? this.base).replace(/\/+$/, '')}${this.ctx.instance.authEndpoint ? '' : '/identity/oauth/token'}?${query}`;
    const token = await withRetries(this.ctx.gate, this.policy, signal, async (_n, s): Promise<AttemptVerdict<z.infer<typeof tokenSchema>>> => {
      let res: Response;
      try {
        res = await this.fetchFn(url, { method: 'POST', headers: { accept: 'application/json' }, signal: s });
      } catch (err) {
        if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `identity: ${(err as Error).message}`) };
        throw err;
      }
      const text = await readText(res);
      if (text === null) return { kind: 'retry', error: new SourceUnavailable(this.label, 'identity response cut off') };
      if (res.status === 401 || res.status === 403 || res.status === 400) {
        const body = identityErrorSchema.safeParse(safeJson(text));
        const detail = (body.success ? vendorSummary(body.data.error, body.data.error_description) : '') || `HTTP ${res.status}`;
        throw new SourceAuthFailed(this.label, detail);
      }
      if (res.status >= 500 || res.status === 429) return { kind: 'retry', error: new SourceUnavailable(this.label, `identity HTTP ${res.status}`) };
      if (res.status !== 200) throw new SourceRequestRejected(this.label, `identity HTTP ${res.status}`);
      const parsed = tokenSchema.safeParse(safeJson(text));
      if (!parsed.success) return { kind: 'retry', error: new SourceUnavailable(this.label, 'identity returned an unreadable token response') };
      return { kind: 'done', value: parsed.data };
    });
    this.token = { value: token.access_token, expiresAt: Date.now() + token.expires_in * 1000 };
    return token.access_token;
  }

  /**
   * One REST call: JSON body or form-encoded, envelope checked. Auth errors refresh the token and
   * retry (once per call); 606/615 and transient codes back off; 1029/1035, and the codes the
   * caller names in `passThrough` (e.g. 1018 CRM Enabled), come back as MarketoApiError; other
   * codes are SourceRequestRejected.
   */
  async call(
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Record<string, string | number | undefined>; json?: unknown; signal: AbortSignal; passThrough?: readonly string[] },
  ): Promise<MarketoEnvelope> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, String(v));
    const url = `${this.base}${path}${qs.size ? `?${qs}` : ''}`;
    return this.withToken(opts.signal, (token) =>
      withRetries(this.ctx.gate, this.policy, opts.signal, async (_n, s): Promise<AttemptVerdict<MarketoEnvelope>> => {
        let res: Response;
        try {
          res = await this.fetchFn(url, {
            method,
            headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}) },
            body: opts.json !== undefined ? JSON.stringify(opts.json) : undefined,
            signal: s,
          });
        } catch (err) {
          if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `${method} ${path}: ${(err as Error).message}`) };
          throw err;
        }
        const text = await readText(res);
        if (text === null) return { kind: 'retry', error: new SourceUnavailable(this.label, `${method} ${path}: response cut off`) };
        if (res.status >= 500 || res.status === 429) {
          const after = Number(res.headers.get('retry-after'));
          return { kind: 'retry', error: new SourceUnavailable(this.label, `${method} ${path}: HTTP ${res.status}`), ...(Number.isFinite(after) && after > 0 ? { afterMs: after * 1000 } : {}) };
        }
        if (res.status === 413 || res.status === 414) throw new SourceRequestRejected(this.label, `${method} ${path}: HTTP ${res.status} (request too large)`);
        if (res.status !== 200) throw new SourceRequestRejected(this.label, `${method} ${path}: HTTP ${res.status}`);
        const parsed = envelopeSchema.safeParse(safeJson(text));
        if (!parsed.success) return { kind: 'retry', error: new SourceUnavailable(this.label, `${method} ${path}: unreadable response`) };
        const env = parsed.data;
        if (env.success) return { kind: 'done', value: env };
        const err = env.errors?.[0] ?? { code: 'unknown', message: 'success:false without errors' };
        if (opts.passThrough?.includes(err.code)) throw new MarketoApiError(err.code, err.message ?? '');
        return this.classify(err.code, err.message ?? '', `${method} ${path}`);
      }),
    );
  }

  /** The retry matrix for a response-level error code. */
  private classify<T>(code: string, message: string, what: string): AttemptVerdict<T> {
    if (AUTH_CODES.has(code)) throw new TokenRejected(code, message);
    if (code === '606') return { kind: 'retry', error: new SourceRateLimited(this.label, `606 ${message}`, this.settings.rateLimitWaitMs), afterMs: this.settings.rateLimitWaitMs };
    if (code === '615') return { kind: 'retry', error: new SourceRateLimited(this.label, `615 ${message}`, this.settings.baseDelayMs * 4) };
    if (code === '607') throw new SourceQuotaExhausted(this.label, `607 ${message}`, msUntilCentralMidnight(Date.now()));
    if (TRANSIENT_CODES.has(code)) return { kind: 'retry', error: new SourceUnavailable(this.label, `${what}: ${code} ${message}`) };
    if (PASS_THROUGH.has(code)) throw new MarketoApiError(code, message);
    throw new SourceRequestRejected(this.label, `${what}: ${code} ${message}`);
  }

  /**
   * Runs `fn` with the current token (fetched outside any gated call, so the gate's slots are never
   * held while waiting for identity); when Marketo says the token is invalid or expired (600/601/602),
   * fetches a token again and runs `fn` once more.
   */
  private async withToken<T>(signal: AbortSignal, fn: (token: string) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken(signal);
      try {
        return await fn(token);
      } catch (err) {
        if (!(err instanceof TokenRejected)) throw err;
        if (attempt >= 1) throw new SourceAuthFailed(this.label, `${err.code} ${err.detail} after a token refresh`);
        if (this.token?.value === token) this.token = null;
      }
    }
  }

  /**
   * GET bytes [from, to] of an export file. A body cut mid-transfer still returns what arrived
   * (truncated: true); nothing at all is retried.
   */
  async range(path: string, from: number, to: number, signal: AbortSignal): Promise<RangeResult> {
    const url = `${this.base}${path}`;
    return this.withToken(signal, (token) => withRetries(this.ctx.gate, this.policy, signal, async (_n, s): Promise<AttemptVerdict<RangeResult>> => {
      let res: Response;
      try {
        res = await this.fetchFn(url, { headers: { authorization: `Bearer ${token}`, range: `bytes=${from}-${to}` }, signal: s });
      } catch (err) {
        if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${path}: ${(err as Error).message}`) };
        throw err;
      }
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        return { kind: 'done', value: { bytes: Buffer.alloc(0), total: null, truncated: false, notFound: true } };
      }
      if (res.status >= 500 || res.status === 429) {
        await res.arrayBuffer().catch(() => undefined);
        return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${path}: HTTP ${res.status}`) };
      }
      const type = res.headers.get('content-type') ?? '';
      if (res.status === 200 && type.includes('application/json')) {
        // An error envelope instead of the file (e.g. an expired token).
        const text = await readText(res);
        const env = envelopeSchema.safeParse(safeJson(text ?? ''));
        if (!env.success) return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${path}: unreadable error response`) };
        if (env.data.success) throw new SourceRequestRejected(this.label, `GET ${path}: JSON instead of the export file`);
        const err = env.data.errors?.[0] ?? { code: 'unknown', message: '' };
        return this.classify(err.code, err.message ?? '', `GET ${path}`);
      }
      if (res.status !== 200 && res.status !== 206) throw new SourceRequestRejected(this.label, `GET ${path}: HTTP ${res.status}`);
      let total: number | null = null;
      let start = 0;
      const cr = res.headers.get('content-range');
      if (res.status === 206 && cr) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr.trim());
        if (!m) throw new SourceRequestRejected(this.label, `GET ${path}: unreadable Content-Range '${cr}'`);
        start = Number(m[1]);
        total = m[3] === '*' ? null : Number(m[3]);
      }
      const expected = Number(res.headers.get('content-length'));
      if (res.status === 200) total = Number.isFinite(expected) ? expected : null;
      const { bytes, broken } = await readBody(res);
      if (bytes.length === 0 && (broken || (Number.isFinite(expected) && expected > 0))) {
        return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${path}: connection closed before any byte`) };
      }
      const truncated = broken || (Number.isFinite(expected) && bytes.length < expected);
      // A 200 answers with the whole file: keep the requested part only.
      const part = res.status === 200 ? bytes.subarray(from, Math.min(bytes.length, to + 1)) : start === from ? bytes : null;
      if (part === null) throw new SourceRequestRejected(this.label, `GET ${path}: asked for bytes from ${from}, got from ${start}`);
      return { kind: 'done', value: { bytes: part, total, truncated: truncated && (res.status === 206 || bytes.length < to + 1), notFound: false } };
    }));
  }
}

async function readText(res: Response): Promise<string | null> {
  try {
    return await res.text();
  } catch {
    return null;
  }
}

async function readBody(res: Response): Promise<{ bytes: Buffer; broken: boolean }> {
  if (!res.body) return { bytes: Buffer.alloc(0), broken: false };
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } catch {
    return { bytes: Buffer.concat(parts, size), broken: true };
  }
  return { bytes: parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.length) : Buffer.concat(parts, size), broken: false };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
