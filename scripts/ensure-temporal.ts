/**
 * Finds the Temporal CLI (which embeds the dev server and the Web UI), or builds it.
 *
 * Order: $TEMPORAL_CLI (an explicit path), the cache folder outside the repo
 * ($TESSERA_CACHE_DIR or ~/.cache/tessera), `temporal` on PATH, and finally
 * `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into the cache folder.
 * Later tags cannot be go-installed (their go.mod has a replace directive), so v1.5.1 is
 * pinned, with v1.5.0 and v1.4.1 as fall-backs. The build takes minutes the first time and is
 * reused by every later `npm start` / `npm test` on the machine.
 *
 * Run directly (`npm run temporal:ensure`) it prints the binary's path on the last line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

const VERSIONS = ['1.5.1', '1.5.0', '1.4.1'] as const;

export function temporalCacheDir(): string {
  return join(process.env.TESSERA_CACHE_DIR || join(homedir(), '.cache', 'tessera'), 'temporal-cli');
}

function works(path: string): boolean {
  if (!existsSync(path)) return false;
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' } });
  return r.status === 0;
}

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'temporal');
    if (dir && works(candidate)) return candidate;
  }
  return undefined;
}

function say(msg: string): void {
  process.stderr.write(`[ensure-temporal] ${msg}\n`);
}

function goInstall(version: string): string | undefined {
  const dest = join(temporalCacheDir(), `v${version}`);
  const staging = `${dest}.building-${process.pid}`;
  mkdirSync(staging, { recursive: true });
  say(`building Temporal CLI v${version} with 'go install' (first time only; takes a few minutes on 2 cores)…`);
  const r = spawnSync(
    'go',
    ['install', '-trimpath', '-ldflags', `-s -w -X github.com/temporalio/cli/temporalcli.Version=${version}`, `github.com/temporalio/cli/cmd/temporal@v${version}`],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0' } },
  );
  const built = join(staging, 'temporal');
  if (r.status !== 0 || !works(built)) {
    rmSync(staging, { recursive: true, force: true });
    say(`go install of v${version} failed (exit ${r.status ?? r.signal})`);
    return undefined;
  }
  // Publish atomically so a concurrent `npm test` never sees a half-written binary.
  mkdirSync(dest, { recursive: true });
  renameSync(built, join(dest, 'temporal'));
  rmSync(staging, { recursive: true, force: true });
  return join(dest, 'temporal');
}

export function ensureTemporalCli(): string {
  const explicit = process.env.TEMPORAL_CLI;
  if (explicit) {
    if (works(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI=${explicit} is not a working Temporal CLI binary`);
  }
  for (const v of VERSIONS) {
    const cached = join(temporalCacheDir(), `v${v}`, 'temporal');
    if (works(cached)) return cached;
  }
  const found = onPath();
  if (found) return found;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    throw new Error(
      'No Temporal CLI found and no Go toolchain to build one. Install Go >= 1.25 (https://go.dev/dl) and re-run, ' +
        'or install the official Temporal CLI release (https://docs.temporal.io/cli#install) and put `temporal` on PATH ' +
        '(or set TEMPORAL_CLI=/path/to/temporal).',
    );
  }
  for (const v of VERSIONS) {
    const built = goInstall(v);
    if (built) {
      if (v !== VERSIONS[0]) say(`note: fell back to Temporal CLI v${v}`);
      return built;
    }
  }
  throw new Error(`could not build the Temporal CLI with go install (tried ${VERSIONS.map((v) => `v${v}`).join(', ')})`);
}

if (require.main === module) {
  try {
    const path = ensureTemporalCli();
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
    say(version);
    process.stdout.write(`${path}\n`);
  } catch (e) {
    say((e as Error).message);
    process.exit(1);
  }
}
