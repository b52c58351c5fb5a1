/**
 * Identity configuration as data: namespaces (which record fields feed them, their priority,
 * whether they are unique in a cluster), blocked values, and the resolution settings. The
 * defaults below are what a new database is seeded with; operators change them through the API.
 */
import type { MergePolicy } from '../profiles/merge-policy';
import { FREE_MAIL_DOMAIN_NAMES, PLACEHOLDER_VALUES, ROLE_MAILBOX_NAMES } from './normalise';

export type Entity = 'person' | 'account';
export const ENTITIES: readonly Entity[] = ['person', 'account'];

/** How a namespace's values are normalised (and which blocked values apply to it). */
export type ValueKind = 'record-key' | 'email' | 'phone' | 'web-domain' | 'duns' | 'opaque';
export const VALUE_KINDS: readonly ValueKind[] = ['record-key', 'email', 'phone', 'web-domain', 'duns', 'opaque'];

export interface NamespaceConfig {
  /** Symbol, lowercase: `b2b_person`, `email`, ... */
  name: string;
  entity: Entity;
  label: string;
  kind: ValueKind;
  /** Higher first when one observation brings several links. */
  priority: number;
  /** At most one value of this namespace per cluster. */
  unique: boolean;
  /** False: the values are kept on the profile but build no links. */
  links: boolean;
  /**
   * Record fields that carry identities of this namespace: dot paths into the XDM record; arrays
   * on the way are walked; `identityMap.<Code>` reads every id of that identity-map namespace.
   */
  fields: string[];
  description: string;
}

/** A value that never links anything: a placeholder, a role mailbox, a free-mail domain. */
export interface BlockedValue {
  /** null: every namespace the match kind applies to. */
  namespace: string | null;
  match: 'value' | 'email-local-part' | 'domain';
  value: string;
  reason: string;
}

/** A cluster holds at most one record per scope (see resolve.ts). */
export type RecordScope = 'instance-account' | 'instance' | 'none';

export interface IdentitySettings {
  /** Most identities (records included) one cluster may hold. */
  maxClusterSize: number;
  recordScope: Record<Entity, RecordScope>;
  leadToAccount: { enabled: boolean; threshold: number };
  /** How each entity's profile attributes are chosen among its records. */
  mergePolicy: Record<Entity, MergePolicy>;
}

export interface IdentityConfig {
  namespaces: NamespaceConfig[];
  blocked: BlockedValue[];
  settings: IdentitySettings;
  /**
   * The stored configuration's version (bumped by every change), when it came from Postgres:
   * identities extracted at ingest under this version are current. Absent: none are trusted.
   */
  version?: number;
}

/** Each entity's canonical records and its materialised profiles. */
export const ENTITY_TABLES: Record<Entity, { records: string; profiles: string }> = {
  person: { records: 'xdm_person', profiles: 'person_profile' },
  account: { records: 'xdm_account', profiles: 'account_profile' },
};

/** The namespace that holds each entity's record nodes (source keys); it cannot be removed. */
export const RECORD_NAMESPACE: Record<Entity, string> = { person: 'b2b_person', account: 'b2b_account' };

export const DEFAULT_NAMESPACES: NamespaceConfig[] = [
  {
    name: 'b2b_person', entity: 'person', label: 'B2B Person', kind: 'record-key', priority: 100, unique: false, links: true,
    fields: ['extSourceSystemAudit.externalKey.sourceKey', 'b2b.convertedContactKey.sourceKey'],
    description: "Person source keys: each record's own key, and the keys of the same person in another system (a Marketo lead's Salesforce contact, a converted lead's contact)",
  },
  {
    name: 'b2c_loyalty', entity: 'person', label: 'Loyalty id', kind: 'opaque', priority: 90, unique: true, links: true,
    fields: ['identityMap.Loyalty', 'identityMap.LoyaltyId'],
    description: 'B2C customer loyalty number: one per person',
  },
  {
    name: 'email', entity: 'person', label: 'Email', kind: 'email', priority: 60, unique: false, links: true,
    fields: ['workEmail.address', 'personalEmail.address', 'identityMap.Email'],
    description: 'Work and personal email, trimmed and lowercased; role mailboxes never link',
  },
  {
    name: 'phone', entity: 'person', label: 'Phone (E.164)', kind: 'phone', priority: 40, unique: false, links: true,
    fields: ['mobilePhone.number', 'identityMap.Phone'],
    description: 'Mobile phone in E.164. Work phones are left out: they are often a switchboard shared by a whole office',
  },
  {
    name: 'ecid', entity: 'person', label: 'Experience Cloud id (cookie)', kind: 'opaque', priority: 10, unique: false, links: true,
    fields: ['identityMap.ECID'],
    description: 'Browser cookie id: links a visitor to the person who signed in on that browser',
  },
  {
    name: 'b2b_account', entity: 'account', label: 'B2B Account', kind: 'record-key', priority: 100, unique: false, links: true,
    fields: ['extSourceSystemAudit.externalKey.sourceKey'],
    description: "Account source keys: each record's own key and the CRM account a Marketo company or named account mirrors",
  },
  {
    name: 'duns', entity: 'account', label: 'D-U-N-S number', kind: 'duns', priority: 70, unique: true, links: true,
    fields: ['accountOrganization.DUNSNumber'],
    description: 'Dun & Bradstreet number: one per company',
  },
  {
    name: 'web_domain', entity: 'account', label: 'Web domain', kind: 'web-domain', priority: 50, unique: false, links: true,
    fields: ['accountOrganization.domain', 'accountOrganization.website'],
    description: 'Normalised company web domain; free-mail domains never link accounts',
  },
];

export const DEFAULT_BLOCKED_VALUES: BlockedValue[] = [
  ...PLACEHOLDER_VALUES.filter((v) => v !== '').map((value) => ({ namespace: null, match: 'value' as const, value, reason: 'placeholder value' })),
  ...ROLE_MAILBOX_NAMES.map((value) => ({ namespace: null, match: 'email-local-part' as const, value, reason: 'role mailbox shared by many people' })),
  ...FREE_MAIL_DOMAIN_NAMES.map((value) => ({ namespace: null, match: 'domain' as const, value, reason: 'free-mail domain, says nothing about a company' })),
];

export const DEFAULT_SETTINGS: IdentitySettings = {
  maxClusterSize: 50,
  recordScope: { person: 'instance-account', account: 'instance' },
  leadToAccount: { enabled: true, threshold: 0.5 },
  mergePolicy: { person: { kind: 'most-recent' }, account: { kind: 'most-recent' } },
};

export const DEFAULT_IDENTITY_CONFIG: IdentityConfig = { namespaces: DEFAULT_NAMESPACES, blocked: DEFAULT_BLOCKED_VALUES, settings: DEFAULT_SETTINGS };
