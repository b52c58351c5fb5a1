/** The API's lazy Temporal client: the API starts (and ingests) even while Temporal is down. */
import type { Client } from '@temporalio/client';
import { connectClient } from '../platform/temporal';
import { HttpError } from './errors';

export interface TemporalAccess {
  client(): Promise<Client>;
  taskQueue: string;
  namespace: string;
  /** Web UI base URL, to link workflows from answers. */
  uiUrl?: string;
  close(): Promise<void>;
}

export function lazyTemporal(opts: { address: string; namespace: string; taskQueue: string; uiUrl?: string }): TemporalAccess {
  let connecting: Promise<Client> | undefined;
  return {
    taskQueue: opts.taskQueue,
    namespace: opts.namespace,
    uiUrl: opts.uiUrl,
    async client() {
      connecting ??= connectClient(opts.address, opts.namespace);
      try {
        return await connecting;
      } catch (e) {
        connecting = undefined;
        throw new HttpError(503, 'TemporalUnavailable', `Temporal is unavailable at ${opts.address}: ${(e as Error).message}`);
      }
    },
    async close() {
      if (connecting) await (await connecting.catch(() => undefined))?.connection.close();
    },
  };
}

/** The Web UI page of a workflow, when the UI's address is configured. */
export function workflowUrl(temporal: Pick<TemporalAccess, 'uiUrl' | 'namespace'>, workflowId: string): string | undefined {
  return temporal.uiUrl ? `${temporal.uiUrl}/namespaces/${temporal.namespace}/workflows/${encodeURIComponent(workflowId)}` : undefined;
}
