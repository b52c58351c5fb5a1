/** The CLI's HTTP client for the Tessera API: JSON in, JSON out, API errors shown as their message. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The API token the CLI sends: TESSERA_TOKEN, else the file TESSERA_TOKEN_FILE names, else the
 * admin token `npm start` keeps in <TESSERA_DATA_DIR or .data>/secrets/admin.token.
 */
export function cliToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TESSERA_TOKEN) return env.TESSERA_TOKEN.trim();
  const file = env.TESSERA_TOKEN_FILE || join(env.TESSERA_DATA_DIR || '.data', 'secrets', 'admin.token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined = cliToken(),
  ) {}

  /** `accept` lists error statuses whose body is still an answer (e.g. 422 from ingestion: all rejected). */
  async request<T>(method: string, path: string, body?: unknown, accept: number[] = []): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(`cannot reach the Tessera API at ${this.baseUrl} (${(e as Error).message}); is \`npm start\` running? Set TESSERA_API_URL otherwise.`);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (res.status >= 400 && !accept.includes(res.status)) {
      const problems = (json.details as { problems?: unknown[] } | undefined)?.problems;
      throw new Error(`${res.status} ${String(json.error ?? '')}: ${String(json.message ?? text)}${problems ? `\n  - ${problems.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('\n  - ')}` : ''}`);
    }
    return json as T;
  }
}
