/** The innermost message of a failure (activity → application failure), for operator-facing status. Workflow-safe. */
export function failureReason(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && typeof e === 'object' && e.cause) e = e.cause as typeof e;
  return String(e?.message ?? err).slice(0, 2000);
}
