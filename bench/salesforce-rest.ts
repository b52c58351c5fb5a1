/** `npm run bench -- salesforce-rest [--contacts N]`: see source-sync.ts. */
import { runner } from './source-sync';

export const run = runner('salesforce-rest');
