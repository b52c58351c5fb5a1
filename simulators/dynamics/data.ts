/**
 * The Dynamics org's projection of the synthetic world: Dataverse rows (column values as the Web
 * API returns them, lookups as `_x_value` with their target table and display name), built once.
 * Who is in the org follows `presence.dynamics`; ids come from simulators/world/ids.ts.
 */
import type { World } from '../world/world';
import { dynamicsGuid } from '../world/ids';

export type ColumnType = 'guid' | 'string' | 'int' | 'number' | 'bool' | 'datetime' | 'date' | 'lookup';

export interface TableDef {
  set: string;
  logical: string;
  idColumn: string;
  /** Columns in $metadata order; lookups named `_x_value`. */
  columns: Record<string, ColumnType>;
  /** Choice columns: code → label (FormattedValue annotations). Custom org options included. */
  choices: Record<string, Record<number, string>>;
}

/** One row: its values plus lookup targets and display names for annotations. */
export interface SimRow {
  id: string;
  /** Row version (Dataverse versionnumber): increases with every change in the org. */
  rv: number;
  values: Record<string, unknown>;
  /** For lookups: column → [logical name, display name]. */
  lookups: Record<string, [string, string]>;
  /** Serialised forms by select/annotation mode (rebuilt when the row changes). */
  cache?: Map<string, string>;
}

const STATE_ACTIVE = { 0: 'Active', 1: 'Inactive' };

export const TABLES: Record<string, TableDef> = {
  accounts: {
    set: 'accounts', logical: 'account', idColumn: 'accountid',
    columns: {
      accountid: 'guid', name: 'string', accountnumber: 'string', description: 'string', websiteurl: 'string', industrycode: 'int',
      accountcategorycode: 'int', ownershipcode: 'int', numberofemployees: 'int', revenue: 'number', sic: 'string', tickersymbol: 'string',
      telephone1: 'string', fax: 'string', address1_line1: 'string', address1_line2: 'string', address1_city: 'string',
      address1_stateorprovince: 'string', address1_postalcode: 'string', address1_country: 'string', _parentaccountid_value: 'lookup',
      _primarycontactid_value: 'lookup', statecode: 'int', statuscode: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: {
      industrycode: {
        3: 'Broadcasting Printing and Publishing', 6: 'Business Services', 11: "Doctor's Offices and Clinics", 12: 'Durable Manufacturing',
        16: 'Financial', 25: 'Service Retail', 30: 'Transportation', 31: 'Utility Creation and Distribution', 100000000: 'Telecommunications',
        100000001: 'Education',
      },
      ownershipcode: { 1: 'Public', 2: 'Private', 3: 'Subsidiary', 4: 'Other' },
      accountcategorycode: { 1: 'Preferred Customer', 2: 'Standard' },
      statecode: STATE_ACTIVE,
      statuscode: { 1: 'Active', 2: 'Inactive' },
    },
  },
  contacts: {
    set: 'contacts', logical: 'contact', idColumn: 'contactid',
    columns: {
      contactid: 'guid', firstname: 'string', lastname: 'string', fullname: 'string', emailaddress1: 'string', emailaddress2: 'string',
      telephone1: 'string', mobilephone: 'string', jobtitle: 'string', department: 'string', address1_city: 'string',
      address1_stateorprovince: 'string', address1_country: 'string', donotbulkemail: 'bool', _parentcustomerid_value: 'lookup',
      _accountid_value: 'lookup', statecode: 'int', statuscode: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: { statecode: STATE_ACTIVE, statuscode: { 1: 'Active', 2: 'Inactive' } },
  },
  leads: {
    set: 'leads', logical: 'lead', idColumn: 'leadid',
    columns: {
      leadid: 'guid', subject: 'string', firstname: 'string', lastname: 'string', fullname: 'string', emailaddress1: 'string', emailaddress2: 'string',
      telephone1: 'string', mobilephone: 'string', jobtitle: 'string', companyname: 'string', websiteurl: 'string', address1_city: 'string',
      address1_stateorprovince: 'string', address1_country: 'string', donotbulkemail: 'bool', leadsourcecode: 'int', leadqualitycode: 'int',
      _parentaccountid_value: 'lookup', _parentcontactid_value: 'lookup', _qualifyingopportunityid_value: 'lookup', statecode: 'int',
      statuscode: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: {
      leadsourcecode: { 1: 'Advertisement', 4: 'Partner', 6: 'Seminar', 7: 'Trade Show', 8: 'Web', 100000000: 'Content Syndication' },
      leadqualitycode: { 1: 'Hot', 2: 'Warm', 3: 'Cold' },
      statecode: { 0: 'Open', 1: 'Qualified', 2: 'Disqualified' },
      statuscode: { 1: 'New', 2: 'Contacted', 3: 'Qualified', 4: 'Lost', 5: 'Cannot Contact', 6: 'No Longer Interested', 7: 'Canceled' },
    },
  },
  opportunities: {
    set: 'opportunities', logical: 'opportunity', idColumn: 'opportunityid',
    columns: {
      opportunityid: 'guid', name: 'string', description: 'string', _parentaccountid_value: 'lookup', _parentcontactid_value: 'lookup',
      _customerid_value: 'lookup', _campaignid_value: 'lookup', _originatingleadid_value: 'lookup', estimatedvalue: 'number', actualvalue: 'number',
      closeprobability: 'int', salesstage: 'int', stepname: 'string', estimatedclosedate: 'date', actualclosedate: 'date', statecode: 'int',
      statuscode: 'int', msdyn_forecastcategory: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: {
      salesstage: { 0: 'Qualify', 1: 'Develop', 2: 'Propose', 3: 'Close' },
      statecode: { 0: 'Open', 1: 'Won', 2: 'Lost' },
      statuscode: { 1: 'In Progress', 2: 'On Hold', 3: 'Won', 4: 'Canceled', 5: 'Out-Sold' },
      msdyn_forecastcategory: { 100000001: 'Pipeline', 100000002: 'Best case', 100000003: 'Committed', 100000004: 'Omitted', 100000005: 'Won', 100000006: 'Lost' },
    },
  },
  connections: {
    set: 'connections', logical: 'connection', idColumn: 'connectionid',
    columns: {
      connectionid: 'guid', name: 'string', _record1id_value: 'lookup', _record2id_value: 'lookup', _record1roleid_value: 'lookup',
      _record2roleid_value: 'lookup', record1objecttypecode: 'int', record2objecttypecode: 'int', ismaster: 'bool',
      _relatedconnectionid_value: 'lookup', effectivestart: 'datetime', effectiveend: 'datetime', statecode: 'int', statuscode: 'int',
      createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: { statecode: STATE_ACTIVE, statuscode: { 1: 'Active', 2: 'Inactive' }, record1objecttypecode: { 1: 'Account', 2: 'Contact', 3: 'Opportunity', 4: 'Lead' }, record2objecttypecode: { 1: 'Account', 2: 'Contact', 3: 'Opportunity', 4: 'Lead' } },
  },
  campaigns: {
    set: 'campaigns', logical: 'campaign', idColumn: 'campaignid',
    columns: {
      campaignid: 'guid', name: 'string', description: 'string', codename: 'string', typecode: 'int', statuscode: 'int', statecode: 'int',
      actualstart: 'date', actualend: 'date', proposedstart: 'date', proposedend: 'date', budgetedcost: 'number', othercost: 'number',
      totalactualcost: 'number', expectedrevenue: 'number', expectedresponse: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: {
      typecode: { 1: 'Advertisement', 2: 'Direct Marketing', 3: 'Event', 4: 'Co-branding', 5: 'Other' },
      statuscode: { 0: 'Proposed', 1: 'Ready To Launch', 2: 'Launched', 3: 'Completed', 4: 'Canceled', 5: 'Suspended', 6: 'Inactive' },
      statecode: STATE_ACTIVE,
    },
  },
  lists: {
    set: 'lists', logical: 'list', idColumn: 'listid',
    columns: {
      listid: 'guid', listname: 'string', description: 'string', createdfromcode: 'int', type: 'bool', membercount: 'int', statecode: 'int',
      statuscode: 'int', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int',
    },
    choices: { createdfromcode: { 1: 'Account', 2: 'Contact', 4: 'Lead' }, statecode: STATE_ACTIVE, statuscode: { 0: 'Active', 1: 'Inactive' } },
  },
  listmembers: {
    set: 'listmembers', logical: 'listmember', idColumn: 'listmemberid',
    columns: { listmemberid: 'guid', _listid_value: 'lookup', _entityid_value: 'lookup', entitytype: 'string', createdon: 'datetime', modifiedon: 'datetime', versionnumber: 'int' },
    choices: {},
  },
};

/** Table definitions of the org (EntityDefinitions): SchemaName per synced table. */
export const SCHEMA_NAMES: Record<string, string> = {
  account: 'Account', contact: 'Contact', lead: 'Lead', opportunity: 'Opportunity', connection: 'Connection', campaign: 'Campaign', list: 'List',
  listmember: 'ListMember',
};

/** Tables every org has that the connector does not read: EntityDefinitions lists them too. */
export const SYSTEM_TABLES: ReadonlyArray<{ logical: string; schema: string; set: string; changeTracking: boolean }> = [
  { logical: 'systemuser', schema: 'SystemUser', set: 'systemusers', changeTracking: false },
  { logical: 'connectionrole', schema: 'ConnectionRole', set: 'connectionroles', changeTracking: true },
  { logical: 'audit', schema: 'Audit', set: 'audits', changeTracking: true },
];

/** The attribute (column) logical name of a $select name: `_parentaccountid_value` → `parentaccountid`. */
export const attributeName = (column: string): string => /^_(.+)_value$/.exec(column)?.[1] ?? column;

/** The AttributeType of a column, as AttributeMetadata says it (`@odata.type` is `#Microsoft.Dynamics.CRM.{type}AttributeMetadata`). */
export function attributeType(table: TableDef, column: string): string {
  const type = table.columns[column]!;
  if (column === 'statecode') return 'State';
  if (column === 'statuscode') return 'Status';
  if (column === 'versionnumber') return 'BigInt';
  if (type === 'int') return table.choices[column] ? 'Picklist' : 'Integer';
  const byType: Record<string, string> = { guid: 'Uniqueidentifier', string: 'String', number: 'Money', bool: 'Boolean', datetime: 'DateTime', date: 'DateTime', lookup: 'Lookup' };
  return byType[type]!;
}

/**
 * One org's tables: the standard definitions without the tables and columns it lacks (an org
 * without Dynamics 365 Sales forecasting has no `msdyn_forecastcategory`). Unknown names are a
 * mistake in the simulator's options, not something to ignore.
 */
export function orgTables(missingTables: readonly string[] = [], missingColumns: Readonly<Record<string, readonly string[]>> = {}): Record<string, TableDef> {
  const out: Record<string, TableDef> = {};
  for (const set of missingTables) if (!TABLES[set]) throw new Error(`missingTables: no table ${set}`);
  for (const [set, table] of Object.entries(TABLES)) {
    if (missingTables.includes(set)) continue;
    const drop = missingColumns[set] ?? [];
    for (const col of drop) {
      if (!table.columns[col]) throw new Error(`missingColumns: ${set} has no column ${col}`);
      if (col === table.idColumn || col === 'modifiedon') throw new Error(`missingColumns: ${set}.${col} exists in every org`);
    }
    out[set] = { ...table, columns: Object.fromEntries(Object.entries(table.columns).filter(([c]) => !drop.includes(c))) };
  }
  for (const set of Object.keys(missingColumns)) if (!TABLES[set]) throw new Error(`missingColumns: no table ${set}`);
  return out;
}

/** Dataverse instants: second precision, `Z`. */
export const dvInstant = (iso: string): string => `${iso.slice(0, 19)}Z`;

const INDUSTRY: Record<string, number> = {
  Software: 6, Manufacturing: 12, Healthcare: 11, 'Financial Services': 16, Retail: 25, Energy: 31, Logistics: 30, Education: 100000001,
  Telecommunications: 100000000, Media: 3,
};
const LEAD_SOURCE: Record<string, number> = { Web: 8, Webinar: 6, 'Trade Show': 7, 'Partner Referral': 4, 'Paid Search': 1, 'Content Syndication': 100000000 };
const LEAD_STATUS: Record<string, [number, number]> = {
  'Open - Not Contacted': [0, 1], 'Working - Contacted': [0, 2], 'Closed - Converted': [1, 3], 'Closed - Not Converted': [2, 4],
};
const SALES_STAGE: Record<string, number> = {
  Prospecting: 0, Qualification: 0, 'Needs Analysis': 1, 'Proposal/Price Quote': 2, 'Negotiation/Review': 3, 'Closed Won': 3, 'Closed Lost': 3,
};
const FORECAST: Record<string, number> = { Pipeline: 100000001, BestCase: 100000002, Commit: 100000003, Omitted: 100000004 };
const CAMPAIGN_TYPE: Record<string, number> = { Webinar: 3, Email: 2, Conference: 3, Advertisement: 1, Content: 5 };
const CAMPAIGN_STATUS: Record<string, number> = { Planned: 0, 'In Progress': 2, Completed: 3 };

export interface OrgData {
  rows: Record<string, Map<string, SimRow>>;
  nextVersion: number;
}

export function buildOrgData(world: World): OrgData {
  let rv = 1000;
  const rows: Record<string, Map<string, SimRow>> = {};
  for (const set of Object.keys(TABLES)) rows[set] = new Map();
  const add = (set: string, id: string, values: Record<string, unknown>, lookups: Record<string, [string, string]> = {}) => {
    values.versionnumber = ++rv;
    const row: SimRow = { id, rv, values, lookups };
    rows[set]!.set(id, row);
    return row;
  };
  const accountId = (idx: number) => dynamicsGuid('account', idx);
  const inOrg = new Set(world.accounts.filter((a) => a.presence.dynamics).map((a) => a.idx));

  for (const a of world.accounts) {
    if (!inOrg.has(a.idx)) continue;
    const parent = a.parentIdx !== null && inOrg.has(a.parentIdx) ? world.accounts[a.parentIdx]! : null;
    add('accounts', accountId(a.idx), {
      accountid: accountId(a.idx), name: a.name, accountnumber: `ACC-${String(a.idx).padStart(6, '0')}`, description: null, websiteurl: a.website,
      industrycode: INDUSTRY[a.industry] ?? null, accountcategorycode: a.idx % 3 === 0 ? 1 : 2, ownershipcode: a.employees > 10_000 ? 1 : 2,
      numberofemployees: a.employees, revenue: a.annualRevenue, sic: a.sicCode, tickersymbol: null, telephone1: a.phone, fax: null,
      address1_line1: a.street, address1_line2: null, address1_city: a.city, address1_stateorprovince: a.state, address1_postalcode: a.postalCode,
      address1_country: a.country, _parentaccountid_value: parent ? accountId(parent.idx) : null, _primarycontactid_value: null, statecode: 0,
      statuscode: 1, createdon: dvInstant(a.createdAt), modifiedon: dvInstant(a.updatedAt),
    }, parent ? { _parentaccountid_value: ['account', parent.name] } : {});
  }

  const personId = (p: { idx: number; presence: { dynamics: 'contact' | 'lead' | null } }) => dynamicsGuid(p.presence.dynamics!, p.idx);
  for (const p of world.people) {
    if (!p.presence.dynamics) continue;
    const account = p.accountIdx !== null && inOrg.has(p.accountIdx) ? world.accounts[p.accountIdx]! : null;
    // Built field by field (no object spreads: this runs once per person and spreads are slow at scale).
    const v: Record<string, unknown> = {};
    const id = personId(p);
    v[p.presence.dynamics === 'contact' ? 'contactid' : 'leadid'] = id;
    v.firstname = p.firstName;
    v.lastname = p.lastName;
    v.fullname = `${p.firstName} ${p.lastName}`;
    v.emailaddress1 = p.email;
    v.emailaddress2 = p.personalEmail;
    v.telephone1 = p.phone;
    v.mobilephone = null;
    v.jobtitle = p.title;
    v.address1_city = account?.city ?? null;
    v.address1_stateorprovince = account?.state ?? null;
    v.address1_country = account?.country ?? null;
    v.donotbulkemail = p.unsubscribed;
    v.createdon = dvInstant(p.createdAt);
    v.modifiedon = dvInstant(p.updatedAt);
    const accountRef = account ? accountId(account.idx) : null;
    if (p.presence.dynamics === 'contact') {
      v.department = p.department;
      v._parentcustomerid_value = accountRef;
      v._accountid_value = accountRef;
      v.statecode = 0;
      v.statuscode = 1;
      add('contacts', id, v, account ? { _parentcustomerid_value: ['account', account.name], _accountid_value: ['account', account.name] } : {});
    } else {
      const [statecode, statuscode] = LEAD_STATUS[p.leadStatus] ?? [0, 1];
      v.subject = `${p.companyName} - ${p.leadSource}`;
      v.companyname = p.companyName;
      v.websiteurl = account?.website ?? null;
      v.leadsourcecode = LEAD_SOURCE[p.leadSource] ?? null;
      v.leadqualitycode = p.leadScore > 100 ? 1 : p.leadScore > 50 ? 2 : 3;
      v._parentaccountid_value = accountRef;
      v._parentcontactid_value = null;
      v._qualifyingopportunityid_value = null;
      v.statecode = statecode;
      v.statuscode = statuscode;
      add('leads', id, v, account ? { _parentaccountid_value: ['account', account.name] } : {});
    }
  }

  const campaignId = (idx: number) => dynamicsGuid('campaign', idx);
  for (const c of world.campaigns) {
    const id = campaignId(c.idx);
    add('campaigns', id, {
      campaignid: id, name: c.name, description: null, codename: `CMP-${String(c.idx).padStart(5, '0')}`, typecode: CAMPAIGN_TYPE[c.type] ?? 5,
      statuscode: c.isActive ? (CAMPAIGN_STATUS[c.status] ?? 0) : 6, statecode: c.isActive ? 0 : 1, actualstart: c.startDate, actualend: c.endDate,
      proposedstart: c.startDate, proposedend: c.endDate, budgetedcost: c.budgetedCost, othercost: 0, totalactualcost: c.actualCost,
      expectedrevenue: null, expectedresponse: 100, createdon: dvInstant(c.createdAt), modifiedon: dvInstant(c.updatedAt),
    });
  }

  const oppInOrg = new Set<number>();
  for (const o of world.opportunities) {
    if (!inOrg.has(o.accountIdx)) continue;
    oppInOrg.add(o.idx);
    const id = dynamicsGuid('opportunity', o.idx);
    const account = world.accounts[o.accountIdx]!;
    const campaign = o.campaignIdx !== null ? world.campaigns[o.campaignIdx]! : null;
    const forecast = o.isClosed ? (o.isWon ? 100000005 : 100000006) : (FORECAST[o.forecastCategory] ?? 100000001);
    add('opportunities', id, {
      opportunityid: id, name: o.name, description: null, _parentaccountid_value: accountId(account.idx), _parentcontactid_value: null,
      _customerid_value: accountId(account.idx), _campaignid_value: campaign ? campaignId(campaign.idx) : null, _originatingleadid_value: null,
      estimatedvalue: o.amount, actualvalue: o.isWon ? o.amount : null, closeprobability: o.probability, salesstage: SALES_STAGE[o.stage] ?? 0,
      stepname: o.stage, estimatedclosedate: o.closeDate, actualclosedate: o.isClosed ? o.closeDate : null,
      statecode: o.isClosed ? (o.isWon ? 1 : 2) : 0, statuscode: o.isClosed ? (o.isWon ? 3 : 5) : 1, msdyn_forecastcategory: forecast,
      createdon: dvInstant(o.createdAt), modifiedon: dvInstant(o.updatedAt),
    }, {
      _parentaccountid_value: ['account', account.name], _customerid_value: ['account', account.name],
      ...(campaign ? { _campaignid_value: ['campaign', campaign.name] as [string, string] } : {}),
    });
  }

  // Opportunity stakeholders: reciprocal connection pairs (record1 = opportunity on the master).
  const roleIds = new Map<string, string>();
  const roleId = (name: string) => {
    let id = roleIds.get(name);
    if (!id) roleIds.set(name, (id = dynamicsGuid('connectionrole', roleIds.size)));
    return id;
  };
  for (const r of world.opportunityRoles) {
    const person = world.people[r.personIdx]!;
    if (!oppInOrg.has(r.opportunityIdx) || person.presence.dynamics !== 'contact') continue;
    const opp = world.opportunities[r.opportunityIdx]!;
    const masterId = dynamicsGuid('connection', 2 * r.idx);
    const otherId = dynamicsGuid('connection', 2 * r.idx + 1);
    const oppId = dynamicsGuid('opportunity', opp.idx);
    const contactId = personId(person);
    const fullName = `${person.firstName} ${person.lastName}`;
    const times = { effectivestart: null, effectiveend: null, statecode: 0, statuscode: 1, createdon: dvInstant(r.createdAt), modifiedon: dvInstant(r.updatedAt) };
    add('connections', masterId, {
      connectionid: masterId, name: fullName, _record1id_value: oppId, _record2id_value: contactId, _record1roleid_value: null,
      _record2roleid_value: roleId(r.role), record1objecttypecode: 3, record2objecttypecode: 2, ismaster: true, _relatedconnectionid_value: otherId, ...times,
    }, {
      _record1id_value: ['opportunity', opp.name], _record2id_value: ['contact', fullName], _record2roleid_value: ['connectionrole', r.role],
      _relatedconnectionid_value: ['connection', opp.name],
    });
    add('connections', otherId, {
      connectionid: otherId, name: opp.name, _record1id_value: contactId, _record2id_value: oppId, _record1roleid_value: roleId(r.role),
      _record2roleid_value: null, record1objecttypecode: 2, record2objecttypecode: 3, ismaster: false, _relatedconnectionid_value: masterId, ...times,
    }, {
      _record1id_value: ['contact', fullName], _record2id_value: ['opportunity', opp.name], _record1roleid_value: ['connectionrole', r.role],
      _relatedconnectionid_value: ['connection', fullName],
    });
  }

  const listId = (idx: number) => dynamicsGuid('list', idx);
  const memberCount = new Map<number, number>();
  for (const m of world.listMembers) {
    const person = world.people[m.personIdx]!;
    if (!person.presence.dynamics) continue;
    memberCount.set(m.listIdx, (memberCount.get(m.listIdx) ?? 0) + 1);
    const id = dynamicsGuid('listmember', m.idx);
    const list = world.lists[m.listIdx]!;
    add('listmembers', id, {
      listmemberid: id, _listid_value: listId(list.idx), _entityid_value: personId(person), entitytype: person.presence.dynamics,
      createdon: dvInstant(m.createdAt), modifiedon: dvInstant(m.updatedAt),
    }, { _listid_value: ['list', list.name], _entityid_value: [person.presence.dynamics, `${person.firstName} ${person.lastName}`] });
  }
  for (const l of world.lists) {
    const id = listId(l.idx);
    add('lists', id, {
      listid: id, listname: l.name, description: l.description, createdfromcode: 2, type: false, membercount: memberCount.get(l.idx) ?? 0,
      statecode: 0, statuscode: 0, createdon: dvInstant(l.createdAt), modifiedon: dvInstant(l.updatedAt),
    });
  }
  return { rows, nextVersion: rv + 1 };
}
