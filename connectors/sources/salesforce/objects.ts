/**
 * The Salesforce objects the connector reads (connector-apis.md §2.5), the fields it selects and
 * their kinds. The kinds turn Bulk API 2.0 CSV cells (all text) into the same typed values the
 * REST query returns as JSON, so one mapping serves both paths.
 */
import type { XdmClassName } from '../../../domain/xdm/class-spec';

export type FieldKind = 'string' | 'number' | 'boolean';

export const SALESFORCE_OBJECTS = [
  'Account',
  'Contact',
  'Lead',
  'Opportunity',
  'OpportunityContactRole',
  'AccountContactRelation',
  'Campaign',
  'CampaignMember',
] as const;
export type SalesforceObject = (typeof SALESFORCE_OBJECTS)[number];

/** Fields every object selects: the key, the soft-delete flag and the audit dates. */
const AUDIT: Array<[string, FieldKind]> = [
  ['Id', 'string'],
  ['IsDeleted', 'boolean'],
  ['CreatedDate', 'string'],
  ['LastModifiedDate', 'string'],
  ['SystemModstamp', 'string'],
];

const s = (...names: string[]): Array<[string, FieldKind]> => names.map((n) => [n, 'string']);
const n = (...names: string[]): Array<[string, FieldKind]> => names.map((x) => [x, 'number']);
const b = (...names: string[]): Array<[string, FieldKind]> => names.map((x) => [x, 'boolean']);

export interface ObjectSpec {
  name: SalesforceObject;
  xdmClass: XdmClassName;
  /** Selected fields in SELECT order with their kinds. `CurrencyIsoCode` only with multi-currency. */
  fields: ReadonlyArray<readonly [string, FieldKind]>;
}

const CURRENCY: Array<[string, FieldKind]> = [['CurrencyIsoCode', 'string']];

const OBJECT_FIELDS: Record<SalesforceObject, { xdmClass: XdmClassName; fields: Array<[string, FieldKind]>; currency: boolean }> = {
  Account: {
    xdmClass: 'account',
    currency: true,
    fields: [
      ...s('Name', 'ParentId', 'AccountNumber', 'Type', 'AccountSource', 'Website', 'Industry', 'Sic', 'DunsNumber', 'Phone', 'OwnerId'),
      ...n('NumberOfEmployees', 'AnnualRevenue'),
      ...s('BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountry'),
    ],
  },
  Contact: {
    xdmClass: 'person',
    currency: false,
    fields: [
      ...s('AccountId', 'FirstName', 'LastName', 'Email', 'Title', 'Department', 'Phone', 'MobilePhone', 'LeadSource', 'ReportsToId'),
      ...b('HasOptedOutOfEmail'),
      ...s('MailingStreet', 'MailingCity', 'MailingState', 'MailingPostalCode', 'MailingCountry'),
    ],
  },
  Lead: {
    xdmClass: 'person',
    currency: false,
    fields: [
      ...s('FirstName', 'LastName', 'Email', 'Company', 'Website', 'Title', 'Phone', 'Status', 'LeadSource', 'Industry'),
      ...b('IsConverted', 'HasOptedOutOfEmail'),
      ...s('ConvertedDate', 'ConvertedAccountId', 'ConvertedContactId', 'ConvertedOpportunityId'),
      ...s('Street', 'City', 'State', 'PostalCode', 'Country'),
    ],
  },
  Opportunity: {
    xdmClass: 'opportunity',
    currency: true,
    fields: [
      ...s('AccountId', 'CampaignId', 'Name', 'Type', 'StageName', 'LeadSource', 'NextStep', 'ForecastCategoryName', 'CloseDate'),
      ...n('Amount', 'Probability', 'FiscalYear', 'FiscalQuarter'),
      ...b('IsClosed', 'IsWon'),
    ],
  },
  OpportunityContactRole: {
    xdmClass: 'opportunity-person',
    currency: false,
    fields: [...s('OpportunityId', 'ContactId', 'Role'), ...b('IsPrimary')],
  },
  AccountContactRelation: {
    xdmClass: 'account-person',
    currency: false,
    fields: [...s('AccountId', 'ContactId', 'Roles', 'StartDate', 'EndDate'), ...b('IsDirect', 'IsActive')],
  },
  Campaign: {
    xdmClass: 'campaign',
    currency: true,
    fields: [
      ...s('Name', 'Description', 'Type', 'Status', 'ParentId', 'StartDate', 'EndDate'),
      ...b('IsActive'),
      ...n('BudgetedCost', 'ActualCost', 'ExpectedRevenue'),
    ],
  },
  CampaignMember: {
    xdmClass: 'campaign-member',
    currency: false,
    fields: [...s('CampaignId', 'LeadId', 'ContactId', 'LeadOrContactId', 'Type', 'Status', 'FirstRespondedDate'), ...b('HasResponded')],
  },
};

/** The spec of one object; `multiCurrency` adds CurrencyIsoCode where the object has amounts. */
export function objectSpec(name: SalesforceObject, multiCurrency: boolean): ObjectSpec {
  const def = OBJECT_FIELDS[name];
  return { name, xdmClass: def.xdmClass, fields: [...AUDIT, ...def.fields, ...(def.currency && multiCurrency ? CURRENCY : [])] };
}
