import type { Knex } from 'knex';

/** One row per accepted ingest request, file slice or quarantine replay: the audit trail of writes. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ingest_batch (
      id                uuid PRIMARY KEY,
      channel           text NOT NULL CONSTRAINT ingest_batch_channel_ck CHECK (channel IN ('api', 'file', 'replay', 'sync')),
      xdm_class         text NOT NULL,
      file_ingestion_id uuid,
      received_at       timestamptz NOT NULL DEFAULT now(),
      record_count      integer NOT NULL,
      accepted_count    integer NOT NULL,
      quarantined_count integer NOT NULL
    );
    COMMENT ON TABLE ingest_batch IS 'One ingest request (API call, file slice, quarantine replay) and its counts';
    COMMENT ON COLUMN ingest_batch.channel IS 'How the records arrived: api, file, replay (from quarantine) or sync (source connector)';
    COMMENT ON COLUMN ingest_batch.record_count IS 'Records received in the batch (accepted + quarantined)';
    CREATE INDEX ingest_batch_received_at_ix ON ingest_batch (received_at);

    CREATE TABLE landing_record (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      batch_id     uuid NOT NULL,
      xdm_class    text NOT NULL,
      record_key   text NOT NULL,
      payload      json NOT NULL,
      content_hash bytea NOT NULL,
      received_at  timestamptz NOT NULL,
      CONSTRAINT landing_record_content_uq UNIQUE (content_hash)
    );
    COMMENT ON TABLE landing_record IS 'Every accepted record exactly as received (json keeps the text as sent); one row per distinct content of a record';
    COMMENT ON COLUMN landing_record.batch_id IS 'The ingest_batch written in the same transaction (no foreign key: a per-row check would halve bulk loads)';
    COMMENT ON COLUMN landing_record.record_key IS 'The B2B sourceKey ({sourceID}@{sourceInstanceID}.{sourceType}), or _id for experience events';
    COMMENT ON COLUMN landing_record.content_hash IS 'SHA-1 of class, record key and payload: the same record twice lands once';
    CREATE INDEX landing_record_key_ix ON landing_record (xdm_class, record_key);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE landing_record; DROP TABLE ingest_batch;');
}
