import type { Knex } from 'knex';

/**
 * Uploads are counted against their token's daily quota and deleted once ingested: a file
 * ingestion remembers the token that uploaded its file (NULL: a file from an import directory).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE file_ingestion ADD COLUMN uploaded_by text;
    CREATE INDEX file_ingestion_uploaded_by_ix ON file_ingestion (uploaded_by, created_at) WHERE uploaded_by IS NOT NULL;
    COMMENT ON COLUMN file_ingestion.uploaded_by IS 'The API token that uploaded the file (its daily upload quota); NULL for a file read from an import directory. An uploaded file is deleted once ingested';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE file_ingestion DROP COLUMN uploaded_by`);
}
