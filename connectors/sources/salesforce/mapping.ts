/**
 * Pure mapping of Salesforce rows (typed values, as the REST query returns them) to XDM B2B
 * records (b2b-model.md §5.2). No I/O: the stream code feeds rows from REST JSON or Bulk CSV.
 *
 * Keys are B2B Sources `{Id}@{orgId}.Salesforce`; references (AccountId, ParentId, ...) become
 * keys only when present. Salesforce date-times (`2026-11-01T12:00:00.000+0000`) are rewritten
 * with a colon in the offset, as the XDM schemas require. A row whose Id, dates or email cannot
 * be read is reported as unmappable with the reason; it never aborts the page.
 */
import { canonicalWebDomain } from '../../../domain/identity/normalise';
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import type { SalesforceObject } from './objects';

export const SALESFORCE_SOURCE_TYPE = 'Salesforce';

export type Row = Record<string, unknown>;

export type MapResult =
  | { ok: true; xdmClass: XdmClassName; record: Record<string, unknown> }
  | { ok: false; xdmClass: XdmClassName; sourceKey: string | null; reason: string };

interface Key {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
  sourceKey: string;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SF_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const EMAIL = /^\s*[^\s@]+@[^\s@]+\s*$/;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const CURRENCY_CODE = /^[A-Z]{3}$/;

function validDay(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const days = m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
  return d <= days;
}

/**
 * A Salesforce date-time as ISO 8601 with `Z` or a `±hh:mm` offset (`+0000` → `+00:00`); null
 * when it is not a real date-time (bad month, hour, offset...).
 */
export function normaliseDateTime(value: string): string | null {
  if (value.length === 28 && value.charCodeAt(10) === 84 /* T */ && value.charCodeAt(19) === 46 /* . */ && (value[23] === '+' || value[23] === '-')) {
    return fastDateTime(value);
  }
  const m = DATE_TIME.exec(value);
  if (!m) return null;
  const y = Number(m[1]);
  if (!validDay(y, Number(m[2]), Number(m[3])) || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return null;
  let offset = m[8]!;
  if (offset !== 'Z') {
    if (offset.length === 5) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
    if (Number(offset.slice(1, 3)) > 14 || Number(offset.slice(4, 6)) > 59) return null;
  }
  if (y > 9999 || (y === 1 && m[2] === '01' && m[3] === '01' && offset[0] === '+' && offset !== '+00:00')) return null;
  return `${value.slice(0, 19)}${m[7] ?? ''}${offset}`;
}

const digits = (v: string, at: number, n: number): number => {
  let out = 0;
  for (let i = at; i < at + n; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    out = out * 10 + d;
  }
  return out;
};

/** The REST/Bulk shape `2026-11-01T12:00:00.000+0000`, checked without a regular expression. */
function fastDateTime(v: string): string | null {
  const y = digits(v, 0, 4), mo = digits(v, 5, 2), d = digits(v, 8, 2), h = digits(v, 11, 2), mi = digits(v, 14, 2), s = digits(v, 17, 2);
  const ms = digits(v, 20, 3), oh = digits(v, 24, 2), om = digits(v, 26, 2);
  if (v[4] !== '-' || v[7] !== '-' || v[13] !== ':' || v[16] !== ':' || ms < 0 || oh < 0 || oh > 14 || om < 0 || om > 59) return null;
  if (y < 2 || !validDay(y, mo, d) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return null;
  return `${v.slice(0, 26)}:${v.slice(26)}`;
}

/** A Salesforce date (`YYYY-MM-DD`), checked; null when not a real date. */
export function normaliseDate(value: string): string | null {
  const m = DATE.exec(value);
  return m && validDay(Number(m[1]), Number(m[2]), Number(m[3])) ? value : null;
}

class Unmappable extends Error {}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

function dateTimeField(row: Row, field: string): string | null {
  const v = str(row[field]);
  if (v === null) return null;
  const out = normaliseDateTime(v);
  if (out === null) throw new Unmappable(`${field} '${v}' is not a date-time`);
  return out;
}

function dateField(row: Row, field: string): string | null {
  const v = str(row[field]);
  if (v === null) return null;
  const out = normaliseDate(v);
  if (out === null) throw new Unmappable(`${field} '${v}' is not a date (YYYY-MM-DD)`);
  return out;
}

function emailField(row: Row, field: string): { address: string; primary: true; type: 'work' } | null {
  const v = str(row[field]);
  if (v === null) return null;
  if (!EMAIL.test(v)) throw new Unmappable(`${field} '${v}' is not an email address`);
  return { address: v, primary: true, type: 'work' };
}

function phone(v: unknown): { number: string } | null {
  const s = str(v);
  return s === null ? null : { number: s };
}

function currency(amount: unknown, code: string | null): { amount: number; currencyCode: string | null } | null {
  const a = num(amount);
  return a === null ? null : { amount: a, currencyCode: code };
}

function address(street: unknown, city: unknown, state: unknown, postalCode: unknown, country: unknown): Record<string, unknown> | null {
  const st = str(street), c = str(city), sa = str(state), pc = str(postalCode), co = str(country);
  if (st === null && c === null && sa === null && pc === null && co === null) return null;
  return { street1: st, city: c, state: sa, postalCode: pc, country: co, countryCode: co !== null && COUNTRY_CODE.test(co) ? co : null };
}

export class SalesforceMapper {
  private readonly suffix: string;
  private readonly currencyCode: string | null;

  /**
   * @param orgId the org id (sourceInstanceID).
   * @param defaultCurrency the org's currency for amounts without CurrencyIsoCode (single-currency orgs).
   */
  constructor(readonly orgId: string, defaultCurrency: string | null = null) {
    this.suffix = `@${orgId}.${SALESFORCE_SOURCE_TYPE}`;
    this.currencyCode = defaultCurrency;
  }

  key(id: string): Key {
    return { sourceType: SALESFORCE_SOURCE_TYPE, sourceInstanceID: this.orgId, sourceID: id, sourceKey: id + this.suffix };
  }

  private ref(v: unknown): Key | null {
    const id = str(v);
    return id === null ? null : this.key(id);
  }

  private currencyOf(row: Row): string | null {
    const c = str(row.CurrencyIsoCode);
    return c !== null && CURRENCY_CODE.test(c) ? c : this.currencyCode;
  }

  private audit(row: Row): Record<string, unknown> {
    return {
      createdDate: dateTimeField(row, 'CreatedDate'),
      // SystemModstamp ≥ LastModifiedDate and is the sync cursor: the store keeps the latest by it.
      lastUpdatedDate: dateTimeField(row, 'SystemModstamp') ?? dateTimeField(row, 'LastModifiedDate'),
    };
  }

  /** Maps one row of `object`; never throws for a bad row. */
  map(object: SalesforceObject, xdmClass: XdmClassName, row: Row): MapResult {
    const id = str(row.Id);
    if (id === null || !SF_ID.test(id)) {
      return { ok: false, xdmClass, sourceKey: null, reason: `Id ${JSON.stringify(row.Id ?? null)} is not a Salesforce id` };
    }
    try {
      return { ok: true, xdmClass, record: this.mapRow(object, id, row) };
    } catch (err) {
      if (err instanceof Unmappable) return { ok: false, xdmClass, sourceKey: id + this.suffix, reason: `${object} ${id}: ${err.message}` };
      throw err;
    }
  }

  /**
   * A record Salesforce reports only as deleted (sObject Get Deleted: purged from the recycle bin
   * or hard-deleted, so queryAll no longer returns it) → a deletion marker of its class: the key,
   * `isDeleted: true` and the deletion date as `lastUpdatedDate`, so the store keeps the latest
   * of the delete and any version read later.
   */
  deletionMarker(object: SalesforceObject, xdmClass: XdmClassName, entry: { id: string; deletedDate: string }): MapResult {
    const { id, deletedDate } = entry;
    if (!SF_ID.test(id)) return { ok: false, xdmClass, sourceKey: null, reason: `${object}: a deleted record whose id ${JSON.stringify(id)} is not a Salesforce id` };
    const at = normaliseDateTime(deletedDate);
    if (at === null) return { ok: false, xdmClass, sourceKey: id + this.suffix, reason: `${object} ${id}: deletedDate '${deletedDate}' is not a date-time` };
    const audit = { extSourceSystemAudit: { lastUpdatedDate: at }, isDeleted: true };
    const key = this.key(id);
    switch (object) {
      case 'Account':
        return { ok: true, xdmClass, record: { accountKey: key, accountID: id, ...audit } };
      case 'Contact':
      case 'Lead':
        return { ok: true, xdmClass, record: { b2b: { personKey: key }, ...audit } };
      case 'Opportunity':
        return { ok: true, xdmClass, record: { opportunityKey: key, opportunityID: id, ...audit } };
      case 'OpportunityContactRole':
        return { ok: true, xdmClass, record: { opportunityPersonKey: key, opportunityPersonID: id, ...audit } };
      case 'AccountContactRelation':
        return { ok: true, xdmClass, record: { accountPersonKey: key, accountPersonID: id, ...audit } };
      case 'Campaign':
        return { ok: true, xdmClass, record: { campaignKey: key, campaignID: id, ...audit } };
      case 'CampaignMember':
        return { ok: true, xdmClass, record: { campaignMemberKey: key, campaignMemberID: id, ...audit } };
    }
  }

  private mapRow(object: SalesforceObject, id: string, row: Row): Record<string, unknown> {
    const isDeleted = row.IsDeleted === true;
    switch (object) {
      case 'Account':
        return this.account(id, row, isDeleted);
      case 'Contact':
      case 'Lead':
        return this.person(object, id, row, isDeleted);
      case 'Opportunity':
        return this.opportunity(id, row, isDeleted);
      case 'OpportunityContactRole':
        return {
          opportunityPersonKey: this.key(id),
          opportunityPersonID: id,
          opportunityKey: this.required(row, 'OpportunityId'),
          opportunityID: str(row.OpportunityId),
          personKey: this.required(row, 'ContactId'),
          personID: str(row.ContactId),
          personRole: str(row.Role),
          isPrimary: bool(row.IsPrimary),
          extSourceSystemAudit: this.audit(row),
          isDeleted,
        };
      case 'AccountContactRelation': {
        const roles = str(row.Roles);
        return {
          accountPersonKey: this.key(id),
          accountPersonID: id,
          accountKey: this.required(row, 'AccountId'),
          accountID: str(row.AccountId),
          personKey: this.required(row, 'ContactId'),
          personID: str(row.ContactId),
          personRoles: roles === null ? null : roles.split(';').filter((r) => r !== ''),
          isDirect: bool(row.IsDirect),
          isActive: bool(row.IsActive),
          relationStartDate: dateField(row, 'StartDate'),
          relationEndDate: dateField(row, 'EndDate'),
          extSourceSystemAudit: this.audit(row),
          isDeleted,
        };
      }
      case 'Campaign': {
        const code = this.currencyOf(row);
        return {
          campaignKey: this.key(id),
          campaignID: id,
          campaignName: str(row.Name),
          campaignDescription: str(row.Description),
          campaignType: str(row.Type),
          campaignStatus: str(row.Status),
          parentCampaignKey: this.ref(row.ParentId),
          parentCampaignID: str(row.ParentId),
          campaignStartDate: dateField(row, 'StartDate'),
          campaignEndDate: dateField(row, 'EndDate'),
          isActive: bool(row.IsActive),
          budgetedCost: currency(row.BudgetedCost, code),
          actualCost: currency(row.ActualCost, code),
          expectedRevenue: currency(row.ExpectedRevenue, code),
          extSourceSystemAudit: this.audit(row),
          isDeleted,
        };
      }
      case 'CampaignMember': {
        const personId = str(row.LeadOrContactId) ?? str(row.ContactId) ?? str(row.LeadId);
        if (personId === null) throw new Unmappable('LeadOrContactId is empty');
        const type = str(row.Type) ?? (str(row.ContactId) !== null ? 'Contact' : 'Lead');
        return {
          campaignMemberKey: this.key(id),
          campaignMemberID: id,
          campaignKey: this.required(row, 'CampaignId'),
          campaignID: str(row.CampaignId),
          personKey: this.key(personId),
          personID: personId,
          memberStatus: str(row.Status),
          hasResponded: bool(row.HasResponded),
          firstRespondedDate: dateField(row, 'FirstRespondedDate'),
          membershipDate: dateTimeField(row, 'CreatedDate'),
          b2b: { personType: type },
          extSourceSystemAudit: this.audit(row),
          isDeleted,
        };
      }
    }
  }

  private required(row: Row, field: string): Key {
    const k = this.ref(row[field]);
    if (k === null) throw new Unmappable(`${field} is empty`);
    return k;
  }

  private account(id: string, row: Row, isDeleted: boolean): Record<string, unknown> {
    const code = this.currencyOf(row);
    const website = str(row.Website);
    const duns = str(row.DunsNumber)?.replace(/[\s-]/g, '') ?? null;
    const employees = num(row.NumberOfEmployees);
    return {
      accountKey: this.key(id),
      accountID: id,
      accountName: str(row.Name),
      accountNumber: str(row.AccountNumber),
      accountType: str(row.Type),
      accountSourceType: str(row.AccountSource),
      accountOwnerID: str(row.OwnerId),
      accountParentKey: this.ref(row.ParentId),
      accountParentID: str(row.ParentId),
      accountPhone: phone(row.Phone),
      accountBillingAddress: address(row.BillingStreet, row.BillingCity, row.BillingState, row.BillingPostalCode, row.BillingCountry),
      defaultCurrencyCode: str(row.CurrencyIsoCode) !== null ? code : null,
      accountOrganization: {
        industry: str(row.Industry),
        numberOfEmployees: employees !== null && Number.isInteger(employees) && employees >= 0 ? employees : null,
        annualRevenue: currency(row.AnnualRevenue, code),
        website,
        domain: website === null ? null : canonicalWebDomain(website),
        SICCode: str(row.Sic),
        // A D-U-N-S typed into a CRM is free text: only nine digits make it an identity.
        DUNSNumber: duns !== null && /^[0-9]{9}$/.test(duns) ? duns : null,
      },
      extSourceSystemAudit: this.audit(row),
      isDeleted,
    };
  }

  private person(object: 'Contact' | 'Lead', id: string, row: Row, isDeleted: boolean): Record<string, unknown> {
    const isLead = object === 'Lead';
    const first = str(row.FirstName);
    const last = str(row.LastName);
    const title = str(row.Title);
    const department = str(row.Department);
    const reportsTo = str(row.ReportsToId);
    const accountId = isLead ? str(row.ConvertedAccountId) : str(row.AccountId);
    const b2b: Record<string, unknown> = {
      personKey: this.key(id),
      accountKey: accountId === null ? null : this.key(accountId),
      accountID: accountId,
      personType: object,
      personSource: str(row.LeadSource),
    };
    if (isLead) {
      const converted = str(row.ConvertedContactId);
      b2b.personStatus = str(row.Status);
      b2b.isConverted = bool(row.IsConverted);
      b2b.convertedDate = dateField(row, 'ConvertedDate');
      b2b.convertedContactKey = converted === null ? null : this.key(converted);
      b2b.convertedContactID = converted;
      b2b.companyName = str(row.Company);
      b2b.companyWebsite = str(row.Website);
    }
    const record: Record<string, unknown> = {
      b2b,
      person: first === null && last === null ? null : { name: { firstName: first, lastName: last } },
      workEmail: emailField(row, 'Email'),
      workPhone: phone(row.Phone),
      mobilePhone: phone(row.MobilePhone),
      extendedWorkDetails:
        title === null && department === null && reportsTo === null
          ? null
          : { jobTitle: title, departments: department === null ? null : [department], reportsToID: reportsTo },
      workAddress: isLead
        ? address(row.Street, row.City, row.State, row.PostalCode, row.Country)
        : address(row.MailingStreet, row.MailingCity, row.MailingState, row.MailingPostalCode, row.MailingCountry),
      consents: row.HasOptedOutOfEmail === true ? { marketing: { email: { val: 'n' } } } : null,
      extSourceSystemAudit: this.audit(row),
      isDeleted,
    };
    return record;
  }

  private opportunity(id: string, row: Row, isDeleted: boolean): Record<string, unknown> {
    const code = this.currencyOf(row);
    const closeDate = dateField(row, 'CloseDate');
    const isClosed = bool(row.IsClosed);
    const probability = num(row.Probability);
    const fiscalYear = num(row.FiscalYear);
    const quarter = row.FiscalQuarter;
    return {
      opportunityKey: this.key(id),
      opportunityID: id,
      opportunityName: str(row.Name),
      opportunityType: str(row.Type),
      opportunityStage: str(row.StageName),
      accountKey: this.ref(row.AccountId),
      accountID: str(row.AccountId),
      campaignKey: this.ref(row.CampaignId),
      campaignID: str(row.CampaignId),
      forecastCategoryName: str(row.ForecastCategoryName),
      isClosed,
      isWon: bool(row.IsWon),
      probabilityPercentage: probability !== null && probability >= 0 && probability <= 100 ? probability : null,
      opportunityAmount: currency(row.Amount, code),
      expectedCloseDate: closeDate,
      actualCloseDate: isClosed === true ? closeDate : null,
      fiscalYear: fiscalYear !== null && Number.isInteger(fiscalYear) && fiscalYear >= 1000 && fiscalYear <= 9999 ? fiscalYear : null,
      fiscalQuarter: typeof quarter === 'number' && quarter >= 1 && quarter <= 4 ? String(quarter) : str(quarter),
      leadSource: str(row.LeadSource),
      nextStep: str(row.NextStep),
      extSourceSystemAudit: this.audit(row),
      isDeleted,
    };
  }
}
