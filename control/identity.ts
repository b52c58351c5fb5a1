/** The Temporal-client side of identity operations that run as workflows. */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { SA } from '../contracts/search-attributes';

/** One rebuild at a time: its workflow id is fixed. */
export const IDENTITY_REBUILD_WORKFLOW_ID = 'identity-rebuild';

/** Starts a rebuild, or reports the one already running (`started: false`). */
export async function startIdentityRebuild(client: Client, taskQueue: string): Promise<{ started: boolean; workflowId: string; runId: string }> {
  const workflowId = IDENTITY_REBUILD_WORKFLOW_ID;
  try {
    const handle = await client.workflow.start('identityRebuild', {
      workflowId,
      taskQueue,
      args: [],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [{ key: SA.jobKind, value: 'identity-rebuild' }],
    });
    return { started: true, workflowId, runId: handle.firstExecutionRunId };
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    const running = await client.workflow.getHandle(workflowId).describe();
    return { started: false, workflowId, runId: running.runId };
  }
}
