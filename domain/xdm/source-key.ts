/**
 * Adobe's "B2B Source" composite key: `{sourceID}@{sourceInstanceID}.{sourceType}`.
 *
 * Every B2B entity reference is a source key so that ids from different systems (and from two
 * instances of the same system) never collide, e.g. `00Q5e00001AbC@00D4W000000FgYJUA0.Salesforce`
 * or, for a Marketo company, `1234567.mkto_org@123-ABC-456.Marketo`.
 *
 * The native `sourceID` may contain any character, including '@' and '.'. The instance and the
 * type may contain neither, which is what makes a key parse back unambiguously: split at the
 * last '@', then the rest at its last '.'.
 */
import type { B2BSource } from './class-spec';

/** The three parts a source key is built from. */
export interface SourceKeyParts {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
}

/** Why a set of parts cannot form a source key, and which part is at fault. */
export interface SourceKeyPartProblem {
  part: keyof SourceKeyParts;
  message: string;
}

const PARTS = ['sourceType', 'sourceInstanceID', 'sourceID'] as const;

/** Parts that may not contain a separator, since the key is split at the last '@' and '.'. */
const SEPARATOR_FREE_PARTS = ['sourceInstanceID', 'sourceType'] as const;
const SEPARATORS = /[@.]/;

const isBlank = (value: string): boolean => value.trim() === '';

/**
 * Checks the rules a source key's parts must follow: none blank, and neither the instance nor
 * the type containing '@' or '.'. Returns the first problem found, or null when the parts are valid.
 */
export function findSourceKeyPartProblem(parts: SourceKeyParts): SourceKeyPartProblem | null {
  for (const part of PARTS) {
    if (isBlank(parts[part])) return { part, message: `${part} must not be blank` };
  }
  for (const part of SEPARATOR_FREE_PARTS) {
    if (SEPARATORS.test(parts[part])) {
      return { part, message: `${part} '${parts[part]}' must not contain '@' or '.'` };
    }
  }
  return null;
}

/** `${sourceID}@${sourceInstanceID}.${sourceType}`; throws when a part breaks the rules above. */
export function buildSourceKey(parts: SourceKeyParts): string {
  const problem = findSourceKeyPartProblem(parts);
  if (problem) throw new Error(`Cannot build a source key: ${problem.message}`);
  return `${parts.sourceID}@${parts.sourceInstanceID}.${parts.sourceType}`;
}

/** The full B2B Source object for the given parts; throws like {@link buildSourceKey}. */
export function toB2BSource(parts: SourceKeyParts): B2BSource {
  return {
    sourceType: parts.sourceType,
    sourceInstanceID: parts.sourceInstanceID,
    sourceID: parts.sourceID,
    sourceKey: buildSourceKey(parts),
  };
}

/**
 * Splits a source key into its parts, or returns null when it is malformed: no '@', no '.' after
 * the last '@', or parts that {@link buildSourceKey} would refuse. A non-null result always
 * rebuilds to exactly `key`.
 */
export function parseSourceKey(key: string): B2BSource | null {
  const at = key.lastIndexOf('@');
  if (at < 0) return null;
  const rest = key.slice(at + 1);
  const dot = rest.lastIndexOf('.');
  if (dot < 0) return null;
  const source: B2BSource = {
    sourceType: rest.slice(dot + 1),
    sourceInstanceID: rest.slice(0, dot),
    sourceID: key.slice(0, at),
    sourceKey: key,
  };
  return findSourceKeyPartProblem(source) ? null : source;
}

/*
 * Marketo keeps companies and ABM named accounts in two tables whose ids overlap, so Adobe's
 * Marketo source appends a table suffix to the account's sourceID: `{id}.mkto_org` for companies
 * and `{id}.mkto_acct` for named accounts. Account lookups must use the suffixed id.
 */

const MARKETO_COMPANY_SUFFIX = '.mkto_org';
const MARKETO_NAMED_ACCOUNT_SUFFIX = '.mkto_acct';

/** The Marketo table an account sourceID came from. */
export type MarketoAccountTable = 'company' | 'named-account';

/** sourceID of a Marketo company (lead database "company" record): `${id}.mkto_org`. */
export function marketoCompanySourceId(id: string | number): string {
  return `${id}${MARKETO_COMPANY_SUFFIX}`;
}

/** sourceID of a Marketo ABM named account: `${id}.mkto_acct`. */
export function marketoNamedAccountSourceId(id: string | number): string {
  return `${id}${MARKETO_NAMED_ACCOUNT_SUFFIX}`;
}

/** Which Marketo account table a sourceID belongs to, from its suffix; null when it has none. */
export function marketoAccountTable(sourceID: string): MarketoAccountTable | null {
  if (hasSuffix(sourceID, MARKETO_COMPANY_SUFFIX)) return 'company';
  if (hasSuffix(sourceID, MARKETO_NAMED_ACCOUNT_SUFFIX)) return 'named-account';
  return null;
}

/** The native Marketo id without its table suffix; other ids are returned unchanged. */
export function stripMarketoAccountSuffix(sourceID: string): string {
  for (const suffix of [MARKETO_COMPANY_SUFFIX, MARKETO_NAMED_ACCOUNT_SUFFIX]) {
    if (hasSuffix(sourceID, suffix)) return sourceID.slice(0, -suffix.length);
  }
  return sourceID;
}

/** True when `value` ends with `suffix` and has a non-empty id in front of it. */
function hasSuffix(value: string, suffix: string): boolean {
  return value.length > suffix.length && value.endsWith(suffix);
}
