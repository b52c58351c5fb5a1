/**
 * Pure mapping of Dataverse Web API rows (JSON objects as the API returns them, with the
 * lookuplogicalname / FormattedValue annotations) to XDM B2B records (b2b-model.md §5.3).
 * No I/O here: the stream code feeds rows in, gets records or unmappable rows out.
 *
 * Conventions: lookups arrive as `_<name>_value` (a GUID) with
 * `_<name>_value@Microsoft.Dynamics.CRM.lookuplogicalname` naming the target table (needed for
 * polymorphic lookups such as contact.parentcustomerid); choices are integers decoded with
 * picklists.ts; instants are ISO date-times (`Z`), date-only columns `YYYY-MM-DD`.
 */
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import type { SourceRecord, UnmappableRow } from '../source-connector';
import { PICKLISTS, decodePicklist } from './picklists';

export const SOURCE_TYPE = 'Dynamics';

const LOGICAL = '@Microsoft.Dynamics.CRM.lookuplogicalname';
const FORMATTED = '@OData.Community.Display.V1.FormattedValue';

export interface MapContext {
  /** The organisation: sourceInstanceID of every key. */
  instanceId: string;
}

interface B2BKey {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
  sourceKey: string;
}

/** A row that cannot be mapped; caught per row by {@link mapRow}. */
export class RowProblem extends Error {}

export function sourceKey(ctx: MapContext, id: string): B2BKey {
  return { sourceType: SOURCE_TYPE, sourceInstanceID: ctx.instanceId, sourceID: id, sourceKey: `${id}@${ctx.instanceId}.${SOURCE_TYPE}` };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/* ----------------------------------------------------------------------------------------- */
/* Column readers: null for null/absent, RowProblem for a value of the wrong type            */
/* ----------------------------------------------------------------------------------------- */

export function guidOf(row: Record<string, unknown>, column: string): string | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || !GUID.test(v)) throw new RowProblem(`${column} '${String(v)}' is not a GUID`);
  return v.toLowerCase();
}

function requiredGuid(row: Record<string, unknown>, column: string): string {
  const id = guidOf(row, column);
  if (id === null) throw new RowProblem(`${column} is missing`);
  return id;
}

function str(row: Record<string, unknown>, column: string): string | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new RowProblem(`${column} is not a string`);
  const t = v.trim();
  return t === '' ? null : t;
}

function num(row: Record<string, unknown>, column: string): number | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RowProblem(`${column} '${String(v)}' is not a number`);
  return v;
}

function bool(row: Record<string, unknown>, column: string): boolean | null {
  const v = row[column];
  if (v === null || v === undefined) return null;
  if (typeof v !== 'boolean') throw new RowProblem(`${column} '${String(v)}' is not a boolean`);
  return v;
}

const ISO_INSTANT = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** An instant column as an XDM date-time (`Z` or `±hh:mm`), or RowProblem. */
export function normaliseInstant(value: string, column: string): string {
  const m = ISO_INSTANT.exec(value);
  const year = m ? Number(m[1]) : 0;
  if (!m || year < 1 || year > 9999 || Number.isNaN(Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')))) {
    throw new RowProblem(`${column} '${value}' is not an ISO 8601 date-time`);
  }
  const zone = m[4]!;
  let out = value;
  if (!m[2]) out = out.slice(0, out.length - zone.length) + ':00' + zone; // hh:mm → hh:mm:ss
  if (zone.length === 5) out = out.slice(0, -2) + ':' + out.slice(-2); // +0000 → +00:00
  return out;
}

function instant(row: Record<string, unknown>, column: string): string | null {
  const v = str(row, column);
  return v === null ? null : normaliseInstant(v, column);
}

/** A date-only (or date-time) column as an XDM date, or RowProblem. */
function businessDate(row: Record<string, unknown>, column: string): string | null {
  const v = str(row, column);
  if (v === null) return null;
  const m = ISO_DATE.exec(v);
  if (m) {
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (Number(m[1]) >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31) return v;
    throw new RowProblem(`${column} '${v}' is not a date`);
  }
  return normaliseInstant(v, column);
}

/** A lookup: its GUID and the table it points to (lookuplogicalname annotation). */
function lookup(row: Record<string, unknown>, name: string): { id: string; table: string | null } | null {
  const column = `_${name}_value`;
  const id = guidOf(row, column);
  if (id === null) return null;
  const table = row[column + LOGICAL];
  return { id, table: typeof table === 'string' ? table : null };
}

function lookupName(row: Record<string, unknown>, name: string): string | null {
  const v = row[`_${name}_value${FORMATTED}`];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/** The audit attributes every record carries. */
function audit(row: Record<string, unknown>): Record<string, unknown> {
  const modified = instant(row, 'modifiedon');
  if (modified === null) throw new RowProblem('modifiedon is missing');
  return { createdDate: instant(row, 'createdon'), lastUpdatedDate: modified };
}

/** Web domain of a website URL (`https://www.x.com/a` → `x.com`), or null. */
export function domainOf(website: string | null): string | null {
  if (!website) return null;
  let host = website.trim().toLowerCase();
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  host = host.split(/[/?#]/, 1)[0]!.replace(/:\d+$/, '').replace(/^www\./, '');
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(host) ? host : null;
}

/** Drops null/undefined fields (and objects left empty) so records stay small. */
function compact(obj: Record<string, unknown>): Record<string, unknown> | null {
  let any = false;
  for (const k in obj) {
    if (obj[k] === null || obj[k] === undefined) delete obj[k];
    else any = true;
  }
  return any ? obj : null;
}

const money = (amount: number | null) => (amount === null ? null : { amount });
const phone = (number: string | null) => (number === null ? null : { number });
const email = (address: string | null) => (address === null ? null : { address });

function address(row: Record<string, unknown>, prefix: string): Record<string, unknown> | null {
  const country = str(row, `${prefix}_country`);
  return compact({
    street1: str(row, `${prefix}_line1`),
    street2: str(row, `${prefix}_line2`),
    city: str(row, `${prefix}_city`),
    state: str(row, `${prefix}_stateorprovince`),
    postalCode: str(row, `${prefix}_postalcode`),
    country,
    countryCode: country && /^[A-Z]{2}$/.test(country) ? country : null,
  });
}

/* ----------------------------------------------------------------------------------------- */
/* Entities                                                                                    */
/* ----------------------------------------------------------------------------------------- */

export interface EntityMapping {
  /** Entity set name (the stream name): `accounts`. */
  entitySet: string;
  /** Table logical name: `account`. */
  logicalName: string;
  /** Primary key column: `accountid`. */
  idColumn: string;
  xdmClass: XdmClassName;
  /** Columns for $select (lookups as `_x_value`). Those the org lacks are left out (see `required`). */
  select: readonly string[];
  /**
   * Columns without which the rows cannot be mapped at all, besides the id column and modifiedon: a
   * table without them is refused. Every other selected column is optional (an org may lack it).
   */
  required: readonly string[];
  /** The record for a live row, or null when the row is not of this class (e.g. a connection between two accounts). */
  map(row: Record<string, unknown>, ctx: MapContext): Record<string, unknown> | null;
  /** The tombstone for a deleted row (`$deletedEntity` gives only the id). */
  tombstone(id: string, ctx: MapContext): Record<string, unknown>;
}

const account: EntityMapping = {
  entitySet: 'accounts',
  logicalName: 'account',
  idColumn: 'accountid',
  xdmClass: 'account',
  select: [
    'accountid', 'name', 'accountnumber', 'description', 'websiteurl', 'industrycode', 'accountcategorycode', 'ownershipcode', 'numberofemployees',
    'revenue', 'sic', 'tickersymbol', 'telephone1', 'fax', 'address1_line1', 'address1_line2', 'address1_city', 'address1_stateorprovince',
    'address1_postalcode', 'address1_country', '_parentaccountid_value', 'statecode', 'createdon', 'modifiedon',
  ],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'accountid');
    const parent = lookup(row, 'parentaccountid');
    const website = str(row, 'websiteurl');
    const employees = num(row, 'numberofemployees');
    if (employees !== null && (!Number.isInteger(employees) || employees < 0)) throw new RowProblem(`numberofemployees '${employees}' is not a count`);
    return compact({
      accountKey: sourceKey(ctx, id),
      accountID: id,
      extSourceSystemAudit: audit(row),
      isDeleted: false,
      accountName: str(row, 'name'),
      accountNumber: str(row, 'accountnumber'),
      accountDescription: str(row, 'description'),
      accountType: decodePicklist(PICKLISTS.accountcategorycode, row, 'accountcategorycode'),
      accountOwnership: decodePicklist(PICKLISTS.ownershipcode, row, 'ownershipcode'),
      accountPhone: phone(str(row, 'telephone1')),
      accountFax: phone(str(row, 'fax')),
      accountPhysicalAddress: address(row, 'address1'),
      accountParentID: parent?.id ?? null,
      accountParentKey: parent ? sourceKey(ctx, parent.id) : null,
      accountOrganization: compact({
        numberOfEmployees: employees,
        annualRevenue: money(num(row, 'revenue')),
        industry: decodePicklist(PICKLISTS.industrycode, row, 'industrycode'),
        website,
        domain: domainOf(website),
        SICCode: str(row, 'sic'),
        tickerSymbol: str(row, 'tickersymbol'),
      }),
    });
  },
  tombstone: (id, ctx) => ({ accountKey: sourceKey(ctx, id), accountID: id, isDeleted: true }),
};

function personBase(row: Record<string, unknown>): Record<string, unknown> {
  const unsubscribed = bool(row, 'donotbulkemail');
  const department = str(row, 'department');
  return {
    extSourceSystemAudit: audit(row),
    isDeleted: false,
    person: compact({ name: compact({ firstName: str(row, 'firstname'), lastName: str(row, 'lastname'), fullName: str(row, 'fullname') }) }),
    workEmail: email(str(row, 'emailaddress1')),
    personalEmail: email(str(row, 'emailaddress2')),
    workPhone: phone(str(row, 'telephone1')),
    mobilePhone: phone(str(row, 'mobilephone')),
    workAddress: address(row, 'address1'),
    extendedWorkDetails: compact({ jobTitle: str(row, 'jobtitle'), departments: department ? [department] : null }),
    consents: unsubscribed ? { marketing: { email: { val: 'n' } } } : null,
  };
}

const PERSON_COLUMNS = [
  'firstname', 'lastname', 'fullname', 'emailaddress1', 'emailaddress2', 'telephone1', 'mobilephone', 'jobtitle', 'address1_city',
  'address1_stateorprovince', 'address1_country', 'donotbulkemail', 'statecode', 'createdon', 'modifiedon',
] as const;

function withB2b(base: Record<string, unknown>, b2b: Record<string, unknown>): Record<string, unknown> {
  base.b2b = compact(b2b);
  return compact(base)!;
}

const contact: EntityMapping = {
  entitySet: 'contacts',
  logicalName: 'contact',
  idColumn: 'contactid',
  xdmClass: 'person',
  select: ['contactid', ...PERSON_COLUMNS, 'department', '_parentcustomerid_value'],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'contactid');
    const parent = lookup(row, 'parentcustomerid');
    // parentcustomerid is polymorphic: only an account makes the person's account
    const accountId = parent && parent.table === 'account' ? parent.id : null;
    return withB2b(personBase(row), {
      personKey: sourceKey(ctx, id),
      accountKey: accountId ? sourceKey(ctx, accountId) : null,
      accountID: accountId,
      personType: 'Contact',
      personStatus: decodePicklist(PICKLISTS.activeStatecode, row, 'statecode'),
    });
  },
  tombstone: (id, ctx) => ({ b2b: { personKey: sourceKey(ctx, id), personType: 'Contact' }, isDeleted: true }),
};

const lead: EntityMapping = {
  entitySet: 'leads',
  logicalName: 'lead',
  idColumn: 'leadid',
  xdmClass: 'person',
  select: ['leadid', ...PERSON_COLUMNS, 'subject', 'companyname', 'websiteurl', 'leadsourcecode', 'statuscode', '_parentaccountid_value', '_parentcontactid_value'],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'leadid');
    const account = lookup(row, 'parentaccountid');
    const contact = lookup(row, 'parentcontactid');
    const statecode = num(row, 'statecode');
    const qualified = statecode === 1;
    // A qualified lead points at the contact it became through parentcontactid.
    const converted = qualified && contact ? contact.id : null;
    return withB2b(personBase(row), {
      personKey: sourceKey(ctx, id),
      accountKey: account ? sourceKey(ctx, account.id) : null,
      accountID: account?.id ?? null,
      personType: 'Lead',
      personSource: decodePicklist(PICKLISTS.leadsourcecode, row, 'leadsourcecode'),
      personStatus: decodePicklist(PICKLISTS.leadStatuscode, row, 'statuscode') ?? decodePicklist(PICKLISTS.leadStatecode, row, 'statecode'),
      isConverted: statecode === null ? null : qualified,
      convertedContactKey: converted ? sourceKey(ctx, converted) : null,
      convertedContactID: converted,
      companyName: str(row, 'companyname'),
      companyWebsite: str(row, 'websiteurl'),
    });
  },
  tombstone: (id, ctx) => ({ b2b: { personKey: sourceKey(ctx, id), personType: 'Lead' }, isDeleted: true }),
};

const opportunity: EntityMapping = {
  entitySet: 'opportunities',
  logicalName: 'opportunity',
  idColumn: 'opportunityid',
  xdmClass: 'opportunity',
  select: [
    'opportunityid', 'name', 'description', '_parentaccountid_value', '_customerid_value', '_campaignid_value', 'estimatedvalue', 'actualvalue',
    'closeprobability', 'salesstage', 'stepname', 'estimatedclosedate', 'actualclosedate', 'statecode', 'statuscode', 'msdyn_forecastcategory',
    'createdon', 'modifiedon',
  ],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'opportunityid');
    const parent = lookup(row, 'parentaccountid');
    const customer = lookup(row, 'customerid');
    const accountId = parent?.id ?? (customer && customer.table === 'account' ? customer.id : null);
    const campaign = lookup(row, 'campaignid');
    const statecode = num(row, 'statecode');
    const estimated = num(row, 'estimatedvalue');
    const actual = num(row, 'actualvalue');
    const probability = num(row, 'closeprobability');
    if (probability !== null && (probability < 0 || probability > 100)) throw new RowProblem(`closeprobability '${probability}' is not a percentage`);
    const won = statecode === 1;
    return compact({
      opportunityKey: sourceKey(ctx, id),
      opportunityID: id,
      extSourceSystemAudit: audit(row),
      isDeleted: false,
      opportunityName: str(row, 'name'),
      opportunityDescription: str(row, 'description'),
      opportunityStage: decodePicklist(PICKLISTS.salesstage, row, 'salesstage'),
      accountKey: accountId ? sourceKey(ctx, accountId) : null,
      accountID: accountId,
      campaignKey: campaign ? sourceKey(ctx, campaign.id) : null,
      campaignID: campaign?.id ?? null,
      forecastCategoryName: decodePicklist(PICKLISTS.forecastcategory, row, 'msdyn_forecastcategory'),
      isClosed: statecode === null ? null : statecode !== 0,
      isWon: statecode === null ? null : won,
      probabilityPercentage: probability,
      // Won deals carry what was actually sold; otherwise the estimate.
      opportunityAmount: money(won && actual !== null ? actual : estimated),
      expectedRevenue: money(estimated !== null && probability !== null ? (estimated * probability) / 100 : null),
      expectedCloseDate: businessDate(row, 'estimatedclosedate'),
      actualCloseDate: businessDate(row, 'actualclosedate'),
      nextStep: str(row, 'stepname'),
    });
  },
  tombstone: (id, ctx) => ({ opportunityKey: sourceKey(ctx, id), opportunityID: id, isDeleted: true }),
};

const PERSON_TABLES = new Set(['contact', 'lead']);

/**
 * Connections are stored as reciprocal pairs (record1↔record2 and record2↔record1, `ismaster` on
 * one, `relatedconnectionid` linking them). Both rows map to the same relation keyed by the
 * master's id, so a pair yields one record whichever rows a page holds.
 */
export function connectionPairId(row: Record<string, unknown>): string {
  const id = requiredGuid(row, 'connectionid');
  const master = bool(row, 'ismaster');
  const related = guidOf(row, '_relatedconnectionid_value');
  return master === false && related ? related : id;
}

const connection: EntityMapping = {
  entitySet: 'connections',
  logicalName: 'connection',
  idColumn: 'connectionid',
  xdmClass: 'opportunity-person',
  select: [
    'connectionid', '_record1id_value', '_record2id_value', '_record1roleid_value', '_record2roleid_value', 'ismaster', '_relatedconnectionid_value',
    'statecode', 'createdon', 'modifiedon',
  ],
  required: ['_record1id_value', '_record2id_value', 'ismaster', '_relatedconnectionid_value'],
  map(row, ctx) {
    const pairId = connectionPairId(row);
    const r1 = lookup(row, 'record1id');
    const r2 = lookup(row, 'record2id');
    if (!r1 || !r2) throw new RowProblem('record1id or record2id is missing');
    if (r1.table === null || r2.table === null) throw new RowProblem('record1id/record2id carry no lookuplogicalname annotation');
    let opp: string;
    let person: string;
    let role: string | null;
    if (r1.table === 'opportunity' && PERSON_TABLES.has(r2.table)) {
      opp = r1.id;
      person = r2.id;
      role = lookupName(row, 'record2roleid'); // the role record2 (the person) plays
    } else if (r2.table === 'opportunity' && PERSON_TABLES.has(r1.table)) {
      opp = r2.id;
      person = r1.id;
      role = lookupName(row, 'record1roleid');
    } else {
      return null; // a connection between other tables: not an opportunity-person relation
    }
    const statecode = num(row, 'statecode');
    return compact({
      opportunityPersonKey: sourceKey(ctx, pairId),
      opportunityPersonID: pairId,
      extSourceSystemAudit: audit(row),
      // An inactive connection is no longer a relation.
      isDeleted: statecode === 1,
      opportunityKey: sourceKey(ctx, opp),
      opportunityID: opp,
      personKey: sourceKey(ctx, person),
      personID: person,
      personRole: role,
    });
  },
  tombstone: (id, ctx) => ({ opportunityPersonKey: sourceKey(ctx, id), opportunityPersonID: id, isDeleted: true }),
};

const campaign: EntityMapping = {
  entitySet: 'campaigns',
  logicalName: 'campaign',
  idColumn: 'campaignid',
  xdmClass: 'campaign',
  select: [
    'campaignid', 'name', 'description', 'typecode', 'statuscode', 'statecode', 'actualstart', 'actualend', 'proposedstart', 'proposedend',
    'budgetedcost', 'totalactualcost', 'expectedrevenue', 'expectedresponse', 'createdon', 'modifiedon',
  ],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'campaignid');
    const statecode = num(row, 'statecode');
    const expectedResponse = num(row, 'expectedresponse');
    return compact({
      campaignKey: sourceKey(ctx, id),
      campaignID: id,
      extSourceSystemAudit: audit(row),
      isDeleted: false,
      campaignName: str(row, 'name'),
      campaignDescription: str(row, 'description'),
      campaignType: decodePicklist(PICKLISTS.campaignTypecode, row, 'typecode'),
      campaignStatus: decodePicklist(PICKLISTS.campaignStatuscode, row, 'statuscode'),
      isActive: statecode === null ? null : statecode === 0,
      campaignStartDate: businessDate(row, 'actualstart') ?? businessDate(row, 'proposedstart'),
      campaignEndDate: businessDate(row, 'actualend') ?? businessDate(row, 'proposedend'),
      budgetedCost: money(num(row, 'budgetedcost')),
      actualCost: money(num(row, 'totalactualcost')),
      expectedRevenue: money(num(row, 'expectedrevenue')),
      expectedResponse: expectedResponse === null ? null : String(expectedResponse),
    });
  },
  tombstone: (id, ctx) => ({ campaignKey: sourceKey(ctx, id), campaignID: id, isDeleted: true }),
};

const list: EntityMapping = {
  entitySet: 'lists',
  logicalName: 'list',
  idColumn: 'listid',
  xdmClass: 'marketing-list',
  select: ['listid', 'listname', 'description', 'createdfromcode', 'statecode', 'createdon', 'modifiedon'],
  required: [],
  map(row, ctx) {
    const id = requiredGuid(row, 'listid');
    return compact({
      marketingListKey: sourceKey(ctx, id),
      marketingListID: id,
      extSourceSystemAudit: audit(row),
      isDeleted: false,
      marketingListName: str(row, 'listname'),
      marketingListDescription: str(row, 'description'),
    });
  },
  tombstone: (id, ctx) => ({ marketingListKey: sourceKey(ctx, id), marketingListID: id, isDeleted: true }),
};

const listmember: EntityMapping = {
  entitySet: 'listmembers',
  logicalName: 'listmember',
  idColumn: 'listmemberid',
  xdmClass: 'marketing-list-member',
  select: ['listmemberid', '_listid_value', '_entityid_value', 'createdon', 'modifiedon'],
  required: ['_listid_value', '_entityid_value'],
  map(row, ctx) {
    const id = requiredGuid(row, 'listmemberid');
    const listRef = lookup(row, 'listid');
    const entity = lookup(row, 'entityid');
    if (!listRef) throw new RowProblem('listid is missing');
    if (!entity) throw new RowProblem('entityid is missing');
    if (entity.table === null) throw new RowProblem('entityid carries no lookuplogicalname annotation');
    if (!PERSON_TABLES.has(entity.table)) return null; // an account list: members are not people
    return compact({
      marketingListMemberKey: sourceKey(ctx, id),
      marketingListMemberID: id,
      extSourceSystemAudit: audit(row),
      isDeleted: false,
      marketingListKey: sourceKey(ctx, listRef.id),
      marketingListID: listRef.id,
      personKey: sourceKey(ctx, entity.id),
      personID: entity.id,
    });
  },
  tombstone: (id, ctx) => ({ marketingListMemberKey: sourceKey(ctx, id), marketingListMemberID: id, isDeleted: true }),
};

export const ENTITIES: readonly EntityMapping[] = [account, contact, lead, opportunity, connection, campaign, list, listmember];
export const ENTITY_BY_SET: ReadonlyMap<string, EntityMapping> = new Map(ENTITIES.map((e) => [e.entitySet, e]));

/** The column (attribute) logical name behind a $select name: `_parentaccountid_value` → `parentaccountid`. */
export function attributeOf(column: string): string {
  const lookup = /^_(.+)_value$/.exec(column);
  return lookup ? lookup[1]! : column;
}

/**
 * The sourceID a row's record is keyed by (what reconciliation lists): the row's id, except for
 * connections, whose reciprocal pair is one record keyed by the master row's id. Null when the
 * row has no readable id (such a row is never stored either).
 */
export function recordIdOf(entity: EntityMapping, row: Record<string, unknown>): string | null {
  try {
    return entity.logicalName === 'connection' ? connectionPairId(row) : guidOf(row, entity.idColumn);
  } catch (err) {
    if (err instanceof RowProblem) return null;
    throw err;
  }
}

/** The columns reconciliation selects to build {@link recordIdOf}. */
export function recordIdColumns(entity: EntityMapping): string[] {
  return entity.logicalName === 'connection' ? [entity.idColumn, 'ismaster', '_relatedconnectionid_value'] : [entity.idColumn];
}

/** Maps one row: the record, null (not of this class), or an unmappable row with the reason. */
export function mapRow(entity: EntityMapping, row: unknown, ctx: MapContext): SourceRecord | UnmappableRow | null {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    return { xdmClass: entity.xdmClass, sourceKey: null, reason: `${entity.logicalName} row is not an object`, raw: row };
  }
  const r = row as Record<string, unknown>;
  try {
    const record = entity.map(r, ctx);
    return record === null ? null : { xdmClass: entity.xdmClass, record };
  } catch (err) {
    if (!(err instanceof RowProblem)) throw err;
    const id = r[entity.idColumn];
    return {
      xdmClass: entity.xdmClass,
      sourceKey: typeof id === 'string' && id !== '' ? `${id.toLowerCase()}@${ctx.instanceId}.${SOURCE_TYPE}` : null,
      reason: `${entity.logicalName}: ${err.message}`,
      raw: row,
    };
  }
}

export function isUnmappable(x: SourceRecord | UnmappableRow): x is UnmappableRow {
  return (x as UnmappableRow).reason !== undefined;
}
