/**
 * Vendor-shaped ids for world records, deterministic from (kind, index, instance):
 * Salesforce 18-character ids with the right key prefix, Dynamics GUIDs, Marketo integers.
 */
import { createHash } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Salesforce key prefixes of the objects the simulator serves. */
export const SALESFORCE_PREFIX = {
  Account: '001',
  Contact: '003',
  Lead: '00Q',
  Opportunity: '006',
  Campaign: '701',
  CampaignMember: '00v',
  OpportunityContactRole: '00K',
  AccountContactRelation: '07k',
} as const;

/**
 * An 18-character Salesforce id: prefix + pod chars + base62 counter (15 chars) + the 3-character
 * case-safe suffix Salesforce computes from the case of the first 15.
 */
export function salesforceId(object: keyof typeof SALESFORCE_PREFIX, idx: number, orgSalt = '5e'): string {
  let n = idx + 1;
  let body = '';
  for (let i = 0; i < 6; i++) {
    body = BASE62[n % 62]! + body;
    n = Math.floor(n / 62);
  }
  const id15 = `${SALESFORCE_PREFIX[object]}${orgSalt}0000${body}`.slice(0, 15).padEnd(15, '0');
  return id15 + caseSafeSuffix(id15);
}

export function caseSafeSuffix(id15: string): string {
  const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[chunk * 5 + i]!;
      if (c >= 'A' && c <= 'Z') flags |= 1 << i;
    }
    suffix += ALPHA[flags];
  }
  return suffix;
}

/** A Dynamics (Dataverse) GUID, lowercase, deterministic. */
export function dynamicsGuid(entity: string, idx: number, org = 'org'): string {
  const h = createHash('sha1').update(`${org}:${entity}:${idx}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A Marketo integer id: a per-instance base so two instances never share ids by accident. */
export function marketoId(idx: number, instance: number, base = 1000): number {
  return base + instance * 7_000_000 + idx + 1;
}
