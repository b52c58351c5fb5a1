/**
 * Identity values in one canonical form per namespace, so that two systems' spellings of the
 * same email, phone, domain or DUNS number meet in the graph, and values that identify nobody
 * (placeholders, role mailboxes, free-mail domains for companies) never link anything.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';

/** Placeholders that sources put where they have no value (Adobe's list plus common ones). */
export const PLACEHOLDER_VALUES: readonly string[] = ['', 'null', 'nil', 'none', 'n/a', 'na', 'unknown', 'anonymous', 'invalid', 'undefined', 'test', '-', '0'];
const PLACEHOLDERS = new Set(PLACEHOLDER_VALUES);

export function isPlaceholder(value: string): boolean {
  return PLACEHOLDERS.has(value.trim().toLowerCase());
}

/** Shared mailboxes: many people read them, so they never identify one person. */
export const ROLE_MAILBOX_NAMES: readonly string[] = [
  'info', 'sales', 'admin', 'administrator', 'support', 'help', 'contact', 'hello', 'marketing', 'noreply', 'no-reply',
  'donotreply', 'office', 'billing', 'accounts', 'accounting', 'finance', 'hr', 'jobs', 'careers', 'team', 'webmaster',
  'postmaster', 'hostmaster', 'abuse', 'security', 'privacy', 'legal', 'press', 'media', 'enquiries', 'inquiries', 'service',
  'customerservice', 'orders', 'purchasing', 'procurement', 'it', 'all', 'everyone', 'staff',
];
const ROLE_MAILBOXES = new Set(ROLE_MAILBOX_NAMES);

/** Consumer mail providers: a domain here says nothing about a person's company. */
export const FREE_MAIL_DOMAIN_NAMES: readonly string[] = [
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'yahoo.de', 'ymail.com', 'hotmail.com', 'hotmail.co.uk',
  'hotmail.fr', 'outlook.com', 'live.com', 'msn.com', 'aol.com', 'icloud.com', 'me.com', 'mac.com', 'gmx.com', 'gmx.de', 'gmx.net',
  'web.de', 't-online.de', 'yandex.com', 'yandex.ru', 'mail.ru', 'protonmail.com', 'proton.me', 'pm.me', 'zoho.com', 'qq.com',
  '163.com', '126.com', 'sina.com', 'naver.com', 'hanmail.net', 'rediffmail.com', 'libero.it', 'orange.fr', 'free.fr',
  'laposte.net', 'btinternet.com', 'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net', 'fastmail.com', 'tutanota.com',
];
const FREE_MAIL_DOMAINS = new Set(FREE_MAIL_DOMAIN_NAMES);

export function isFreeMailDomain(domain: string): boolean {
  return FREE_MAIL_DOMAINS.has(domain.toLowerCase());
}

export type Normalised = { ok: true; value: string } | { ok: false; reason: string };

/**
 * Length caps, applied before any pattern (every check below is linear besides): RFC 5321 limits
 * an address to 254 characters and a domain to 253; source keys are at most 255.
 */
export const MAX_EMAIL = 254;
export const MAX_DOMAIN = 253;
export const MAX_KEY = 255;
/** Longer input is not a URL, phone or D-U-N-S number worth parsing. */
const MAX_URL = 2048;
const MAX_PHONE = 64;
const MAX_DUNS = 32;

/**
 * local@domain with one '@', no white space, and a dot inside the domain (not its first or last
 * character): what /^[^\s@]+@[^\s@]+\.[^\s@]+$/ accepts, in one pass without backtracking.
 */
function looksLikeEmail(v: string): boolean {
  const at = v.indexOf('@');
  if (at <= 0 || at !== v.lastIndexOf('@') || /\s/.test(v)) return false;
  const domain = v.slice(at + 1);
  const dot = domain.indexOf('.', 1);
  return dot !== -1 && dot <= domain.length - 2;
}

/** The canonical form of an email (trimmed, lowercased); null for a placeholder, a non-email or one over 254 characters. */
export function canonicalEmail(raw: string): string | null {
  const value = raw.trim().toLowerCase();
  return value.length > MAX_EMAIL || isPlaceholder(value) || !looksLikeEmail(value) ? null : value;
}

/**
 * The canonical form of a company web domain, from a domain, a URL or an email address:
 * lowercased host without scheme, `www.`, port, path or trailing dot; null when there is none.
 */
export function canonicalWebDomain(raw: string): string | null {
  let v = raw.trim().toLowerCase();
  if (v.length > MAX_URL || isPlaceholder(v)) return null;
  v = v.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  v = v.replace(/[/?#].*$/, '').replace(/:\d+$/, '').replace(/\.$/, '').replace(/^www\d*\./, '');
  if (v.includes('@')) v = v.slice(v.lastIndexOf('@') + 1);
  return v.length <= MAX_DOMAIN && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(v) ? v : null;
}

/** Work or personal email as an identity: canonical, and never a shared role mailbox. */
export function normaliseEmail(raw: string): Normalised {
  const value = canonicalEmail(raw);
  if (value === null) return { ok: false, reason: isPlaceholder(raw) ? 'placeholder value' : raw.trim().length > MAX_EMAIL ? `an email address has at most ${MAX_EMAIL} characters` : 'not an email address' };
  const local = value.slice(0, value.lastIndexOf('@'));
  if (ROLE_MAILBOXES.has(local.split('+')[0]!)) return { ok: false, reason: `role mailbox '${local}@' is shared by many people` };
  return { ok: true, value };
}

/** The domain part of an email, if it names a company (not free mail). */
export function companyDomainOfEmail(email: string): Normalised {
  const at = email.lastIndexOf('@');
  if (at < 0) return { ok: false, reason: 'not an email address' };
  return normaliseWebDomain(email.slice(at + 1));
}

/** A company web domain as an identity: canonical, and never a free-mail domain. */
export function normaliseWebDomain(raw: string): Normalised {
  const v = canonicalWebDomain(raw);
  if (v === null) return { ok: false, reason: isPlaceholder(raw) ? 'placeholder value' : 'not a web domain' };
  if (isFreeMailDomain(v)) return { ok: false, reason: `'${v}' is a free-mail domain` };
  return { ok: true, value: v };
}

/** D-U-N-S: nine digits (dashes and spaces allowed in input); all-zero or repeated digits refused. */
export function normaliseDuns(raw: string): Normalised {
  if (raw.length > MAX_DUNS) return { ok: false, reason: 'a D-U-N-S number has 9 digits' };
  const digits = raw.replace(/[\s-]/g, '');
  if (!/^\d{9}$/.test(digits)) return { ok: false, reason: 'a D-U-N-S number has 9 digits' };
  if (/^(\d)\1{8}$/.test(digits)) return { ok: false, reason: 'placeholder D-U-N-S number' };
  return { ok: true, value: digits };
}

/** Phone in E.164 (`+14155550100`); numbers without a country code use `defaultCountry`. */
export function normalisePhone(raw: string, defaultCountry?: CountryCode): Normalised {
  if (isPlaceholder(raw)) return { ok: false, reason: 'placeholder value' };
  if (raw.length > MAX_PHONE) return { ok: false, reason: `a phone number has at most ${MAX_PHONE} characters` };
  const parsed = parsePhoneNumberFromString(raw, defaultCountry);
  if (!parsed || !parsed.isValid()) return { ok: false, reason: 'not a valid phone number' };
  return { ok: true, value: parsed.number };
}

/** Opaque ids (source keys, CRM ids, cookies, loyalty numbers): trimmed, case kept, placeholders refused; at most `max` characters. */
export function normaliseOpaqueId(raw: string, max = 1024): Normalised {
  const value = raw.trim();
  if (isPlaceholder(value)) return { ok: false, reason: 'placeholder value' };
  if (value.length > max) return { ok: false, reason: `identity values are at most ${max.toLocaleString('en-US')} characters` };
  return { ok: true, value };
}
