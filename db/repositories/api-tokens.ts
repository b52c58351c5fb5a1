/** API tokens and the audit log (migration 20261207180000). */
import type { Knex } from 'knex';
import type { Role } from '../../domain/access/roles';

export interface TokenRow {
  id: string;
  principal: string;
  role: Role;
  instances: string[] | null;
  description: string;
  created_at: Date;
  created_by: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

const PUBLIC_COLUMNS = ['id', 'principal', 'role', 'instances', 'description', 'created_at', 'created_by', 'expires_at', 'revoked_at', 'revoked_by', 'last_used_at'];

export async function insertToken(
  db: Knex,
  t: { id: string; principal: string; role: Role; instances: string[] | null; secretHash: Buffer; description: string; createdBy: string; expiresAt: Date | null },
): Promise<TokenRow> {
  const [row] = await db('api_token')
    .insert({ id: t.id, principal: t.principal, role: t.role, instances: t.instances, secret_hash: t.secretHash, description: t.description, created_by: t.createdBy, expires_at: t.expiresAt })
    .returning(PUBLIC_COLUMNS);
  return row as TokenRow;
}

/** A token that may be used now (not revoked, not expired), with its secret's hash. */
export async function activeToken(db: Knex, id: string): Promise<(TokenRow & { secret_hash: Buffer }) | undefined> {
  return db('api_token')
    .where({ id })
    .whereNull('revoked_at')
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()))
    .first([...PUBLIC_COLUMNS, 'secret_hash']);
}

export async function touchToken(db: Knex, id: string): Promise<void> {
  await db('api_token').where({ id }).update({ last_used_at: db.fn.now() });
}

export async function listTokens(db: Knex, opts: { includeRevoked: boolean }): Promise<TokenRow[]> {
  const q = db('api_token').select(PUBLIC_COLUMNS).orderBy('created_at').orderBy('id');
  if (!opts.includeRevoked) q.whereNull('revoked_at');
  return q;
}

/** Revokes a token; false when there is no such active token. */
export async function revokeToken(db: Knex, id: string, by: string): Promise<boolean> {
  const n = await db('api_token').where({ id }).whereNull('revoked_at').update({ revoked_at: db.fn.now(), revoked_by: by });
  return n > 0;
}

export interface AuditEntry {
  principal: string | null;
  tokenId: string | null;
  role: string | null;
  method: string;
  route: string;
  params: Record<string, unknown>;
  status: number;
  outcome: 'ok' | 'refused' | 'failed';
  ip: string | null;
  requestId: string | null;
}

export async function appendAudit(db: Knex, e: AuditEntry): Promise<void> {
  await db('audit_log').insert({
    principal: e.principal,
    token_id: e.tokenId,
    role: e.role,
    method: e.method,
    route: e.route,
    params: JSON.stringify(e.params),
    status: e.status,
    outcome: e.outcome,
    ip: e.ip,
    request_id: e.requestId,
  });
}

/** The audit log, newest first, a page at a time (`before`: the last id of the previous page). */
export async function auditPage(db: Knex, opts: { before?: number; limit: number; principal?: string; since?: Date }): Promise<Array<Record<string, unknown>>> {
  const q = db('audit_log').select(db.raw('id::float8 AS id'), 'at', 'principal', 'token_id', 'role', 'method', 'route', 'params', 'status', 'outcome', 'ip', 'request_id').orderBy('id', 'desc').limit(opts.limit);
  if (opts.before !== undefined) q.where('id', '<', opts.before);
  if (opts.principal) q.where({ principal: opts.principal });
  if (opts.since) q.where('at', '>=', opts.since);
  return q;
}
