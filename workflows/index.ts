/** Every workflow, for the worker's bundle. */
export { ingestFile } from './ingestion';
