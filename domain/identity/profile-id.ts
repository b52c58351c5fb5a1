/**
 * A profile's id is derived from its cluster's anchor (the earliest record), so it is stable
 * across recomputes and replays, kept by the older half of a split and the older side of a merge.
 */
import { createHash } from 'node:crypto';
import type { IdentityKey } from './resolve';

export function profileIdOf(anchor: IdentityKey): string {
  const h = createHash('sha256').update(`tessera-profile\u0000${anchor}`).digest('hex');
  // RFC 4122 layout, version 8 (custom), variant 10.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
