import type { Knex } from 'knex';

/** Records that failed validation, with the reasons, kept until they are replayed or discarded. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE quarantine_record (
      id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      batch_id          uuid NOT NULL,
      channel           text NOT NULL CONSTRAINT quarantine_record_channel_ck CHECK (channel IN ('api', 'file', 'replay', 'sync')),
      xdm_class         text NOT NULL,
      file_ingestion_id uuid,
      row_number        bigint,
      record_key        text,
      raw_kind          text NOT NULL CONSTRAINT quarantine_record_raw_kind_ck CHECK (raw_kind IN ('xdm', 'csv-row', 'text')),
      payload           jsonb,
      payload_text      text,
      errors            jsonb NOT NULL,
      status            text NOT NULL DEFAULT 'open' CONSTRAINT quarantine_record_status_ck CHECK (status IN ('open', 'replayed', 'discarded')),
      attempts          integer NOT NULL DEFAULT 1,
      received_at       timestamptz NOT NULL DEFAULT now(),
      last_attempt_at   timestamptz NOT NULL DEFAULT now(),
      resolved_at       timestamptz,
      resolved_batch_id uuid,
      CONSTRAINT quarantine_record_payload_ck CHECK (payload IS NOT NULL OR payload_text IS NOT NULL)
    );
    COMMENT ON TABLE quarantine_record IS 'Rejected records with the reasons; nothing is dropped silently. Replayed through the same ingestion path.';
    COMMENT ON COLUMN quarantine_record.row_number IS 'Index in the request (API, from 0) or line number in the file (from 1; a CSV header is line 1)';
    COMMENT ON COLUMN quarantine_record.raw_kind IS 'xdm: an XDM JSON record; csv-row: a CSV row as {column: cell}; text: a line that could not be parsed at all';
    COMMENT ON COLUMN quarantine_record.errors IS 'Array of {path, message}: which field and why';
    COMMENT ON COLUMN quarantine_record.resolved_batch_id IS 'The ingest batch that stored the record when it was replayed';
    CREATE INDEX quarantine_record_open_ix ON quarantine_record (xdm_class, received_at) WHERE status = 'open';
    CREATE INDEX quarantine_record_file_ix ON quarantine_record (file_ingestion_id) WHERE file_ingestion_id IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE quarantine_record');
}
