/** The migrations and the XDM registry must agree: every extracted column exists with its type. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { XDM_CLASS_NAMES } from '../domain/xdm/class-spec';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { closeTestDb, testDb } from './support/env';

after(closeTestDb);

const PG_TYPE = { text: 'text', boolean: 'boolean', numeric: 'numeric', timestamptz: 'timestamp with time zone' } as const;

test('every class has its canonical table with the columns the registry extracts', async () => {
  for (const name of XDM_CLASS_NAMES) {
    const spec = XDM_CLASSES[name];
    const { rows } = await testDb().raw(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?`, [spec.table]);
    const types = new Map((rows as Array<{ column_name: string; data_type: string }>).map((r) => [r.column_name, r.data_type]));
    assert.ok(types.size > 0, `table ${spec.table} exists`);
    for (const c of ['record_key', 'source_type', 'source_instance_id', 'source_id', 'external_key', 'is_deleted', 'source_updated_at', 'received_at', 'content_hash', 'batch_id', 'record']) {
      assert.ok(types.has(c), `${spec.table}.${c}`);
    }
    for (const c of spec.columns) assert.equal(types.get(c.column), PG_TYPE[c.type], `${spec.table}.${c.column} is ${c.type}`);
  }
});
