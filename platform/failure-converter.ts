/**
 * Failure messages and stack traces go through the payload codec too (they can quote data),
 * so the Temporal server stores them encrypted. Loaded by path by clients and workers.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
