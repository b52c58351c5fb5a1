/**
 * The identity resolver workflow's contract, shared by the workflow, its activity and the
 * Temporal-client side (control/): ids, signal and query names, input and status. Pure: no
 * imports, so the workflow sandbox may load it.
 */
export type ResolverEntity = 'person' | 'account';

/** Accounts first: the person resolver never overtakes the account queue. */
export const RESOLVER_ENTITIES: readonly ResolverEntity[] = ['account', 'person'];

/** One resolver per entity (a single writer): its workflow id is fixed. */
export function resolverWorkflowId(entity: ResolverEntity): string {
  return `identity-resolver/${entity}`;
}

export const RESOLVER_PAUSE_SIGNAL = 'pause';
export const RESOLVER_RESUME_SIGNAL = 'resume';
export const RESOLVER_STATUS_QUERY = 'status';

export interface ResolverTotals {
  /** Activity runs (each drains for a few minutes, then returns to the workflow). */
  runs: number;
  batches: number;
  records: number;
  profilesWritten: number;
  merges: number;
  splits: number;
  setAside: number;
}

/** Adds `more` into `into` (every counter present in both). */
export function addUpTotals<T extends Partial<ResolverTotals>>(into: T, more: Partial<ResolverTotals>): T {
  const target = into as Record<string, number>;
  for (const [k, v] of Object.entries(more)) if (typeof v === 'number' && k in into) target[k] = (target[k] ?? 0) + v;
  return into;
}

export const NO_TOTALS: ResolverTotals = { runs: 0, batches: 0, records: 0, profilesWritten: 0, merges: 0, splits: 0, setAside: 0 };

export interface IdentityResolverInput {
  entity: ResolverEntity;
  /** Carried across continue-as-new. */
  totals?: ResolverTotals;
  paused?: boolean;
}

export interface ResolverStatus {
  entity: ResolverEntity;
  paused: boolean;
  /** A drain activity is running (false once a pause has taken effect). */
  draining: boolean;
  /** Since this workflow started (across continue-as-new). */
  totals: ResolverTotals;
}

/** The resolver activity's input: how long one run drains before it returns. */
export interface ResolverRunInput {
  entity: ResolverEntity;
  runForMs: number;
}
