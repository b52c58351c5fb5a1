/**
 * The Salesforce source connector: eight standard objects (Account, Contact, Lead, Opportunity,
 * OpportunityContactRole, AccountContactRelation, Campaign, CampaignMember) read with REST
 * queryAll (incremental by SystemModstamp with an overlap) and Bulk API 2.0 for large initial
 * loads, mapped to the XDM B2B classes (b2b-model.md §5.2); records purged from the recycle bin
 * or hard-deleted, which queryAll no longer returns, come from the delete log (sObject Get
 * Deleted) as deletion markers. See stream.ts for the state machine, deleted.ts for the delete
 * log and client.ts for auth, retries and limits.
 *
 * Instance: `instanceId` = the org id (18 chars), `endpoint` = the My Domain URL
 * (`https://acme.my.salesforce.com`), `authEndpoint` = `{My Domain}/services/oauth2/token`
 * (the default). Credentials: the connected app's consumer key and secret (client credentials).
 */
import { SourceRequestRejected } from '../errors';
import type { ConnectorContext, SourceConnector, SourceConnectorModule, SourceStream } from '../source-connector';
import { SalesforceClient } from './client';
import { SalesforceMapper } from './mapping';
import { objectSpec, SALESFORCE_OBJECTS } from './objects';
import { salesforceSettingsSchema, type SalesforceSettings } from './settings';
import { SalesforceStream } from './stream';

export { SalesforceMapper, normaliseDate, normaliseDateTime, SALESFORCE_SOURCE_TYPE } from './mapping';
export { SALESFORCE_OBJECTS, objectSpec } from './objects';
export { salesforceSettingsSchema, type SalesforceSettings } from './settings';

class SalesforceConnector implements SourceConnector {
  readonly sourceType = 'salesforce' as const;
  readonly streams: readonly SourceStream[];
  private readonly client: SalesforceClient;

  constructor(ctx: ConnectorContext, settings: SalesforceSettings) {
    this.client = new SalesforceClient(ctx, settings);
    const mapper = new SalesforceMapper(ctx.instance.instanceId, settings.defaultCurrency ?? null);
    this.streams = (settings.objects ?? SALESFORCE_OBJECTS).map(
      (name) => new SalesforceStream(objectSpec(name, settings.multiCurrency), this.client, mapper, settings),
    );
  }

  async verify(signal: AbortSignal): Promise<void> {
    await this.client.json(`${this.client.dataPath}/limits`, signal);
  }
}

export const salesforceConnector: SourceConnectorModule = {
  sourceType: 'salesforce',
  // Salesforce meters API calls per rolling 24 h (watched through Sforce-Limit-Info) and caps
  // long-running requests at 25 per org and open query cursors at 10 per user: stay under both.
  budget: { maxCalls: 1_500, windowMs: 60_000, maxInFlight: 8 },
  create(ctx: ConnectorContext): SourceConnector {
    const parsed = salesforceSettingsSchema.safeParse(ctx.instance.settings ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SourceRequestRejected(`Salesforce org ${ctx.instance.instanceId}`, `invalid settings: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return new SalesforceConnector(ctx, parsed.data);
  },
};
