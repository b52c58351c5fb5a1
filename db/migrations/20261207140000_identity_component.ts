import type { Knex } from 'knex';

/**
 * A stored component id on the graph's records and links, so the resolver loads the evidence
 * components a change touches in one query instead of walking them link by link. A component's
 * id is the first-seen sequence of its earliest record (every component has one: links always
 * start at a record), unique and stable while the component neither joins another nor splits.
 * Existing graphs are labelled here by min-label propagation over the links.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE identity_record ADD COLUMN component_id bigint;
    ALTER TABLE identity_link ADD COLUMN component_id bigint;

    CREATE TEMP TABLE component_label ON COMMIT DROP AS SELECT node AS key, first_seen AS c FROM identity_record;
    INSERT INTO component_label
      SELECT DISTINCT l.identity, 9223372036854775807::bigint FROM identity_link l WHERE NOT EXISTS (SELECT 1 FROM identity_record r WHERE r.node = l.identity);
    ALTER TABLE component_label ADD PRIMARY KEY (key);
    CREATE TEMP TABLE component_edge ON COMMIT DROP AS SELECT node AS a, identity AS b FROM identity_link;
    CREATE INDEX ON component_edge (a);
    CREATE INDEX ON component_edge (b);
    ANALYZE component_label, component_edge;

    DO $$
    DECLARE changed bigint;
    BEGIN
      LOOP
        WITH m AS (
          SELECT key, min(c) AS c FROM (
            SELECT e.b AS key, la.c FROM component_edge e JOIN component_label la ON la.key = e.a
            UNION ALL
            SELECT e.a, lb.c FROM component_edge e JOIN component_label lb ON lb.key = e.b
          ) s GROUP BY key
        )
        UPDATE component_label l SET c = m.c FROM m WHERE m.key = l.key AND m.c < l.c;
        GET DIAGNOSTICS changed = ROW_COUNT;
        EXIT WHEN changed = 0;
      END LOOP;
    END $$;

    UPDATE identity_record r SET component_id = l.c FROM component_label l WHERE l.key = r.node;
    UPDATE identity_link k SET component_id = l.c FROM component_label l WHERE l.key = k.node;

    ALTER TABLE identity_record ALTER COLUMN component_id SET NOT NULL;
    ALTER TABLE identity_link ALTER COLUMN component_id SET NOT NULL;
    CREATE INDEX identity_record_component_ix ON identity_record (component_id);
    CREATE INDEX identity_link_component_ix ON identity_link (component_id);
    COMMENT ON COLUMN identity_record.component_id IS 'Evidence component (records and identities connected by any link, accepted or refused): the first-seen sequence of its earliest record';
    COMMENT ON COLUMN identity_link.component_id IS 'The evidence component of the link (see identity_record.component_id): a component loads in one query';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE identity_record DROP COLUMN component_id;
    ALTER TABLE identity_link DROP COLUMN component_id;
  `);
}
