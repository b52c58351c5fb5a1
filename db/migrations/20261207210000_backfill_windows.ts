import type { Knex } from 'knex';

/**
 * A backfill keeps the windows it was planned with: a later change of a connector's window
 * setting does not re-plan a backfill that is half done (its done windows are found by index).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE backfill ADD COLUMN windows jsonb;
    COMMENT ON COLUMN backfill.windows IS 'The windows planned when the backfill was created: [{stream, index, from, to}]; NULL for a backfill created before windows were stored (planned once, on its next run, then kept)';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE backfill DROP COLUMN windows`);
}
