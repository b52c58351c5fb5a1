/** `npm run bench -- marketo-bulk [--leads N]`: see source-sync.ts. */
import { runner } from './source-sync';

export const run = runner('marketo-bulk');
