import type { Knex } from 'knex';

/**
 * `tessera_day(text)`: the calendar day an ISO date string starts with, or NULL when it names no
 * real day ('2024-02-30', '0000-01-01'). Set-based statements read source dates with it, so one
 * impossible date in a source record never fails a whole statement (a full recompute).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION tessera_day(v text) RETURNS date LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN
      IF v ~ '^\\d{4}-\\d{2}-\\d{2}' THEN
        RETURN left(v, 10)::date;
      END IF;
      RETURN NULL;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
      RETURN NULL;
    END $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP FUNCTION tessera_day(text)`);
}
