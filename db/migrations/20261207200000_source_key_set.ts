import type { Knex } from 'knex';

/**
 * The key sets of sources that read some objects only by key (Marketo companies, opportunities,
 * opportunity roles, named accounts): the distinct values stored from one instance at one record
 * path, indexed, with when a record carrying each value last changed. A run walks the keys that
 * changed since its last run and a rotating slice of the rest, instead of a DISTINCT over every
 * stored record of the instance on every page.
 *
 * Kept up to date from landing_record (its identity id orders arrivals) by the reader, not by
 * ingestion: the write path stays as it was.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE source_key_set (
      source_type        text NOT NULL,
      source_instance_id text NOT NULL,
      key_set            text NOT NULL,
      value              text COLLATE "C" NOT NULL,
      changed_at         timestamptz NOT NULL,
      PRIMARY KEY (source_type, source_instance_id, key_set, value)
    );
    CREATE INDEX source_key_set_changed_ix ON source_key_set (source_type, source_instance_id, key_set, changed_at);
    COMMENT ON TABLE source_key_set IS 'Distinct values stored from one source instance at one record path (key_set = {xdmClass}:{dotted path}): the keys of objects the source reads only by key. Values in byte order (COLLATE "C"), the order connectors compare keys in';
    COMMENT ON COLUMN source_key_set.changed_at IS 'When a record carrying the value last arrived changed (its landing time; at the first build, the latest received_at of the records carrying it)';

    CREATE TABLE source_key_set_refresh (
      source_type        text NOT NULL,
      source_instance_id text NOT NULL,
      key_set            text NOT NULL,
      landing_id         bigint NOT NULL,
      refreshed_at       timestamptz NOT NULL,
      PRIMARY KEY (source_type, source_instance_id, key_set)
    );
    COMMENT ON TABLE source_key_set_refresh IS 'How far each key set has read landing_record: the next refresh reads landings after landing_id (minus those still young enough to have been committed out of order)';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE source_key_set_refresh; DROP TABLE source_key_set`);
}
