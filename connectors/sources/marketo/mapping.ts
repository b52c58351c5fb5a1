/**
 * Pure mappings of Marketo rows to XDM B2B records (b2b-model.md §5.1). No I/O: the bulk and REST
 * readers call these per row. Each returns a record or a reason the row cannot be mapped.
 *
 * Keys: `{id}@{munchkin}.Marketo`; companies `{id}.mkto_org@…`, named accounts `{marketoGUID}.mkto_acct@…`.
 * Cross-system keys (extSourceSystemAudit.externalKey) use the CRM org id of the `crmInstanceId`
 * setting: `{sfdcContactId}@{orgId}.Salesforce`. Marketo's REST API exposes neither a lead's
 * company id nor an opportunity role's opportunity id, only the CRM-side keys (`externalCompanyId`,
 * `externalOpportunityId`): those references are therefore made with the CRM key, which is also the
 * externalKey of the Marketo company/opportunity (so identity resolution links the two).
 */
import type { SourceRecord, UnmappableRow } from '../source-connector';
import type { XdmClassName } from '../../../domain/xdm/class-spec';
import { toXdmDate, toXdmInstant } from './dates';
import type { CsvRow } from './csv';

export const MARKETO = 'Marketo';

export interface MappingContext {
  munchkinId: string;
  crmType: string;
  crmInstanceId?: string;
}

export type MapResult = { record: SourceRecord; unmappable?: undefined } | { record?: undefined; unmappable: UnmappableRow };

interface Key {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
  sourceKey: string;
}

export function marketoKey(ctx: MappingContext, sourceID: string): Key {
  return { sourceType: MARKETO, sourceInstanceID: ctx.munchkinId, sourceID, sourceKey: `${sourceID}@${ctx.munchkinId}.${MARKETO}` };
}

export function crmKey(ctx: MappingContext, sourceID: string | null | undefined): Key | undefined {
  if (!ctx.crmInstanceId || !sourceID) return undefined;
  return { sourceType: ctx.crmType, sourceInstanceID: ctx.crmInstanceId, sourceID, sourceKey: `${sourceID}@${ctx.crmInstanceId}.${ctx.crmType}` };
}

const EMAIL = /^\s*[^\s@]+@[^\s@]+\s*$/;

class RowProblem extends Error {}

function instant(value: string | null | undefined, field: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const v = toXdmInstant(value);
  if (v === null) throw new RowProblem(`${field} '${value}' is not a date-time`);
  return v;
}

function date(value: string | null | undefined, field: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const v = toXdmDate(value);
  if (v === null) throw new RowProblem(`${field} '${value}' is not a date`);
  return v;
}

function num(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function bool(value: string | boolean | null | undefined): boolean | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  const v = value.toLowerCase();
  return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
}

function str(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  return typeof value === 'string' ? value : String(value);
}

function fail(xdmClass: XdmClassName, sourceKey: string | null, reason: string, raw: unknown): MapResult {
  return { unmappable: { xdmClass, sourceKey, reason, raw } };
}

function audit(createdAt: string | undefined, updatedAt: string | undefined, externalKey?: Key, externalID?: string): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  if (createdAt) a.createdDate = createdAt;
  if (updatedAt) a.lastUpdatedDate = updatedAt;
  if (externalKey) a.externalKey = externalKey;
  if (externalID) a.externalID = externalID;
  return a;
}

function rowAsObject(header: readonly string[], row: CsvRow): Record<string, string | null> {
  const o: Record<string, string | null> = {};
  for (let i = 0; i < header.length; i++) o[header[i]!] = row[i] ?? null;
  return o;
}

/* ----------------------------------------------------------------------------------------- */
/* Leads (bulk CSV) → person                                                                   */
/* ----------------------------------------------------------------------------------------- */

export type RowMapper = (row: CsvRow) => MapResult;

/** Compiles a lead-row mapper for a CSV header (column positions resolved once). */
export function makeLeadMapper(header: readonly string[], ctx: MappingContext): RowMapper {
  const ix = (name: string): number => header.indexOf(name);
  const c = {
    id: ix('id'), email: ix('email'), firstName: ix('firstName'), middleName: ix('middleName'), lastName: ix('lastName'),
    salutation: ix('salutation'), title: ix('title'), department: ix('department'), phone: ix('phone'), mobilePhone: ix('mobilePhone'),
    fax: ix('fax'), company: ix('company'), website: ix('website'), address: ix('address'), city: ix('city'), state: ix('state'),
    postalCode: ix('postalCode'), country: ix('country'), leadSource: ix('leadSource'), leadStatus: ix('leadStatus'),
    leadScore: ix('leadScore'), leadPartitionId: ix('leadPartitionId'), unsubscribed: ix('unsubscribed'),
    unsubscribedReason: ix('unsubscribedReason'), externalCompanyId: ix('externalCompanyId'), sfdcType: ix('sfdcType'),
    sfdcContactId: ix('sfdcContactId'), sfdcLeadId: ix('sfdcLeadId'), sfdcAccountId: ix('sfdcAccountId'),
    createdAt: ix('createdAt'), updatedAt: ix('updatedAt'),
  };
  if (c.id < 0) throw new Error('the lead export has no id column');
  const width = header.length;
  const g = (row: CsvRow, i: number): string | null => (i < 0 ? null : row[i] ?? null);
  return (row) => {
    const id = row[c.id];
    if (row.length !== width) return fail('person', id ? marketoKey(ctx, id).sourceKey : null, `row has ${row.length} cells, the header ${width}`, row);
    if (!id || !/^\d+$/.test(id)) return fail('person', null, `lead id '${id}' is not a Marketo id`, rowAsObject(header, row));
    const personKey = marketoKey(ctx, id);
    try {
      const b2b: Record<string, unknown> = { personKey };
      const sfdcType = g(row, c.sfdcType);
      const accountRef = g(row, c.externalCompanyId) ?? g(row, c.sfdcAccountId);
      const accountKey = crmKey(ctx, g(row, c.sfdcAccountId) ?? g(row, c.externalCompanyId));
      if (accountKey) b2b.accountKey = accountKey;
      if (accountRef) b2b.accountID = accountRef;
      const company = g(row, c.company);
      if (company) b2b.companyName = company;
      const website = g(row, c.website);
      if (website) b2b.companyWebsite = website;
      const score = num(g(row, c.leadScore));
      if (score !== undefined) b2b.personScore = score;
      const source = g(row, c.leadSource);
      if (source) b2b.personSource = source;
      const status = g(row, c.leadStatus);
      if (status) b2b.personStatus = status;
      b2b.personType = sfdcType === 'Contact' ? 'Contact' : 'Lead';
      const partition = g(row, c.leadPartitionId);
      if (partition) b2b.personGroupID = partition;

      const external =
        sfdcType === 'Contact' ? crmKey(ctx, g(row, c.sfdcContactId)) : sfdcType === 'Lead' ? crmKey(ctx, g(row, c.sfdcLeadId)) : crmKey(ctx, g(row, c.sfdcContactId) ?? g(row, c.sfdcLeadId));
      const record: Record<string, unknown> = {
        b2b,
        extSourceSystemAudit: audit(instant(g(row, c.createdAt), 'createdAt'), instant(g(row, c.updatedAt), 'updatedAt'), external),
        isDeleted: false,
      };
      const email = g(row, c.email);
      if (email) {
        if (!EMAIL.test(email)) throw new RowProblem(`email '${email}' is not an email address`);
        record.workEmail = { address: email, primary: true, type: 'work' };
      }
      const name: Record<string, string> = {};
      const fn = g(row, c.firstName), mn = g(row, c.middleName), ln = g(row, c.lastName), sal = g(row, c.salutation);
      if (fn) name.firstName = fn;
      if (mn) name.middleName = mn;
      if (ln) name.lastName = ln;
      if (sal) name.courtesyTitle = sal;
      if (fn || ln) name.fullName = fn && ln ? `${fn} ${ln}` : (fn ?? ln)!;
      if (fn || mn || ln || sal) record.person = { name };
      const title = g(row, c.title), dept = g(row, c.department);
      if (title || dept) {
        const w: Record<string, unknown> = {};
        if (title) w.jobTitle = title;
        if (dept) w.departments = [dept];
        record.extendedWorkDetails = w;
      }
      const phone = g(row, c.phone), mobile = g(row, c.mobilePhone), fax = g(row, c.fax);
      if (phone) record.workPhone = { number: phone };
      if (mobile) record.mobilePhone = { number: mobile };
      if (fax) record.faxPhone = { number: fax };
      const street = g(row, c.address), city = g(row, c.city), state = g(row, c.state), postal = g(row, c.postalCode), country = g(row, c.country);
      if (street || city || state || postal || country) {
        const a: Record<string, string> = {};
        if (street) a.street1 = street;
        if (city) a.city = city;
        if (state) a.state = state;
        if (postal) a.postalCode = postal;
        if (country) {
          a.country = country;
          if (/^[A-Z]{2}$/.test(country)) a.countryCode = country;
        }
        record.workAddress = a;
      }
      if (bool(g(row, c.unsubscribed)) === true) {
        const reason = g(row, c.unsubscribedReason);
        record.consents = { marketing: { email: reason ? { val: 'n', reason: reason.slice(0, 100) } : { val: 'n' } } };
      }
      return { record: { xdmClass: 'person', record } };
    } catch (e) {
      if (e instanceof RowProblem) return fail('person', personKey.sourceKey, e.message, rowAsObject(header, row));
      throw e;
    }
  };
}

/** A deleted lead (Get Deleted Leads activity) → person flagged isDeleted. */
export function mapDeletedLead(ctx: MappingContext, item: { leadId?: unknown; activityDate?: unknown }): MapResult {
  const id = str(item.leadId);
  if (!id || !/^\d+$/.test(id)) return fail('person', null, `deleted-lead activity without a lead id`, item);
  const key = marketoKey(ctx, id);
  const at = typeof item.activityDate === 'string' ? toXdmInstant(item.activityDate) : null;
  return { record: { xdmClass: 'person', record: { b2b: { personKey: key }, isDeleted: true, ...(at ? { extSourceSystemAudit: { lastUpdatedDate: at } } : {}) } } };
}

/* ----------------------------------------------------------------------------------------- */
/* Activities (bulk CSV) → experience-event                                                    */
/* ----------------------------------------------------------------------------------------- */

/** Standard Marketo activity type ids and the XDM eventType Adobe maps them to. */
export const ACTIVITY_EVENT_TYPES: Record<number, string> = {
  1: 'web.webpagedetails.pageViews',
  2: 'web.formFilledOut',
  3: 'web.webinteraction.linkClicks',
  6: 'directMarketing.emailSent',
  7: 'directMarketing.emailDelivered',
  8: 'directMarketing.emailBounced',
  9: 'directMarketing.emailUnsubscribed',
  10: 'directMarketing.emailOpened',
  11: 'directMarketing.emailClicked',
  12: 'leadOperation.newLead',
  22: 'leadOperation.scoreChanged',
  24: 'listOperation.addToList',
  25: 'listOperation.removeFromList',
};

export function makeActivityMapper(header: readonly string[], ctx: MappingContext): RowMapper {
  const ix = (name: string): number => header.indexOf(name);
  const c = {
    guid: ix('marketoGUID'), leadId: ix('leadId'), date: ix('activityDate'), type: ix('activityTypeId'), campaignId: ix('campaignId'),
    pavId: ix('primaryAttributeValueId'), pav: ix('primaryAttributeValue'), attributes: ix('attributes'),
  };
  if (c.guid < 0 || c.leadId < 0 || c.date < 0 || c.type < 0) throw new Error('the activity export lacks marketoGUID, leadId, activityDate or activityTypeId');
  const width = header.length;
  const g = (row: CsvRow, i: number): string | null => (i < 0 ? null : row[i] ?? null);
  return (row) => {
    const guid = row[c.guid];
    const id = guid ? `${guid}@${ctx.munchkinId}.${MARKETO}` : null;
    if (row.length !== width) return fail('experience-event', id, `row has ${row.length} cells, the header ${width}`, row);
    if (!guid) return fail('experience-event', null, 'activity without marketoGUID', rowAsObject(header, row));
    const leadId = row[c.leadId];
    if (!leadId || !/^\d+$/.test(leadId)) return fail('experience-event', id, `lead id '${leadId}' is not a Marketo id`, rowAsObject(header, row));
    const ts = row[c.date] ? toXdmInstant(row[c.date]!) : null;
    if (!ts) return fail('experience-event', id, `activityDate '${row[c.date]}' is not a date-time`, rowAsObject(header, row));
    const typeId = Number(row[c.type]);
    let attributes: Record<string, unknown> | null = null;
    const rawAttrs = g(row, c.attributes);
    const pav = g(row, c.pav);
    const pavId = g(row, c.pavId);
    const needsAttrs = typeId === 1 || typeId === 2 || typeId === 11 || !(typeId in ACTIVITY_EVENT_TYPES);
    if (rawAttrs && needsAttrs) {
      try {
        const parsed: unknown = JSON.parse(rawAttrs);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) attributes = parsed as Record<string, unknown>;
        else throw new Error('not an object');
      } catch {
        return fail('experience-event', id, 'attributes is not a JSON object', rowAsObject(header, row));
      }
    }
    const record: Record<string, unknown> = {
      _id: id,
      timestamp: ts,
      eventType: ACTIVITY_EVENT_TYPES[typeId] ?? `marketo.activity.${Number.isFinite(typeId) ? typeId : 'unknown'}`,
      personKey: marketoKey(ctx, leadId),
      personID: leadId,
    };
    const attr = (name: string): string | undefined => str(attributes?.[name]);
    switch (typeId) {
      case 1: {
        const details: Record<string, unknown> = {};
        const url = attr('Webpage URL') ?? pav ?? undefined;
        if (url) details.URL = url;
        if (pav) details.name = pav;
        if (pavId) details.webPageID = pavId;
        const q = attr('Query Parameters');
        if (q) details.queryParameters = q;
        details.pageViews = { value: 1 };
        const web: Record<string, unknown> = { webPageDetails: details };
        const ref = attr('Referrer URL');
        if (ref) web.webReferrer = { URL: ref };
        record.web = web;
        addEnvironment(record, attr('Client IP Address'), attr('User Agent'));
        break;
      }
      case 2: {
        const form: Record<string, unknown> = {};
        if (pavId) form.webFormID = pavId;
        if (pav) form.webFormName = pav;
        record.web = { fillOutForm: form };
        addEnvironment(record, attr('Client IP Address'), attr('User Agent'));
        break;
      }
      case 3:
        record.web = { webInteraction: { ...(pavId ? { linkID: pavId } : {}), ...(pav ? { linkURL: pav } : {}) } };
        break;
      case 6: case 7: case 8: case 9: case 10: case 11: {
        const dm: Record<string, unknown> = {};
        if (pavId) dm.mailingID = pavId;
        if (pav) dm.mailingName = pav;
        const link = attr('Link');
        if (link) dm.linkURL = link;
        record.directMarketing = dm;
        break;
      }
      case 12:
        record.leadOperation = { newLead: {} };
        break;
      case 22:
        record.leadOperation = { changeScore: {} };
        break;
      case 24: case 25:
        record.listOperations = pavId ? { listKey: marketoKey(ctx, pavId), listID: pavId } : {};
        break;
      default:
        record._marketo = { activityTypeId: Number.isFinite(typeId) ? typeId : null, primaryAttributeValueId: pavId, primaryAttributeValue: pav, attributes: attributes ?? {} };
    }
    const campaignId = g(row, c.campaignId);
    if (campaignId) record.marketing = { trackingCode: campaignId };
    return { record: { xdmClass: 'experience-event', record } };
  };
}

function addEnvironment(record: Record<string, unknown>, ip: string | undefined, ua: string | undefined): void {
  if (!ip && !ua) return;
  const env: Record<string, unknown> = {};
  if (ip) env.ipV4 = ip;
  if (ua) env.browserDetails = { userAgent: ua };
  record.environment = env;
}

/* ----------------------------------------------------------------------------------------- */
/* Program members (bulk CSV) → campaign-member                                                */
/* ----------------------------------------------------------------------------------------- */

export function makeProgramMemberMapper(header: readonly string[], ctx: MappingContext): RowMapper {
  const ix = (name: string): number => header.indexOf(name);
  const c = {
    programId: ix('programId'), leadId: ix('leadId'), createdAt: ix('createdAt'), updatedAt: ix('updatedAt'), membershipDate: ix('membershipDate'),
    statusName: ix('statusName'), reachedSuccess: ix('reachedSuccess'), reachedSuccessDate: ix('reachedSuccessDate'), isExhausted: ix('isExhausted'),
    nurtureCadence: ix('nurtureCadence'), acquiredBy: ix('acquiredBy'),
  };
  if (c.programId < 0 || c.leadId < 0) throw new Error('the program member export lacks programId or leadId');
  const width = header.length;
  const g = (row: CsvRow, i: number): string | null => (i < 0 ? null : row[i] ?? null);
  return (row) => {
    const programId = row[c.programId];
    const leadId = row[c.leadId];
    const memberId = programId && leadId ? `${programId}_${leadId}` : null;
    const key = memberId ? marketoKey(ctx, memberId) : null;
    if (row.length !== width) return fail('campaign-member', key?.sourceKey ?? null, `row has ${row.length} cells, the header ${width}`, row);
    if (!programId || !/^\d+$/.test(programId) || !leadId || !/^\d+$/.test(leadId)) {
      return fail('campaign-member', null, `programId '${programId}' / leadId '${leadId}' are not Marketo ids`, rowAsObject(header, row));
    }
    try {
      const record: Record<string, unknown> = {
        campaignMemberKey: key,
        campaignMemberID: memberId,
        campaignKey: marketoKey(ctx, programId),
        campaignID: programId,
        personKey: marketoKey(ctx, leadId),
        personID: leadId,
        extSourceSystemAudit: audit(instant(g(row, c.createdAt), 'createdAt'), instant(g(row, c.updatedAt), 'updatedAt')),
        isDeleted: false,
      };
      const status = g(row, c.statusName);
      if (status) record.memberStatus = status;
      const md = date(g(row, c.membershipDate), 'membershipDate');
      if (md) record.membershipDate = md;
      const rs = bool(g(row, c.reachedSuccess));
      if (rs !== undefined) record.hasReachedSuccess = rs;
      const rsd = date(g(row, c.reachedSuccessDate), 'reachedSuccessDate');
      if (rsd) record.reachedSuccessDate = rsd;
      const ex = bool(g(row, c.isExhausted));
      if (ex !== undefined) record.isExhausted = ex;
      const cad = g(row, c.nurtureCadence);
      if (cad) record.nurtureCadence = cad;
      if (bool(g(row, c.acquiredBy)) === true) {
        record.acquiredByCampaignKey = marketoKey(ctx, programId);
        record.acquiredByCampaignID = programId;
      }
      return { record: { xdmClass: 'campaign-member', record } };
    } catch (e) {
      if (e instanceof RowProblem) return fail('campaign-member', key!.sourceKey, e.message, rowAsObject(header, row));
      throw e;
    }
  };
}

/* ----------------------------------------------------------------------------------------- */
/* REST objects                                                                                */
/* ----------------------------------------------------------------------------------------- */

type Json = Record<string, unknown>;

function guarded(xdmClass: XdmClassName, key: string | null, item: unknown, build: () => Record<string, unknown>): MapResult {
  try {
    return { record: { xdmClass, record: build() } };
  } catch (e) {
    if (e instanceof RowProblem) return fail(xdmClass, key, e.message, item);
    throw e;
  }
}

function money(value: unknown, currency?: string): { amount: number; currencyCode?: string } | undefined {
  const n = num(value as string | number | null | undefined);
  if (n === undefined) return undefined;
  return currency && /^[A-Z]{3}$/.test(currency) ? { amount: n, currencyCode: currency } : { amount: n };
}

function domainOf(website: string | undefined): string | undefined {
  if (!website) return undefined;
  const v = website.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '').replace(/[/?#].*$/, '').replace(/:\d+$/, '').replace(/^www\d*\./, '');
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(v) ? v : undefined;
}

function address(street: unknown, city: unknown, state: unknown, postal: unknown, country: unknown): Record<string, string> | undefined {
  const a: Record<string, string> = {};
  const s = str(street), ci = str(city), st = str(state), p = str(postal), co = str(country);
  if (s) a.street1 = s;
  if (ci) a.city = ci;
  if (st) a.state = st;
  if (p) a.postalCode = p;
  if (co) {
    a.country = co;
    if (/^[A-Z]{2}$/.test(co)) a.countryCode = co;
  }
  return Object.keys(a).length ? a : undefined;
}

function organization(item: Json, website?: string): Record<string, unknown> | undefined {
  const o: Record<string, unknown> = {};
  const emp = num(item.numberOfEmployees as number);
  if (emp !== undefined && Number.isInteger(emp) && emp >= 0) o.numberOfEmployees = emp;
  const rev = money(item.annualRevenue);
  if (rev) o.annualRevenue = rev;
  const industry = str(item.industry);
  if (industry) o.industry = industry;
  if (website) o.website = website;
  // Named accounts' domains are typed by users, with or without `www.`: stored bare, as companies' are.
  const typed = str(item.domainName);
  const domain = typed !== undefined ? domainOf(typed) ?? typed : domainOf(website);
  if (domain) o.domain = domain;
  const sic = str(item.sicCode);
  if (sic) o.SICCode = sic;
  const logo = str(item.logoUrl);
  if (logo) o.logoUrl = logo;
  return Object.keys(o).length ? o : undefined;
}

/** Company (companies.json) → account `{id}.mkto_org`; externalKey = the CRM account (`externalCompanyId`). */
export function mapCompany(ctx: MappingContext, item: Json): MapResult {
  const id = str(item.id);
  if (!id) return fail('account', null, 'company without id', item);
  const key = marketoKey(ctx, `${id}.mkto_org`);
  return guarded('account', key.sourceKey, item, () => {
    const ext = str(item.externalCompanyId);
    const website = str(item.website);
    const r: Record<string, unknown> = {
      accountKey: key,
      accountID: id,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt'), crmKey(ctx, ext), ext),
      isDeleted: false,
    };
    const name = str(item.company);
    if (name) r.accountName = name;
    const site = str(item.site);
    if (site) r.accountSite = site;
    const phone = str(item.mainPhone);
    if (phone) r.accountPhone = { number: phone };
    const billing = address(item.billingStreet, item.billingCity, item.billingState, item.billingPostalCode, item.billingCountry);
    if (billing) r.accountBillingAddress = billing;
    const org = organization(item, website);
    if (org) r.accountOrganization = org;
    return r;
  });
}

/** Named account (namedaccounts.json) → account `{marketoGUID}.mkto_acct`; crmGuid → externalKey. */
export function mapNamedAccount(ctx: MappingContext, item: Json): MapResult {
  const guid = str(item.marketoGUID);
  if (!guid) return fail('account', null, 'named account without marketoGUID', item);
  const key = marketoKey(ctx, `${guid}.mkto_acct`);
  return guarded('account', key.sourceKey, item, () => {
    const crm = str(item.crmGuid);
    const r: Record<string, unknown> = {
      accountKey: key,
      accountID: guid,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt'), crmKey(ctx, crm), crm),
      isDeleted: false,
    };
    const name = str(item.name);
    if (name) r.accountName = name;
    const parent = str(item.parentAccountId);
    if (parent) {
      r.accountParentKey = marketoKey(ctx, `${parent}.mkto_acct`);
      r.accountParentID = parent;
    }
    const addr = address(null, item.city, item.state, null, item.country);
    if (addr) r.accountPhysicalAddress = addr;
    const org = organization(item);
    if (org) r.accountOrganization = org;
    return r;
  });
}

/** Opportunity (opportunities.json) → opportunity `{marketoGUID}`; externalOpportunityId → externalKey. */
export function mapOpportunity(ctx: MappingContext, item: Json): MapResult {
  const guid = str(item.marketoGUID);
  if (!guid) return fail('opportunity', null, 'opportunity without marketoGUID', item);
  const key = marketoKey(ctx, guid);
  return guarded('opportunity', key.sourceKey, item, () => {
    const ext = str(item.externalOpportunityId);
    const r: Record<string, unknown> = {
      opportunityKey: key,
      opportunityID: guid,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt'), crmKey(ctx, ext), ext),
      isDeleted: false,
    };
    const set = (field: string, value: unknown): void => {
      if (value !== undefined) r[field] = value;
    };
    set('opportunityName', str(item.name));
    set('opportunityDescription', str(item.description));
    set('opportunityType', str(item.type));
    set('opportunityStage', str(item.stage));
    const company = str(item.externalCompanyId);
    set('accountKey', crmKey(ctx, company));
    set('accountID', company);
    const fy = num(item.fiscalYear as number);
    if (fy !== undefined && Number.isInteger(fy) && fy >= 1000 && fy <= 9999) r.fiscalYear = fy;
    const fq = str(item.fiscalQuarter);
    if (fq && /^[Qq]?[1-4]$/.test(fq)) r.fiscalQuarter = fq;
    set('forecastCategory', str(item.forecastCategory));
    set('forecastCategoryName', str(item.forecastCategoryName));
    set('isClosed', typeof item.isClosed === 'boolean' ? item.isClosed : undefined);
    set('isWon', typeof item.isWon === 'boolean' ? item.isWon : undefined);
    const p = num(item.probability as number);
    if (p !== undefined && p >= 0 && p <= 100) r.probabilityPercentage = p;
    set('opportunityAmount', money(item.amount));
    set('expectedRevenue', money(item.expectedRevenue));
    set('expectedCloseDate', date(str(item.closeDate), 'closeDate'));
    set('leadSource', str(item.leadSource));
    set('nextStep', str(item.nextStep));
    return r;
  });
}

/** Opportunity role (opportunities/roles.json) → opportunity-person; the opportunity is referenced by its CRM key. */
export function mapOpportunityRole(ctx: MappingContext, item: Json): MapResult {
  const guid = str(item.marketoGUID);
  if (!guid) return fail('opportunity-person', null, 'opportunity role without marketoGUID', item);
  const key = marketoKey(ctx, guid);
  const ext = str(item.externalOpportunityId);
  const leadId = str(item.leadId);
  if (!leadId) return fail('opportunity-person', key.sourceKey, 'opportunity role without leadId', item);
  const oppKey = crmKey(ctx, ext);
  if (!oppKey) return fail('opportunity-person', key.sourceKey, ext ? 'no crmInstanceId setting: the role\'s opportunity (externalOpportunityId) cannot be keyed' : 'opportunity role without externalOpportunityId', item);
  return guarded('opportunity-person', key.sourceKey, item, () => {
    const r: Record<string, unknown> = {
      opportunityPersonKey: key,
      opportunityPersonID: guid,
      opportunityKey: oppKey,
      opportunityID: ext,
      personKey: marketoKey(ctx, leadId),
      personID: leadId,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt')),
      isDeleted: false,
    };
    const role = str(item.role);
    if (role) r.personRole = role;
    if (typeof item.isPrimary === 'boolean') r.isPrimary = item.isPrimary;
    return r;
  });
}

/** Program (asset API) → campaign. */
export function mapProgram(ctx: MappingContext, item: Json): MapResult {
  const id = str(item.id);
  if (!id) return fail('campaign', null, 'program without id', item);
  const key = marketoKey(ctx, id);
  return guarded('campaign', key.sourceKey, item, () => {
    const sfdcId = str(item.sfdcId);
    const r: Record<string, unknown> = {
      campaignKey: key,
      campaignID: id,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt'), crmKey(ctx, sfdcId), sfdcId),
      isDeleted: false,
    };
    const set = (field: string, value: unknown): void => {
      if (value !== undefined) r[field] = value;
    };
    set('campaignName', str(item.name));
    set('campaignDescription', str(item.description));
    set('campaignType', str(item.type));
    set('channelName', str(item.channel));
    set('campaignStatus', str(item.status));
    const folder = item.folder as Json | undefined;
    if (folder && folder.type === 'Program' && folder.value !== undefined && folder.value !== null) {
      const parent = String(folder.value);
      r.parentCampaignKey = marketoKey(ctx, parent);
      r.parentCampaignID = parent;
    }
    if (Array.isArray(item.costs) && item.costs.length) {
      let total = 0;
      for (const c of item.costs as Json[]) total += num(c.cost as number) ?? 0;
      r.actualCost = { amount: total };
    }
    return r;
  });
}

/** Static list (lists.json) → marketing-list. */
export function mapStaticList(ctx: MappingContext, item: Json): MapResult {
  const id = str(item.id);
  if (!id) return fail('marketing-list', null, 'list without id', item);
  const key = marketoKey(ctx, id);
  return guarded('marketing-list', key.sourceKey, item, () => {
    const r: Record<string, unknown> = {
      marketingListKey: key,
      marketingListID: id,
      extSourceSystemAudit: audit(instant(str(item.createdAt), 'createdAt'), instant(str(item.updatedAt), 'updatedAt')),
      isDeleted: false,
    };
    const name = str(item.name);
    if (name) r.marketingListName = name;
    const d = str(item.description);
    if (d) r.marketingListDescription = d;
    return r;
  });
}

/** A lead of a static list (lists/{id}/leads.json) → marketing-list-member `{listId}_{leadId}`. */
export function mapListMember(ctx: MappingContext, listId: string, item: Json): MapResult {
  const leadId = str(item.id);
  if (!leadId) return fail('marketing-list-member', null, `member of list ${listId} without a lead id`, item);
  const memberId = `${listId}_${leadId}`;
  return {
    record: {
      xdmClass: 'marketing-list-member',
      record: {
        marketingListMemberKey: marketoKey(ctx, memberId),
        marketingListMemberID: memberId,
        marketingListKey: marketoKey(ctx, listId),
        marketingListID: listId,
        personKey: marketoKey(ctx, leadId),
        personID: leadId,
        isDeleted: false,
      },
    },
  };
}
