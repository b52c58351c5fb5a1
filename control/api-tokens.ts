/**
 * API tokens: created (the secret shown once, only its hash stored), verified on every request,
 * listed and revoked; and the first admin token, created at start-up into the secrets file when
 * Tessera has none (`npm start`, docker-compose).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Knex } from 'knex';
import { INSTANCE_PATTERN, PRINCIPAL_PATTERN, type Role } from '../domain/access/roles';
import { activeToken, insertToken, touchToken, type TokenRow } from '../db/repositories/api-tokens';
import { generateToken, parseToken, secretMatches } from '../platform/api-token';

export interface Principal {
  tokenId: string;
  principal: string;
  role: Role;
  /** ingest tokens: the source instances it may write (`sourceType/instanceId`, lowercased); null = any. */
  instances: string[] | null;
}

export interface TokenRequest {
  principal: string;
  role: Role;
  instances?: string[] | null;
  description?: string;
  expiresAt?: Date | null;
}

export async function createApiToken(db: Knex, req: TokenRequest, createdBy: string): Promise<{ token: string; row: TokenRow }> {
  if (!PRINCIPAL_PATTERN.test(req.principal)) throw new Error(`principal '${req.principal.slice(0, 40)}' must be 1–128 letters, digits or . _ @ + -`);
  const instances = req.instances?.length ? req.instances.map((i) => i.toLowerCase()) : null;
  if (instances && req.role !== 'ingest') throw new Error('only ingest tokens are limited to source instances');
  for (const i of instances ?? []) if (!INSTANCE_PATTERN.test(i)) throw new Error(`source instance '${i.slice(0, 60)}' must be sourceType/instanceId`);
  const t = generateToken();
  const row = await insertToken(db, {
    id: t.id,
    principal: req.principal,
    role: req.role,
    instances,
    secretHash: t.secretHash,
    description: req.description ?? '',
    createdBy,
    expiresAt: req.expiresAt ?? null,
  });
  return { token: t.token, row };
}

/**
 * Verifies tokens against Postgres. A verified token is remembered for `cacheMs` (so a revocation
 * takes effect within that time), and its last use is written at most once a minute.
 */
export class TokenVerifier {
  private readonly cache = new Map<string, { principal: Principal; secretHash: Buffer; until: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Knex,
    private readonly cacheMs = 5_000,
  ) {}

  async verify(presented: string): Promise<Principal | null> {
    const parsed = parseToken(presented);
    if (!parsed) return null;
    const now = Date.now();
    let hit = this.cache.get(parsed.id);
    if (!hit || hit.until < now) {
      const row = await activeToken(this.db, parsed.id);
      if (!row) {
        this.cache.delete(parsed.id);
        return null;
      }
      hit = { principal: { tokenId: row.id, principal: row.principal, role: row.role, instances: row.instances }, secretHash: row.secret_hash, until: now + this.cacheMs };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(parsed.id, hit);
    }
    if (!secretMatches(parsed.secret, hit.secretHash)) return null;
    if ((this.touched.get(parsed.id) ?? 0) < now - 60_000) {
      this.touched.set(parsed.id, now);
      void touchToken(this.db, parsed.id).catch(() => undefined);
    }
    return hit.principal;
  }

  /** Forgets a token at once (after a revocation through this process). */
  forget(id: string): void {
    this.cache.delete(id);
  }
}

/**
 * The start-up admin token in `file` (mode 600, its directory 700): left alone while the token it
 * holds works; otherwise (first start, or the token was revoked) a new admin token is created and
 * written there. Returns whether it created one.
 */
export async function ensureAdminToken(db: Knex, file: string): Promise<boolean> {
  if (existsSync(file)) {
    const held = readFileSync(file, 'utf8').trim();
    if (held && (await new TokenVerifier(db, 0).verify(held))?.role === 'admin') return false;
  }
  const { token } = await createApiToken(db, { principal: 'admin', role: 'admin', description: `first admin token, written to ${file}` }, 'tessera-start');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return true;
}
