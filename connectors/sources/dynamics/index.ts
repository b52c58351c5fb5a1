/**
 * Microsoft Dynamics 365 (Dataverse Web API v9.2) source connector: accounts, contacts, leads,
 * opportunities, connections (opportunity↔person), campaigns, marketing lists and list members,
 * read with change tracking (delta links, deletes) where the org's table definitions say the table
 * has it, otherwise by a modifiedon watermark (with id listings for reconciliation), mapped to XDM
 * B2B classes with sourceType `Dynamics` and the organisation as sourceInstanceID.
 */
import { SourceRequestRejected } from '../errors';
import type { ConnectorContext, SourceConnector, SourceConnectorModule } from '../source-connector';
import { DataverseClient } from './client';
import { OrgMetadata } from './metadata';
import { dynamicsSettingsSchema } from './settings';
import { createStreams } from './streams';

export { ENTITIES, mapRow, SOURCE_TYPE } from './mapping';
export { PICKLISTS, decodePicklist } from './picklists';
export { dynamicsSettingsSchema, type DynamicsSettings } from './settings';
export { EXPIRED_NOTICE, missingColumnsNotice, refusedTokenNotice } from './streams';

function create(ctx: ConnectorContext): SourceConnector {
  const parsed = dynamicsSettingsSchema.safeParse(ctx.instance.settings ?? {});
  if (!parsed.success) {
    throw new SourceRequestRejected(`Dynamics organisation ${ctx.instance.instanceId}`, `invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const settings = parsed.data;
  const client = new DataverseClient(ctx, settings);
  // Table definitions are asked once per connector, shared by its streams.
  const streams = createStreams(client, new OrgMetadata(client), settings, { instanceId: ctx.instance.instanceId });
  return {
    sourceType: 'dynamics',
    streams,
    async verify(signal) {
      await client.accessToken(signal);
      await client.getCollection('accounts?$select=accountid&$top=1', [], signal);
    },
  };
}

export const dynamicsConnector: SourceConnectorModule = {
  sourceType: 'dynamics',
  // Service protection (per user, sliding 300 s): 6,000 requests and 52 concurrent; keep a margin.
  budget: { maxCalls: 5_000, windowMs: 300_000, maxInFlight: 40 },
  create,
};
