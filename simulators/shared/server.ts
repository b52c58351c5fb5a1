/**
 * The HTTP shell every simulator shares: a Fastify server whose hooks count requests (RequestStats),
 * apply fault rules before the vendor handler runs, and which serves the control API:
 *
 *   GET    /__sim/stats           request counters and limits seen
 *   GET    /__sim/requests        the request log
 *   GET    /__sim/faults          active fault rules      POST /__sim/faults (a rule)   DELETE /__sim/faults
 *   POST   /__sim/clock {advanceMs}
 *
 * Control routes are neither counted nor faulted. Vendor handlers are registered by `routes`.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { SimClock } from './clock';
import { faultRuleSchema, type FaultAction, type FaultController } from './faults';
import type { RequestStats } from './request-stats';

export interface SimulatorServerOptions {
  name: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  clock: SimClock;
  faults: FaultController;
  stats: RequestStats;
  /** Writes a `vendor` fault in the vendor's own error envelope. */
  renderVendorFault(code: string, message: string | undefined, request: FastifyRequest, reply: FastifyReply): FastifyReply;
  /** Groups a path into a route name for the counters (e.g. `/rest/v1/leads.json`). */
  routeOf?(path: string): string;
  routes(app: FastifyInstance): void | Promise<void>;
  /** Extra control endpoints under /__sim/ (e.g. `mutate`), POST with a JSON body. */
  control?: Record<string, (body: unknown) => unknown | Promise<unknown>>;
}

export interface SimulatorServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A `truncate` fault that fired for this request: handlers that send bodies honour it via sendBody. */
    simTruncateAfter?: number;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSimulatorServer(opts: SimulatorServerOptions): Promise<SimulatorServer> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true });
  // Vendors accept form bodies (OAuth token endpoints).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (path.startsWith('/__sim/')) return;
    opts.stats.started(opts.clock.now());
    let done = false;
    reply.raw.once('close', () => {
      if (done) return;
      done = true;
      const auth = request.headers.authorization;
      opts.stats.finished(
        {
          at: opts.clock.now(),
          method: request.method,
          path,
          query: request.url.slice(path.length),
          status: reply.raw.writableFinished ? reply.raw.statusCode : 0,
          headers: {
            ...(auth ? { authorization: auth.split(' ')[0]! } : {}),
            ...pickHeaders(request.headers, ['range', 'prefer', 'content-type', 'if-none-match', 'sforce-query-options']),
          },
        },
        opts.routeOf ? opts.routeOf(path) : path,
      );
    });
    const fault = opts.faults.match(request.method, path);
    if (fault) return applyFault(fault, request, reply, opts);
  });

  app.get('/__sim/stats', async () => opts.stats.snapshot());
  app.get('/__sim/requests', async () => opts.stats.requests());
  app.get('/__sim/faults', async () => opts.faults.list());
  app.post('/__sim/faults', async (request) => ({ id: opts.faults.add(faultRuleSchema.parse(request.body)) }));
  app.delete('/__sim/faults', async () => {
    opts.faults.clear();
    return { cleared: true };
  });
  app.post('/__sim/clock', async (request) => {
    const body = (request.body ?? {}) as { advanceMs?: number };
    if (typeof body.advanceMs === 'number') opts.clock.advance(body.advanceMs);
    return { now: opts.clock.date().toISOString() };
  });
  for (const [name, fn] of Object.entries(opts.control ?? {})) {
    app.post(`/__sim/${name}`, async (request) => fn(request.body));
  }

  await opts.routes(app);
  await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { url: `http://${opts.host ?? '127.0.0.1'}:${port}`, app, close: () => app.close() };
}

async function applyFault(fault: FaultAction, request: FastifyRequest, reply: FastifyReply, opts: SimulatorServerOptions): Promise<FastifyReply | void> {
  switch (fault.kind) {
    case 'http':
      return reply.code(fault.status).headers(fault.headers ?? {}).send(fault.body ?? '');
    case 'vendor':
      return opts.renderVendorFault(fault.code, fault.message, request, reply);
    case 'delay':
      await sleep(fault.ms);
      return;
    case 'drop':
      request.raw.socket.destroy();
      return reply.hijack();
    case 'truncate':
      request.simTruncateAfter = fault.afterBytes;
      return;
    case 'data':
      return;
  }
}

function pickHeaders(headers: Record<string, unknown>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) if (typeof headers[n] === 'string') out[n] = headers[n] as string;
  return out;
}

/**
 * Sends a body, honouring a `truncate` fault: the full Content-Length is announced, only the first
 * bytes are written, then the connection is closed (what a dropped download looks like).
 */
export function sendBody(request: FastifyRequest, reply: FastifyReply, body: string | Buffer, contentType: string, status = 200, headers: Record<string, string> = {}): FastifyReply {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (request.simTruncateAfter === undefined || request.simTruncateAfter >= buf.length) {
    return reply.code(status).headers(headers).type(contentType).send(buf);
  }
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': String(buf.length) });
  raw.write(buf.subarray(0, request.simTruncateAfter), () => raw.destroy());
  return reply;
}
