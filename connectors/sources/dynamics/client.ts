/**
 * The Dataverse Web API HTTP layer: Entra ID client-credentials tokens (cached, renewed ahead of
 * `expires_in`, refreshed once on a 401), OData GETs through the instance gate with the shared
 * retry loop, and Dataverse's error classification (connector-apis.md §3.6):
 *
 *   401 → refresh the token and retry once, then SourceAuthFailed
 *   429 (requests / execution time / concurrency) → wait Retry-After, then SourceRateLimited
 *   5xx, 408, dropped connections, truncated bodies → backoff, then SourceUnavailable / SourceIncompleteRead
 *   any other 4xx but 403 answering a change token (a delta link, or a nextLink inside a delta
 *     read) → reported to the caller, which starts a full resync: 400 0x80044352 (the version
 *     is older than ExpireChangeTrackingInDays), a token Dataverse cannot read (400), a link
 *     whose $select names a column the org no longer has (400), 404 / 410 / 412 / 422 for a
 *     token the server no longer knows. A full read is the documented way out of all of them,
 *     and if the table itself is the problem the full read fails on its own, naming it.
 *   403 → SourceRequestRejected naming the privilege (a full read would be refused the same way)
 *   other 4xx → SourceRequestRejected (fatal for the call)
 *
 * Secrets (client secret, tokens) are never logged or put in error messages.
 */
import { z } from 'zod';
import { isNetworkError, retryAfterMs, withRetries, type AttemptVerdict, type RetryPolicy } from '../../shared/http-retry';
import { SourceAuthFailed, SourceIncompleteRead, SourceRateLimited, SourceRequestRejected, SourceUnavailable, vendorSummary } from '../errors';
import type { ConnectorContext } from '../source-connector';
import type { DynamicsSettings } from './settings';

/** Dataverse's error for a change-tracking token older than the org's ExpireChangeTrackingInDays. */
export const EXPIRED_VERSION_CODE = '0x80044352';

const tokenResponseSchema = z.object({
  token_type: z.string(),
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
});

const entraErrorSchema = z.object({ error: z.string(), error_description: z.string().optional(), error_codes: z.array(z.number()).optional() });
const dataverseErrorSchema = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });

/** One OData collection page. Rows stay `unknown`: they are checked per row by the mapping. */
export const collectionPageSchema = z.object({
  '@odata.context': z.string(),
  value: z.array(z.unknown()),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});
export type CollectionPage = z.infer<typeof collectionPageSchema>;

/** A change token the server refused (see the header): `expired` for Dataverse's expiry error itself. */
export interface RefusedChangeToken {
  kind: 'change-token-refused';
  expired: boolean;
  /** Status, code and the first sentence of the message, for the run's notices. */
  detail: string;
}

export type GetResult = { kind: 'page'; page: CollectionPage } | RefusedChangeToken;

type AttemptResult = { kind: 'body'; body: unknown } | RefusedChangeToken | { kind: 'unauthorized'; detail: string };

interface Token {
  value: string;
  renewAt: number;
}

const ANNOTATIONS = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"';

export class DataverseClient {
  readonly apiBase: string;
  private readonly label: string;
  private readonly tokenUrl: string;
  private readonly scope: string;
  private readonly policy: RetryPolicy;
  private readonly fetch: typeof fetch;
  private token: Token | null = null;
  private tokenInFlight: Promise<Token> | null = null;

  constructor(private readonly ctx: ConnectorContext, private readonly settings: DynamicsSettings) {
    const endpoint = ctx.instance.endpoint.replace(/\/+$/, '');
    this.apiBase = `${endpoint}/api/data/${settings.apiVersion}/`;
    this.label = `Dynamics organisation ${ctx.instance.instanceId}`;
    if (!ctx.instance.authEndpoint) throw new SourceRequestRejected(this.label, 'the instance has no authEndpoint (https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token)');
    this.tokenUrl = ctx.instance.authEndpoint;
    this.scope = `${endpoint}/.default`;
    this.policy = settings.retry;
    this.fetch = ctx.fetch ?? fetch;
  }

  get instanceLabel(): string {
    return this.label;
  }

  /**
   * GETs an OData collection: `pathOrUrl` relative to the API base, or a nextLink / deltaLink
   * exactly as the server returned it (never re-encoded). `prefer` lists extra preferences.
   * `changeToken`: the URL carries a change token, so a refusal of it is reported, not thrown.
   */
  async getCollection(pathOrUrl: string, prefer: string[], signal: AbortSignal, opts: { changeToken?: boolean } = {}): Promise<GetResult> {
    const url = this.resolve(pathOrUrl);
    const result = await this.get(url, prefer, signal, opts.changeToken ?? false);
    if (result.kind !== 'body') return result;
    const page = collectionPageSchema.safeParse(result.body);
    if (!page.success) throw new SourceRequestRejected(this.label, `GET ${pathOf(url)} returned an unexpected body: ${page.error.issues[0]?.message}`);
    return { kind: 'page', page: page.data };
  }

  /** GETs a JSON document (table definitions) relative to the API base and checks it with `schema`. */
  async getJson<T>(path: string, schema: z.ZodType<T>, signal: AbortSignal): Promise<T> {
    const url = this.resolve(path);
    const result = await this.get(url, [], signal, false);
    if (result.kind !== 'body') throw new SourceRequestRejected(this.label, `GET ${pathOf(url)}: ${result.detail}`);
    const parsed = schema.safeParse(result.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SourceRequestRejected(this.label, `GET ${pathOf(url)} returned an unexpected body: ${issue?.path.join('.')} ${issue?.message}`);
    }
    return parsed.data;
  }

  private resolve(pathOrUrl: string): string {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.apiBase + pathOrUrl;
    if (!url.startsWith(this.apiBase)) throw new SourceRequestRejected(this.label, `refusing to follow a link outside ${this.apiBase}`);
    return url;
  }

  private async get(url: string, prefer: string[], signal: AbortSignal, changeToken: boolean): Promise<{ kind: 'body'; body: unknown } | RefusedChangeToken> {
    const preferHeader = [...prefer, ANNOTATIONS].join(',');
    let refreshed = false;
    for (;;) {
      const token = await this.accessToken(signal);
      const result = await withRetries(this.ctx.gate, this.policy, signal, (_attempt, s) => this.attempt(url, preferHeader, token.value, changeToken, s));
      if (result.kind !== 'unauthorized') return result;
      // 401: the token expired or was revoked before expires_in. Refresh once, then give up.
      if (refreshed) throw new SourceAuthFailed(this.label, `the Web API refused a fresh token (401${result.detail ? `: ${result.detail}` : ''})`);
      refreshed = true;
      if (this.token === token) this.token = null;
    }
  }

  private async attempt(url: string, prefer: string, token: string, changeToken: boolean, signal: AbortSignal): Promise<AttemptVerdict<AttemptResult>> {
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(url, {
        method: 'GET',
        signal,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'odata-maxversion': '4.0',
          'odata-version': '4.0',
          'if-none-match': 'null',
          prefer,
        },
      });
      text = await res.text();
    } catch (err) {
      if (signal.aborted && !isNetworkError(err)) throw err;
      if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${pathOf(url)} failed: ${(err as Error).message}`) };
      throw err;
    }
    if (res.status === 200) {
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { kind: 'retry', error: new SourceIncompleteRead(this.label, `GET ${pathOf(url)} returned a body that is not complete JSON (${text.length} characters)`) };
      }
      return { kind: 'done', value: { kind: 'body', body } };
    }
    const err = parseDataverseError(text);
    const detail = `${res.status}${err.code ? ` ${err.code}` : ''}${err.message ? `: ${err.message}` : ''}`;
    if (res.status === 401) return { kind: 'done', value: { kind: 'unauthorized', detail: err.message ?? (res.headers.get('www-authenticate') ?? '').replace(/,?\s*authorization_uri="[^"]*"/, '') } };
    if (res.status === 429) {
      const after = retryAfterMs(res.headers.get('retry-after')) ?? undefined;
      return { kind: 'retry', error: new SourceRateLimited(this.label, `service protection limit (${detail})`, after ?? 5_000), afterMs: after };
    }
    if (res.status >= 500 || res.status === 408) {
      return { kind: 'retry', error: new SourceUnavailable(this.label, `GET ${pathOf(url)}: ${detail}`), afterMs: retryAfterMs(res.headers.get('retry-after')) };
    }
    if (changeToken && res.status >= 400 && res.status < 500 && res.status !== 403) {
      const expired = res.status === 400 && (err.code?.toLowerCase() === EXPIRED_VERSION_CODE || /version stamp .*expired|change tracking token .*expired/i.test(err.message ?? ''));
      const summary = vendorSummary(err.code, err.message);
      return { kind: 'done', value: { kind: 'change-token-refused', expired, detail: `${res.status}${summary ? ` ${summary}` : ''}` } };
    }
    if (res.status === 403) throw new SourceRequestRejected(this.label, `GET ${pathOf(url)}: missing privilege (${detail}); check the application user's security role`);
    throw new SourceRequestRejected(this.label, `GET ${pathOf(url)}: ${detail}`);
  }

  /** A valid access token, renewed `tokenRefreshMarginMs` before it expires; one request at a time. */
  async accessToken(signal: AbortSignal): Promise<Token> {
    if (this.token && Date.now() < this.token.renewAt) return this.token;
    this.tokenInFlight ??= this.requestToken(signal).finally(() => (this.tokenInFlight = null));
    return this.tokenInFlight;
  }

  private async requestToken(signal: AbortSignal): Promise<Token> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.ctx.credentials.clientId,
      client_secret: this.ctx.credentials.clientSecret,
      scope: this.scope,
    }).toString();
    const token = await withRetries(this.ctx.gate, this.policy, signal, async (_n, s): Promise<AttemptVerdict<Token>> => {
      let res: Response;
      let text: string;
      try {
        res = await this.fetch(this.tokenUrl, { method: 'POST', signal: s, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body });
        text = await res.text();
      } catch (err) {
        if (isNetworkError(err)) return { kind: 'retry', error: new SourceUnavailable(this.label, `token request failed: ${(err as Error).message}`) };
        throw err;
      }
      if (res.status === 200) {
        const parsed = tokenResponseSchema.safeParse(safeJson(text));
        if (!parsed.success) return { kind: 'retry', error: new SourceUnavailable(this.label, 'the token endpoint returned an unreadable body') };
        const lifetime = parsed.data.expires_in * 1000;
        const margin = Math.min(this.settings.tokenRefreshMarginMs, lifetime / 2);
        return { kind: 'done', value: { value: parsed.data.access_token, renewAt: Date.now() + lifetime - margin } };
      }
      if (res.status === 429 || res.status >= 500) {
        return { kind: 'retry', error: new SourceUnavailable(this.label, `token endpoint answered ${res.status}`), afterMs: retryAfterMs(res.headers.get('retry-after')) };
      }
      const err = entraErrorSchema.safeParse(safeJson(text));
      // error_description starts with the AADSTS code and its explanation: its first sentence only.
      const description = err.success ? vendorSummary(err.data.error, err.data.error_description) : `HTTP ${res.status}`;
      throw new SourceAuthFailed(this.label, `Entra ID refused the client credentials (${description})`);
    });
    this.token = token;
    return token;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseDataverseError(text: string): { code?: string; message?: string } {
  const parsed = dataverseErrorSchema.safeParse(safeJson(text));
  return parsed.success ? parsed.data.error : {};
}

/** The path and query of a URL, for messages (no host, no tokens: Dataverse links carry none). */
function pathOf(url: string): string {
  try {
    const u = new URL(url);
    const q = u.search.length > 160 ? `${u.search.slice(0, 160)}…` : u.search;
    return u.pathname + q;
  } catch {
    return url;
  }
}
