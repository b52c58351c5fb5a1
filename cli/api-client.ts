/** The CLI's HTTP client for the Tessera API: JSON in, JSON out, API errors shown as their message. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  /** `accept` lists error statuses whose body is still an answer (e.g. 422 from ingestion: all rejected). */
  async request<T>(method: string, path: string, body?: unknown, accept: number[] = []): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
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
