/**
 * The synthetic B2B world every simulator serves a view of: companies (with hierarchies), people
 * (with job changes, shared mailboxes, free-mail addresses, B2C customers), opportunities and their
 * contact roles, campaigns and members, static lists and members, and Marketo activities — all
 * deterministic from a seed, so two runs (and a test's ground truth) see the same data.
 *
 * Which system holds what is decided here too (`presence`), so the same human shows up in
 * Salesforce, in one or both Marketo instances and in Dynamics under different ids — the
 * duplication identity resolution must undo. Each simulator projects the world into its vendor's
 * shapes and ids (simulators/<vendor>/data.ts) and owns later mutations.
 *
 * Times: every record has createdAt ≤ updatedAt ≤ `now`, spread over the `historyDays` before `now`.
 */
import { hash32, intBetween, pick, seededRandom, type Random } from '../shared/random';

export interface WorldOptions {
  seed: number;
  accounts: number;
  people: number;
  /** The simulators' "now" at start (ISO). */
  now: string;
  historyDays: number;
  /** Marketo instances: the share of people each holds (0..1). Default two: [0.7, 0.3]. */
  marketoShares: number[];
  /** Share of people in the Salesforce org (as contacts or leads). */
  salesforceShare: number;
  /** Share of people and accounts in the Dynamics org. */
  dynamicsShare: number;
  /** Opportunities per account (average). */
  opportunitiesPerAccount: number;
  campaigns: number;
  lists: number;
  /** Marketo activities per person held in Marketo (average). */
  activitiesPerPerson: number;
}

export const DEFAULT_WORLD: WorldOptions = {
  seed: 42,
  accounts: 200,
  people: 2_000,
  now: '2026-11-01T12:00:00.000Z',
  historyDays: 120,
  marketoShares: [0.7, 0.3],
  salesforceShare: 0.6,
  dynamicsShare: 0.25,
  opportunitiesPerAccount: 1.5,
  campaigns: 20,
  lists: 10,
  activitiesPerPerson: 3,
};

export interface Timestamps {
  createdAt: string;
  updatedAt: string;
}

export interface WorldAccount extends Timestamps {
  idx: number;
  name: string;
  /** Normalised web domain, e.g. `northwind-traders.com`. */
  domain: string;
  website: string;
  /** 9-digit D-U-N-S or null. */
  duns: string | null;
  /** The parent account (an index lower than this one: hierarchies have no cycles here). */
  parentIdx: number | null;
  industry: string;
  employees: number;
  annualRevenue: number;
  phone: string;
  street: string;
  city: string;
  state: string | null;
  postalCode: string;
  country: string;
  sicCode: string;
  presence: { salesforce: boolean; dynamics: boolean; /** Marketo instance indexes holding it as a named account. */ marketoNamed: number[] };
}

export type PersonQuirk =
  /** Work email at a shared mailbox (info@, sales@): must never link people. */
  | 'shared-mailbox'
  /** Email at a free-mail domain: links people, never accounts. */
  | 'free-mail'
  /** Changed jobs: `previousAccountIdx` is the old employer; the email changed with the job. */
  | 'job-change'
  /** Also a B2C customer (loyalty id). */
  | 'b2c-customer';

export interface WorldPerson extends Timestamps {
  idx: number;
  firstName: string;
  lastName: string;
  email: string;
  /** The email at the previous employer (job changes only). */
  previousEmail: string | null;
  personalEmail: string | null;
  /** E.164 or null. */
  phone: string | null;
  title: string;
  department: string;
  /** Current employer; null for a lead with no known company account. */
  accountIdx: number | null;
  previousAccountIdx: number | null;
  /** The company name a lead typed (set even when accountIdx is null). */
  companyName: string;
  leadSource: string;
  leadScore: number;
  leadStatus: string;
  unsubscribed: boolean;
  loyaltyId: string | null;
  quirks: PersonQuirk[];
  presence: {
    /** In the Salesforce org as a contact (has an account) or a lead, or absent. */
    salesforce: 'contact' | 'lead' | null;
    dynamics: 'contact' | 'lead' | null;
    /** Marketo instance indexes that hold this person as a lead. */
    marketo: number[];
  };
}

export interface WorldOpportunity extends Timestamps {
  idx: number;
  accountIdx: number;
  name: string;
  stage: string;
  amount: number;
  currency: string;
  probability: number;
  closeDate: string;
  isClosed: boolean;
  isWon: boolean;
  campaignIdx: number | null;
  forecastCategory: string;
}

export interface WorldOpportunityRole extends Timestamps {
  idx: number;
  opportunityIdx: number;
  personIdx: number;
  role: string;
  isPrimary: boolean;
}

export interface WorldCampaign extends Timestamps {
  idx: number;
  name: string;
  type: string;
  status: string;
  channel: string;
  startDate: string;
  endDate: string;
  budgetedCost: number;
  actualCost: number;
  parentIdx: number | null;
  isActive: boolean;
}

export interface WorldCampaignMember extends Timestamps {
  idx: number;
  campaignIdx: number;
  personIdx: number;
  status: string;
  hasResponded: boolean;
  firstRespondedDate: string | null;
}

export interface WorldList extends Timestamps {
  idx: number;
  name: string;
  description: string;
}

export interface WorldListMember extends Timestamps {
  idx: number;
  listIdx: number;
  personIdx: number;
}

export type WorldActivityType = 'visitWebpage' | 'fillOutForm' | 'clickLink' | 'sendEmail' | 'emailDelivered' | 'openEmail' | 'clickEmail';

export interface WorldActivity {
  idx: number;
  personIdx: number;
  /** The Marketo instance the activity happened in. */
  marketoInstance: number;
  type: WorldActivityType;
  at: string;
  /** Page URL, form name, email name or link, by type. */
  primaryAttributeValue: string;
  campaignIdx: number | null;
}

export interface World {
  options: WorldOptions;
  accounts: WorldAccount[];
  people: WorldPerson[];
  opportunities: WorldOpportunity[];
  opportunityRoles: WorldOpportunityRole[];
  campaigns: WorldCampaign[];
  campaignMembers: WorldCampaignMember[];
  lists: WorldList[];
  listMembers: WorldListMember[];
  activities: WorldActivity[];
}

const FIRST = ['Ada', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jon', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Uma', 'Viktor', 'Wei', 'Yara', 'Zoe'];
const LAST = ['Adams', 'Brandt', 'Chen', 'Diaz', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jensen', 'Kowalski', 'Lopez', 'Moreau', 'Novak', 'Okafor', 'Patel', 'Rossi', 'Schmidt', 'Tanaka', 'Ueda', 'Varga', 'Walsh', 'Xu', 'Young', 'Zimmer'];
const WORD_A = ['North', 'Blue', 'Iron', 'Silver', 'Bright', 'Cedar', 'Delta', 'Summit', 'Harbor', 'Pioneer', 'Quantum', 'Vertex', 'Granite', 'Aurora', 'Coastal', 'Evergreen'];
const WORD_B = ['wind', 'stone', 'field', 'bridge', 'works', 'point', 'light', 'river', 'peak', 'forge', 'gate', 'line'];
const SUFFIX = ['Traders', 'Systems', 'Labs', 'Logistics', 'Health', 'Energy', 'Foods', 'Software', 'Capital', 'Industries', 'Analytics', 'Robotics'];
const INDUSTRIES = ['Software', 'Manufacturing', 'Healthcare', 'Financial Services', 'Retail', 'Energy', 'Logistics', 'Education', 'Telecommunications', 'Media'];
const CITIES: Array<[string, string | null, string, string]> = [
  ['San Francisco', 'CA', 'US', '94105'], ['New York', 'NY', 'US', '10001'], ['Austin', 'TX', 'US', '73301'], ['Chicago', 'IL', 'US', '60601'],
  ['London', null, 'GB', 'EC1A 1BB'], ['Berlin', null, 'DE', '10115'], ['Paris', null, 'FR', '75001'], ['Toronto', 'ON', 'CA', 'M5H 2N2'],
  ['Sydney', 'NSW', 'AU', '2000'], ['Amsterdam', null, 'NL', '1012 AB'],
];
const TITLES: Array<[string, string]> = [
  ['Chief Marketing Officer', 'Marketing'], ['VP Marketing', 'Marketing'], ['Marketing Operations Manager', 'Marketing'], ['Demand Generation Lead', 'Marketing'],
  ['CTO', 'Engineering'], ['Engineering Manager', 'Engineering'], ['Data Engineer', 'Engineering'], ['CFO', 'Finance'], ['Procurement Manager', 'Finance'],
  ['Head of Sales', 'Sales'], ['Account Executive', 'Sales'], ['IT Director', 'IT'],
];
const FREE_MAIL = ['gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com'];
const SHARED_MAILBOXES = ['info', 'sales', 'marketing', 'contact'];
const LEAD_SOURCES = ['Web', 'Webinar', 'Trade Show', 'Partner Referral', 'Paid Search', 'Content Syndication'];
const LEAD_STATUSES = ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'];
const STAGES: Array<[string, number, boolean, boolean, string]> = [
  ['Prospecting', 10, false, false, 'Pipeline'], ['Qualification', 20, false, false, 'Pipeline'], ['Needs Analysis', 30, false, false, 'Pipeline'],
  ['Proposal/Price Quote', 60, false, false, 'BestCase'], ['Negotiation/Review', 80, false, false, 'Commit'], ['Closed Won', 100, true, true, 'Closed'],
  ['Closed Lost', 0, true, false, 'Omitted'],
];
const ROLES = ['Decision Maker', 'Economic Buyer', 'Technical Buyer', 'Evaluator', 'Influencer', 'Executive Sponsor'];
const CAMPAIGN_TYPES: Array<[string, string]> = [['Webinar', 'Webinar'], ['Email', 'Email'], ['Conference', 'Tradeshow'], ['Advertisement', 'Paid Media'], ['Content', 'Content']];
const MEMBER_STATUSES = ['Sent', 'Responded', 'Registered', 'Attended', 'No Show'];
const ACTIVITY_TYPES: WorldActivityType[] = ['visitWebpage', 'fillOutForm', 'clickLink', 'sendEmail', 'emailDelivered', 'openEmail', 'clickEmail'];

const DAY = 86_400_000;

/** Builds the world for these options (deterministic: same options, same world). */
export function buildWorld(partial: Partial<WorldOptions> = {}): World {
  const options: WorldOptions = { ...DEFAULT_WORLD, ...partial };
  const r = seededRandom(options.seed);
  const nowMs = Date.parse(options.now);
  const startMs = nowMs - options.historyDays * DAY;
  const times = (rand: Random): Timestamps => {
    const created = startMs + Math.floor(rand() * (nowMs - startMs) * 0.8);
    const updated = created + Math.floor(rand() * (nowMs - created));
    return { createdAt: iso(created), updatedAt: iso(updated) };
  };

  const accounts: WorldAccount[] = [];
  const usedDomains = new Set<string>();
  for (let idx = 0; idx < options.accounts; idx++) {
    const name = `${pick(r, WORD_A)}${pick(r, WORD_B)} ${pick(r, SUFFIX)}`;
    let domain = `${slug(name)}.com`;
    if (usedDomains.has(domain)) domain = `${slug(name)}-${idx}.com`;
    usedDomains.add(domain);
    const [city, state, country, postalCode] = pick(r, CITIES);
    // Hierarchies: about a fifth of accounts sit under an earlier account (any depth).
    const parentIdx = idx > 5 && r() < 0.2 ? Math.floor(r() * idx) : null;
    const employees = intBetween(r, 10, 50_000);
    accounts.push({
      idx,
      name,
      domain,
      website: r() < 0.5 ? `https://www.${domain}` : `${domain}`,
      duns: r() < 0.6 ? String(100_000_000 + ((hash32(`duns${options.seed}:${idx}`) % 899_999_999) >>> 0)).slice(0, 9) : null,
      parentIdx,
      industry: pick(r, INDUSTRIES),
      employees,
      annualRevenue: employees * intBetween(r, 50, 400) * 1000,
      phone: `+1415${String(intBetween(r, 2_000_000, 9_999_999))}`,
      street: `${intBetween(r, 1, 999)} ${pick(r, WORD_A)} Street`,
      city,
      state,
      postalCode,
      country,
      sicCode: String(intBetween(r, 1000, 8999)),
      presence: {
        salesforce: true,
        dynamics: r() < options.dynamicsShare * 1.6,
        marketoNamed: options.marketoShares.map((_, i) => i).filter(() => r() < 0.3),
      },
      ...times(r),
    });
  }

  const people: WorldPerson[] = [];
  for (let idx = 0; idx < options.people; idx++) {
    const firstName = pick(r, FIRST);
    const lastName = pick(r, LAST);
    const hasAccount = accounts.length > 0 && r() < 0.85;
    const accountIdx = hasAccount ? Math.floor(r() * accounts.length) : null;
    const quirks: PersonQuirk[] = [];
    const q = r();
    if (q < 0.01) quirks.push('shared-mailbox');
    else if (q < 0.05) quirks.push('free-mail');
    else if (q < 0.07 && accountIdx !== null && accounts.length > 1) quirks.push('job-change');
    if (r() < 0.05) quirks.push('b2c-customer');
    const local = `${firstName}.${lastName}${idx}`.toLowerCase();
    const account = accountIdx === null ? null : accounts[accountIdx]!;
    const domain = account?.domain ?? `${slug(`${pick(r, WORD_A)}${pick(r, WORD_B)}`)}-${idx}.io`;
    let email = `${local}@${domain}`;
    if (quirks.includes('shared-mailbox')) email = `${pick(r, SHARED_MAILBOXES)}@${domain}`;
    if (quirks.includes('free-mail')) email = `${local}@${pick(r, FREE_MAIL)}`;
    let previousAccountIdx: number | null = null;
    let previousEmail: string | null = null;
    if (quirks.includes('job-change')) {
      previousAccountIdx = (accountIdx! + 1 + Math.floor(r() * (accounts.length - 1))) % accounts.length;
      previousEmail = `${local}@${accounts[previousAccountIdx]!.domain}`;
    }
    const [title, department] = pick(r, TITLES);
    const inSalesforce = r() < options.salesforceShare;
    const inDynamics = r() < options.dynamicsShare;
    people.push({
      idx,
      firstName,
      lastName,
      email,
      previousEmail,
      personalEmail: r() < 0.2 ? `${local}@${pick(r, FREE_MAIL)}` : null,
      phone: r() < 0.5 ? `+1${intBetween(r, 201, 989)}${String(intBetween(r, 2_000_000, 9_999_999))}` : null,
      title,
      department,
      accountIdx,
      previousAccountIdx,
      companyName: account?.name ?? `${pick(r, WORD_A)} ${pick(r, SUFFIX)}`,
      leadSource: pick(r, LEAD_SOURCES),
      leadScore: intBetween(r, 0, 150),
      leadStatus: pick(r, LEAD_STATUSES),
      unsubscribed: r() < 0.05,
      loyaltyId: quirks.includes('b2c-customer') ? `LOY-${String(100000 + idx)}` : null,
      quirks,
      presence: {
        salesforce: inSalesforce ? (accountIdx !== null && r() < 0.7 ? 'contact' : 'lead') : null,
        dynamics: inDynamics ? (accountIdx !== null && r() < 0.7 ? 'contact' : 'lead') : null,
        marketo: options.marketoShares.map((share, i) => (r() < share ? i : -1)).filter((i) => i >= 0),
      },
      ...times(r),
    });
  }

  const campaigns: WorldCampaign[] = [];
  for (let idx = 0; idx < options.campaigns; idx++) {
    const [type, channel] = pick(r, CAMPAIGN_TYPES);
    const t = times(r);
    const start = Date.parse(t.createdAt);
    campaigns.push({
      idx,
      name: `${pick(r, WORD_A)} ${type} ${2026 - (idx % 2)}-${idx}`,
      type,
      channel,
      status: pick(r, ['Planned', 'In Progress', 'Completed']),
      startDate: iso(start).slice(0, 10),
      endDate: iso(start + intBetween(r, 1, 60) * DAY).slice(0, 10),
      budgetedCost: intBetween(r, 1, 100) * 1000,
      actualCost: intBetween(r, 1, 100) * 900,
      parentIdx: idx > 3 && r() < 0.25 ? Math.floor(r() * idx) : null,
      isActive: r() < 0.6,
      ...t,
    });
  }

  const opportunities: WorldOpportunity[] = [];
  const opportunityRoles: WorldOpportunityRole[] = [];
  const peopleByAccount = new Map<number, number[]>();
  for (const p of people) {
    if (p.accountIdx === null) continue;
    const staff = peopleByAccount.get(p.accountIdx);
    if (staff) staff.push(p.idx);
    else peopleByAccount.set(p.accountIdx, [p.idx]);
  }
  for (const account of accounts) {
    const n = Math.floor(options.opportunitiesPerAccount * 2 * r());
    for (let k = 0; k < n; k++) {
      const [stage, probability, isClosed, isWon, forecastCategory] = pick(r, STAGES);
      const t = times(r);
      const idx = opportunities.length;
      opportunities.push({
        idx,
        accountIdx: account.idx,
        name: `${account.name} - ${pick(r, ['Platform', 'Expansion', 'Renewal', 'Pilot'])} ${idx}`,
        stage,
        amount: intBetween(r, 5, 500) * 1000,
        currency: 'USD',
        probability,
        closeDate: iso(Date.parse(t.createdAt) + intBetween(r, 30, 180) * DAY).slice(0, 10),
        isClosed,
        isWon,
        campaignIdx: campaigns.length && r() < 0.4 ? Math.floor(r() * campaigns.length) : null,
        forecastCategory,
        ...t,
      });
      const staff = (peopleByAccount.get(account.idx) ?? []).filter((p) => people[p]!.presence.salesforce === 'contact' || people[p]!.presence.dynamics === 'contact');
      const roles = Math.min(staff.length, intBetween(r, 0, 3));
      for (let j = 0; j < roles; j++) {
        opportunityRoles.push({ idx: opportunityRoles.length, opportunityIdx: idx, personIdx: staff[j]!, role: pick(r, ROLES), isPrimary: j === 0, ...t });
      }
    }
  }

  const campaignMembers: WorldCampaignMember[] = [];
  for (const p of people) {
    if (!campaigns.length || r() > 0.4) continue;
    const n = intBetween(r, 1, 2);
    const seen = new Set<number>();
    for (let k = 0; k < n; k++) {
      const c = Math.floor(r() * campaigns.length);
      if (seen.has(c)) continue;
      seen.add(c);
      const status = pick(r, MEMBER_STATUSES);
      const t = times(r);
      const responded = status !== 'Sent' && status !== 'No Show';
      campaignMembers.push({ idx: campaignMembers.length, campaignIdx: c, personIdx: p.idx, status, hasResponded: responded, firstRespondedDate: responded ? t.updatedAt : null, ...t });
    }
  }

  const lists: WorldList[] = [];
  for (let idx = 0; idx < options.lists; idx++) {
    lists.push({ idx, name: `${pick(r, WORD_A)} ${pick(r, ['Newsletter', 'Event Invitees', 'Nurture', 'Customers', 'Prospects'])} ${idx}`, description: 'Static list', ...times(r) });
  }
  const listMembers: WorldListMember[] = [];
  for (const p of people) {
    if (!lists.length || r() > 0.3) continue;
    listMembers.push({ idx: listMembers.length, listIdx: Math.floor(r() * lists.length), personIdx: p.idx, ...times(r) });
  }

  const activities: WorldActivity[] = [];
  for (const p of people) {
    for (const instance of p.presence.marketo) {
      const n = Math.floor(options.activitiesPerPerson * 2 * r());
      for (let k = 0; k < n; k++) {
        const type = pick(r, ACTIVITY_TYPES);
        const at = Date.parse(p.createdAt) + Math.floor(r() * (nowMs - Date.parse(p.createdAt)));
        activities.push({
          idx: activities.length,
          personIdx: p.idx,
          marketoInstance: instance,
          type,
          at: iso(at),
          primaryAttributeValue: type === 'visitWebpage' || type === 'clickLink' ? `https://www.example-tessera.com/${pick(r, ['pricing', 'product', 'blog/cdp', 'contact'])}` : type === 'fillOutForm' ? 'Demo Request' : `Newsletter ${intBetween(r, 1, 12)}`,
          campaignIdx: campaigns.length && r() < 0.3 ? Math.floor(r() * campaigns.length) : null,
        });
      }
    }
  }
  activities.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.idx - b.idx));
  activities.forEach((a, i) => (a.idx = i));

  return { options, accounts, people, opportunities, opportunityRoles, campaigns, campaignMembers, lists, listMembers, activities };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
