/** `npm run bench -- NAME [options]`: runs one benchmark; each prints its figures and its baseline. */
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  'file-ingestion': () => import('./file-ingestion.js'),
  identity: () => import('./identity.js'),
  'marketo-bulk': () => import('./marketo-bulk.js'),
  'marketo-key-reads': () => import('./marketo-key-reads.js'),
  'salesforce-rest': () => import('./salesforce-rest.js'),
  'streaming-api': () => import('./streaming-api.js'),
};

// The benchmarks' sources are the simulators, on this machine (workers they start inherit this).
process.env.TESSERA_SIMULATED_SOURCES = 'on';

// Ctrl-C: exit, so that exit hooks stop the dev servers a benchmark started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

async function main() {
  const [name, ...args] = process.argv.slice(2);
  const load = name ? BENCHES[name] : undefined;
  if (!load) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]\n`);
    process.exit(2);
  }
  await (await load()).run(args);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
