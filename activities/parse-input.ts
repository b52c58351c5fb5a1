/** Activity inputs are a boundary: checked with zod, refused (not retried) with every problem named. */
import type { z } from 'zod';
import { InvalidRequest } from '../domain/errors';
import { zodIssuesText } from '../domain/ingestion/validate-record';

export function parseActivityInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new InvalidRequest(`invalid activity input: ${zodIssuesText(r.error)}`);
  return r.data;
}
