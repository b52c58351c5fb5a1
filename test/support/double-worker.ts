/** Worker module for platform/ts-worker.test.ts: doubles numbers, refuses negative ones, dies on -99. */
import { serveJobs } from '../../platform/ts-worker';

serveJobs<number, number, { factor: number }>((n, { factor }) => {
  if (n === -99) process.exit(3); // the thread dies
  if (n < 0) throw new Error(`negative: ${n}`);
  return n * factor;
});
