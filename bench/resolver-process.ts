/**
 * The identity resolvers' drain loop (engine/identity/resolver.ts, what the resolver activity
 * runs) in a process of its own, for benchmarks that run the API without Temporal. Stops on SIGTERM.
 */
import { createDb } from '../db/connection';
import { runResolversUntil } from '../engine/identity/resolver';

async function main() {
  const db = createDb(process.env.DATABASE_URL!, { max: 4 });
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  await runResolversUntil(db, stop.signal, { holder: `bench/${process.pid}`, onError: (entity, e) => process.stderr.write(`${entity} resolver: ${e.message}\n`) });
  await db.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`resolver process failed: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
