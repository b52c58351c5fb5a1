/**
 * The simulated estate for end-to-end source tests: the default stack's simulators, their secrets in
 * the environment, a test API and a worker on the test's task queue — and one `stop` for all of it
 * (the Temporal connection and the test database included).
 */
import type { Worker } from '@temporalio/worker';
import { startDefaultStack, type DefaultStack, type DefaultStackOptions } from '../../simulators/default-stack';
import { testApi } from './api';
import { closeTemporal, closeTestDb, testWorker } from './env';

export interface SourceStack {
  stack: DefaultStack;
  api: Awaited<ReturnType<typeof testApi>>;
  stop(): Promise<void>;
}

export async function startSourceStack(taskQueue: string, options: DefaultStackOptions): Promise<SourceStack> {
  const stack = await startDefaultStack(options);
  for (const s of stack.sources) Object.assign(process.env, s.secrets);
  const api = await testApi({ taskQueue });
  const worker: Worker = await testWorker(taskQueue);
  const running = worker.run();
  return {
    stack,
    api,
    async stop() {
      worker.shutdown();
      await running;
      await api.close();
      await stack.stop();
      await closeTemporal();
      await closeTestDb();
    },
  };
}
