import type { Knex } from 'knex';

/**
 * Request budgets: one per external instance (a Marketo instance, a Salesforce org, a destination
 * account), shared by every workflow and worker that calls it. Rolling-window call limits and an
 * in-flight cap, enforced with Postgres' clock and row locks rather than process memory.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE request_budget (
      budget_key    text PRIMARY KEY,
      max_calls     integer NOT NULL CONSTRAINT request_budget_max_calls_ck CHECK (max_calls > 0),
      window_ms     integer NOT NULL CONSTRAINT request_budget_window_ck CHECK (window_ms > 0),
      max_in_flight integer NOT NULL CONSTRAINT request_budget_in_flight_ck CHECK (max_in_flight > 0),
      lease_ttl_ms  integer NOT NULL CONSTRAINT request_budget_lease_ttl_ck CHECK (lease_ttl_ms > 0),
      updated_at    timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE request_budget IS 'Per external instance: at most max_calls calls in any rolling window_ms, at most max_in_flight at once';
    COMMENT ON COLUMN request_budget.budget_key IS 'e.g. marketo:123-ABC-456, salesforce:00D5e0000001';
    COMMENT ON COLUMN request_budget.lease_ttl_ms IS 'A lease not released by then (crashed worker) frees its in-flight slot';

    CREATE TABLE request_budget_call (
      budget_key text NOT NULL CONSTRAINT request_budget_call_budget_fk REFERENCES request_budget (budget_key) ON DELETE CASCADE,
      called_at  timestamptz NOT NULL
    );
    COMMENT ON TABLE request_budget_call IS 'When each granted call started (rolling-window log; rows older than the window are pruned)';
    CREATE INDEX request_budget_call_key_at_ix ON request_budget_call (budget_key, called_at);

    CREATE TABLE request_budget_lease (
      lease_id   uuid PRIMARY KEY,
      budget_key text NOT NULL CONSTRAINT request_budget_lease_budget_fk REFERENCES request_budget (budget_key) ON DELETE CASCADE,
      granted_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    );
    COMMENT ON TABLE request_budget_lease IS 'Calls in flight; deleted on release, ignored after expires_at';
    CREATE INDEX request_budget_lease_key_ix ON request_budget_lease (budget_key, expires_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE request_budget_lease; DROP TABLE request_budget_call; DROP TABLE request_budget;');
}
