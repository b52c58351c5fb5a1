/**
 * The Marketo projection of the synthetic world for one instance (`instanceIndex`): leads of the
 * people whose `presence.marketo` holds this instance, companies of their employers, ABM named
 * accounts, opportunities and roles of those companies, programs (= world campaigns), program
 * members, static lists and members, and the instance's activities. Rows are Marketo-shaped
 * (REST field names, integer ids, second-precision `Z` dates) and built once; `mutate` changes
 * them the way a user would (stamping the simulator's clock).
 */
import { dynamicsGuid, marketoId, salesforceId } from '../world/ids';
import type { World, WorldActivityType } from '../world/world';
import { hash32, seededRandom } from '../shared/random';

export type Cell = string | number | boolean | null;

export interface MktoLead {
  id: number;
  personIdx: number;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
  f: Record<string, Cell>;
  /** The lead's CSV row for the field list `rowSig` (built once, dropped when the lead changes). */
  row?: string;
  rowSig?: string;
}

export interface MktoRecord {
  createdAt: number;
  updatedAt: number;
  f: Record<string, Cell>;
}

export interface MktoActivity {
  marketoGUID: string;
  leadId: number;
  at: number;
  typeId: number;
  campaignId: number | null;
  pavId: number | null;
  pav: string | null;
  attributes: Record<string, Cell>;
}

export interface MktoDeletedLead {
  id: number;
  marketoGUID: string;
  leadId: number;
  at: number;
  name: string;
}

export interface MktoProgramMember {
  programId: number;
  leadId: number;
  createdAt: number;
  updatedAt: number;
  f: Record<string, Cell>;
}

export interface MktoList {
  id: number;
  createdAt: number;
  updatedAt: number;
  name: string;
  description: string;
  /** Lead ids, ascending. */
  members: number[];
}

/** Lead fields this instance has (REST API names), i.e. what describe would list. */
export const LEAD_FIELDS = [
  'id', 'email', 'firstName', 'middleName', 'lastName', 'salutation', 'title', 'department', 'phone', 'mobilePhone', 'fax',
  'company', 'website', 'address', 'city', 'state', 'postalCode', 'country', 'industry', 'annualRevenue', 'numberOfEmployees',
  'sicCode', 'leadSource', 'leadStatus', 'leadScore', 'leadRole', 'leadPartitionId', 'unsubscribed', 'unsubscribedReason',
  'emailInvalid', 'doNotCall', 'externalCompanyId', 'sfdcType', 'sfdcContactId', 'sfdcLeadId', 'sfdcAccountId', 'sfdcLeadOwnerId',
  'isAnonymous', 'createdAt', 'updatedAt',
] as const;

export const PROGRAM_MEMBER_FIELDS = [
  'leadId', 'createdAt', 'updatedAt', 'membershipDate', 'statusName', 'reachedSuccess', 'reachedSuccessDate', 'isExhausted',
  'nurtureCadence', 'acquiredBy', 'attendanceLikelihood', 'registrationLikelihood', 'program', 'programId', 'progressionStatus',
] as const;

export const ACTIVITY_COLUMNS = ['marketoGUID', 'leadId', 'activityDate', 'activityTypeId', 'campaignId', 'primaryAttributeValueId', 'primaryAttributeValue', 'attributes', 'actionResult'] as const;
export const DEFAULT_ACTIVITY_COLUMNS = ACTIVITY_COLUMNS.filter((c) => c !== 'actionResult');

export const ACTIVITY_TYPE_IDS: Record<WorldActivityType, number> = {
  visitWebpage: 1, fillOutForm: 2, clickLink: 3, sendEmail: 6, emailDelivered: 7, openEmail: 10, clickEmail: 11,
};

const PROGRAM_TYPES: Record<string, string> = { Webinar: 'Webinar', Email: 'Email', Conference: 'Event', Advertisement: 'Default', Content: 'Default' };
const USER_AGENTS = ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'];

/** Marketo date: second precision, `Z`. */
export function mktoDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Asset API date: `2017-07-27T01:38:33Z+0000`. */
export function assetDate(ms: number): string {
  return `${mktoDate(ms)}+0000`;
}

const sec = (iso: string): number => Math.floor(Date.parse(iso) / 1000) * 1000;

export class MarketoData {
  readonly leads: MktoLead[] = [];
  readonly leadById = new Map<number, MktoLead>();
  /** Leads in createdAt order (for createdAt windows). */
  readonly leadsByCreated: MktoLead[];
  readonly companies: MktoRecord[] = [];
  readonly namedAccounts: MktoRecord[] = [];
  readonly opportunities: MktoRecord[] = [];
  readonly roles: MktoRecord[] = [];
  readonly programs: MktoRecord[] = [];
  readonly programMembers: MktoProgramMember[] = [];
  readonly lists: MktoList[] = [];
  /** In activityDate order. */
  readonly activities: MktoActivity[] = [];
  readonly deletedLeads: MktoDeletedLead[] = [];
  private nextActivity: number;

  constructor(readonly world: World, readonly instance: number, readonly munchkinId: string) {
    const held = (p: { presence: { marketo: number[] } }) => p.presence.marketo.includes(instance);
    const accountsHeld = new Set<number>();
    for (const p of world.people) {
      if (!held(p)) continue;
      const account = p.accountIdx === null ? null : world.accounts[p.accountIdx]!;
      if (account) accountsHeld.add(account.idx);
      const sf = p.presence.salesforce;
      const createdAt = sec(p.createdAt);
      const updatedAt = Math.max(createdAt, sec(p.updatedAt));
      const lead: MktoLead = {
        id: marketoId(p.idx, instance),
        personIdx: p.idx,
        createdAt,
        updatedAt,
        deletedAt: null,
        f: {
          email: p.email,
          firstName: p.firstName,
          middleName: null,
          lastName: p.lastName,
          salutation: null,
          title: p.title,
          department: p.department,
          phone: p.phone,
          mobilePhone: null,
          fax: null,
          company: p.companyName,
          website: account?.website ?? null,
          address: account?.street ?? null,
          city: account?.city ?? null,
          state: account?.state ?? null,
          postalCode: account?.postalCode ?? null,
          country: account?.country ?? null,
          industry: account?.industry ?? null,
          annualRevenue: account?.annualRevenue ?? null,
          numberOfEmployees: account?.employees ?? null,
          sicCode: account?.sicCode ?? null,
          leadSource: p.leadSource,
          leadStatus: p.leadStatus,
          leadScore: p.leadScore,
          leadRole: null,
          leadPartitionId: 1,
          unsubscribed: p.unsubscribed,
          unsubscribedReason: p.unsubscribed ? 'Unsubscribed via email preference center' : null,
          emailInvalid: false,
          doNotCall: false,
          externalCompanyId: account ? salesforceId('Account', account.idx) : null,
          sfdcType: sf === 'contact' ? 'Contact' : sf === 'lead' ? 'Lead' : null,
          sfdcContactId: sf === 'contact' ? salesforceId('Contact', p.idx) : null,
          sfdcLeadId: sf === 'lead' ? salesforceId('Lead', p.idx) : null,
          sfdcAccountId: sf === 'contact' && account ? salesforceId('Account', account.idx) : null,
          sfdcLeadOwnerId: null,
          isAnonymous: false,
        },
      };
      this.leads.push(lead);
      this.leadById.set(lead.id, lead);
    }
    this.leadsByCreated = [...this.leads].sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);

    for (const idx of [...accountsHeld].sort((a, b) => a - b)) {
      const a = world.accounts[idx]!;
      const createdAt = sec(a.createdAt);
      this.companies.push({
        createdAt,
        updatedAt: Math.max(createdAt, sec(a.updatedAt)),
        f: {
          id: marketoId(a.idx, instance),
          externalCompanyId: salesforceId('Account', a.idx),
          company: a.name,
          site: null,
          website: a.website,
          mainPhone: a.phone,
          industry: a.industry,
          annualRevenue: a.annualRevenue,
          numberOfEmployees: a.employees,
          sicCode: a.sicCode,
          billingStreet: a.street,
          billingCity: a.city,
          billingState: a.state,
          billingPostalCode: a.postalCode,
          billingCountry: a.country,
        },
      });
    }
    const namedGuid = (idx: number) => dynamicsGuid('mkto_named_account', idx, munchkinId);
    let named = 0;
    for (const a of world.accounts) {
      if (!a.presence.marketoNamed.includes(instance)) continue;
      const parent = a.parentIdx !== null && world.accounts[a.parentIdx]!.presence.marketoNamed.includes(instance) ? namedGuid(a.parentIdx) : null;
      const createdAt = sec(a.createdAt);
      this.namedAccounts.push({
        createdAt,
        updatedAt: Math.max(createdAt, sec(a.updatedAt)),
        f: {
          // Users type domains as they like: every third named account has its domain with `www.`.
          marketoGUID: namedGuid(a.idx), name: a.name, domainName: named++ % 3 === 0 ? `www.${a.domain}` : a.domain, crmGuid: salesforceId('Account', a.idx), parentAccountId: parent,
          annualRevenue: a.annualRevenue, numberOfEmployees: a.employees, industry: a.industry, sicCode: a.sicCode, city: a.city,
          state: a.state, country: a.country, logoUrl: `https://logo.example-tessera.com/${a.domain}.png`,
        },
      });
    }
    const oppsHeld = new Set<number>();
    for (const o of world.opportunities) {
      if (!accountsHeld.has(o.accountIdx)) continue;
      oppsHeld.add(o.idx);
      const createdAt = sec(o.createdAt);
      const close = new Date(o.closeDate);
      this.opportunities.push({
        createdAt,
        updatedAt: Math.max(createdAt, sec(o.updatedAt)),
        f: {
          marketoGUID: dynamicsGuid('mkto_opportunity', o.idx, munchkinId), externalOpportunityId: salesforceId('Opportunity', o.idx),
          externalCompanyId: salesforceId('Account', o.accountIdx), name: o.name, description: null, type: 'New Business', stage: o.stage,
          amount: o.amount, expectedRevenue: Math.round((o.amount * o.probability) / 100), probability: o.probability, closeDate: o.closeDate,
          isClosed: o.isClosed, isWon: o.isWon, forecastCategory: o.forecastCategory, forecastCategoryName: o.forecastCategory,
          fiscalYear: close.getUTCFullYear(), fiscalQuarter: `Q${Math.floor(close.getUTCMonth() / 3) + 1}`, leadSource: null, nextStep: null,
        },
      });
    }
    for (const r of world.opportunityRoles) {
      const p = world.people[r.personIdx]!;
      if (!held(p) || !oppsHeld.has(r.opportunityIdx)) continue;
      const createdAt = sec(r.createdAt);
      this.roles.push({
        createdAt,
        updatedAt: Math.max(createdAt, sec(r.updatedAt)),
        f: {
          marketoGUID: dynamicsGuid('mkto_opportunity_role', r.idx, munchkinId), externalOpportunityId: salesforceId('Opportunity', r.opportunityIdx),
          leadId: marketoId(p.idx, instance), role: r.role, isPrimary: r.isPrimary,
        },
      });
    }
    for (const c of world.campaigns) {
      const createdAt = sec(c.createdAt);
      const id = marketoId(c.idx, instance);
      this.programs.push({
        createdAt,
        updatedAt: Math.max(createdAt, sec(c.updatedAt)),
        f: {
          id, name: c.name, description: `${c.type} program`, url: `https://app-sj01.marketo.com/#PG${id}A1`, type: PROGRAM_TYPES[c.type] ?? 'Default',
          channel: c.channel, status: c.type === 'Email' ? (c.isActive ? 'unlocked' : 'locked') : '', workspace: 'Default',
          folder: c.parentIdx !== null ? { type: 'Program', value: marketoId(c.parentIdx, instance), folderName: world.campaigns[c.parentIdx]!.name } : { type: 'Folder', value: 15, folderName: 'Marketing Activities' },
          sfdcId: salesforceId('Campaign', c.idx), sfdcName: c.name, tags: [], costs: [{ startDate: c.startDate, cost: c.actualCost, note: 'Actual' }],
        } as unknown as Record<string, Cell>,
      });
    }
    for (const m of world.campaignMembers) {
      const p = world.people[m.personIdx]!;
      if (!held(p)) continue;
      const createdAt = sec(m.createdAt);
      this.programMembers.push({
        programId: marketoId(m.campaignIdx, instance),
        leadId: marketoId(p.idx, instance),
        createdAt,
        updatedAt: Math.max(createdAt, sec(m.updatedAt)),
        f: {
          membershipDate: mktoDate(createdAt), statusName: m.status, reachedSuccess: m.hasResponded,
          reachedSuccessDate: m.firstRespondedDate ? mktoDate(sec(m.firstRespondedDate)) : null, isExhausted: false, nurtureCadence: null,
          acquiredBy: false, attendanceLikelihood: null, registrationLikelihood: null, program: world.campaigns[m.campaignIdx]!.name,
          progressionStatus: m.status,
        },
      });
    }
    for (const l of world.lists) {
      const createdAt = sec(l.createdAt);
      this.lists.push({ id: marketoId(l.idx, instance), createdAt, updatedAt: Math.max(createdAt, sec(l.updatedAt)), name: l.name, description: l.description, members: [] });
    }
    for (const lm of world.listMembers) {
      const p = world.people[lm.personIdx]!;
      if (!held(p)) continue;
      this.lists[lm.listIdx]!.members.push(marketoId(p.idx, instance));
    }
    for (const l of this.lists) l.members = [...new Set(l.members)].sort((a, b) => a - b);
    for (const a of world.activities) {
      if (a.marketoInstance !== instance) continue;
      this.activities.push(this.activityOf(a.idx, marketoId(a.personIdx, instance), sec(a.at), a.type, a.primaryAttributeValue, a.campaignIdx));
    }
    this.nextActivity = world.activities.length;
  }

  private activityOf(idx: number, leadId: number, at: number, type: WorldActivityType, pav: string, campaignIdx: number | null): MktoActivity {
    const typeId = ACTIVITY_TYPE_IDS[type];
    const h = hash32(`${this.munchkinId}:${idx}`);
    const ip = `10.${h & 255}.${(h >>> 8) & 255}.${(h >>> 16) & 255}`;
    const ua = USER_AGENTS[h % USER_AGENTS.length]!;
    let attributes: Record<string, Cell>;
    if (typeId === 1) attributes = { 'Webpage URL': pav.replace(/^https?:\/\/[^/]+/, ''), 'Query Parameters': '', 'Client IP Address': ip, 'User Agent': ua, 'Referrer URL': h % 3 === 0 ? 'https://www.google.com/' : '' };
    else if (typeId === 2) attributes = { 'Webpage ID': 1000 + (h % 50), 'Form Fields': 'a:2:{s:5:"Email";s:1:"x";s:7:"Company";s:1:"y";}', 'Client IP Address': ip, 'User Agent': ua };
    else if (typeId === 11) attributes = { Link: 'https://www.example-tessera.com/pricing', 'Campaign Run ID': 100 + (h % 20), Device: 'Desktop', 'Is Mobile Device': false };
    else attributes = { 'Campaign Run ID': 100 + (h % 20) };
    return {
      marketoGUID: String(marketoId(idx, this.instance, 100_000_000)),
      leadId,
      at,
      typeId,
      campaignId: campaignIdx === null ? null : marketoId(campaignIdx, this.instance, 5000),
      pavId: 1000 + (hash32(pav) % 9000),
      pav,
      attributes,
    };
  }

  /** REST `company` object (companies.json). */
  static restObject(r: MktoRecord): Record<string, unknown> {
    return { ...r.f, createdAt: mktoDate(r.createdAt), updatedAt: mktoDate(r.updatedAt) };
  }

  /**
   * Changes data like a user: `update` records of each object get a new value and updatedAt =
   * now (and `update` new activities happen now); `delete` leads are deleted (leads without
   * memberships, roles or activities, so no other object changes).
   */
  mutate(nowMs: number, opts: { update?: number; delete?: number; seed?: number }): { updated: number; deleted: number } {
    // Marketo keeps times to the second.
    const now = Math.floor(nowMs / 1000) * 1000;
    const r = seededRandom(opts.seed ?? 7);
    const n = opts.update ?? 0;
    let updated = 0;
    const pickSome = <T>(items: T[], k: number, ok: (t: T) => boolean = () => true): T[] => {
      const pool = items.filter(ok);
      const out: T[] = [];
      for (let i = 0; i < k && pool.length; i++) out.push(pool.splice(Math.floor(r() * pool.length), 1)[0]!);
      return out;
    };
    for (const l of pickSome(this.leads, n, (x) => x.deletedAt === null)) {
      l.f.leadScore = Number(l.f.leadScore ?? 0) + 5;
      l.f.title = `${String(l.f.title ?? '')} (updated)`.trim();
      l.updatedAt = now;
      l.row = undefined;
      updated++;
    }
    for (const list of [this.companies, this.namedAccounts, this.opportunities, this.roles, this.programs]) {
      for (const rec of pickSome(list, n)) {
        if ('numberOfEmployees' in rec.f) rec.f.numberOfEmployees = Number(rec.f.numberOfEmployees ?? 0) + 1;
        else if ('stage' in rec.f) rec.f.nextStep = 'Follow up';
        else if ('role' in rec.f) rec.f.isPrimary = !rec.f.isPrimary;
        else rec.f.description = `${String(rec.f.description ?? '')} (updated)`;
        rec.updatedAt = now;
        updated++;
      }
    }
    for (const m of pickSome(this.programMembers, n)) {
      m.f.statusName = 'Attended';
      m.f.progressionStatus = 'Attended';
      m.updatedAt = now;
      updated++;
    }
    for (const l of pickSome(this.lists, n)) {
      l.description = `${l.description} (updated)`;
      l.updatedAt = now;
      updated++;
    }
    const active = this.leads.filter((l) => l.deletedAt === null);
    for (let i = 0; i < n && active.length; i++) {
      const lead = active[Math.floor(r() * active.length)]!;
      const idx = this.nextActivity++;
      const a = this.activityOf(idx, lead.id, now, 'visitWebpage', 'https://www.example-tessera.com/pricing', null);
      this.activities.push(a);
      updated++;
    }
    const busy = new Set<number>();
    for (const a of this.activities) busy.add(a.leadId);
    for (const m of this.programMembers) busy.add(m.leadId);
    for (const l of this.lists) for (const id of l.members) busy.add(id);
    for (const role of this.roles) busy.add(Number(role.f.leadId));
    let deleted = 0;
    for (const lead of pickSome(this.leads, opts.delete ?? 0, (x) => x.deletedAt === null && !busy.has(x.id))) {
      lead.deletedAt = now;
      this.deletedLeads.push({ id: 900_000_000 + this.deletedLeads.length, marketoGUID: String(900_000_000 + this.deletedLeads.length), leadId: lead.id, at: now, name: `${lead.f.firstName} ${lead.f.lastName}` });
      deleted++;
    }
    return { updated, deleted };
  }

  /**
   * Deletes records as a Marketo user or integration would (test control): companies by id,
   * opportunities, opportunity roles and named accounts by marketoGUID, static-list members by
   * list and lead id.
   * Marketo reports none of these deletes; only reconciliation notices them. Returns how many went.
   */
  remove(o: { companies?: number[]; opportunities?: string[]; opportunityRoles?: string[]; namedAccounts?: string[]; listMembers?: Array<{ listId: number; leadId: number }> }): number {
    let removed = 0;
    const drop = (items: MktoRecord[], field: string, values: ReadonlyArray<string | number> | undefined): void => {
      if (!values?.length) return;
      const gone = new Set(values.map(String));
      for (let i = items.length - 1; i >= 0; i--) {
        if (gone.has(String(items[i]!.f[field]))) {
          items.splice(i, 1);
          removed++;
        }
      }
    };
    drop(this.companies, 'id', o.companies);
    drop(this.opportunities, 'marketoGUID', o.opportunities);
    drop(this.roles, 'marketoGUID', o.opportunityRoles);
    drop(this.namedAccounts, 'marketoGUID', o.namedAccounts);
    for (const { listId, leadId } of o.listMembers ?? []) {
      const list = this.lists.find((l) => l.id === listId);
      const at = list ? list.members.indexOf(leadId) : -1;
      if (list && at >= 0) {
        list.members.splice(at, 1);
        removed++;
      }
    }
    return removed;
  }

  /** Company domains of the companies held (named accounts are reachable through these). */
  companyDomains(): Set<string> {
    const out = new Set<string>();
    for (const c of this.companies) {
      const w = String(c.f.website ?? '').toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/^www\./, '').replace(/\/.*$/, '');
      if (w) out.add(w);
    }
    return out;
  }
}
