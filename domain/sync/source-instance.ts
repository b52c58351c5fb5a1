/**
 * A source instance as an operator configures it (API body or sources file): which system, its
 * sourceInstanceID, where to reach it, which secrets hold its credentials, and the sync schedule.
 * Credentials themselves never appear here: `credentialsRef` names the secrets
 * TESSERA_SOURCE_<REF>_CLIENT_ID and TESSERA_SOURCE_<REF>_CLIENT_SECRET.
 */
import { z } from 'zod';

export const SOURCE_TYPE_NAMES = ['marketo', 'salesforce', 'dynamics'] as const;
export type SourceTypeName = (typeof SOURCE_TYPE_NAMES)[number];

/** The `sourceType` of the B2B source keys each connector writes (`{id}@{instance}.Marketo`). */
export const XDM_SOURCE_TYPE: Record<SourceTypeName, string> = { marketo: 'Marketo', salesforce: 'Salesforce', dynamics: 'Dynamics' };

const CRON_ITEM = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/;
/** Allowed values of minute, hour, day of month, month, day of week. */
const CRON_RANGES: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6]];

function cronFieldOk(field: string, [min, max]: [number, number]): boolean {
  return field.split(',').every((item) => {
    const m = CRON_ITEM.exec(item);
    if (!m) return false;
    const [, , from, to, step] = m;
    const inRange = (v: string | undefined) => v === undefined || (Number(v) >= min && Number(v) <= max);
    return inRange(from) && inRange(to) && (to === undefined || Number(from) <= Number(to)) && (step === undefined || Number(step) > 0);
  });
}

/** A five-field cron expression (minute hour day-of-month month day-of-week), as Temporal Schedules take it. */
export const cronSchema = z.string().trim().refine((s) => {
  const fields = s.split(/\s+/);
  return fields.length === 5 && fields.every((f, i) => cronFieldOk(f, CRON_RANGES[i]!));
}, 'must be a five-field cron expression with values in range (minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6), such as "*/15 * * * *"');

/** Daily, at night (UTC): the id-set reconciliation lists every id of the streams that need it. */
export const DEFAULT_RECONCILE_CRON = '30 3 * * *';

export const sourceInstanceConfigSchema = z.strictObject({
  sourceType: z.enum(SOURCE_TYPE_NAMES),
  instanceId: z.string().regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, "-" and "_" (it becomes part of source keys)').max(64),
  label: z.string().min(1).max(200).optional(),
  endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  authEndpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  settings: z.record(z.string(), z.unknown()).default({}),
  credentialsRef: z.string().regex(/^[A-Z0-9_]+$/, 'must be UPPER_SNAKE_CASE, e.g. MARKETO_NA (secrets TESSERA_SOURCE_MARKETO_NA_CLIENT_ID / _CLIENT_SECRET)'),
  schedule: cronSchema.default('*/15 * * * *'),
  /** The id-set reconciliation (deletes the source API does not report): daily by default. */
  reconcileSchedule: cronSchema.default(DEFAULT_RECONCILE_CRON),
  enabled: z.boolean().default(true),
});
export type SourceInstanceConfig = z.infer<typeof sourceInstanceConfigSchema>;
/** A configuration as written (defaults not yet applied): what a sources file or POST /v1/sources holds. */
export type SourceInstanceConfigInput = z.input<typeof sourceInstanceConfigSchema>;

export const sourcesFileSchema = z.strictObject({ instances: z.array(sourceInstanceConfigSchema) });

/** The secret names holding an instance's OAuth client credentials. */
export function credentialSecretNames(credentialsRef: string): { clientId: string; clientSecret: string } {
  return { clientId: `TESSERA_SOURCE_${credentialsRef}_CLIENT_ID`, clientSecret: `TESSERA_SOURCE_${credentialsRef}_CLIENT_SECRET` };
}

/** `marketo/123-ABC-456`: how an instance is named in workflow ids, budgets and quarantine rows. */
export function instancePath(sourceType: string, instanceId: string): string {
  return `${sourceType}/${instanceId}`;
}

/**
 * The hosts each vendor documents for its API and its OAuth endpoint. A source pointing anywhere
 * else would send the instance's client secret there, so it is refused; loopback (the simulators
 * under simulators/) only when `allowLoopback` (TESSERA_SIMULATED_SOURCES=on: `npm start` and the
 * tests set it).
 */
const VENDOR_HOSTS: Record<SourceTypeName, { endpoint: RegExp[]; auth: RegExp[]; documented: string }> = {
  marketo: { endpoint: [/^[a-z0-9-]+\.mktorest\.com$/], auth: [/^[a-z0-9-]+\.mktorest\.com$/], documented: '<munchkin-id>.mktorest.com' },
  salesforce: {
    endpoint: [/^([a-z0-9-]+\.)+salesforce\.com$/, /^([a-z0-9-]+\.)+force\.com$/],
    auth: [/^([a-z0-9-]+\.)*salesforce\.com$/, /^([a-z0-9-]+\.)+force\.com$/],
    documented: '*.salesforce.com or *.force.com',
  },
  dynamics: { endpoint: [/^([a-z0-9-]+\.)+dynamics\.com$/], auth: [/^login\.microsoftonline\.com$/], documented: '*.dynamics.com, and login.microsoftonline.com for tokens' },
};

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** What is wrong with an instance's endpoints (none: null). Host names are at most 253 characters before any pattern. */
export function endpointProblem(config: Pick<SourceInstanceConfig, 'sourceType' | 'endpoint' | 'authEndpoint'>, allowLoopback: boolean): string | null {
  const rules = VENDOR_HOSTS[config.sourceType];
  for (const [field, url, patterns] of [
    ['endpoint', config.endpoint, rules.endpoint],
    ['authEndpoint', config.authEndpoint, rules.auth],
  ] as const) {
    if (url === undefined) continue;
    const u = new URL(url);
    const host = u.hostname.toLowerCase();
    if (LOOPBACK.has(host)) {
      if (allowLoopback) continue;
      return `${field}: ${host} is this machine; only the simulators may be reached there (TESSERA_SIMULATED_SOURCES=on)`;
    }
    if (u.protocol !== 'https:') return `${field}: ${config.sourceType} is reached over https only`;
    if (host.length > 253 || !patterns.some((p) => p.test(host))) return `${field}: ${host} is not a ${config.sourceType} host (${rules.documented})`;
  }
  return null;
}
