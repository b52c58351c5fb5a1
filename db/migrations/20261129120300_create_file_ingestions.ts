import type { Knex } from 'knex';

/** A CSV or JSONL file being ingested by the ingestFile workflow, with its durable checkpoint. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE file_ingestion (
      id               uuid PRIMARY KEY,
      xdm_class        text NOT NULL,
      format           text NOT NULL CONSTRAINT file_ingestion_format_ck CHECK (format IN ('csv', 'jsonl')),
      path             text NOT NULL,
      mapping          jsonb,
      size_bytes       bigint NOT NULL,
      status           text NOT NULL DEFAULT 'pending' CONSTRAINT file_ingestion_status_ck CHECK (status IN ('pending', 'running', 'completed', 'failed')),
      workflow_id      text NOT NULL,
      header           jsonb,
      byte_offset      bigint NOT NULL DEFAULT 0,
      next_line        bigint NOT NULL DEFAULT 1,
      rows_read        bigint NOT NULL DEFAULT 0,
      accepted_count   bigint NOT NULL DEFAULT 0,
      quarantined_count bigint NOT NULL DEFAULT 0,
      slices           integer NOT NULL DEFAULT 0,
      error            text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      started_at       timestamptz,
      completed_at     timestamptz,
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE file_ingestion IS 'One file ingestion: its settings, progress and outcome';
    COMMENT ON COLUMN file_ingestion.byte_offset IS 'Checkpoint: bytes of the file whose records are committed; advanced in the same transaction as the records';
    COMMENT ON COLUMN file_ingestion.next_line IS 'Line number at byte_offset, so quarantined rows can name their line after a resume';
    COMMENT ON COLUMN file_ingestion.header IS 'CSV column names read from the first line';
    COMMENT ON COLUMN file_ingestion.mapping IS 'Column-to-XDM-field mapping (null: columns are named by XDM path)';
    CREATE INDEX file_ingestion_created_ix ON file_ingestion (created_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE file_ingestion');
}
