import type { Knex } from 'knex';

/**
 * Canonical tables, one per XDM B2B class, holding the latest accepted version of each record.
 * The class-specific columns are frozen here (a migration never changes); test/schema.test.ts
 * checks they still match what domain/xdm/registry.ts extracts.
 */
const TABLES: Array<{ table: string; title: string; columns: Array<[name: string, type: string, comment: string]>; indexes: string[] }> = [
  {
    table: 'xdm_account', title: 'XDM Business Account',
    columns: [
      ['parent_key', 'text', 'accountParentKey.sourceKey: the parent account (hierarchy)'],
      ['account_name', 'text', 'accountName'],
      ['duns_number', 'text', 'accountOrganization.DUNSNumber'],
      ['website_domain', 'text', 'accountOrganization.domain, else the host of accountOrganization.website, lowercased'],
    ],
    indexes: ['parent_key', 'duns_number', 'website_domain'],
  },
  {
    table: 'xdm_opportunity', title: 'XDM Business Opportunity',
    columns: [
      ['account_key', 'text', 'accountKey.sourceKey: the owning account'],
      ['campaign_key', 'text', 'campaignKey.sourceKey: the source campaign'],
      ['stage', 'text', 'opportunityStage'],
      ['is_closed', 'boolean', 'isClosed'],
      ['is_won', 'boolean', 'isWon'],
      ['amount', 'numeric', 'opportunityAmount.amount'],
      ['expected_close_date', 'text', 'expectedCloseDate'],
    ],
    indexes: ['account_key'],
  },
  {
    table: 'xdm_person', title: 'XDM Individual Profile with B2B person details',
    columns: [
      ['account_key', 'text', 'b2b.accountKey.sourceKey: the person main account'],
      ['work_email', 'text', 'workEmail.address, trimmed and lowercased'],
      ['person_type', 'text', 'b2b.personType (Lead, Contact, ...)'],
      ['converted_contact_key', 'text', 'b2b.convertedContactKey.sourceKey of a converted lead'],
    ],
    indexes: ['account_key', 'work_email'],
  },
  {
    table: 'xdm_account_person', title: 'XDM Business Account Person Relation',
    columns: [
      ['account_key', 'text', 'accountKey.sourceKey'],
      ['person_key', 'text', 'personKey.sourceKey'],
      ['is_active', 'boolean', 'isActive'],
      ['is_primary', 'boolean', 'isPrimary'],
    ],
    indexes: ['account_key', 'person_key'],
  },
  {
    table: 'xdm_opportunity_person', title: 'XDM Business Opportunity Person Relation',
    columns: [
      ['opportunity_key', 'text', 'opportunityKey.sourceKey'],
      ['person_key', 'text', 'personKey.sourceKey'],
      ['person_role', 'text', 'personRole (e.g. Decision Maker)'],
    ],
    indexes: ['opportunity_key', 'person_key'],
  },
  {
    table: 'xdm_campaign', title: 'XDM Business Campaign',
    columns: [['parent_campaign_key', 'text', 'parentCampaignKey.sourceKey (campaign hierarchy)']],
    indexes: ['parent_campaign_key'],
  },
  {
    table: 'xdm_campaign_member', title: 'XDM Business Campaign Members',
    columns: [
      ['campaign_key', 'text', 'campaignKey.sourceKey'],
      ['person_key', 'text', 'personKey.sourceKey'],
      ['member_status', 'text', 'memberStatus'],
    ],
    indexes: ['campaign_key', 'person_key'],
  },
  {
    table: 'xdm_marketing_list', title: 'XDM Business Marketing List',
    columns: [['list_name', 'text', 'marketingListName']],
    indexes: [],
  },
  {
    table: 'xdm_marketing_list_member', title: 'XDM Business Marketing List Members',
    columns: [
      ['marketing_list_key', 'text', 'marketingListKey.sourceKey'],
      ['person_key', 'text', 'personKey.sourceKey'],
    ],
    indexes: ['marketing_list_key', 'person_key'],
  },
  {
    table: 'xdm_experience_event', title: 'XDM ExperienceEvent (B2B activities)',
    columns: [
      ['person_key', 'text', 'personKey.sourceKey: the person who acted'],
      ['event_type', 'text', 'eventType'],
      ['occurred_at', 'timestamptz', 'timestamp'],
    ],
    indexes: ['person_key, occurred_at'],
  },
];

export async function up(knex: Knex): Promise<void> {
  for (const t of TABLES) {
    const extra = t.columns.map(([name, type]) => `,\n      ${name} ${type}`).join('');
    await knex.raw(`
      CREATE TABLE ${t.table} (
        record_key         text PRIMARY KEY,
        source_type        text,
        source_instance_id text,
        source_id          text,
        external_key       text,
        is_deleted         boolean NOT NULL DEFAULT false,
        source_updated_at  timestamptz,
        received_at        timestamptz NOT NULL,
        content_hash       bytea NOT NULL,
        batch_id           uuid NOT NULL,
        record             jsonb NOT NULL,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()${extra}
      );
      COMMENT ON TABLE ${t.table} IS '${t.title}: latest accepted version of each record';
      COMMENT ON COLUMN ${t.table}.record_key IS 'sourceKey {sourceID}@{sourceInstanceID}.{sourceType} (experience events: _id)';
      COMMENT ON COLUMN ${t.table}.external_key IS 'extSourceSystemAudit.externalKey.sourceKey: the same record in another system (cross-system key)';
      COMMENT ON COLUMN ${t.table}.is_deleted IS 'isDeleted: deleted in the source; kept so that an older update cannot resurrect it';
      COMMENT ON COLUMN ${t.table}.source_updated_at IS 'extSourceSystemAudit.lastUpdatedDate (events: timestamp), null if the source gave none. An older version never overwrites a newer one; without a date on either side the later arrival (received_at) wins';
      COMMENT ON COLUMN ${t.table}.record IS 'The XDM record, normalised (every B2B Source object has its four parts)';
      COMMENT ON COLUMN ${t.table}.content_hash IS 'Same as landing_record.content_hash of the stored version: equal hash, nothing to update';
      COMMENT ON COLUMN ${t.table}.batch_id IS 'The ingest_batch that stored this version (no foreign key: a per-row check would halve bulk loads)';
      CREATE INDEX ${t.table}_external_key_ix ON ${t.table} (external_key) WHERE external_key IS NOT NULL;
    `);
    for (const [name, , comment] of t.columns) {
      await knex.raw(`COMMENT ON COLUMN ${t.table}.${name} IS '${comment.replace(/'/g, "''")}'`);
    }
    for (const cols of t.indexes) {
      const ixName = `${t.table}_${cols.replace(/[^a-z_]+/g, '_')}_ix`;
      await knex.raw(`CREATE INDEX ${ixName} ON ${t.table} (${cols})`);
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [...TABLES].reverse()) await knex.raw(`DROP TABLE ${t.table}`);
}
