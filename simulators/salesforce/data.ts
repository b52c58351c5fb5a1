/**
 * The Salesforce org's data: the synthetic world projected into eight sObject tables with
 * Salesforce field names, types and ids (simulators/world/ids.ts, so the Marketo simulator's
 * sfdcContactId / sfdcLeadId / sfdcAccountId line up). Rows are immutable: a change (mutate)
 * replaces a row, so open query cursors and bulk jobs keep the snapshot they were built from,
 * and each row caches its serialised JSON.
 */
import { salesforceId, SALESFORCE_PREFIX } from '../world/ids';
import type { World, WorldPerson } from '../world/world';

export type FieldType =
  | 'id'
  | 'reference'
  | 'string'
  | 'textarea'
  | 'picklist'
  | 'multipicklist'
  | 'email'
  | 'phone'
  | 'url'
  | 'boolean'
  | 'int'
  | 'double'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime';

export interface FieldDef {
  name: string;
  type: FieldType;
}

export type Value = string | number | boolean | null;

export interface SimRow {
  readonly Id: string;
  readonly values: Readonly<Record<string, Value>>;
  /** Epoch ms of each datetime field (NaN when null), for filters and ordering. */
  readonly ms: Readonly<Record<string, number>>;
}

export interface SimTable {
  name: SObjectName;
  fields: FieldDef[];
  /** Lower-cased field name → definition (SOQL field names are case-insensitive). */
  byLowerName: Map<string, FieldDef>;
  rows: SimRow[];
  /** Row index by Id. */
  index: Map<string, number>;
  /** Rows ordered by SystemModstamp, Id (rebuilt lazily after a change). */
  sorted: SimRow[] | null;
}

export type SObjectName = keyof typeof SALESFORCE_PREFIX;
export const SOBJECTS: SObjectName[] = ['Account', 'Contact', 'Lead', 'Opportunity', 'OpportunityContactRole', 'AccountContactRelation', 'Campaign', 'CampaignMember'];

const COMMON: FieldDef[] = [
  { name: 'Id', type: 'id' },
  { name: 'IsDeleted', type: 'boolean' },
  { name: 'CreatedDate', type: 'datetime' },
  { name: 'CreatedById', type: 'reference' },
  { name: 'LastModifiedDate', type: 'datetime' },
  { name: 'LastModifiedById', type: 'reference' },
  { name: 'SystemModstamp', type: 'datetime' },
];

const f = (type: FieldType, ...names: string[]): FieldDef[] => names.map((name) => ({ name, type }));

export const SCHEMA: Record<SObjectName, FieldDef[]> = {
  Account: [
    ...COMMON,
    ...f('string', 'Name', 'AccountNumber', 'Sic', 'DunsNumber', 'BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountry'),
    ...f('reference', 'ParentId', 'OwnerId', 'MasterRecordId'),
    ...f('picklist', 'Type', 'AccountSource', 'Industry', 'CurrencyIsoCode'),
    ...f('url', 'Website'),
    ...f('phone', 'Phone'),
    ...f('int', 'NumberOfEmployees'),
    ...f('currency', 'AnnualRevenue'),
    ...f('textarea', 'Description'),
  ],
  Contact: [
    ...COMMON,
    ...f('reference', 'AccountId', 'ReportsToId', 'OwnerId', 'MasterRecordId'),
    ...f('string', 'FirstName', 'LastName', 'Name', 'Title', 'Department', 'MailingStreet', 'MailingCity', 'MailingState', 'MailingPostalCode', 'MailingCountry'),
    ...f('email', 'Email'),
    ...f('phone', 'Phone', 'MobilePhone'),
    ...f('picklist', 'LeadSource'),
    ...f('boolean', 'HasOptedOutOfEmail'),
  ],
  Lead: [
    ...COMMON,
    ...f('string', 'FirstName', 'LastName', 'Name', 'Company', 'Title', 'Street', 'City', 'State', 'PostalCode', 'Country'),
    ...f('email', 'Email'),
    ...f('url', 'Website'),
    ...f('phone', 'Phone'),
    ...f('picklist', 'Status', 'LeadSource', 'Industry'),
    ...f('boolean', 'IsConverted', 'HasOptedOutOfEmail'),
    ...f('date', 'ConvertedDate'),
    ...f('reference', 'ConvertedAccountId', 'ConvertedContactId', 'ConvertedOpportunityId', 'OwnerId', 'MasterRecordId'),
  ],
  Opportunity: [
    ...COMMON,
    ...f('reference', 'AccountId', 'CampaignId', 'OwnerId'),
    ...f('string', 'Name', 'NextStep'),
    ...f('picklist', 'Type', 'StageName', 'LeadSource', 'ForecastCategoryName', 'CurrencyIsoCode'),
    ...f('currency', 'Amount'),
    ...f('percent', 'Probability'),
    ...f('date', 'CloseDate'),
    ...f('int', 'FiscalYear', 'FiscalQuarter'),
    ...f('boolean', 'IsClosed', 'IsWon'),
  ],
  OpportunityContactRole: [...COMMON, ...f('reference', 'OpportunityId', 'ContactId'), ...f('picklist', 'Role'), ...f('boolean', 'IsPrimary')],
  AccountContactRelation: [
    ...COMMON,
    ...f('reference', 'AccountId', 'ContactId'),
    ...f('multipicklist', 'Roles'),
    ...f('date', 'StartDate', 'EndDate'),
    ...f('boolean', 'IsDirect', 'IsActive'),
  ],
  Campaign: [
    ...COMMON,
    ...f('string', 'Name'),
    ...f('textarea', 'Description'),
    ...f('picklist', 'Type', 'Status', 'CurrencyIsoCode'),
    ...f('reference', 'ParentId', 'OwnerId'),
    ...f('date', 'StartDate', 'EndDate'),
    ...f('boolean', 'IsActive'),
    ...f('currency', 'BudgetedCost', 'ActualCost', 'ExpectedRevenue'),
  ],
  CampaignMember: [
    ...COMMON,
    ...f('reference', 'CampaignId', 'LeadId', 'ContactId', 'LeadOrContactId'),
    ...f('string', 'Type'),
    ...f('picklist', 'Status'),
    ...f('boolean', 'HasResponded'),
    ...f('date', 'FirstRespondedDate'),
  ],
};

/** The Salesforce id of a world record (the ids Marketo leads carry as sfdcContactId etc.). */
export function sfId(object: SObjectName, idx: number): string {
  return salesforceId(object, idx);
}

/** Salesforce's date-time format: `2026-11-01T12:00:00.000+0000`. */
export function sfDateTime(ms: number): string {
  // Salesforce keeps date-times to the second: the fraction is always .000.
  return `${new Date(ms).toISOString().slice(0, 19)}.000+0000`;
}

export const OWNER_ID = '0055e0000000001AAA';

const DATETIME_FIELDS = Object.fromEntries(
  (Object.keys(SCHEMA) as SObjectName[]).map((name) => [name, SCHEMA[name].filter((d) => d.type === 'datetime').map((d) => d.name)]),
) as Record<SObjectName, string[]>;

/** Epoch ms of a `…+0000` date-time. */
function msOf(v: Value | undefined): number {
  return typeof v === 'string' ? Date.parse(v.length === 28 ? `${v.slice(0, 23)}Z` : v.replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) : NaN;
}

/** A row; `known` carries epoch ms already computed for some datetime fields. */
export function makeRow(table: SObjectName, values: Record<string, Value>, known?: Record<string, number>): SimRow {
  const ms: Record<string, number> = {};
  for (const name of DATETIME_FIELDS[table]) ms[name] = known?.[name] ?? msOf(values[name]);
  return { Id: values.Id as string, values, ms };
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/;

/**
 * Appends the REST JSON of `rows` (the `records` array's items, comma-separated) to `parts`: one
 * push per piece, no per-row strings, so a page becomes one flat string with a single join.
 */
export function pushRecordsJson(parts: string[], table: SObjectName, version: string, fields: FieldDef[], rows: SimRow[]): void {
  const head = `{"attributes":{"type":"${table}","url":"/services/data/${version}/sobjects/${table}/`;
  const quoted = fields.map((d) => `,"${d.name}":"`);
  const raw = fields.map((d) => `,"${d.name}":`);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const values = row.values;
    parts.push(i === 0 ? head : `,${head}`, row.Id, '"}');
    for (let j = 0; j < fields.length; j++) {
      const v = values[fields[j]!.name];
      if (typeof v === 'string') {
        if (NEEDS_ESCAPE.test(v)) parts.push(raw[j]!, JSON.stringify(v));
        else parts.push(quoted[j]!, v, '"');
      } else parts.push(raw[j]!, v === null || v === undefined ? 'null' : String(v));
    }
    parts.push('}');
  }
}

/** Appends Bulk API 2.0 CSV lines of `rows` to `parts` (every value quoted, null as an empty cell). */
export function pushRecordsCsv(parts: string[], fields: FieldDef[], rows: SimRow[], nl: string): void {
  for (const row of rows) {
    const values = row.values;
    for (let j = 0; j < fields.length; j++) {
      const v = values[fields[j]!.name];
      if (j > 0) parts.push(',');
      if (v === null || v === undefined) continue;
      const text = typeof v === 'string' ? v : String(v);
      if (text.includes('"')) parts.push('"', text.replace(/"/g, '""'), '"');
      else parts.push('"', text, '"');
    }
    parts.push(nl);
  }
}

export function newTable(name: SObjectName, rows: SimRow[]): SimTable {
  const fields = SCHEMA[name];
  const table: SimTable = { name, fields, byLowerName: new Map(fields.map((d) => [d.name.toLowerCase(), d])), rows, index: new Map(), sorted: null };
  rows.forEach((r, i) => table.index.set(r.Id, i));
  return table;
}

/** Rows in SystemModstamp, Id order (cached until the next change). */
export function sortedRows(table: SimTable): SimRow[] {
  if (!table.sorted) {
    table.sorted = table.rows.slice().sort((a, b) => a.ms.SystemModstamp! - b.ms.SystemModstamp! || (a.Id < b.Id ? -1 : a.Id > b.Id ? 1 : 0));
  }
  return table.sorted;
}

/** World times are `toISOString()` values: `…:ss.sssZ` becomes Salesforce's `…:ss.000+0000`. */
const sfFromIso = (iso: string): string => `${iso.slice(0, 19)}.000+0000`;

function audit(createdAt: string, updatedAt: string): Record<string, Value> {
  const created = sfFromIso(createdAt);
  const updated = sfFromIso(updatedAt);
  return { IsDeleted: false, CreatedDate: created, CreatedById: OWNER_ID, LastModifiedDate: updated, LastModifiedById: OWNER_ID, SystemModstamp: updated };
}

const day = (iso: string) => iso.slice(0, 10);

/** Whether a world person is held as a converted lead (and so also as a contact). */
function isConvertedLead(p: WorldPerson): boolean {
  return p.presence.salesforce === 'lead' && p.leadStatus === 'Closed - Converted' && p.accountIdx !== null;
}

/** Whether the person exists as a Contact in the org. */
export function isContact(p: WorldPerson): boolean {
  return (p.presence.salesforce === 'contact' && p.accountIdx !== null) || isConvertedLead(p);
}

export type Tables = Record<SObjectName, SimTable>;

/** Builds the org's tables from the world. */
export function buildTables(world: World): Tables {
  const accounts = world.accounts.map((a) =>
    makeRow('Account', {
      Id: sfId('Account', a.idx),
      Name: a.name,
      AccountNumber: `ACC-${String(a.idx).padStart(6, '0')}`,
      Type: a.idx % 3 === 0 ? 'Customer - Direct' : 'Prospect',
      AccountSource: a.idx % 2 === 0 ? 'Web' : 'Partner Referral',
      Website: a.website,
      Industry: a.industry,
      Sic: a.sicCode,
      DunsNumber: a.duns,
      Phone: a.phone,
      ParentId: a.parentIdx === null ? null : sfId('Account', a.parentIdx),
      OwnerId: OWNER_ID,
      MasterRecordId: null,
      NumberOfEmployees: a.employees,
      AnnualRevenue: a.annualRevenue,
      CurrencyIsoCode: 'USD',
      Description: null,
      BillingStreet: a.street,
      BillingCity: a.city,
      BillingState: a.state,
      BillingPostalCode: a.postalCode,
      BillingCountry: a.country,
      ...audit(a.createdAt, a.updatedAt),
    }),
  );

  const contacts = [];
  const leads = [];
  const acrs = [];
  for (const p of world.people) {
    if (!p.presence.salesforce) continue;
    const account = p.accountIdx === null ? null : world.accounts[p.accountIdx]!;
    if (isContact(p)) {
      contacts.push(
        makeRow('Contact', {
          Id: sfId('Contact', p.idx),
          AccountId: sfId('Account', p.accountIdx!),
          FirstName: p.firstName,
          LastName: p.lastName,
          Name: `${p.firstName} ${p.lastName}`,
          Email: p.email,
          Title: p.title,
          Department: p.department,
          Phone: p.phone,
          MobilePhone: null,
          LeadSource: p.leadSource,
          ReportsToId: null,
          OwnerId: OWNER_ID,
          MasterRecordId: null,
          HasOptedOutOfEmail: p.unsubscribed,
          MailingStreet: account?.street ?? null,
          MailingCity: account?.city ?? null,
          MailingState: account?.state ?? null,
          MailingPostalCode: account?.postalCode ?? null,
          MailingCountry: account?.country ?? null,
          ...audit(p.createdAt, p.updatedAt),
        }),
      );
      acrs.push(
        makeRow('AccountContactRelation', {
          Id: sfId('AccountContactRelation', p.idx * 2),
          AccountId: sfId('Account', p.accountIdx!),
          ContactId: sfId('Contact', p.idx),
          Roles: p.department === 'Marketing' ? 'Decision Maker;Influencer' : 'Business User',
          StartDate: day(p.createdAt),
          EndDate: null,
          IsDirect: true,
          IsActive: true,
          ...audit(p.createdAt, p.updatedAt),
        }),
      );
      if (p.previousAccountIdx !== null) {
        // The old employer stays related, ended when the person moved.
        acrs.push(
          makeRow('AccountContactRelation', {
            Id: sfId('AccountContactRelation', p.idx * 2 + 1),
            AccountId: sfId('Account', p.previousAccountIdx),
            ContactId: sfId('Contact', p.idx),
            Roles: 'Business User',
            StartDate: day(new Date(Date.parse(p.createdAt) - 700 * 86_400_000).toISOString()),
            EndDate: day(p.createdAt),
            IsDirect: false,
            IsActive: false,
            ...audit(p.createdAt, p.updatedAt),
          }),
        );
      }
    }
    if (p.presence.salesforce === 'lead') {
      const converted = isConvertedLead(p);
      leads.push(
        makeRow('Lead', {
          Id: sfId('Lead', p.idx),
          FirstName: p.firstName,
          LastName: p.lastName,
          Name: `${p.firstName} ${p.lastName}`,
          Email: p.email,
          Company: p.companyName,
          Website: account?.website ?? null,
          Title: p.title,
          Phone: p.phone,
          Status: converted ? 'Closed - Converted' : p.leadStatus === 'Closed - Converted' ? 'Closed - Not Converted' : p.leadStatus,
          LeadSource: p.leadSource,
          Industry: account?.industry ?? null,
          IsConverted: converted,
          ConvertedDate: converted ? day(p.updatedAt) : null,
          ConvertedAccountId: converted ? sfId('Account', p.accountIdx!) : null,
          ConvertedContactId: converted ? sfId('Contact', p.idx) : null,
          ConvertedOpportunityId: null,
          HasOptedOutOfEmail: p.unsubscribed,
          OwnerId: OWNER_ID,
          MasterRecordId: null,
          Street: null,
          City: account?.city ?? null,
          State: account?.state ?? null,
          PostalCode: null,
          Country: account?.country ?? null,
          ...audit(p.createdAt, p.updatedAt),
        }),
      );
    }
  }

  const opportunities = world.opportunities.map((o) => {
    const close = o.closeDate;
    return makeRow('Opportunity', {
      Id: sfId('Opportunity', o.idx),
      AccountId: sfId('Account', o.accountIdx),
      CampaignId: o.campaignIdx === null ? null : sfId('Campaign', o.campaignIdx),
      OwnerId: OWNER_ID,
      Name: o.name,
      NextStep: o.isClosed ? null : 'Follow up',
      Type: o.idx % 2 === 0 ? 'New Business' : 'Existing Business',
      StageName: o.stage,
      LeadSource: null,
      ForecastCategoryName: o.forecastCategory,
      CurrencyIsoCode: o.currency,
      Amount: o.amount,
      Probability: o.probability,
      CloseDate: close,
      FiscalYear: Number(close.slice(0, 4)),
      FiscalQuarter: Math.floor((Number(close.slice(5, 7)) - 1) / 3) + 1,
      IsClosed: o.isClosed,
      IsWon: o.isWon,
      ...audit(o.createdAt, o.updatedAt),
    });
  });

  const people = world.people;
  const roles = world.opportunityRoles
    .filter((r) => isContact(people[r.personIdx]!))
    .map((r) =>
      makeRow('OpportunityContactRole', {
        Id: sfId('OpportunityContactRole', r.idx),
        OpportunityId: sfId('Opportunity', r.opportunityIdx),
        ContactId: sfId('Contact', r.personIdx),
        Role: r.role,
        IsPrimary: r.isPrimary,
        ...audit(r.createdAt, r.updatedAt),
      }),
    );

  const campaigns = world.campaigns.map((c) =>
    makeRow('Campaign', {
      Id: sfId('Campaign', c.idx),
      Name: c.name,
      Description: `${c.type} campaign (${c.channel})`,
      Type: c.type,
      Status: c.status,
      CurrencyIsoCode: 'USD',
      ParentId: c.parentIdx === null ? null : sfId('Campaign', c.parentIdx),
      OwnerId: OWNER_ID,
      StartDate: c.startDate,
      EndDate: c.endDate,
      IsActive: c.isActive,
      BudgetedCost: c.budgetedCost,
      ActualCost: c.actualCost,
      ExpectedRevenue: null,
      ...audit(c.createdAt, c.updatedAt),
    }),
  );

  const members = [];
  for (const m of world.campaignMembers) {
    const p = people[m.personIdx]!;
    if (!p.presence.salesforce) continue;
    const contactId = isContact(p) ? sfId('Contact', p.idx) : null;
    const leadId = p.presence.salesforce === 'lead' ? sfId('Lead', p.idx) : null;
    members.push(
      makeRow('CampaignMember', {
        Id: sfId('CampaignMember', m.idx),
        CampaignId: sfId('Campaign', m.campaignIdx),
        LeadId: leadId,
        ContactId: contactId,
        LeadOrContactId: contactId ?? leadId,
        Type: contactId ? 'Contact' : 'Lead',
        Status: m.status,
        HasResponded: m.hasResponded,
        FirstRespondedDate: m.firstRespondedDate === null ? null : day(m.firstRespondedDate),
        ...audit(m.createdAt, m.updatedAt),
      }),
    );
  }

  return {
    Account: newTable('Account', accounts),
    Contact: newTable('Contact', contacts),
    Lead: newTable('Lead', leads),
    Opportunity: newTable('Opportunity', opportunities),
    OpportunityContactRole: newTable('OpportunityContactRole', roles),
    AccountContactRelation: newTable('AccountContactRelation', acrs),
    Campaign: newTable('Campaign', campaigns),
    CampaignMember: newTable('CampaignMember', members),
  };
}

/** A user's edit of one row: a business field changes and the audit stamps move to `at`. */
export function editedValues(table: SObjectName, v: Readonly<Record<string, Value>>, n: number): Record<string, Value> {
  switch (table) {
    case 'Account':
      return { ...v, NumberOfEmployees: (v.NumberOfEmployees as number) + 1 + n };
    case 'Contact':
    case 'Lead':
      return { ...v, Title: `${String(v.Title ?? 'Staff').replace(/ \(rev \d+\)$/, '')} (rev ${n})` };
    case 'Opportunity':
      return { ...v, Amount: (v.Amount as number) + 1000 };
    case 'OpportunityContactRole':
      return { ...v, Role: v.Role === 'Influencer' ? 'Evaluator' : 'Influencer' };
    case 'AccountContactRelation':
      return { ...v, Roles: v.Roles === 'Business User' ? 'Business User;Influencer' : 'Business User' };
    case 'Campaign':
      return { ...v, Status: v.Status === 'Completed' ? 'In Progress' : 'Completed' };
    case 'CampaignMember':
      return { ...v, Status: v.Status === 'Responded' ? 'Attended' : 'Responded', HasResponded: true };
  }
}
