/** Worker module for platform/ts-worker.test.ts: doubles numbers, refuses negative ones. */
import { serveJobs } from '../../platform/ts-worker';

serveJobs<number, number, { factor: number }>((n, { factor }) => {
  if (n < 0) throw new Error(`negative: ${n}`);
  return n * factor;
});
