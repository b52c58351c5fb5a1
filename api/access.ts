/**
 * Every route's roles, in one table (`METHOD /path` as Fastify registers it). buildApp refuses to
 * start when a route has no entry, and test/api-access.test.ts calls every route without a token,
 * with a role not listed and with one listed. `admin` may call every route that is not public.
 */
import { ROLES, type Role } from '../domain/access/roles';

export type Access = 'public' | readonly Role[];

const EVERYONE = ROLES;
/** Operational state without personal data. */
const OBSERVE: readonly Role[] = ['admin', 'operator', 'auditor'];
/** Unified profiles and accounts: personal data, read. */
const PROFILES: readonly Role[] = ['admin', 'operator', 'marketer'];
/** Running Tessera: syncs, files, quarantine, resolvers, identity changes; raw records. */
const OPERATE: readonly Role[] = ['admin', 'operator'];
const ADMIN: readonly Role[] = ['admin'];

export const ROUTE_ACCESS: Record<string, Access> = {
  'GET /health': 'public',
  'GET /metrics': OBSERVE,
  'GET /v1/classes': EVERYONE,

  'POST /v1/ingest/:xdmClass': ['admin', 'operator', 'ingest'],
  'POST /v1/file-ingestions': OPERATE,
  'POST /v1/file-ingestions/upload': OPERATE,
  'GET /v1/file-ingestions': OBSERVE,
  'GET /v1/file-ingestions/:id': OBSERVE,
  'GET /v1/records/:xdmClass/:recordKey': OPERATE,

  'GET /v1/quarantine': OPERATE,
  'GET /v1/quarantine/:id': OPERATE,
  'POST /v1/quarantine/replay': OPERATE,
  'POST /v1/quarantine/:id/replay': OPERATE,
  'POST /v1/quarantine/discard': OPERATE,

  'POST /v1/sources': ADMIN,
  'GET /v1/sources': OBSERVE,
  'GET /v1/sources/:sourceType/:instanceId': OBSERVE,
  'DELETE /v1/sources/:sourceType/:instanceId': ADMIN,
  'POST /v1/sources/:sourceType/:instanceId/pause': OPERATE,
  'POST /v1/sources/:sourceType/:instanceId/resume': OPERATE,
  'POST /v1/sources/:sourceType/:instanceId/sync': OPERATE,
  'POST /v1/sources/:sourceType/:instanceId/streams/:stream/reset': OPERATE,
  'POST /v1/sources/:sourceType/:instanceId/backfills': OPERATE,
  'POST /v1/sources/:sourceType/:instanceId/reconcile': OPERATE,
  'GET /v1/backfills/:backfillId': OBSERVE,

  'GET /v1/profiles/:entity/by-identity': PROFILES,
  'GET /v1/profiles/:entity/:profileId': PROFILES,
  'GET /v1/profiles/:entity/:profileId/history': PROFILES,
  'GET /v1/profiles/account/:profileId/opportunities': PROFILES,
  'GET /v1/profiles/account/:profileId/people': PROFILES,
  'GET /v1/identity/explain': PROFILES,
  'GET /v1/accounts/hierarchy-cycles': PROFILES,
  'POST /v1/identity/do-not-link': OPERATE,
  'POST /v1/identity/unlink': OPERATE,
  'POST /v1/identity/allow-link': OPERATE,
  'GET /v1/identity/changes/:changeId': OPERATE,
  'POST /v1/identity/rebuild': OPERATE,
  'GET /v1/identity/config': ['admin', 'operator', 'auditor', 'marketer'],
  'PUT /v1/identity/namespaces/:name': ADMIN,
  'POST /v1/identity/blocked-values': ADMIN,
  'DELETE /v1/identity/blocked-values': ADMIN,
  'PUT /v1/identity/settings': ADMIN,
  'GET /v1/identity/resolvers': OBSERVE,
  'POST /v1/identity/resolvers/:entity/requeue': OPERATE,
  'POST /v1/identity/resolvers/:entity/pause': OPERATE,
  'POST /v1/identity/resolvers/:entity/resume': OPERATE,

  'POST /v1/temporal-codec/encode': OPERATE,
  'POST /v1/temporal-codec/decode': OPERATE,
  'POST /v1/temporal-codec/session': OPERATE,
  'DELETE /v1/temporal-codec/session': OPERATE,
  // The browser's CORS preflight carries no credentials; it answers headers only.
  'OPTIONS /v1/temporal-codec/:op': 'public',

  'POST /v1/tokens': ADMIN,
  'GET /v1/tokens': ADMIN,
  'DELETE /v1/tokens/:tokenId': ADMIN,
  'GET /v1/audit': ['admin', 'auditor'],
};

/** The OpenAPI description and its UI (no data) are public. */
const PUBLIC_PREFIXES = ['/docs'];

/** The access of a route (HEAD as its GET); undefined when the table has no entry. */
export function accessOf(method: string, url: string): Access | undefined {
  if (PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'public';
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

export function mayCall(role: Role, access: Access): boolean {
  return access === 'public' || access.includes(role);
}
