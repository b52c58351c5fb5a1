import type { Knex } from 'knex';

/**
 * The identity queue is a work queue: every row is inserted once and deleted once, so dead rows
 * pile up at the head of its index, where every claim starts reading. Vacuum it after every few
 * thousand deletions, whatever its size, and without the cost-based pauses.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE identity_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE identity_queue RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay, autovacuum_analyze_scale_factor)`);
}
