/**
 * Runs one simulator in its own process, as a vendor's API runs on its own servers (benchmarks use
 * it so the simulator's work does not share the worker's CPU thread):
 *
 *   tsx simulators/serve.ts <marketo|salesforce|dynamics> '<json options>'
 *
 * Options: `world` (world options), `credentials`, `port`, and the simulator's own options.
 * Prints one JSON line when listening — {url, instanceId, authEndpoint?, groundTruth,
 * suggestedSettings?} — and stops on SIGTERM/SIGINT. Counters: GET <url>/__sim/stats.
 */
import { startDynamicsSimulator } from './dynamics';
import { startMarketoSimulator } from './marketo';
import { startSalesforceSimulator } from './salesforce';
import { buildWorld } from './world/world';

async function main() {
  const [type, json] = process.argv.slice(2);
  const { world: worldOptions, ...options } = JSON.parse(json ?? '{}') as Record<string, any>;
  const world = buildWorld(worldOptions ?? {});
  const sim =
    type === 'marketo' ? await startMarketoSimulator({ world, ...options } as any)
    : type === 'salesforce' ? await startSalesforceSimulator({ world, ...options } as any)
    : type === 'dynamics' ? await startDynamicsSimulator({ world, ...options } as any)
    : undefined;
  if (!sim) throw new Error(`unknown simulator '${type}': marketo, salesforce or dynamics`);
  const s = sim as typeof sim & { authEndpoint?: string; suggestedSettings?: Record<string, unknown> };
  process.stdout.write(`${JSON.stringify({ url: s.url, instanceId: s.instanceId, authEndpoint: s.authEndpoint, groundTruth: s.groundTruth(), suggestedSettings: s.suggestedSettings })}\n`);
  const stop = () => void sim.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`simulator failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
