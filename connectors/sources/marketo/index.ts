/**
 * Marketo Engage source connector (connector-apis.md §1, b2b-model.md §5.1).
 *
 * Streams: `leads`, `activities`, `program-members` (bulk extract), `programs` (asset API),
 * `static-lists`, `list-members` (lead database REST), and the filter-only `companies`,
 * `named-accounts`, `opportunity-roles`, `opportunities` (keyed.ts: keys from records already
 * stored; the last two are skipped with a notice on subscriptions with native CRM sync).
 * `companies`, `named-accounts`, `opportunities` and `list-members` offer id-set reconciliation.
 *
 * Settings: see settings.ts (page bytes, lead fields, initialLoadFrom, crmInstanceId, ...).
 */
import type { ConnectorContext, SourceConnector, SourceConnectorModule } from '../source-connector';
import { SourceRequestRejected } from '../errors';
import { createBulkStream } from './bulk';
import { MarketoHttp } from './http';
import type { MappingContext } from './mapping';
import { NativeCrmSync } from './crm-sync';
import { createKeyedStream, KEYED_STREAMS } from './keyed';
import { createListMembersStream, createProgramsStream, createStaticListsStream } from './rest';
import { marketoSettingsSchema } from './settings';

export { marketoSettingsSchema, type MarketoSettings } from './settings';

export const MARKETO_STREAMS = [
  'leads', 'activities', 'program-members', 'programs', 'static-lists', 'list-members',
  'companies', 'named-accounts', 'opportunity-roles', 'opportunities',
] as const;

function createMarketoConnector(ctx: ConnectorContext): SourceConnector {
  const parsed = marketoSettingsSchema.safeParse(ctx.instance.settings ?? {});
  if (!parsed.success) {
    throw new SourceRequestRejected(`Marketo ${ctx.instance.instanceId}`, `invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const settings = parsed.data;
  const http = new MarketoHttp(ctx, settings);
  const crm = new NativeCrmSync(http);
  const mapping: MappingContext = { munchkinId: ctx.instance.instanceId, crmType: settings.crmType, ...(settings.crmInstanceId ? { crmInstanceId: settings.crmInstanceId } : {}) };
  const streams = [
    createBulkStream('leads', ctx, http, settings, mapping),
    createBulkStream('activities', ctx, http, settings, mapping),
    createBulkStream('program-members', ctx, http, settings, mapping),
    createProgramsStream(http, settings, mapping),
    createStaticListsStream(http, settings, mapping),
    createListMembersStream(http, settings, mapping),
    ...KEYED_STREAMS.map((spec) => createKeyedStream(spec, http, settings, mapping, crm)),
  ];
  return {
    sourceType: 'marketo',
    streams,
    async verify(signal: AbortSignal): Promise<void> {
      await http.accessToken(signal, true);
      await http.call('GET', '/rest/v1/lists.json', { query: { batchSize: 1 }, signal });
    },
  };
}

export const marketoConnector: SourceConnectorModule = {
  sourceType: 'marketo',
  // Marketo: 100 calls / 20 s and 10 concurrent per instance, shared by every integration of the
  // instance; Adobe advises one integration to stay at or under 50 and 5.
  budget: { maxCalls: 50, windowMs: 20_000, maxInFlight: 5 },
  create: createMarketoConnector,
};
