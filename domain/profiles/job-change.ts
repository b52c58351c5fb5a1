/**
 * Job changes: a person's employer is read from their account links, compared before and after a
 * profile is rematerialised, and when it changed the old employer's links stay on the profile as
 * history (inactive, with an end date) instead of silently disappearing. "Ada moved from Acme to
 * Globex" is a buying signal for both accounts; losing the Acme link would lose it.
 *
 * Only a direct link (the person record names the account) or the primary relation (a
 * contact-to-account relation marked primary) says who employs someone: opportunity contact
 * roles and inferred (lead-to-account) links say the person is involved with an account, not
 * that they work there.
 */

export interface AccountLink {
  accountProfileId: string;
  via: 'direct' | 'relation' | 'opportunity' | 'inferred';
  role: string | null;
  isPrimary: boolean;
  isActive: boolean;
  startDate: string | null;
  endDate: string | null;
}

export interface JobChange {
  fromAccountProfileId: string;
  toAccountProfileId: string;
}

/**
 * The person's current employer: the active direct link, else the active primary relation; null
 * if none. Should a source give several, the choice is still deterministic: a primary one first,
 * then the latest start date, then the smallest account id.
 */
export function currentEmployer(links: readonly AccountLink[]): string | null {
  const direct = links.filter((l) => l.isActive && l.via === 'direct');
  const pool = direct.length ? direct : links.filter((l) => l.isActive && l.via === 'relation' && l.isPrimary);
  let best: AccountLink | null = null;
  for (const l of pool) if (best === null || preferred(l, best)) best = l;
  return best?.accountProfileId ?? null;
}

/** Whether `a` is preferred over `b` as the employer. */
function preferred(a: AccountLink, b: AccountLink): boolean {
  if (a.isPrimary !== b.isPrimary) return a.isPrimary;
  const sa = a.startDate ?? '';
  const sb = b.startDate ?? '';
  if (sa !== sb) return sa > sb; // ISO dates sort as text; a link without one comes last
  return a.accountProfileId < b.accountProfileId;
}

/** Compares the employer before and after a rematerialisation: a job change when both exist and differ. */
export function detectJobChange(before: string | null, after: string | null): JobChange | null {
  return before !== null && after !== null && before !== after ? { fromAccountProfileId: before, toAccountProfileId: after } : null;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ].*)?$/;

/**
 * Links after a job change: the current links, plus the previous links to accounts that are no
 * longer in them, kept as history — inactive, with endDate = `on` (ISO date) when they had none.
 * De-duplicated by (accountProfileId, via): a current link wins over a previous one, and within
 * one list the first wins.
 */
export function keepHistory(previous: readonly AccountLink[], current: readonly AccountLink[], on: string): AccountLink[] {
  if (!ISO_DATE.test(on)) throw new Error(`keepHistory: 'on' must be an ISO date like 2024-05-31, not '${on}'`);
  const stillLinked = new Set(current.map((l) => l.accountProfileId));
  const out: AccountLink[] = [];
  const seen = new Set<string>();
  const add = (l: AccountLink) => {
    const key = `${l.accountProfileId}\u0000${l.via}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(l);
  };
  for (const l of current) add(l);
  for (const l of previous) {
    if (!stillLinked.has(l.accountProfileId)) add({ ...l, isActive: false, endDate: l.endDate ?? on });
  }
  return out;
}
