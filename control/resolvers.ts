/**
 * The Temporal-client side of the identity resolvers: start one per entity if none is running
 * (fixed workflow ids, so a second start joins the running one), pause, resume, and ask a
 * resolver for its status.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  RESOLVER_ENTITIES,
  RESOLVER_PAUSE_SIGNAL,
  RESOLVER_RESUME_SIGNAL,
  RESOLVER_STATUS_QUERY,
  resolverWorkflowId,
  type IdentityResolverInput,
  type ResolverEntity,
  type ResolverStatus,
} from '../contracts/resolver';
import { SA } from '../contracts/search-attributes';

/** Starts the resolvers that are not running (a running one is left as it is); returns their workflow ids. */
export async function ensureResolvers(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for (const entity of RESOLVER_ENTITIES) {
    const workflowId = resolverWorkflowId(entity);
    const args: [IdentityResolverInput] = [{ entity }];
    await client.workflow.start('identityResolver', {
      workflowId,
      taskQueue,
      args,
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: SA.jobKind, value: 'identity-resolver' },
        { key: SA.entityType, value: entity },
      ],
    });
    ids.push(workflowId);
  }
  return ids;
}

export async function pauseResolver(client: Client, entity: ResolverEntity): Promise<void> {
  await client.workflow.getHandle(resolverWorkflowId(entity)).signal(RESOLVER_PAUSE_SIGNAL);
}

export async function resumeResolver(client: Client, entity: ResolverEntity): Promise<void> {
  await client.workflow.getHandle(resolverWorkflowId(entity)).signal(RESOLVER_RESUME_SIGNAL);
}

/** The resolver workflow's own view (paused, totals), or null when it is not running. */
export async function resolverWorkflowStatus(client: Client, entity: ResolverEntity): Promise<ResolverStatus | null> {
  const handle = client.workflow.getHandle(resolverWorkflowId(entity));
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') return null;
    return await handle.query<ResolverStatus>(RESOLVER_STATUS_QUERY);
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}
