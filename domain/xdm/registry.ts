/**
 * The registry of XDM classes: for each class, the contract in class-spec.ts (schema, canonical
 * table, key and audit readers, extracted columns, and the kind of each leaf field).
 */
import { z } from 'zod';
import { canonicalEmail, canonicalWebDomain } from '../identity/normalise';
import type {
  B2BSource,
  ExtractedColumn,
  LeafKind,
  RecordKey,
  XdmClassName,
  XdmClassSpec,
} from './class-spec';
import {
  accountPersonSchema,
  accountSchema,
  campaignMemberSchema,
  campaignSchema,
  experienceEventSchema,
  marketingListMemberSchema,
  marketingListSchema,
  opportunityPersonSchema,
  opportunitySchema,
  personSchema,
} from './classes';
import { b2bSourceSchema, extSourceSystemAuditSchema } from './common';

/* ----------------------------------------------------------------------------------------- */
/* Leaf kinds, read off the zod schema                                                         */
/* ----------------------------------------------------------------------------------------- */

type SchemaNode = z.core.$ZodType;

const INTEGER_FORMATS: ReadonlySet<string> = new Set(['safeint', 'int32', 'uint32']);

/**
 * Kind of the scalar at a dotted path of `schema`, found by walking the schema's own definition
 * (so it cannot drift from what the schema accepts). Objects and records are walked by key,
 * B2B Source objects by their input shape; an array of strings is a 'string-array' leaf. Returns
 * undefined for unknown paths, for objects, and for anything inside arrays of objects.
 */
export function leafKindAt(schema: SchemaNode, path: string): LeafKind | undefined {
  let node: SchemaNode | undefined = structural(schema);
  for (const segment of path.split('.')) {
    if (node === undefined || segment === '') return undefined;
    node = childAt(node, segment);
  }
  return node && kindOf(node);
}

/** The node that describes a value's structure, past optional/nullable/default wrappers and pipes. */
function structural(node: SchemaNode): SchemaNode {
  const def = node._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return structural((def as z.core.$ZodOptionalDef).innerType);
    case 'lazy':
      return structural((def as z.core.$ZodLazyDef).getter());
    case 'pipe': {
      // A transform pipe (the B2B Source normaliser) is described by its input; a validation
      // pipe (a class's top-level key check, then its object) by its last stage.
      const { in: input, out } = def as z.core.$ZodPipeDef;
      return structural(out._zod.def.type === 'transform' ? input : out);
    }
    default:
      return node;
  }
}

function childAt(node: SchemaNode, key: string): SchemaNode | undefined {
  const def = node._zod.def;
  if (def.type === 'object') {
    const { shape } = def as z.core.$ZodObjectDef;
    return Object.hasOwn(shape, key) ? structural(shape[key]!) : undefined;
  }
  if (def.type === 'record') return structural((def as z.core.$ZodRecordDef).valueType);
  return undefined;
}

function kindOf(node: SchemaNode): LeafKind | undefined {
  const def = node._zod.def;
  switch (def.type) {
    case 'string':
      return 'string';
    case 'number':
      return INTEGER_FORMATS.has((def as z.core.$ZodNumberFormatDef).format) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values((def as z.core.$ZodEnumDef).entries).every((v) => typeof v === 'string')
        ? 'string'
        : undefined;
    case 'array':
      return kindOf(structural((def as z.core.$ZodArrayDef).element)) === 'string' ? 'string-array' : undefined;
    case 'union': {
      const kinds = new Set((def as z.core.$ZodUnionDef).options.map((o) => kindOf(structural(o))));
      const [only] = kinds;
      return kinds.size === 1 ? only : undefined;
    }
    default:
      return undefined;
  }
}

/* ----------------------------------------------------------------------------------------- */
/* Record readers                                                                              */
/* ----------------------------------------------------------------------------------------- */

type Reader = (record: any) => unknown;

/** A reader for a dotted path; missing intermediate objects read as undefined. */
function pathReader(path: string): Reader {
  const keys = path.split('.');
  return (record) => {
    let value: any = record;
    for (const key of keys) value = value?.[key];
    return value;
  };
}

/** The sourceKey of a (normalised) B2B Source value, or null when there is none. */
function sourceKeyOf(value: unknown): string | null {
  return (value as B2BSource | null | undefined)?.sourceKey ?? null;
}

function toDate(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const readExternalKey = pathReader('extSourceSystemAudit.externalKey');
const readLastUpdatedDate = pathReader('extSourceSystemAudit.lastUpdatedDate');

/* ----------------------------------------------------------------------------------------- */
/* Column helpers                                                                              */
/* ----------------------------------------------------------------------------------------- */

/** A text column holding the sourceKey of the B2B Source at `path`. */
function keyColumn(column: string, path: string, comment: string): ExtractedColumn {
  const read = pathReader(path);
  return { column, type: 'text', comment, extract: (record) => sourceKeyOf(read(record)) };
}

/** A column holding the scalar at `path` as is (null when absent). */
function valueColumn(column: string, type: ExtractedColumn['type'], path: string, comment: string): ExtractedColumn {
  const read = pathReader(path);
  return {
    column,
    type,
    comment,
    extract: (record) => (read(record) as string | number | boolean | null | undefined) ?? null,
  };
}

/** Join columns hold the same canonical forms the identity graph uses (domain/identity/normalise). */
const canonical = (fn: (raw: string) => string | null) => (value: unknown) => (typeof value === 'string' ? fn(value) : null);
const emailColumnValue = canonical(canonicalEmail);
const domainColumnValue = canonical(canonicalWebDomain);

const readDomain = pathReader('accountOrganization.domain');
const readWebsite = pathReader('accountOrganization.website');
const readWorkEmail = pathReader('workEmail.address');

/* ----------------------------------------------------------------------------------------- */
/* Specs                                                                                       */
/* ----------------------------------------------------------------------------------------- */

interface RecordClassDefinition {
  name: XdmClassName;
  title: string;
  table: string;
  keyPath: string;
  schema: z.ZodType<Record<string, unknown>>;
  columns: ExtractedColumn[];
}

/** Spec of a B2B record class: keyed by the B2B Source at `keyPath`, audited by extSourceSystemAudit. */
/**
 * `{ accountKey: source, accountID? }` or `{ b2b: { personKey: source, personID? } }` with
 * `isDeleted: true`: a deletion marker of the class.
 */
function tombstoneSchemaFor(keyPath: string): z.ZodType<Record<string, unknown>> {
  const [head, ...rest] = keyPath.split('.').reverse();
  let key: z.ZodType = z.strictObject({ [head!]: b2bSourceSchema, [head!.replace(/Key$/, 'ID')]: z.string().optional() });
  for (const part of rest) key = z.strictObject({ [part]: key });
  return z.strictObject({
    ...(key as z.ZodObject).shape,
    isDeleted: z.literal(true),
    extSourceSystemAudit: extSourceSystemAuditSchema.optional(),
  }) as unknown as z.ZodType<Record<string, unknown>>;
}

function recordClassSpec(definition: RecordClassDefinition): XdmClassSpec {
  const readKey = pathReader(definition.keyPath);
  return {
    ...definition,
    tombstoneSchema: tombstoneSchemaFor(definition.keyPath),
    recordKey(record): RecordKey {
      const { sourceKey, sourceType, sourceInstanceID, sourceID } = readKey(record) as B2BSource;
      return { key: sourceKey, sourceType, sourceInstanceID, sourceID };
    },
    externalKey: (record) => sourceKeyOf(readExternalKey(record)),
    lastUpdated: (record) => toDate(readLastUpdatedDate(record)),
    isDeleted: (record) => record.isDeleted === true,
    leafKind: (path) => leafKindAt(definition.schema, path),
  };
}

/**
 * Spec of the experience event class: keyed by `_id`, timed by `timestamp`. Activities carry no
 * audit attributes and no soft-delete flag (Marketo's Activities dataset has no isDeleted).
 */
function experienceEventSpec(): XdmClassSpec {
  const schema = experienceEventSchema;
  return {
    name: 'experience-event',
    title: 'XDM ExperienceEvent',
    table: 'xdm_experience_event',
    keyPath: '_id',
    schema,
    recordKey(record): RecordKey {
      const actor = record.personKey as B2BSource;
      return {
        key: record._id,
        sourceType: actor.sourceType,
        sourceInstanceID: actor.sourceInstanceID,
        sourceID: actor.sourceID,
      };
    },
    externalKey: () => null,
    lastUpdated: (record) => toDate(record.timestamp),
    isDeleted: () => false,
    columns: [
      keyColumn('person_key', 'personKey', 'sourceKey of the person who performed the activity (personKey)'),
      valueColumn('event_type', 'text', 'eventType', 'Activity type, e.g. directMarketing.emailOpened (eventType)'),
      valueColumn('occurred_at', 'timestamptz', 'timestamp', 'When the activity happened (timestamp)'),
    ],
    leafKind: (path) => leafKindAt(schema, path),
  };
}

export const XDM_CLASSES: Record<XdmClassName, XdmClassSpec> = {
  account: recordClassSpec({
    name: 'account',
    title: 'XDM Business Account',
    table: 'xdm_account',
    keyPath: 'accountKey',
    schema: accountSchema,
    columns: [
      keyColumn('parent_key', 'accountParentKey', 'sourceKey of the parent account in the hierarchy (accountParentKey)'),
      valueColumn('account_name', 'text', 'accountName', 'Company name (accountName)'),
      valueColumn('duns_number', 'text', 'accountOrganization.DUNSNumber', 'Dun & Bradstreet D-U-N-S number (accountOrganization.DUNSNumber)'),
      {
        column: 'website_domain',
        type: 'text',
        comment:
          'Lowercased web domain without "www." (accountOrganization.domain, else the host of accountOrganization.website)',
        extract: (record) => domainColumnValue(readDomain(record)) ?? domainColumnValue(readWebsite(record)),
      },
    ],
  }),
  opportunity: recordClassSpec({
    name: 'opportunity',
    title: 'XDM Business Opportunity',
    table: 'xdm_opportunity',
    keyPath: 'opportunityKey',
    schema: opportunitySchema,
    columns: [
      keyColumn('account_key', 'accountKey', 'sourceKey of the owning account (accountKey)'),
      keyColumn('campaign_key', 'campaignKey', 'sourceKey of the source campaign (campaignKey)'),
      valueColumn('stage', 'text', 'opportunityStage', 'Sales stage (opportunityStage)'),
      valueColumn('is_closed', 'boolean', 'isClosed', 'Whether the opportunity is closed (isClosed)'),
      valueColumn('is_won', 'boolean', 'isWon', 'Whether the opportunity was won (isWon)'),
      valueColumn('amount', 'numeric', 'opportunityAmount.amount', 'Estimated total sale amount (opportunityAmount.amount)'),
      valueColumn('expected_close_date', 'text', 'expectedCloseDate', 'Expected close date, ISO 8601 (expectedCloseDate)'),
    ],
  }),
  person: recordClassSpec({
    name: 'person',
    title: 'XDM Individual Profile',
    table: 'xdm_person',
    keyPath: 'b2b.personKey',
    schema: personSchema,
    columns: [
      keyColumn('account_key', 'b2b.accountKey', "sourceKey of the person's main account (b2b.accountKey)"),
      {
        column: 'work_email',
        type: 'text',
        comment: 'Work email, trimmed and lowercased (workEmail.address)',
        extract: (record) => emailColumnValue(readWorkEmail(record)),
      },
      valueColumn('person_type', 'text', 'b2b.personType', 'Lead or Contact, as in the source (b2b.personType)'),
      keyColumn('converted_contact_key', 'b2b.convertedContactKey', 'sourceKey of the contact a converted lead became (b2b.convertedContactKey)'),
    ],
  }),
  'account-person': recordClassSpec({
    name: 'account-person',
    title: 'XDM Business Account Person Relation',
    table: 'xdm_account_person',
    keyPath: 'accountPersonKey',
    schema: accountPersonSchema,
    columns: [
      keyColumn('account_key', 'accountKey', 'sourceKey of the account (accountKey)'),
      keyColumn('person_key', 'personKey', 'sourceKey of the person (personKey)'),
      valueColumn('is_active', 'boolean', 'isActive', 'Whether the relation is active (isActive)'),
      valueColumn('is_primary', 'boolean', 'isPrimary', "Whether the person is the account's primary contact (isPrimary)"),
    ],
  }),
  'opportunity-person': recordClassSpec({
    name: 'opportunity-person',
    title: 'XDM Business Opportunity Person Relation',
    table: 'xdm_opportunity_person',
    keyPath: 'opportunityPersonKey',
    schema: opportunityPersonSchema,
    columns: [
      keyColumn('opportunity_key', 'opportunityKey', 'sourceKey of the opportunity (opportunityKey)'),
      keyColumn('person_key', 'personKey', 'sourceKey of the person (personKey)'),
      valueColumn('person_role', 'text', 'personRole', 'Contact role on the opportunity, e.g. Decision Maker (personRole)'),
    ],
  }),
  campaign: recordClassSpec({
    name: 'campaign',
    title: 'XDM Business Campaign',
    table: 'xdm_campaign',
    keyPath: 'campaignKey',
    schema: campaignSchema,
    columns: [
      keyColumn('parent_campaign_key', 'parentCampaignKey', 'sourceKey of the parent campaign in the hierarchy (parentCampaignKey)'),
    ],
  }),
  'campaign-member': recordClassSpec({
    name: 'campaign-member',
    title: 'XDM Business Campaign Members',
    table: 'xdm_campaign_member',
    keyPath: 'campaignMemberKey',
    schema: campaignMemberSchema,
    columns: [
      keyColumn('campaign_key', 'campaignKey', 'sourceKey of the campaign (campaignKey)'),
      keyColumn('person_key', 'personKey', 'sourceKey of the member person (personKey)'),
      valueColumn('member_status', 'text', 'memberStatus', 'Membership status, e.g. Registered, Attended (memberStatus)'),
    ],
  }),
  'marketing-list': recordClassSpec({
    name: 'marketing-list',
    title: 'XDM Business Marketing List',
    table: 'xdm_marketing_list',
    keyPath: 'marketingListKey',
    schema: marketingListSchema,
    columns: [valueColumn('list_name', 'text', 'marketingListName', 'List name (marketingListName)')],
  }),
  'marketing-list-member': recordClassSpec({
    name: 'marketing-list-member',
    title: 'XDM Business Marketing List Members',
    table: 'xdm_marketing_list_member',
    keyPath: 'marketingListMemberKey',
    schema: marketingListMemberSchema,
    columns: [
      keyColumn('marketing_list_key', 'marketingListKey', 'sourceKey of the list (marketingListKey)'),
      keyColumn('person_key', 'personKey', 'sourceKey of the member person (personKey)'),
    ],
  }),
  'experience-event': experienceEventSpec(),
};

/** The spec of a class by its name (e.g. 'account-person'), or undefined for an unknown name. */
export function findXdmClass(name: string): XdmClassSpec | undefined {
  return Object.hasOwn(XDM_CLASSES, name) ? XDM_CLASSES[name as XdmClassName] : undefined;
}
