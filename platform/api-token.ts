/**
 * API token format: `tsr_<id>_<secret>` — id 16 hex characters (the row to look up), secret 256
 * random bits in base64url. Only SHA-256 of the secret is stored: with that much entropy a slow
 * hash adds nothing, and verification stays cheap on every request. Comparison is constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface NewToken {
  id: string;
  token: string;
  secretHash: Buffer;
}

const TOKEN = /^tsr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function generateToken(): NewToken {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `tsr_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** The id and secret of a presented token, or null when it is not one (checked before any lookup; bounded length). */
export function parseToken(presented: string): { id: string; secret: string } | null {
  if (presented.length > 100) return null;
  const m = TOKEN.exec(presented);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export function secretMatches(secret: string, storedHash: Buffer): boolean {
  const h = hashSecret(secret);
  return h.length === storedHash.length && timingSafeEqual(h, storedHash);
}
