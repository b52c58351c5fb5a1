import type { Knex } from 'knex';

/**
 * The write path's change queue and its consumer's state (DESIGN §1). An ingestion transaction
 * (streaming request, file slice, sync page, replay) stores its records and one queue row per
 * record that changed; the resolver drains the queue in micro-batches, one transaction each,
 * which claim rows, resolve the components they touch, write profiles, and delete the rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE identity_queue (
      id          bigserial PRIMARY KEY,
      entity      text NOT NULL CONSTRAINT identity_queue_entity_ck CHECK (entity IN ('person', 'account')),
      xdm_class   text NOT NULL,
      record_key  text NOT NULL,
      actor       text NOT NULL,
      enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      failed_at   timestamptz,
      error       text
    );
    CREATE INDEX identity_queue_entity_ix ON identity_queue (entity, id) WHERE failed_at IS NULL;
    CREATE INDEX identity_queue_failed_ix ON identity_queue (entity, id) WHERE failed_at IS NOT NULL;
    COMMENT ON TABLE identity_queue IS 'Records whose stored rows changed and that the identity resolver has not passed yet (ordered by id); a row is deleted by the micro-batch that resolved it';
    COMMENT ON COLUMN identity_queue.entity IS 'The resolver that drains it: account records go to the account resolver; people, their relations and opportunities to the person resolver';
    COMMENT ON COLUMN identity_queue.failed_at IS 'Set when this record alone failed to resolve (a bug or a record the resolver cannot handle): it is set aside, with the error, so the queue behind it moves on; an operator requeues it';
    COMMENT ON COLUMN identity_queue.actor IS 'Who wrote the record (api, file:<id>, sync:<stream>, replay): the decision log''s actor';

    CREATE TABLE identity_resolver (
      entity            text PRIMARY KEY CONSTRAINT identity_resolver_entity_ck CHECK (entity IN ('person', 'account')),
      holder            text,
      lease_until       timestamptz,
      batches           bigint NOT NULL DEFAULT 0,
      records           bigint NOT NULL DEFAULT 0,
      merges            bigint NOT NULL DEFAULT 0,
      splits            bigint NOT NULL DEFAULT 0,
      profiles_written  bigint NOT NULL DEFAULT 0,
      last_batch_at     timestamptz,
      last_batch_size   integer,
      last_batch_ms     integer,
      last_lag_ms       integer
    );
    COMMENT ON TABLE identity_resolver IS 'One row per resolver (single writer): its lease and running totals; the lease is renewed by every micro-batch, and a micro-batch of a holder that lost it rolls back';
    COMMENT ON COLUMN identity_resolver.merges IS 'Profiles whose records joined another existing profile (one per profile joined)';
    COMMENT ON COLUMN identity_resolver.splits IS 'Profiles whose records now lie in two or more profiles';
    COMMENT ON COLUMN identity_resolver.last_lag_ms IS 'Age of the oldest record in the last micro-batch when it committed (ingest → resolved)';
    INSERT INTO identity_resolver (entity) VALUES ('person'), ('account');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE identity_resolver, identity_queue;`);
}
