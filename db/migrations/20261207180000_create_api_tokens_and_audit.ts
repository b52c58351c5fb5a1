import type { Knex } from 'knex';

/**
 * API access: tokens (only a hash of each secret is stored) with one role each, and the audit log
 * of every state-changing call — who (the token's principal, never a field the caller sends),
 * what (method, route, its parameters), when, and the answer's status.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE api_token (
      id           text PRIMARY KEY CONSTRAINT api_token_id_ck CHECK (id ~ '^[0-9a-f]{16}$'),
      principal    text NOT NULL CONSTRAINT api_token_principal_ck CHECK (principal ~ '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$'),
      role         text NOT NULL CONSTRAINT api_token_role_ck CHECK (role IN ('admin', 'operator', 'marketer', 'auditor', 'ingest')),
      instances    text[],
      secret_hash  bytea NOT NULL,
      description  text NOT NULL DEFAULT '',
      created_at   timestamptz NOT NULL DEFAULT now(),
      created_by   text NOT NULL,
      expires_at   timestamptz,
      revoked_at   timestamptz,
      revoked_by   text,
      last_used_at timestamptz,
      CONSTRAINT api_token_instances_ck CHECK (instances IS NULL OR role = 'ingest')
    );
    COMMENT ON TABLE api_token IS 'API tokens: tsr_<id>_<secret>; only SHA-256 of the secret is kept (the secret is 256 random bits)';
    COMMENT ON COLUMN api_token.instances IS 'ingest tokens only: the source instances (sourceType/instanceId, as in records'' keys) whose records it may write; NULL = any';
    COMMENT ON COLUMN api_token.last_used_at IS 'Updated at most once a minute per token';

    CREATE TABLE audit_log (
      id         bigserial PRIMARY KEY,
      at         timestamptz NOT NULL DEFAULT now(),
      principal  text,
      token_id   text,
      role       text,
      method     text NOT NULL,
      route      text NOT NULL,
      params     jsonb NOT NULL DEFAULT '{}',
      status     integer NOT NULL,
      outcome    text NOT NULL CONSTRAINT audit_log_outcome_ck CHECK (outcome IN ('ok', 'refused', 'failed')),
      ip         text,
      request_id text
    );
    CREATE INDEX audit_log_at_ix ON audit_log (at);
    CREATE INDEX audit_log_principal_ix ON audit_log (principal, at);
    COMMENT ON TABLE audit_log IS 'Every state-changing API call (and every refused one): who, what, when, the answer. Bodies are not kept (personal data)';
    COMMENT ON COLUMN audit_log.outcome IS 'ok: 2xx/3xx; refused: 401/403/429 or a Host/Origin refusal; failed: any other 4xx/5xx';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE audit_log, api_token`);
}
