/**
 * Synthetic synced person data for the identity-resolution benchmarks, and the warehouse-style
 * baseline they are measured against.
 *
 * `loadPeople` COPYs n person records straight into xdm_person, as if four source instances
 * (INSTANCES: one Salesforce org, two Marketo instances, one Dynamics org) had been synced:
 * normalised XDM records (every B2B Source object with its four parts), the extracted columns,
 * content hashes and one ingest_batch row (channel 'sync') per chunk, as
 * db/repositories/ingest-batches.ts writes them (no landing rows). Records are what the
 * connectors' mappings produce, with realistic ids (18-character Salesforce ids, Marketo lead
 * numbers, Dynamics GUIDs). About 30% of the humans are present in more than one instance:
 * - Marketo + Salesforce: the Marketo record's extSourceSystemAudit.externalKey is the Salesforce
 *   record's key (column external_key), and both share the work email;
 * - any other overlap shares only the work email;
 * - ~5% of records carry a mobile phone (E.164) and ~3% a gmail.com personal email, the same on
 *   every record of the human;
 * - ~2% have no workEmail at all (only where the human's records stay linked by something else);
 * - ~1% have a role mailbox (info@, sales@, … of a company) as work email: each such record is a
 *   human of its own, and several of them share one mailbox, so a linker that does not refuse
 *   role mailboxes merges different people.
 * No two humans share an email, phone or key, so the ground truth (`groundTruth`, `humans`) is the
 * set of connected components of the identity graph once role mailboxes are left out.
 *
 * `labelPropagationBaseline` is connected components the way a warehouse/dbt team computes them:
 * an edge table of (record, identity) pairs, then iterative min-label propagation in SQL.
 */
import { seededRandom } from '../simulators/shared/random';
import * as crypto from 'node:crypto';
import type { Knex } from 'knex';
import { copyRows, copyValue, inPgTransaction, type PgConn } from '../db/pg-transaction';
import { identityCells, type IdentityExtraction } from '../db/repositories/ingest-batches';
import { identityExtractions } from '../engine/identity/ingest-identities';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { INSTANCES } from './support';

/* ----------------------------------------------------------------------------------------- */
/* Shape of the data                                                                           */
/* ----------------------------------------------------------------------------------------- */

/** Share of (non role-mailbox) humans present in more than one instance. */
const MULTI_INSTANCE = 0.3;
/** Given several instances: 2, 3 or 4 of them. */
const TWO_INSTANCES = 0.7;
const THREE_INSTANCES = 0.22;
/** Records per ordinary human: 0.7 × 1 + 0.3 × (0.7 × 2 + 0.22 × 3 + 0.08 × 4) ≈ 1.414. */
const RECORDS_PER_HUMAN = 1 - MULTI_INSTANCE + MULTI_INSTANCE * (2 * TWO_INSTANCES + 3 * THREE_INSTANCES + 4 * (1 - TWO_INSTANCES - THREE_INSTANCES));
/** Share of records that are a role mailbox: each is one human, so the per-human draw is scaled. */
const ROLE_RECORDS = 0.01;
const ROLE_HUMAN = (ROLE_RECORDS * RECORDS_PER_HUMAN) / (1 - ROLE_RECORDS + ROLE_RECORDS * RECORDS_PER_HUMAN);
/** Per human, all their records: a mobile phone; a personal (gmail.com) email. */
const MOBILE_PHONE = 0.05;
const PERSONAL_EMAIL = 0.03;
/**
 * Per record: workEmail omitted. Omissions that would cut a human's records apart are undone, which
 * drops about one in eight of them (all in multi-instance humans): 2.7% drawn ≈ 2% of records.
 */
const NO_WORK_EMAIL = 0.027;
/** One account (company) per this many records; role mailboxes come from a twentieth of them. */
const RECORDS_PER_COMPANY = 25;
const ROLE_COMPANY_SHARE = 20;
/** Rows per COPY (one transaction and one ingest_batch row each). */
const CHUNK_ROWS = 50_000;
/** COPYs in flight at once (two backends parse the JSON while Node builds the next chunk). */
const WRITERS = 2;

const ROLES = ['info', 'sales', 'marketing', 'contact', 'support'] as const;
const ROLE_NAMES = ['Info', 'Sales', 'Marketing', 'Contact', 'Support'] as const;

const FIRST = [
  'Ada', 'Grace', 'Alan', 'Hedy', 'Katherine', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'John', 'Radia', 'Tim',
  'Sophie', 'Edsger', 'Adele', 'Donald', 'Karen', 'Niklaus', 'Mary', 'Vint', 'Shafi', 'Leslie', 'Lynn', 'Robert', 'Jean', 'Guido',
  'Anita', 'Bjarne', 'Evelyn', 'James', 'Carol', 'Yukihiro', 'Susan', 'Brian', 'Elena', 'Ivan', 'Joan', 'Tony',
];
const LAST = [
  'Lovelace', 'Hopper', 'Turing', 'Lamarr', 'Johnson', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'McCarthy',
  'Perlman', 'Berners-Lee', 'Wilson', 'Dijkstra', 'Goldberg', 'Knuth', 'Jones', 'Wirth', 'Keller', 'Cerf', 'Goldwasser', 'Lamport',
  'Conway', 'Tarjan', 'Bartik', 'van Rossum', 'Borg', 'Stroustrup', 'Boyd', 'Gosling', 'Shaw', 'Matsumoto', 'Kare', 'Kernighan',
  'Garcia', 'Sutherland', 'Clarke', 'Hoare',
];
const COMPANY_WORDS = [
  'acme', 'globex', 'initech', 'umbrella', 'hooli', 'vandelay', 'stark', 'wayne', 'wonka', 'tyrell', 'cyberdyne', 'soylent',
  'aperture', 'massive', 'gringotts', 'oscorp', 'pied', 'duff', 'monarch', 'nakatomi', 'northwind', 'contoso', 'fabrikam', 'tailspin',
];
const TITLES = [
  'CTO', 'VP Engineering', 'Head of Marketing', 'Marketing Operations Manager', 'Data Engineer', 'Procurement Lead', 'CFO',
  'Sales Director', 'Product Manager', 'IT Manager', 'Demand Generation Manager', 'Solutions Architect',
];
/** US area codes that libphonenumber accepts as valid. */
const AREA_CODES = ['212', '312', '415', '617', '646', '206', '303', '512', '702', '919'];

const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2026, 5, 1);
/** Records were created up to a year before FROM. */
const CREATED_BEFORE = 365 * 86_400_000;
const DAY = 86_400_000;
const FIRST_DAY = FROM - CREATED_BEFORE;
/** `YYYY-MM-DD` of every day from FIRST_DAY to TO, and zero-padded numbers: Date#toISOString is slow. */
const DAYS = Array.from({ length: (TO - FIRST_DAY) / DAY + 1 }, (_, d) => new Date(FIRST_DAY + d * DAY).toISOString().slice(0, 10));
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** ISO 8601 (as Date#toISOString) of FROM + offset ms, offset ≥ -CREATED_BEFORE. */
function isoInstant(offset: number): string {
  const t = offset + CREATED_BEFORE;
  const day = Math.floor(t / DAY);
  let ms = t - day * DAY;
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const s = Math.floor(ms / 1000);
  return `${DAYS[day]}T${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[ms - s * 1000]}Z`;
}

/** When the synced records were received (chunk k: this plus k seconds). */
const RECEIVED = Date.UTC(2026, 5, 2);

/* ----------------------------------------------------------------------------------------- */
/* Deterministic ids                                                                           */
/* ----------------------------------------------------------------------------------------- */

/** A bijection of 32-bit integers (lowbias32): distinct inputs give distinct outputs. */
function mix32(x: number): number {
  x = Math.imul((x >>> 0) ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const hex = (x: number, width: number) => x.toString(16).padStart(width, '0').slice(-width);

/** A lowercase v4-shaped GUID, unique per (salt, n) for n < 2^32 (its first 8 digits are a bijection of n). */
function guid(salt: number, n: number): string {
  const a = mix32(n ^ salt);
  const b = mix32(a + 0x9e3779b9);
  const c = mix32(b + 0x9e3779b9);
  const d = mix32(c + 0x9e3779b9);
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(0x8000 | (c >>> 18), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SF_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** An 18-character Salesforce id: key prefix, pod `5e`, `0`, nine base-62 digits of n, case-safe suffix. */
function salesforceId(prefix: string, n: number): string {
  let digits = '';
  for (let i = 0; i < 9; i++) {
    digits = BASE62[n % 62]! + digits;
    n = Math.floor(n / 62);
  }
  const id15 = `${prefix}5e0${digits}`;
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const ch = id15.charCodeAt(chunk * 5 + i);
      if (ch >= 65 && ch <= 90) bits |= 1 << i;
    }
    suffix += SF_SUFFIX[bits]!;
  }
  return id15 + suffix;
}

/** A unique US mobile number in E.164 for human h (valid area code, exchange 200–999). */
function mobileNumber(h: number): string {
  const area = AREA_CODES[h % AREA_CODES.length]!;
  const rest = Math.floor(h / AREA_CODES.length);
  const exchange = 200 + (Math.floor(rest / 10_000) % 800);
  return `+1${area}${exchange}${String(rest % 10_000).padStart(4, '0')}`;
}

const companyDomain = (c: number) => `${COMPANY_WORDS[c % COMPANY_WORDS.length]}${c}.example`;
const companyName = (c: number) => {
  const w = COMPANY_WORDS[c % COMPANY_WORDS.length]!;
  return `${w[0]!.toUpperCase()}${w.slice(1)} ${c} Inc.`;
};

/* ----------------------------------------------------------------------------------------- */
/* The plan: every decision about every record, without any JSON                               */
/* ----------------------------------------------------------------------------------------- */

interface SourceRef {
  sourceType: string;
  sourceInstanceID: string;
  sourceID: string;
  sourceKey: string;
}

/** One person record, decided. */
interface PlannedPerson {
  human: number;
  personKey: SourceRef;
  accountKey: SourceRef;
  /** The Salesforce record of the same human, on a Marketo record synced with the org. */
  externalKey: SourceRef | null;
  personType: 'Lead' | 'Contact';
  /** Lowercased; null when the record has none. */
  workEmail: string | null;
  personalEmail: string | null;
  mobilePhone: string | null;
  firstName: string | null;
  lastName: string;
  jobTitle: string | null;
  companyName: string | null;
  personScore: number | null;
  createdDate: string;
  lastUpdatedDate: string;
}

const ref = (sourceType: string, sourceInstanceID: string, sourceID: string): SourceRef => ({
  sourceType,
  sourceInstanceID,
  sourceID,
  sourceKey: `${sourceID}@${sourceInstanceID}.${sourceType}`,
});

/**
 * Plans humans one at a time, each with one record per instance it is present in, until n records
 * are planned (the last human may lose instances to the cut). Same (n, seed), same records.
 */
class PeoplePlanner {
  private readonly rand: () => number;
  private readonly companies: number;
  private readonly roleCompanies: number;
  /** Per instance (INSTANCES index), records planned so far: the native ids count from it. */
  private readonly counters = INSTANCES.map(() => 0);
  /** Instance indices, Salesforce first (Marketo records refer to its key). */
  private readonly instanceOrder: number[];
  planned = 0;
  humans = 0;

  constructor(
    readonly n: number,
    seed: number,
  ) {
    this.rand = seededRandom(mix32(seed ^ 0x1d3a7e55));
    this.companies = Math.max(20, Math.floor(n / RECORDS_PER_COMPANY));
    this.roleCompanies = Math.max(1, Math.floor(this.companies / ROLE_COMPANY_SHARE));
    this.instanceOrder = INSTANCES.map((_, i) => i).sort((a, b) => rank(a) - rank(b));
    function rank(i: number) {
      return INSTANCES[i]!.sourceType === 'Salesforce' ? 0 : 1;
    }
  }

  get done(): boolean {
    return this.planned >= this.n;
  }

  private int(k: number): number {
    return Math.floor(this.rand() * k);
  }

  private dates(): { createdDate: string; lastUpdatedDate: string } {
    const updated = Math.floor(this.rand() * (TO - FROM));
    const created = updated - Math.floor(this.rand() * (updated + CREATED_BEFORE));
    return { createdDate: isoInstant(created), lastUpdatedDate: isoInstant(updated) };
  }

  private personId(inst: number, type: 'Lead' | 'Contact'): string {
    const { sourceType } = INSTANCES[inst]!;
    const k = this.counters[inst]!++;
    if (sourceType === 'Salesforce') return salesforceId(type === 'Lead' ? '00Q' : '003', 40_000 + k);
    if (sourceType === 'Marketo') return String(1_000_001 + k * 3 + inst); // lead ids: integers, sparse
    return guid(0x5eed0000 + inst, k);
  }

  private accountOf(inst: number, company: number, salesforceAccount: SourceRef | null): SourceRef {
    const { sourceType, sourceInstanceID } = INSTANCES[inst]!;
    if (sourceType === 'Salesforce') return ref(sourceType, sourceInstanceID, salesforceId('001', 10_000 + company));
    // A Marketo lead synced with the CRM refers to the CRM account (connectors/sources/marketo/mapping.ts).
    if (sourceType === 'Marketo') return salesforceAccount ?? ref(sourceType, sourceInstanceID, `${100_000 + company}.mkto_org`);
    return ref(sourceType, sourceInstanceID, guid(0xacc00000 + inst, company));
  }

  /** The records of the next human (at least one, at most what is left of n). */
  nextHuman(): PlannedPerson[] {
    const h = this.humans++;
    const left = this.n - this.planned;
    const out = this.rand() < ROLE_HUMAN ? [this.roleMailbox(h)] : this.person(h, left);
    this.planned += out.length;
    return out;
  }

  /** A role mailbox (info@company…) record: a human of its own, sharing the mailbox with others. */
  private roleMailbox(h: number): PlannedPerson {
    const inst = this.int(INSTANCES.length);
    const company = this.int(this.roleCompanies);
    const role = this.int(ROLES.length);
    const { sourceType, sourceInstanceID } = INSTANCES[inst]!;
    const personType = sourceType === 'Marketo' || this.rand() < 0.5 ? 'Lead' : 'Contact';
    return {
      human: h,
      personKey: ref(sourceType, sourceInstanceID, this.personId(inst, personType)),
      accountKey: this.accountOf(inst, company, null),
      externalKey: null,
      personType,
      workEmail: `${ROLES[role]}@${companyDomain(company)}`,
      personalEmail: null,
      mobilePhone: null,
      firstName: null,
      lastName: `${ROLE_NAMES[role]} Team`,
      jobTitle: null,
      companyName: sourceType === 'Marketo' ? companyName(company) : null,
      personScore: sourceType === 'Marketo' ? this.int(30) : null,
      ...this.dates(),
    };
  }

  private person(h: number, left: number): PlannedPerson[] {
    let size = 1;
    if (this.rand() < MULTI_INSTANCE) {
      const u = this.rand();
      size = u < TWO_INSTANCES ? 2 : u < TWO_INSTANCES + THREE_INSTANCES ? 3 : 4;
    }
    // A uniform choice of `size` instances (partial Fisher–Yates), then Salesforce first.
    const pick = INSTANCES.map((_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + this.int(pick.length - i);
      [pick[i], pick[j]] = [pick[j]!, pick[i]!];
    }
    const chosen = new Set(pick.slice(0, Math.min(size, left)));
    const instances = this.instanceOrder.filter((i) => chosen.has(i));

    const company = this.int(this.companies);
    const firstName = FIRST[this.int(FIRST.length)]!;
    const lastName = LAST[this.int(LAST.length)]!;
    const local = `${firstName}.${lastName.replace(/[^A-Za-z-]/g, '')}${h}`.toLowerCase();
    const workEmail = `${local}@${companyDomain(company)}`;
    const mobilePhone = this.rand() < MOBILE_PHONE ? mobileNumber(h) : null;
    const personalEmail = this.rand() < PERSONAL_EMAIL ? `${local}@gmail.com` : null;
    const crmType: 'Lead' | 'Contact' = this.rand() < 0.6 ? 'Contact' : 'Lead';
    const jobTitle = this.rand() < 0.6 ? TITLES[this.int(TITLES.length)]! : null;

    const records: PlannedPerson[] = [];
    let salesforce: PlannedPerson | null = null;
    for (const inst of instances) {
      const { sourceType, sourceInstanceID } = INSTANCES[inst]!;
      const synced = sourceType === 'Marketo' && salesforce !== null;
      const personType: 'Lead' | 'Contact' =
        sourceType === 'Salesforce' || synced ? crmType : sourceType === 'Marketo' ? 'Lead' : this.rand() < 0.7 ? 'Contact' : 'Lead';
      const record: PlannedPerson = {
        human: h,
        personKey: ref(sourceType, sourceInstanceID, this.personId(inst, personType)),
        accountKey: this.accountOf(inst, company, salesforce?.accountKey ?? null),
        externalKey: synced ? salesforce!.personKey : null,
        personType,
        workEmail: this.rand() < NO_WORK_EMAIL ? null : workEmail,
        personalEmail,
        mobilePhone,
        firstName,
        lastName,
        jobTitle,
        companyName: sourceType === 'Marketo' ? companyName(company) : null,
        personScore: sourceType === 'Marketo' ? this.int(101) : null,
        ...this.dates(),
      };
      if (sourceType === 'Salesforce') salesforce = record;
      records.push(record);
    }
    // The human must stay one connected cluster: undo the email omissions otherwise.
    if (!linked(records)) for (const r of records) r.workEmail = workEmail;
    return records;
  }
}

/** Whether a human's records are connected through work email, phone, personal email or external key. */
function linked(records: PlannedPerson[]): boolean {
  if (records.length < 2 || records[0]!.mobilePhone || records[0]!.personalEmail) return true;
  const parent = records.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const union = (a: number, b: number) => {
    parent[find(a)] = find(b);
  };
  let withEmail = -1;
  records.forEach((r, i) => {
    if (r.workEmail) {
      if (withEmail >= 0) union(i, withEmail);
      withEmail = i;
    }
    if (r.externalKey) {
      const target = records.findIndex((o) => o.personKey.sourceKey === r.externalKey!.sourceKey);
      if (target >= 0) union(i, target);
    }
  });
  return records.every((_, i) => find(i) === find(0));
}

/* ----------------------------------------------------------------------------------------- */
/* Records as stored                                                                           */
/* ----------------------------------------------------------------------------------------- */

const refJson = (r: SourceRef) =>
  `{"sourceType":"${r.sourceType}","sourceInstanceID":"${r.sourceInstanceID}","sourceID":"${r.sourceID}","sourceKey":"${r.sourceKey}"}`;

/**
 * The normalised XDM person record as JSON text (what the registry's person schema outputs for
 * it). Built by hand for speed: every value is plain ASCII without quotes or backslashes, so no
 * escaping is needed.
 */
function personJson(p: PlannedPerson): string {
  let b2b = `"personKey":${refJson(p.personKey)},"accountKey":${refJson(p.accountKey)},"accountID":"${p.accountKey.sourceID}","personType":"${p.personType}"`;
  if (p.personScore !== null) b2b += `,"personScore":${p.personScore}`;
  if (p.companyName !== null) b2b += `,"companyName":"${p.companyName}"`;
  let audit = `"createdDate":"${p.createdDate}","lastUpdatedDate":"${p.lastUpdatedDate}"`;
  if (p.externalKey) audit += `,"externalKey":${refJson(p.externalKey)}`;
  let json = `{"b2b":{${b2b}},"extSourceSystemAudit":{${audit}},"isDeleted":false`;
  // As the connectors map them: Salesforce and Marketo mark the work email primary; Dynamics gives addresses only.
  const dynamics = p.personKey.sourceType === 'Dynamics';
  if (p.workEmail !== null) json += dynamics ? `,"workEmail":{"address":"${p.workEmail}"}` : `,"workEmail":{"address":"${p.workEmail}","primary":true,"type":"work"}`;
  if (p.personalEmail !== null) json += dynamics ? `,"personalEmail":{"address":"${p.personalEmail}"}` : `,"personalEmail":{"address":"${p.personalEmail}","type":"personal"}`;
  if (p.mobilePhone !== null) json += `,"mobilePhone":{"number":"${p.mobilePhone}"}`;
  const full = p.firstName ? `${p.firstName} ${p.lastName}` : p.lastName;
  json += `,"person":{"name":{${p.firstName ? `"firstName":"${p.firstName}",` : ''}"lastName":"${p.lastName}","fullName":"${full}"}}`;
  if (p.jobTitle !== null) json += `,"extendedWorkDetails":{"jobTitle":"${p.jobTitle}"}`;
  return `${json}}`;
}

const COPY_COLUMNS =
  'xdm_person (record_key, source_type, source_instance_id, source_id, external_key, is_deleted, source_updated_at, received_at, content_hash, batch_id, record, account_key, work_email, person_type, identities, identity_fields, identity_refused, identity_config)';

/** SHA-1 as hex: the one-shot crypto.hash where Node has it (20.12+), else a Hash object. */
const sha1Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha1', text, 'hex')
    : (text) => crypto.createHash('sha1').update(text).digest('hex');

/**
 * One xdm_person row in COPY text format; content_hash as validate-record.ts computes it (SHA-1 of
 * class, key and payload text). Every value is built from the fixed word lists, digits, '@', '.',
 * '-' and ' ', so none needs COPY escaping; nulls are written as \N.
 */
function copyLine(p: PlannedPerson, receivedAt: string, batchId: string, identities: IdentityExtraction): string {
  const key = p.personKey.sourceKey;
  const prefix = `person\n${key}\n`;
  const hashed = prefix + personJson(p);
  const hash = sha1Hex(hashed);
  // Hashing flattened `hashed`: its tail is the JSON as one flat string (10% faster than the JSON's own rope).
  const json = hashed.slice(prefix.length);
  // The identities ingest extracts and stores with the row (the JSON parsed back: the load is not what is timed).
  const cells = identityCells({ key: { ...p.personKey, key }, record: JSON.parse(json) as Record<string, unknown> }, identities);
  return (
    `${key}\t${p.personKey.sourceType}\t${p.personKey.sourceInstanceID}\t${p.personKey.sourceID}\t` +
    `${copyValue(p.externalKey?.sourceKey)}\tf\t${p.lastUpdatedDate}\t${receivedAt}\t\\\\x${hash}\t${batchId}\t${json}\t` +
    `${p.accountKey.sourceKey}\t${copyValue(p.workEmail)}\t${p.personType}${cells}\n`
  );
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/* ----------------------------------------------------------------------------------------- */
/* API                                                                                         */
/* ----------------------------------------------------------------------------------------- */

export interface PeopleOptions {
  /** Same seed, same records (default 1). */
  seed?: number;
}

/**
 * Writes n synthetic synced person records into xdm_person with COPY, ~50k rows per transaction
 * (each with its ingest_batch row); the next chunk is built while the previous ones are being
 * written. Into an empty table, the indexes are dropped for the load and rebuilt after it, as
 * pg_restore does (random inserts into four text indexes cost more than the COPY itself, and the
 * WAL they write forces checkpoints); the table is then ANALYZEd. The records' keys are the same
 * for every seed: load one seed per table. Returns the time taken (ms, all of it) and the number
 * of distinct humans, which is the cluster count a correct resolution (role mailboxes refused)
 * must find.
 */
export async function loadPeople(db: Knex, n: number, opts: PeopleOptions = {}): Promise<{ ms: number; humans: number }> {
  const started = performance.now();
  const humans = await withIndexesDeferred(db, () => copyPeople(db, n, opts.seed ?? 1));
  await db.raw('ANALYZE xdm_person');
  return { ms: performance.now() - started, humans };
}

/**
 * Runs `load` with xdm_person's indexes dropped, when the table is empty and no foreign key
 * refers to it, and rebuilds them afterwards from their own definitions, whatever happens (all
 * at once; the primary key as its unique index, then attached with ADD CONSTRAINT … USING INDEX,
 * which leaves the same constraint and index as the migration made).
 */
async function withIndexesDeferred<T>(db: Knex, load: () => Promise<T>): Promise<T> {
  const { rows: state } = await db.raw(
    `SELECT EXISTS (SELECT 1 FROM xdm_person) AS has_rows,
            EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = 'xdm_person'::regclass) AS referenced`,
  );
  const { has_rows, referenced } = (state as Array<{ has_rows: boolean; referenced: boolean }>)[0]!;
  if (has_rows || referenced) return load();
  const { rows } = await db.raw(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, k.conname AS constraint_name, k.contype AS constraint_type
     FROM pg_index i
     JOIN pg_class c ON c.oid = i.indexrelid
     LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
     WHERE i.indrelid = 'xdm_person'::regclass
     ORDER BY c.relname`,
  );
  const indexes = rows as Array<{ name: string; def: string; constraint_name: string | null; constraint_type: string | null }>;
  // Only plain indexes and the primary key are handled; anything else stays as it is.
  const deferred = indexes.filter((ix) => ix.constraint_name === null || ix.constraint_type === 'p');
  const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
  for (const ix of deferred) {
    await db.raw(ix.constraint_name ? `ALTER TABLE xdm_person DROP CONSTRAINT ${ident(ix.constraint_name)}` : `DROP INDEX ${ident(ix.name)}`);
  }
  try {
    return await load();
  } finally {
    await Promise.all(
      deferred.map((ix) =>
        db.transaction(async (trx) => {
          await trx.raw(`SET LOCAL maintenance_work_mem = '256MB'`);
          await trx.raw(ix.def);
        }),
      ),
    );
    for (const ix of deferred) {
      if (ix.constraint_name) {
        await db.raw(`ALTER TABLE xdm_person ADD CONSTRAINT ${ident(ix.constraint_name)} PRIMARY KEY USING INDEX ${ident(ix.name)}`);
      }
    }
  }
}

/** COPYs the n records; returns the number of humans. */
async function copyPeople(db: Knex, n: number, seed: number): Promise<number> {
  const planner = new PeoplePlanner(n, seed);
  const identities = (await identityExtractions(db))(XDM_CLASSES.person)!;
  const writing: Array<Promise<void>> = [];
  for (let chunk = 0; !planner.done; chunk++) {
    const receivedAt = new Date(RECEIVED + chunk * 1000).toISOString();
    const batchId = crypto.randomUUID(); // a new batch per load, as a sync run would make
    // Lines go straight into one buffer (all ASCII): 50k short-lived strings instead of 50k that
    // outlive several collections and then a join, which cost more in GC than building them.
    let buf = Buffer.allocUnsafe(CHUNK_ROWS * 1_200);
    let used = 0;
    let rows = 0;
    while (rows < CHUNK_ROWS && !planner.done) {
      for (const p of planner.nextHuman()) {
        const line = copyLine(p, receivedAt, batchId, identities);
        if (used + line.length > buf.length) buf = Buffer.concat([buf.subarray(0, used)], buf.length * 2);
        used += buf.write(line, used, 'latin1');
        rows++;
        // Let the socket drain the chunks being written while this one is built.
        if ((rows & 2047) === 0) await yieldToIo();
      }
    }
    if (writing.length >= WRITERS) await writing.shift();
    const write = writeChunk(db, buf.toString('latin1', 0, used), rows, batchId, receivedAt);
    write.catch(() => undefined); // awaited later; no unhandled rejection meanwhile
    writing.push(write);
  }
  const failed = (await Promise.allSettled(writing)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return planner.humans;
}

async function writeChunk(db: Knex, lines: string, rows: number, batchId: string, receivedAt: string): Promise<void> {
  await inPgTransaction(db, async (conn) => {
    await conn.query('SET LOCAL synchronous_commit = off');
    await conn.query(
      `INSERT INTO ingest_batch (id, channel, xdm_class, file_ingestion_id, received_at, record_count, accepted_count, quarantined_count)
       VALUES ($1, 'sync', 'person', NULL, $2, $3, $3, 0)`,
      [batchId, receivedAt, rows],
    );
    await copyRows(conn, COPY_COLUMNS, lines);
  });
}

/** record_key → human id of the records `loadPeople(db, n, opts)` writes, computed without a database. */
export function groundTruth(n: number, opts: PeopleOptions = {}): Map<string, number> {
  const planner = new PeoplePlanner(n, opts.seed ?? 1);
  const out = new Map<string, number>();
  while (!planner.done) for (const p of planner.nextHuman()) out.set(p.personKey.sourceKey, p.human);
  return out;
}

/**
 * Connected components as a warehouse team computes them, on the same xdm_person rows: an edge
 * table of (record_key, identity) pairs — work and personal email (trimmed, lowercased, role
 * mailboxes and blanks left out), mobile phone, and the cross-system key (a record's external_key
 * and the key of the record it points at) — without identities only one record has; then min-label
 * propagation (every record starts labelled with its own key; each round, every record takes the
 * smallest label among the records it shares an identity with) until a round changes no row.
 * Plain SQL on one connection, in unlogged scratch tables with indexes and statistics; dropped at
 * the end. `ms` covers everything from the first CREATE to the final count; `rounds` counts the
 * UPDATEs, the last one changing nothing.
 */
export async function labelPropagationBaseline(db: Knex): Promise<{ ms: number; clusters: number; rounds: number }> {
  const conn = (await db.client.acquireConnection()) as PgConn;
  const suffix = crypto.randomBytes(4).toString('hex');
  const edges = `lp_edges_${suffix}`;
  const labels = `lp_labels_${suffix}`;
  try {
    const started = performance.now();
    await conn.query(`SET work_mem = '256MB'`);
    await conn.query(`
      CREATE UNLOGGED TABLE ${edges} AS
      WITH pairs AS (
        SELECT DISTINCT p.record_key, i.identity
        FROM xdm_person p
        CROSS JOIN LATERAL (VALUES
          ('email', lower(btrim(p.work_email))),
          ('email', lower(btrim(p.record->'personalEmail'->>'address'))),
          ('phone', btrim(p.record->'mobilePhone'->>'number')),
          ('key',   btrim(p.external_key)),
          ('key',   p.record_key)
        ) AS v(namespace, value)
        CROSS JOIN LATERAL (SELECT v.namespace || ':' || v.value AS identity) AS i
        WHERE NOT p.is_deleted
          AND v.value IS NOT NULL AND v.value <> ''
          AND NOT (v.namespace = 'email' AND split_part(v.value, '@', 1) IN ('info', 'sales', 'marketing', 'contact', 'support'))
      )
      SELECT record_key, identity
      FROM (SELECT record_key, identity, count(*) OVER (PARTITION BY identity) AS holders FROM pairs) AS d
      WHERE holders > 1`);
    await conn.query(`CREATE INDEX ON ${edges} (identity, record_key)`);
    await conn.query(`CREATE INDEX ON ${edges} (record_key, identity)`);
    await conn.query(`ANALYZE ${edges}`);

    await conn.query(`CREATE UNLOGGED TABLE ${labels} AS SELECT record_key, record_key AS label FROM xdm_person WHERE NOT is_deleted`);
    await conn.query(`ALTER TABLE ${labels} ADD PRIMARY KEY (record_key)`);
    await conn.query(`ANALYZE ${labels}`);

    let rounds = 0;
    for (;;) {
      rounds++;
      const { rowCount } = await conn.query(`
        UPDATE ${labels} AS l SET label = r.label
        FROM (
          SELECT e.record_key, min(m.label) AS label
          FROM ${edges} e
          JOIN (SELECT e2.identity, min(l2.label) AS label
                FROM ${edges} e2 JOIN ${labels} l2 ON l2.record_key = e2.record_key
                GROUP BY e2.identity) AS m ON m.identity = e.identity
          GROUP BY e.record_key
        ) AS r
        WHERE l.record_key = r.record_key AND r.label < l.label`);
      if (!rowCount) break;
    }
    const { rows } = await conn.query(`SELECT count(DISTINCT label)::bigint AS clusters FROM ${labels}`);
    const ms = performance.now() - started;
    return { ms, clusters: Number((rows[0] as { clusters: string }).clusters), rounds };
  } finally {
    await conn.query(`DROP TABLE IF EXISTS ${edges}, ${labels}`).catch(() => undefined);
    await conn.query('RESET work_mem').catch(() => undefined);
    await db.client.releaseConnection(conn);
  }
}
