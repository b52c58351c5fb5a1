/**
 * The Salesforce HTTP layer: OAuth 2.0 client credentials against the org's token endpoint
 * (no expires_in: a 401 INVALID_SESSION_ID is the only expiry signal, answered by one new token
 * and one retry), every attempt through the request gate via the shared retry loop, the vendor's
 * error envelope `[{"message","errorCode"}]` classified per connector-apis.md §2.6, and the
 * daily API usage read from `Sforce-Limit-Info` to stop before the cap.
 */
import { z } from 'zod';
import { DEFAULT_RETRY_POLICY, isNetworkError, retryAfterMs, withRetries, type AttemptVerdict, type RetryPolicy } from '../../shared/http-retry';
import {
  SourceAuthFailed,
  SourceIncompleteRead,
  SourceQuotaExhausted,
  SourceRateLimited,
  SourceRequestRejected,
  SourceUnavailable,
  vendorSummary,
} from '../errors';
import type { ConnectorContext } from '../source-connector';
import type { SalesforceSettings } from './settings';

/** A query cursor (nextRecordsUrl) Salesforce no longer knows: restart the query from the watermark. */
export class InvalidQueryLocator extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidQueryLocator';
  }
}

/**
 * A 4xx answer other than 401, with Salesforce's errorCode, for callers that handle some codes
 * (a missing object, a replication window Salesforce refuses). Uncaught, it is the
 * SourceRequestRejected it extends: not retried.
 */
export class SalesforceRejected extends SourceRequestRejected {
  constructor(
    instanceLabel: string,
    readonly status: number,
    readonly errorCode: string,
    /** Salesforce's message, summarised (vendorSummary). */
    readonly vendorMessage: string,
    detail: string,
  ) {
    super(instanceLabel, detail);
  }
}

const tokenSchema = z.looseObject({ access_token: z.string().min(1), instance_url: z.string().optional(), token_type: z.string().optional() });
const oauthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });
const apiErrorSchema = z.array(z.looseObject({ message: z.string().optional(), errorCode: z.string().optional() }));

export interface HttpResult {
  status: number;
  text: string;
  headers: Headers;
}

export interface SendOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path on the instance (`/services/data/...`), may carry a query string. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  accept?: string;
  /** Checks a 2xx body is complete (e.g. CSV row count); throw SourceIncompleteRead to have it fetched again. */
  check?: (result: HttpResult) => void;
}

/** Daily API usage from the last `Sforce-Limit-Info: api-usage=used/max`. */
export interface ApiUsage {
  used: number;
  max: number;
}

const USAGE = /api-usage=(\d+)\/(\d+)/;
const QUOTA_RETRY_MS = 60 * 60_000;

export class SalesforceClient {
  readonly label: string;
  private readonly base: string;
  private readonly tokenUrl: string;
  private readonly policy: RetryPolicy;
  private readonly fetchImpl: typeof fetch;
  private token: string | null = null;
  private tokenPromise: Promise<string> | null = null;
  usage: ApiUsage | null = null;
  /** When `usage` was read (wall clock). */
  private usageAt = 0;
  /** Salesforce's clock (the `Date` of the last 2xx answer) and this worker's when it was read. */
  private serverClock: { server: number; local: number } | null = null;

  constructor(private readonly ctx: ConnectorContext, private readonly settings: SalesforceSettings) {
    this.label = `Salesforce org ${ctx.instance.instanceId}`;
    this.base = ctx.instance.endpoint.replace(/\/+$/, '');
    this.tokenUrl = ctx.instance.authEndpoint ?? `${this.base}/services/oauth2/token`;
    this.policy = { ...DEFAULT_RETRY_POLICY, ...(settings.retry ?? {}) };
    this.fetchImpl = ctx.fetch ?? fetch;
  }

  /**
   * Now by Salesforce's clock, from the `Date` header of the last successful answer (to the
   * second); null before any. Windows Salesforce measures against its own clock (Get Deleted's
   * 15 days) are computed from it.
   */
  serverNow(): number | null {
    const c = this.serverClock;
    return c === null ? null : c.server + (Date.now() - c.local);
  }

  /** `/services/data/v62.0` */
  get dataPath(): string {
    return `/services/data/${this.settings.apiVersion}`;
  }

  /** Sends a request with auth, retries and classification; returns the 2xx response. */
  async send(opts: SendOptions, signal: AbortSignal): Promise<HttpResult> {
    for (let authAttempt = 0; ; authAttempt++) {
      const token = await this.accessToken(signal);
      const out = await withRetries(this.ctx.gate, this.policy, signal, (_n, s) => this.attempt(opts, token, s));
      if (out !== 'unauthorized') return out;
      if (authAttempt >= 1) throw new SourceAuthFailed(this.label, 'the API refused a freshly issued token (401 INVALID_SESSION_ID)');
      if (this.token === token) this.token = null;
    }
  }

  /** GET (or another method) returning parsed JSON; a body that does not parse is fetched again. */
  async json(path: string, signal: AbortSignal, opts: Omit<SendOptions, 'path' | 'check'> = {}): Promise<unknown> {
    let parsed: unknown;
    await this.send({ ...opts, path, accept: 'application/json', check: (r) => (parsed = parseJson(r.text, this.label, path)) }, signal);
    return parsed;
  }

  private checkQuota(): void {
    const u = this.usage;
    // The reading comes only from responses: once it is an hour old, one request goes through to refresh it.
    if (u && Date.now() - this.usageAt < QUOTA_RETRY_MS && u.max > 0 && (u.used / u.max) * 100 >= this.settings.quotaStopPercent) {
      throw new SourceQuotaExhausted(
        this.label,
        `daily API requests at ${u.used}/${u.max}, at or above the ${this.settings.quotaStopPercent}% stop`,
        QUOTA_RETRY_MS,
      );
    }
  }

  private async attempt(opts: SendOptions, token: string, signal: AbortSignal): Promise<AttemptVerdict<HttpResult | 'unauthorized'>> {
    this.checkQuota();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: opts.accept ?? 'application/json', ...(opts.headers ?? {}) };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + opts.path, { method: opts.method ?? 'GET', headers, body, signal });
    } catch (err) {
      if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `${opts.method ?? 'GET'} ${pathOnly(opts.path)}: ${errText(err)}`) };
      throw err;
    }
    const usage = USAGE.exec(res.headers.get('sforce-limit-info') ?? '');
    if (usage) {
      this.usage = { used: Number(usage[1]), max: Number(usage[2]) };
      this.usageAt = Date.now();
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (isNetworkError(err)) {
        return { kind: 'retry', error: new SourceIncompleteRead(this.label, `the body of ${pathOnly(opts.path)} was cut off (${errText(err)})`) };
      }
      throw err;
    }
    const result: HttpResult = { status: res.status, text, headers: res.headers };
    if (res.ok) {
      const server = Date.parse(res.headers.get('date') ?? '');
      if (Number.isFinite(server)) this.serverClock = { server, local: Date.now() };
      if (opts.check) {
        try {
          opts.check(result);
        } catch (err) {
          if (err instanceof SourceIncompleteRead) return { kind: 'retry', error: err };
          throw err;
        }
      }
      return { kind: 'done', value: result };
    }
    if (res.status === 401) return { kind: 'done', value: 'unauthorized' };
    const { code, message } = readApiError(text);
    const what = `${opts.method ?? 'GET'} ${pathOnly(opts.path)}: ${res.status}${code ? ` ${code}` : ''}${message ? ` ${message}` : ''}`;
    if (res.status === 400 && code === 'INVALID_QUERY_LOCATOR') throw new InvalidQueryLocator(what);
    if (res.status === 403 && code === 'REQUEST_LIMIT_EXCEEDED') {
      if (/TotalRequests|total requests/i.test(message)) throw new SourceQuotaExhausted(this.label, what, QUOTA_RETRY_MS);
      return { kind: 'retry', error: new SourceRateLimited(this.label, what, 60_000), afterMs: retryAfterMs(res.headers.get('retry-after')) };
    }
    if (res.status === 429 || res.status === 420 || res.status === 406) {
      const after = retryAfterMs(res.headers.get('retry-after'));
      return { kind: 'retry', error: new SourceRateLimited(this.label, what, after ?? 60_000), afterMs: after };
    }
    if (res.status >= 500) return { kind: 'retry', error: new SourceUnavailable(this.label, what) };
    throw new SalesforceRejected(this.label, res.status, code, message, what);
  }

  /** The current token, fetching one when there is none (one fetch shared by concurrent callers). */
  private async accessToken(signal: AbortSignal): Promise<string> {
    if (this.token) return this.token;
    this.tokenPromise ??= this.fetchToken(signal).finally(() => (this.tokenPromise = null));
    const token = await this.tokenPromise;
    this.token = token;
    return token;
  }

  private fetchToken(signal: AbortSignal): Promise<string> {
    const { clientId, clientSecret } = this.ctx.credentials;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString();
    return withRetries(this.ctx.gate, this.policy, signal, async (_n, s): Promise<AttemptVerdict<string>> => {
      let res: Response;
      let text: string;
      try {
        res = await this.fetchImpl(this.tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form,
          signal: s,
        });
        text = await res.text();
      } catch (err) {
        if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `token endpoint: ${errText(err)}`) };
        throw err;
      }
      if (res.ok) {
        const parsed = tokenSchema.safeParse(safeJson(text));
        if (!parsed.success) return { kind: 'retry', error: new SourceIncompleteRead(this.label, 'the token endpoint returned no access_token') };
        return { kind: 'done', value: parsed.data.access_token };
      }
      if (res.status >= 500 || res.status === 429) return { kind: 'retry', error: new SourceUnavailable(this.label, `token endpoint: ${res.status}`) };
      const oauth = oauthErrorSchema.safeParse(safeJson(text));
      const detail = oauth.success ? vendorSummary(oauth.data.error, oauth.data.error_description) : `HTTP ${res.status}`;
      if (res.status === 400 || res.status === 401 || res.status === 403) throw new SourceAuthFailed(this.label, `token request refused (${detail})`);
      throw new SourceRequestRejected(this.label, `token endpoint ${this.tokenUrl}: ${detail}`);
    });
  }
}

function readApiError(text: string): { code: string; message: string } {
  const parsed = apiErrorSchema.safeParse(safeJson(text));
  if (parsed.success && parsed.data.length > 0) return { code: parsed.data[0]!.errorCode ?? '', message: vendorSummary(null, parsed.data[0]!.message, 300) };
  // Not Salesforce's error shape (a proxy's page, HTML): never repeated.
  return { code: '', message: `an answer that is not a Salesforce error (${text.length} characters)` };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Parses a 2xx JSON body; a body that does not parse was cut or garbled (retryable). */
export function parseJson(text: string, label: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SourceIncompleteRead(label, `the JSON body of ${pathOnly(path)} does not parse (${text.length} chars)`);
  }
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

function errText(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string } };
  return [e?.message, e?.cause?.code].filter(Boolean).join(' ');
}
