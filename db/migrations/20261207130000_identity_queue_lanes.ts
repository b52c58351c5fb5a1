import type { Knex } from 'knex';

/**
 * Two lanes in the identity queue: records streamed through the API (an answer waits for them)
 * are claimed before the bulk lane's backlog of files, syncs and replays, so a streamed record
 * waits for its own resolution and at most one bulk micro-batch, not for a million-record load.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE identity_queue ADD COLUMN lane text NOT NULL DEFAULT 'bulk' CONSTRAINT identity_queue_lane_ck CHECK (lane IN ('stream', 'bulk'));
    CREATE INDEX identity_queue_stream_ix ON identity_queue (entity, id) WHERE failed_at IS NULL AND lane = 'stream';
    COMMENT ON COLUMN identity_queue.lane IS 'stream: written through the streaming API (claimed first, in small micro-batches); bulk: files, syncs, replays';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX identity_queue_stream_ix; ALTER TABLE identity_queue DROP COLUMN lane;`);
}
