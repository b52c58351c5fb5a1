/**
 * Lead-to-account matching: which company a person works for when no source links them to an
 * account (a marketing lead, a webinar sign-up). The lead's work email, company website and
 * company name are compared with each candidate account's domains and name.
 *
 * Scoring — each piece of evidence has a strength, and independent pieces combine as
 * `1 - Π(1 - s_i)` (so the score stays in 0..1, and more evidence never lowers it):
 * - work-email domain equal to one of the account's domains: 0.6. Never for free-mail domains
 *   (gmail.com…): they say nothing about a person's company, so they give no evidence at all;
 * - company website's domain equal to one of the account's domains: 0.5;
 * - company name equal to the account's name once both are normalised (case, punctuation and
 *   legal suffixes dropped: 'ACME Inc.' = 'Acme Incorporated'): 0.4; or, if not equal, their
 *   word sets overlapping with a Jaccard index ≥ 0.6: 0.25.
 *
 * So an email domain alone (0.6) beats a name alone (0.4); email and website agreeing give 0.8;
 * all three give 0.88. The best match wins only when it is unique: two accounts tied at the top
 * are ambiguous, and an ambiguous lead is left unmatched rather than guessed.
 */
import { canonicalEmail, canonicalWebDomain, companyDomainOfEmail, isFreeMailDomain } from '../identity/normalise';

export interface LeadEvidence {
  workEmail: string | null;
  companyName: string | null;
  companyWebsite: string | null;
}

export interface AccountCandidate {
  profileId: string;
  name: string | null;
  /** Canonical web domains of the account. */
  domains: readonly string[];
}

export interface AccountMatch {
  profileId: string;
  /** 0..1 */
  score: number;
  /** Why, e.g. "work-email domain acme.com = account domain", "company name 'ACME Inc.' ~ 'Acme Incorporated'". */
  evidence: string[];
}

const EMAIL_DOMAIN_SCORE = 0.6;
const WEBSITE_DOMAIN_SCORE = 0.5;
const NAME_EQUAL_SCORE = 0.4;
const NAME_SIMILAR_SCORE = 0.25;
const NAME_SIMILAR_JACCARD = 0.6;

/**
 * Words that say what legal form a company has, not which company it is. Dotted forms ('S.A.',
 * 'B.V.', 'L.L.C.') arrive here without their dots.
 */
const LEGAL_SUFFIXES = new Set([
  'inc', 'incorporated', 'llc', 'llp', 'lp', 'ltd', 'limited', 'gmbh', 'mbh', 'ag', 'kg', 'kgaa', 'ohg', 'ug', 'se', 'sa',
  'sas', 'sarl', 'srl', 'spa', 'sl', 'sau', 'bv', 'nv', 'plc', 'corp', 'corporation', 'co', 'company', 'group', 'holding',
  'holdings', 'pty', 'pte', 'pvt', 'ulc', 'oy', 'oyj', 'ab', 'asa', 'aps', 'kk', 'lda', 'ltda',
]);

/**
 * A company name reduced to what identifies the company: lowercase, accents, punctuation and
 * trailing legal suffixes dropped ('Acme Holdings, Ltd.' → 'acme'; 'Smith & Co.' → 'smith'),
 * a leading 'the' dropped, spaces collapsed. null when nothing is left ('Inc.', 'The Company', '—').
 */
export function normaliseCompanyName(name: string): string | null {
  const words = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/['’`.]/g, '') // 'O'Reilly' → 'oreilly', 'S.A.' → 'sa'
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
  const start = words.length > 1 && words[0] === 'the' ? 1 : 0;
  // Only trailing suffixes: 'Holding Partners' and 'Co-operative Bank' keep their first words.
  let end = words.length;
  while (end > start && LEGAL_SUFFIXES.has(words[end - 1]!)) {
    end--;
    if (end > start && words[end - 1] === 'and') end--; // 'Smith & Co.', 'Müller GmbH & Co. KG'
  }
  const kept = words.slice(start, end).join(' ');
  return kept || null;
}

/**
 * What to look candidate accounts up by: the work email's domain (unless free mail), the
 * website's canonical domain (unless free mail), and the normalised company name.
 */
export function matchKeys(lead: LeadEvidence): { domains: string[]; names: string[] } {
  const domains: string[] = [];
  const email = emailDomain(lead);
  if (email) domains.push(email);
  const website = websiteDomain(lead);
  if (website && website !== email) domains.push(website);
  const name = lead.companyName === null ? null : normaliseCompanyName(lead.companyName);
  return { domains, names: name ? [name] : [] };
}

/** How strongly `lead` points at `candidate`, and why; null when nothing points at it. */
export function scoreAccountMatch(lead: LeadEvidence, candidate: AccountCandidate): AccountMatch | null {
  const accountDomains = new Set<string>();
  for (const d of candidate.domains) {
    const c = canonicalWebDomain(d);
    if (c) accountDomains.add(c);
  }
  const strengths: number[] = [];
  const evidence: string[] = [];
  const email = emailDomain(lead);
  if (email && accountDomains.has(email)) {
    strengths.push(EMAIL_DOMAIN_SCORE);
    evidence.push(`work-email domain ${email} = account domain`);
  }
  const website = websiteDomain(lead);
  if (website && accountDomains.has(website)) {
    strengths.push(WEBSITE_DOMAIN_SCORE);
    evidence.push(`website domain ${website} = account domain`);
  }
  const leadName = lead.companyName === null ? null : normaliseCompanyName(lead.companyName);
  const accountName = candidate.name === null ? null : normaliseCompanyName(candidate.name);
  if (leadName && accountName) {
    if (leadName === accountName) {
      strengths.push(NAME_EQUAL_SCORE);
      evidence.push(`company name '${lead.companyName}' ~ '${candidate.name}'`);
    } else {
      const overlap = jaccard(leadName.split(' '), accountName.split(' '));
      if (overlap >= NAME_SIMILAR_JACCARD) {
        strengths.push(NAME_SIMILAR_SCORE);
        evidence.push(`company name '${lead.companyName}' ~ '${candidate.name}' (word overlap ${overlap.toFixed(2)})`);
      }
    }
  }
  if (!strengths.length) return null;
  return { profileId: candidate.profileId, score: 1 - strengths.reduce((miss, s) => miss * (1 - s), 1), evidence };
}

/**
 * The candidate `lead` most likely belongs to, if its score reaches `threshold`; null when none
 * does, or when two accounts share the top score (ambiguous: never guess). The same profile
 * listed twice is one account, not a tie.
 */
export function bestAccountMatch(lead: LeadEvidence, candidates: readonly AccountCandidate[], threshold: number): AccountMatch | null {
  let best: AccountMatch | null = null;
  let tied = false;
  for (const candidate of candidates) {
    const match = scoreAccountMatch(lead, candidate);
    if (!match || !(match.score >= threshold)) continue;
    if (!best || match.score > best.score) {
      best = match;
      tied = false;
    } else if (match.score === best.score && match.profileId !== best.profileId) {
      tied = true;
    }
  }
  return tied ? null : best;
}

/** The lead's work-email domain, when it names a company. */
function emailDomain(lead: LeadEvidence): string | null {
  const email = lead.workEmail === null ? null : canonicalEmail(lead.workEmail);
  if (email === null) return null;
  const domain = companyDomainOfEmail(email);
  return domain.ok ? domain.value : null;
}

/** The lead's company website as a canonical domain; a free-mail domain is no company's site. */
function websiteDomain(lead: LeadEvidence): string | null {
  const domain = lead.companyWebsite === null ? null : canonicalWebDomain(lead.companyWebsite);
  return domain && !isFreeMailDomain(domain) ? domain : null;
}

function jaccard(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let both = 0;
  for (const w of sa) if (sb.has(w)) both++;
  return both / (sa.size + sb.size - both);
}
