/** The source connector of each source type. */
import type { SourceConnectorModule, SourceType } from './source-connector';
import { dynamicsConnector } from './dynamics';
import { marketoConnector } from './marketo';
import { salesforceConnector } from './salesforce';

export const SOURCE_CONNECTORS: Record<SourceType, SourceConnectorModule> = {
  marketo: marketoConnector,
  salesforce: salesforceConnector,
  dynamics: dynamicsConnector,
};
