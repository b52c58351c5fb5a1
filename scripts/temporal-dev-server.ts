/**
 * Starts the Temporal CLI's dev server as a child process and waits for it to be healthy
 * (up to a minute, not the SDK's hard-coded 5 s), with Tessera's namespace and search
 * attributes. Used by `npm start` (persistent state, Web UI on 8233) and `npm test`
 * (in-memory, headless, a free port).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { ALL_SEARCH_ATTRIBUTES } from '../contracts/search-attributes';
import { ensureTemporalCli } from './ensure-temporal';

export interface DevServerOptions {
  namespace: string;
  port?: number;
  /** Web UI port; omit for a headless server. */
  uiPort?: number;
  /** SQLite file to persist state across restarts; omit for in-memory. */
  dbFile?: string;
  /** Where the server's own log goes (it is noisy); omit to discard. */
  logFile?: string;
  startTimeoutMs?: number;
  extraArgs?: string[];
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startTemporalDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = ensureTemporalCli();
  const port = opts.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--namespace', opts.namespace,
    '--log-level', 'warn',
    '--dynamic-config-value', 'limit.maxIDLength=255',
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
  ];
  for (const key of ALL_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${key.type}`);
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  args.push(...(opts.extraArgs ?? []));

  const env = { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' };
  // Its own process group: a terminal's Ctrl-C reaches the parent, which stops the server last,
  // after the processes that use it.
  const child = spawn(cli, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  let exited: number | null | undefined;
  child.on('exit', (code) => { exited = code; });
  // Never outlive the process that started the server, however it ends (but SIGKILL).
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(`Temporal dev server exited with code ${exited} during start-up${opts.logFile ? ` (see ${opts.logFile})` : ''}`);
    }
    const health = spawnSync(cli, ['operator', 'cluster', 'health', '--address', address], { encoding: 'utf8', env, timeout: 5_000 });
    if (health.status === 0 && health.stdout.includes('SERVING')) {
      return { address, uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined, process: child, stop };
    }
    await sleep(300);
  }
  await stop();
  throw new Error(`Temporal dev server did not become healthy on ${address} within ${opts.startTimeoutMs ?? 90_000} ms`);
}
