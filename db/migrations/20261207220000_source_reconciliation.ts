import type { Knex } from 'knex';

/**
 * Id-set reconciliation, for the objects whose source APIs report no deletes (Marketo companies,
 * opportunities and list membership; Dataverse tables without change tracking): a run lists the
 * ids the source holds now and marks the stored records it no longer has as deleted. Each
 * instance has a reconcile schedule (`reconcile/<type>/<instance>`) beside its sync schedule.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE source_instance ADD COLUMN reconcile_cron text NOT NULL DEFAULT '30 3 * * *';
    COMMENT ON COLUMN source_instance.reconcile_cron IS 'Cron of the instance''s id-set reconciliation (schedule reconcile/<type>/<instance>)';

    CREATE TABLE source_reconciliation (
      id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      workflow_id        text NOT NULL,
      run_id             text NOT NULL,
      stream             text NOT NULL,
      source_type        text NOT NULL,
      instance_id        text NOT NULL,
      started_at         timestamptz NOT NULL DEFAULT now(),
      phase              text NOT NULL DEFAULT 'listing',
      state              jsonb,
      version            integer NOT NULL DEFAULT 0,
      listed             bigint NOT NULL DEFAULT 0,
      stored             bigint,
      marked             bigint NOT NULL DEFAULT 0,
      notice             text,
      finished_at        timestamptz,
      CONSTRAINT source_reconciliation_run_uq UNIQUE (workflow_id, run_id, stream),
      CONSTRAINT source_reconciliation_phase_ck CHECK (phase IN ('listing', 'marking', 'done', 'held', 'failed')),
      CONSTRAINT source_reconciliation_instance_fk FOREIGN KEY (source_type, instance_id) REFERENCES source_instance (source_type, instance_id) ON DELETE CASCADE
    );
    CREATE INDEX source_reconciliation_instance_ix ON source_reconciliation (source_type, instance_id, started_at DESC);
    COMMENT ON TABLE source_reconciliation IS 'One stream of one id-set reconciliation run: listing the source''s ids (state: where the listing stands), then marking the stored records it no longer has as deleted; held when that would delete more than the allowed share';
    COMMENT ON COLUMN source_reconciliation.run_id IS 'The first run id of the workflow (kept across continue-as-new): a workflow id used again starts a new reconciliation';
    COMMENT ON COLUMN source_reconciliation.stored IS 'Stored records in the stream''s scope that were received before the run started (the ones a missing id can delete)';

    CREATE TABLE source_reconciliation_seen (
      reconciliation_id bigint NOT NULL REFERENCES source_reconciliation (id) ON DELETE CASCADE,
      source_id         text NOT NULL,
      PRIMARY KEY (reconciliation_id, source_id)
    );
    COMMENT ON TABLE source_reconciliation_seen IS 'The ids a reconciliation has listed so far; emptied when it is done';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP TABLE source_reconciliation_seen; DROP TABLE source_reconciliation; ALTER TABLE source_instance DROP COLUMN reconcile_cron`);
}
