/**
 * Postgres text and jsonb cannot hold NUL characters or unpaired UTF-16 surrogates. Rejected
 * input is kept as evidence in quarantine, so it is made storable (NUL and broken surrogates
 * become U+FFFD) rather than allowed to fail the batch that carries it.
 */

// Node 20 has these (V8 11.3); TypeScript lists them only in the ES2024 lib, which also types APIs Node 20 lacks.
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

export function storableString(s: string): string {
  const wellFormed = s.isWellFormed() ? s : s.toWellFormed();
  return wellFormed.includes('\u0000') ? wellFormed.replace(/\u0000/g, '\uFFFD') : wellFormed;
}

export function storableJson(v: unknown): unknown {
  if (typeof v === 'string') return storableString(v);
  if (Array.isArray(v)) return v.map(storableJson);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[storableString(k)] = storableJson(val);
    return out;
  }
  return v;
}
