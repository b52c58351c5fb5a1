/**
 * The simulated SaaS estate `npm start`, the end-to-end tests and the benchmarks sync from: two
 * Marketo instances (the second with native Salesforce sync) and one Dynamics org beside one
 * Salesforce org, all serving views of one synthetic world (so the same people and companies
 * appear in several systems under different ids, linked by the CRM ids the Marketo instances
 * carry). Returns each simulator with the source instance configuration and the secrets Tessera
 * needs to reach it.
 */
import { randomBytes } from 'node:crypto';
import type { SourceInstanceConfigInput } from '../domain/sync/source-instance';
import { credentialSecretNames } from '../domain/sync/source-instance';
import { startDynamicsSimulator } from './dynamics';
import { startMarketoSimulator } from './marketo';
import { startSalesforceSimulator } from './salesforce';
import type { SimulatorHandle } from './shared/simulator';
import { buildWorld, type WorldOptions } from './world/world';

export const DEFAULT_SALESFORCE_ORG = '00D5e000000TsRaEAK';
export const DEFAULT_MUNCHKINS = ['123-ABC-456', '987-XYZ-654'] as const;
export const DEFAULT_DYNAMICS_ORG = 'contoso';

export interface SimulatedSource {
  simulator: SimulatorHandle;
  config: SourceInstanceConfigInput;
  /** Secret name → value (client id and secret under the config's credentialsRef). */
  secrets: Record<string, string>;
}

export interface DefaultStackOptions {
  world?: Partial<WorldOptions>;
  /** First port; the four simulators take it and the next three. 0: any free ports. */
  basePort?: number;
  /** Cron of every instance's schedule. */
  schedule?: string;
  /** Seconds each simulated bulk job step takes (Marketo, Salesforce Bulk 2.0). */
  bulkStepSeconds?: number;
  /** Other instance ids than the defaults (tests sharing one database keep their records apart). */
  ids?: { salesforceOrg: string; munchkins: readonly [string, string]; dynamicsOrg: string };
}

export interface DefaultStack {
  sources: SimulatedSource[];
  stop(): Promise<void>;
}

export async function startDefaultStack(o: DefaultStackOptions = {}): Promise<DefaultStack> {
  const world = buildWorld(o.world);
  const port = (i: number) => (o.basePort ? o.basePort + i : 0);
  const schedule = o.schedule ?? '*/15 * * * *';
  const bulkStep = o.bulkStepSeconds ?? 2;
  const ids = o.ids ?? { salesforceOrg: DEFAULT_SALESFORCE_ORG, munchkins: DEFAULT_MUNCHKINS, dynamicsOrg: DEFAULT_DYNAMICS_ORG };
  // A credentialsRef belongs to one instance: a stack with its own ids has its own secrets too.
  const refOf = (name: string) => (o.ids ? `${name}_${ids.dynamicsOrg.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}` : name);
  const credentials = () => ({ clientId: randomBytes(8).toString('hex'), clientSecret: randomBytes(24).toString('base64url') });
  const secretsOf = (ref: string, c: { clientId: string; clientSecret: string }) => {
    const names = credentialSecretNames(ref);
    return { [names.clientId]: c.clientId, [names.clientSecret]: c.clientSecret };
  };
  const sources: SimulatedSource[] = [];
  try {
    const sfCredentials = credentials();
    const salesforce = await startSalesforceSimulator({ world, port: port(0), credentials: sfCredentials, orgId: ids.salesforceOrg, bulkJobMs: bulkStep * 1000 });
    sources.push({
      simulator: salesforce,
      config: {
        sourceType: 'salesforce',
        instanceId: salesforce.instanceId,
        label: 'Salesforce (simulated)',
        endpoint: salesforce.url,
        authEndpoint: `${salesforce.url}/services/oauth2/token`,
        settings: { bulkPollMs: 1000 },
        credentialsRef: refOf('SALESFORCE_SIM'),
        schedule,
        enabled: true,
      },
      secrets: secretsOf(refOf('SALESFORCE_SIM'), sfCredentials),
    });

    for (const [index, munchkinId] of ids.munchkins.entries()) {
      const c = credentials();
      // The second instance has Marketo's native Salesforce sync: no opportunity-role API there,
      // so its opportunities and roles come from the Salesforce org only.
      const nativeCrmSync = index === 1 ? ('salesforce' as const) : null;
      const marketo = await startMarketoSimulator({ world, port: port(1 + index), credentials: c, instanceIndex: index, munchkinId, salesforceOrgId: ids.salesforceOrg, jobSecondsPerStatus: bulkStep, nativeCrmSync });
      const ref = refOf(`MARKETO_SIM_${index + 1}`);
      sources.push({
        simulator: marketo,
        config: {
          sourceType: 'marketo',
          instanceId: marketo.instanceId,
          label: `Marketo ${index + 1} (simulated)`,
          endpoint: marketo.url,
          settings: { ...marketo.suggestedSettings, pollIntervalMs: bulkStep * 1000 },
          credentialsRef: ref,
          schedule,
          enabled: true,
        },
        secrets: secretsOf(ref, c),
      });
    }

    const dynCredentials = credentials();
    const dynamics = await startDynamicsSimulator({ world, port: port(3), credentials: dynCredentials, organization: ids.dynamicsOrg });
    sources.push({
      simulator: dynamics,
      config: {
        sourceType: 'dynamics',
        instanceId: dynamics.instanceId,
        label: 'Dynamics 365 (simulated)',
        endpoint: dynamics.url,
        authEndpoint: dynamics.authEndpoint,
        settings: {},
        credentialsRef: refOf('DYNAMICS_SIM'),
        schedule,
        enabled: true,
      },
      secrets: secretsOf(refOf('DYNAMICS_SIM'), dynCredentials),
    });
  } catch (e) {
    await Promise.all(sources.map((s) => s.simulator.stop()));
    throw e;
  }
  return { sources, stop: async () => void (await Promise.all(sources.map((s) => s.simulator.stop()))) };
}
