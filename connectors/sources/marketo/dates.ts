/** Date handling for Marketo's formats: REST `2024-05-01T12:00:00Z`, asset API `2017-07-27T01:38:33Z+0000`, `+0000` offsets. */

const ISO_OK = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const COMPACT_OFFSET = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z)?(?:([+-]\d{2}):?(\d{2}))?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A Marketo date-time as an XDM instant (ISO 8601 with `Z` or `±hh:mm`, years 1–9999), or null
 * when it is not one (the caller reports the row). Asset API dates end in `Z+0000`.
 */
const FAST = /^\d{4}-(?:0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$/;

export function toXdmInstant(value: string): string | null {
  // Fast path (most rows): a plain valid date-time whose day exists in every month.
  if (FAST.test(value) && value.charCodeAt(0) !== 48 && !value.startsWith('0000') && !value.startsWith('9999-12-31')) return value;
  let out: string | null = null;
  const m = ISO_OK.exec(value);
  if (m) out = value;
  else {
    const c = COMPACT_OFFSET.exec(value.trim());
    if (!c) return null;
    if (c[2] === 'Z' || c[3] === undefined) out = `${c[1]}Z`;
    else out = `${c[1]}${c[3]}:${c[4]}`;
  }
  const ms = Date.parse(out);
  if (!Number.isFinite(ms)) return null;
  const year = new Date(ms).getUTCFullYear();
  if (year < 1 || year > 9999 || out.startsWith('0000')) return null;
  return out;
}

/** A business date (`YYYY-MM-DD`) or an instant; null when neither. */
export function toXdmDate(value: string): string | null {
  if (DATE_ONLY.test(value)) return Number.isFinite(Date.parse(value)) ? value : null;
  return toXdmInstant(value);
}

/** Marketo filter dates: ISO 8601 without milliseconds. */
export function toMarketoFilterDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const CENTRAL = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Chicago', hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Milliseconds from `now` until the next midnight US Central (when Marketo's daily quotas reset). */
export function msUntilCentralMidnight(now: number): number {
  const parts = Object.fromEntries(CENTRAL.formatToParts(new Date(now)).map((p) => [p.type, p.value]));
  const h = Number(parts.hour) % 24;
  const elapsed = ((h * 60 + Number(parts.minute)) * 60 + Number(parts.second)) * 1000 + (now % 1000);
  return Math.max(1000, 86_400_000 - elapsed);
}

/** The US Central calendar day of `now` (`YYYY-MM-DD`): the key of Marketo's daily meters. */
export function centralDay(now: number): string {
  const parts = Object.fromEntries(CENTRAL.formatToParts(new Date(now)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
