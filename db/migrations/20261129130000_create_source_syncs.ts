import type { Knex } from 'knex';

/**
 * Source syncs: the configured source instances, one durable cursor per (instance, stream, scope)
 * written in the same transaction as the page of data it covers, the sync runs and backfills an
 * operator sees, and quarantine rows that remember which sync stream they came from.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE source_instance (
      source_type     text NOT NULL CONSTRAINT source_instance_type_ck CHECK (source_type IN ('marketo', 'salesforce', 'dynamics')),
      instance_id     text NOT NULL CONSTRAINT source_instance_id_ck CHECK (instance_id ~ '^[A-Za-z0-9_-]+$'),
      label           text NOT NULL,
      endpoint        text NOT NULL,
      auth_endpoint   text,
      settings        jsonb NOT NULL DEFAULT '{}',
      credentials_ref text NOT NULL,
      schedule_cron   text NOT NULL,
      enabled         boolean NOT NULL DEFAULT true,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (source_type, instance_id)
    );
    COMMENT ON TABLE source_instance IS 'A Marketo instance, Salesforce org or Dynamics org Tessera syncs from (non-secret settings only)';
    COMMENT ON COLUMN source_instance.instance_id IS 'The sourceInstanceID in source keys: Munchkin id, Salesforce org id, Dynamics organisation';
    COMMENT ON COLUMN source_instance.credentials_ref IS 'Name of the secrets TESSERA_SOURCE_<REF>_CLIENT_ID / _CLIENT_SECRET (env, *_FILE or the secrets file); never the secret itself';
    COMMENT ON COLUMN source_instance.schedule_cron IS 'Cron of the Temporal Schedule sync/<type>/<instance>';

    CREATE TABLE sync_cursor (
      source_type    text NOT NULL,
      instance_id    text NOT NULL,
      stream         text NOT NULL,
      scope          text NOT NULL,
      state          jsonb,
      version        bigint NOT NULL DEFAULT 0,
      run_started_at timestamptz,
      run_complete   boolean NOT NULL DEFAULT false,
      run_pages      integer NOT NULL DEFAULT 0,
      run_records    bigint NOT NULL DEFAULT 0,
      run_quarantined bigint NOT NULL DEFAULT 0,
      notices        text[] NOT NULL DEFAULT '{}',
      updated_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (source_type, instance_id, stream, scope),
      CONSTRAINT sync_cursor_instance_fk FOREIGN KEY (source_type, instance_id) REFERENCES source_instance (source_type, instance_id) ON DELETE CASCADE
    );
    COMMENT ON TABLE sync_cursor IS 'Where a stream of an instance stands; moved in the same transaction as the page it covers';
    COMMENT ON COLUMN sync_cursor.scope IS 'incremental (the scheduled sync) or backfill:<id>:<window> (one backfill window)';
    COMMENT ON COLUMN sync_cursor.state IS 'The connector''s opaque position after the last stored page (a watermark, a delta link, a bulk job and byte offset)';
    COMMENT ON COLUMN sync_cursor.version IS 'Pages stored so far: a page is stored only if the version is still the one it was read at';
    COMMENT ON COLUMN sync_cursor.run_complete IS 'The run that started at run_started_at has read everything: state is the resting state for the next run';

    CREATE TABLE sync_run (
      workflow_id    text NOT NULL,
      run_started_at timestamptz NOT NULL,
      source_type    text NOT NULL,
      instance_id    text NOT NULL,
      kind           text NOT NULL CONSTRAINT sync_run_kind_ck CHECK (kind IN ('sync', 'backfill')),
      status         text NOT NULL CONSTRAINT sync_run_status_ck CHECK (status IN ('running', 'completed', 'failed')),
      streams        jsonb NOT NULL DEFAULT '{}',
      notices        text[] NOT NULL DEFAULT '{}',
      error          text,
      finished_at    timestamptz,
      PRIMARY KEY (workflow_id, run_started_at),
      CONSTRAINT sync_run_instance_fk FOREIGN KEY (source_type, instance_id) REFERENCES source_instance (source_type, instance_id) ON DELETE CASCADE
    );
    COMMENT ON TABLE sync_run IS 'One sync or backfill run of an instance: per-stream counts, notices (e.g. a full resync) and outcome';
    CREATE INDEX sync_run_instance_ix ON sync_run (source_type, instance_id, run_started_at DESC);

    CREATE TABLE backfill (
      id           uuid PRIMARY KEY,
      source_type  text NOT NULL,
      instance_id  text NOT NULL,
      range_from   timestamptz NOT NULL,
      range_to     timestamptz NOT NULL,
      streams      text[] NOT NULL,
      requested_by text,
      created_at   timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT backfill_range_ck CHECK (range_from < range_to),
      CONSTRAINT backfill_instance_fk FOREIGN KEY (source_type, instance_id) REFERENCES source_instance (source_type, instance_id) ON DELETE CASCADE
    );
    COMMENT ON TABLE backfill IS 'A backfill of a time range for some streams of an instance, run as workflow backfill/<type>/<instance>/<id>';

    ALTER TABLE quarantine_record ADD COLUMN sync_stream text;
    COMMENT ON COLUMN quarantine_record.sync_stream IS 'For channel sync: <type>/<instance>/<stream> the row came from';
    ALTER TABLE quarantine_record DROP CONSTRAINT quarantine_record_raw_kind_ck;
    ALTER TABLE quarantine_record ADD CONSTRAINT quarantine_record_raw_kind_ck CHECK (raw_kind IN ('xdm', 'csv-row', 'text', 'source-row'));
    COMMENT ON COLUMN quarantine_record.raw_kind IS 'xdm: an XDM JSON record; csv-row: a CSV row as {column: cell}; text: a line that could not be parsed at all; source-row: a source record the connector could not map';
    CREATE INDEX quarantine_record_sync_ix ON quarantine_record (sync_stream) WHERE sync_stream IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX quarantine_record_sync_ix;
    ALTER TABLE quarantine_record DROP CONSTRAINT quarantine_record_raw_kind_ck;
    ALTER TABLE quarantine_record ADD CONSTRAINT quarantine_record_raw_kind_ck CHECK (raw_kind IN ('xdm', 'csv-row', 'text'));
    ALTER TABLE quarantine_record DROP COLUMN sync_stream;
    DROP TABLE backfill; DROP TABLE sync_run; DROP TABLE sync_cursor; DROP TABLE source_instance;
  `);
}
