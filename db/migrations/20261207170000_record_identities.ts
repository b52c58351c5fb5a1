import type { Knex } from 'knex';

/**
 * Identity values extracted at ingest (DESIGN §1): the ingestion transaction that stores a person
 * or account record also stores, in narrow columns of its canonical row, the identities its fields
 * carry (normalised, in extraction order, each with its field) and the values refused with the
 * reason, under the identity configuration version they were extracted with. The resolver and the
 * full recompute read these instead of the record's JSON; a row extracted under another version
 * (or before this migration: NULL) is re-extracted from its JSON by whoever reads it.
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of ['xdm_person', 'xdm_account']) {
    await knex.raw(`
      ALTER TABLE ${table}
        ADD COLUMN identities text[],
        ADD COLUMN identity_fields text[],
        ADD COLUMN identity_refused jsonb,
        ADD COLUMN identity_config bigint;
      COMMENT ON COLUMN ${table}.identities IS 'Identities the record carries (namespace:normalised value), extracted at ingest in extraction order; its own record node is not among them';
      COMMENT ON COLUMN ${table}.identity_fields IS 'The record field each of identities came from (same positions)';
      COMMENT ON COLUMN ${table}.identity_refused IS 'Values refused at extraction: [{namespace, field, value, reason}] (value cut to 254 characters); NULL when none';
      COMMENT ON COLUMN ${table}.identity_config IS 'The identity configuration version (identity_setting version) the columns were extracted under; another version or NULL: readers re-extract from record';
    `);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['xdm_person', 'xdm_account']) {
    await knex.raw(`ALTER TABLE ${table} DROP COLUMN identities, DROP COLUMN identity_fields, DROP COLUMN identity_refused, DROP COLUMN identity_config`);
  }
}
