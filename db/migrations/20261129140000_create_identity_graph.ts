import type { Knex } from 'knex';

/**
 * Identity resolution and unified profiles: the configuration (namespaces, blocked values,
 * settings — seeded at first use from domain/identity/config.ts), the graph (record nodes and
 * their links, with the decision each link got), operators' do-not-link pairs, the append-only
 * decision log, and the materialised person and account profiles with their account links,
 * events (job changes) and the change outbox read by segments and destinations.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE identity_namespace (
      name        text PRIMARY KEY CONSTRAINT identity_namespace_name_ck CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
      entity      text NOT NULL CONSTRAINT identity_namespace_entity_ck CHECK (entity IN ('person', 'account')),
      label       text NOT NULL,
      kind        text NOT NULL CONSTRAINT identity_namespace_kind_ck CHECK (kind IN ('record-key', 'email', 'phone', 'web-domain', 'duns', 'opaque')),
      priority    integer NOT NULL,
      is_unique   boolean NOT NULL,
      links       boolean NOT NULL,
      fields      text[] NOT NULL,
      description text NOT NULL DEFAULT '',
      updated_at  timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE identity_namespace IS 'Identity namespaces: which record fields feed them, priority, uniqueness in a cluster';

    CREATE TABLE identity_blocked_value (
      namespace text NOT NULL DEFAULT '*',
      match     text NOT NULL CONSTRAINT identity_blocked_value_match_ck CHECK (match IN ('value', 'email-local-part', 'domain')),
      value     text NOT NULL,
      reason    text NOT NULL,
      PRIMARY KEY (namespace, match, value)
    );
    COMMENT ON TABLE identity_blocked_value IS 'Values that never link: placeholders, role mailboxes, free-mail domains (namespace * = all)';

    CREATE TABLE identity_setting (
      key        text PRIMARY KEY,
      value      jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE SEQUENCE identity_seq;
    COMMENT ON SEQUENCE identity_seq IS 'Evidence order: a link is stamped with the sequence at which it was first observed';

    CREATE TABLE identity_record (
      node       text PRIMARY KEY,
      entity     text NOT NULL,
      record_key text NOT NULL,
      scope      text,
      first_seen bigint NOT NULL,
      profile_id uuid NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX identity_record_profile_ix ON identity_record (profile_id);
    COMMENT ON TABLE identity_record IS 'A record in the graph (node = namespace:sourceKey) and the profile it belongs to';

    CREATE TABLE identity_link (
      node        text NOT NULL,
      identity    text NOT NULL,
      seq         bigint NOT NULL,
      field       text NOT NULL,
      outcome     text NOT NULL CONSTRAINT identity_link_outcome_ck CHECK (outcome IN ('linked', 'redundant', 'rejected')),
      rule        text,
      observed_at timestamptz NOT NULL,
      PRIMARY KEY (node, identity)
    );
    CREATE INDEX identity_link_identity_ix ON identity_link (identity);
    COMMENT ON TABLE identity_link IS 'What each record says it is now (provenance: field, first-seen sequence and time) and the decision the link got';

    CREATE TABLE identity_do_not_link (
      a          text NOT NULL,
      b          text NOT NULL,
      entity     text NOT NULL,
      actor      text NOT NULL,
      reason     text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (a, b),
      CONSTRAINT identity_do_not_link_order_ck CHECK (a < b)
    );
    CREATE INDEX identity_do_not_link_b_ix ON identity_do_not_link (b);
    COMMENT ON TABLE identity_do_not_link IS 'Operator decisions: these two identities are never in one profile';

    CREATE TABLE identity_decision (
      id          bigserial PRIMARY KEY,
      at          timestamptz NOT NULL DEFAULT now(),
      entity      text NOT NULL,
      kind        text NOT NULL CONSTRAINT identity_decision_kind_ck CHECK (kind IN ('observe', 'remove', 'link', 'reject', 'do-not-link', 'allow-link')),
      node        text NOT NULL,
      identity    text,
      seq         bigint,
      identities  text[],
      scope       text,
      rule        text,
      profile_id  uuid,
      previous_profile_ids uuid[],
      actor       text NOT NULL,
      reason      text
    );
    CREATE INDEX identity_decision_node_ix ON identity_decision (node);
    CREATE INDEX identity_decision_identity_ix ON identity_decision (identity) WHERE identity IS NOT NULL;
    CREATE INDEX identity_decision_profile_ix ON identity_decision (profile_id);
    COMMENT ON TABLE identity_decision IS 'Append-only log: observations (a record''s identities now), removals, links accepted or rejected (with the rule) when that changed, do-not-link and allow-link';

    CREATE TABLE identity_change (
      id             uuid PRIMARY KEY,
      entity         text NOT NULL CONSTRAINT identity_change_entity_ck CHECK (entity IN ('person', 'account')),
      kind           text NOT NULL CONSTRAINT identity_change_kind_ck CHECK (kind IN ('do-not-link', 'allow-link')),
      a              text NOT NULL,
      b              text NOT NULL,
      actor          text NOT NULL,
      reason         text NOT NULL DEFAULT '',
      status         text NOT NULL DEFAULT 'pending' CONSTRAINT identity_change_status_ck CHECK (status IN ('pending', 'running', 'completed', 'compensated')),
      steps          jsonb NOT NULL DEFAULT '{}',
      touched        uuid[],
      gone           jsonb,
      error          text,
      inject_failure text,
      created_at     timestamptz NOT NULL DEFAULT now(),
      updated_at     timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE identity_change IS 'An operator''s split (do-not-link, unlink) or merge (allow-link), run as the identityChange saga; the workflow carries only the id';
    COMMENT ON COLUMN identity_change.steps IS 'Each saga step''s result once done (graph, profiles, segments, destinations, compensation): a retried step returns it';
    COMMENT ON COLUMN identity_change.inject_failure IS 'Tests only: the saga step that fails for good (compensation drill); never set by the API';

    CREATE TABLE person_profile (
      profile_id     uuid PRIMARY KEY,
      anchor         text NOT NULL,
      attributes     jsonb NOT NULL,
      provenance     jsonb NOT NULL,
      record_keys    text[] NOT NULL,
      person_types   text[] NOT NULL DEFAULT '{}',
      identity_count integer NOT NULL,
      version        bigint NOT NULL DEFAULT 1,
      updated_at     timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE person_profile IS 'Unified person: attributes merged by policy, each with the record that supplied it';

    CREATE TABLE account_profile (
      profile_id         uuid PRIMARY KEY,
      anchor             text NOT NULL,
      attributes         jsonb NOT NULL,
      provenance         jsonb NOT NULL,
      record_keys        text[] NOT NULL,
      identity_count     integer NOT NULL,
      parent_profile_id  uuid,
      ultimate_parent_id uuid,
      hierarchy_depth    integer,
      in_cycle           boolean NOT NULL DEFAULT false,
      match_domains      text[] NOT NULL DEFAULT '{}',
      match_names        text[] NOT NULL DEFAULT '{}',
      version            bigint NOT NULL DEFAULT 1,
      updated_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX account_profile_parent_ix ON account_profile (parent_profile_id);
    CREATE INDEX account_profile_match_domains_ix ON account_profile USING gin (match_domains);
    CREATE INDEX account_profile_match_names_ix ON account_profile USING gin (match_names);
    COMMENT ON COLUMN account_profile.match_domains IS 'Lead-to-account matching keys: canonical web domains (free-mail never)';
    COMMENT ON COLUMN account_profile.match_names IS 'Lead-to-account matching keys: normalised company names';
    COMMENT ON TABLE account_profile IS 'Unified account: merged attributes, parent and ultimate parent (cycles flagged, never followed)';

    CREATE TABLE profile_account_link (
      person_profile_id  uuid NOT NULL,
      account_record_key text NOT NULL,
      via                text NOT NULL CONSTRAINT profile_account_link_via_ck CHECK (via IN ('direct', 'relation', 'opportunity', 'inferred')),
      source_key         text NOT NULL,
      role               text,
      is_primary         boolean NOT NULL DEFAULT false,
      is_active          boolean NOT NULL DEFAULT true,
      start_date         date,
      end_date           date,
      score              real,
      evidence           text[],
      PRIMARY KEY (person_profile_id, account_record_key, via, source_key)
    );
    CREATE INDEX profile_account_link_account_ix ON profile_account_link (account_record_key);
    CREATE INDEX profile_account_link_source_ix ON profile_account_link (source_key);
    COMMENT ON TABLE profile_account_link IS 'People to accounts, many-to-many: direct (the person record''s account), relation, opportunity contact role, or inferred by lead-to-account matching; the account profile is found through identity_record';
    COMMENT ON COLUMN profile_account_link.source_key IS 'The record that says so (person, relation or opportunity-person record; the matched account record for inferred; history: a kept former link)';

    CREATE TABLE profile_event (
      id         bigserial PRIMARY KEY,
      entity     text NOT NULL,
      profile_id uuid NOT NULL,
      type       text NOT NULL CONSTRAINT profile_event_type_ck CHECK (type IN ('job_change')),
      details    jsonb NOT NULL,
      at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX profile_event_profile_ix ON profile_event (profile_id, at);
    COMMENT ON TABLE profile_event IS 'Profile events usable in segments: job_change (from and to account profiles)';

    CREATE TABLE profile_change (
      id          bigserial PRIMARY KEY,
      entity      text NOT NULL,
      profile_id  uuid NOT NULL,
      change      text NOT NULL CONSTRAINT profile_change_change_ck CHECK (change IN ('upserted', 'deleted')),
      replaced_by uuid[],
      cause       text NOT NULL,
      at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX profile_change_profile_ix ON profile_change (profile_id);
    COMMENT ON TABLE profile_change IS 'Outbox of profile changes (upserts, and profiles gone through a merge or split with what replaced them) for segment re-evaluation and destination corrections';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE identity_change, profile_change, profile_event, profile_account_link, account_profile, person_profile,
      identity_decision, identity_do_not_link, identity_link, identity_record, identity_setting,
      identity_blocked_value, identity_namespace;
    DROP SEQUENCE identity_seq;
  `);
}
