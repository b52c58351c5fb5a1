// Entry of a worker thread running a TypeScript module (platform/ts-worker.ts): the worker
// registers tsx's loader, as the process that started it did, then loads workerData.entry.
const { workerData } = require('node:worker_threads');
require('tsx/cjs/api').register();
require(workerData.entry);
