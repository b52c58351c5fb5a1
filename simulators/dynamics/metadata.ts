/**
 * The org's table definitions, as the Web API metadata endpoints serve them ("Query table
 * definitions using the Web API"; "Use change tracking to synchronize data with external systems"):
 *
 *   GET EntityDefinitions?$select=LogicalName,EntitySetName,ChangeTrackingEnabled[&$filter=...]
 *   GET EntityDefinitions(LogicalName='contact')?$select=ChangeTrackingEnabled
 *   GET EntityDefinitions(LogicalName='opportunity')/Attributes?$select=LogicalName[&$filter=...]
 *
 * Collections answer `{"@odata.context": "...$metadata#EntityDefinitions(...)", "value": [...]}`,
 * one item by `LogicalName` answers the item itself (context `.../$entity`); `MetadataId` is
 * always returned. Metadata queries take no $top/$skip/$orderby/$count (refused here like any
 * unknown option), and are not paged.
 */
import { createHash } from 'node:crypto';
import { SCHEMA_NAMES, SYSTEM_TABLES, attributeName, attributeType, type ColumnType, type TableDef } from './data';
import { ODataError, parseFilter } from './odata';

interface Definition {
  LogicalName: string;
  SchemaName: string;
  EntitySetName: string;
  ChangeTrackingEnabled: boolean;
  MetadataId: string;
}

const ENTITY_PROPERTIES: Record<string, ColumnType> = { LogicalName: 'string', SchemaName: 'string', EntitySetName: 'string', ChangeTrackingEnabled: 'bool', MetadataId: 'guid' };
const ATTRIBUTE_PROPERTIES: Record<string, ColumnType> = { LogicalName: 'string', SchemaName: 'string', AttributeType: 'string', MetadataId: 'guid' };

/** A stable MetadataId per definition. */
function metadataId(name: string): string {
  const h = createHash('sha256').update(`metadata:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A pseudo table over metadata properties, so $filter is parsed as strictly as on data. */
const metaTable = (logical: string, columns: Record<string, ColumnType>): TableDef => ({ set: logical, logical, idColumn: 'MetadataId', columns, choices: {} });

function selection(params: URLSearchParams, properties: Record<string, ColumnType>, type: string): string[] {
  const text = params.get('$select');
  const select = text ? text.split(',').map((s) => s.trim()) : Object.keys(properties);
  for (const p of select) {
    if (!properties[p]) throw new ODataError(400, '0x0', `Could not find a property named '${p}' on type 'Microsoft.Dynamics.CRM.${type}'.`);
  }
  return select;
}

function onlyOptions(params: URLSearchParams, allowed: string[]): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) throw new ODataError(400, '0x80060888', `The query parameter '${key}' is not supported on table definitions.`);
  }
}

function project(item: Record<string, unknown>, select: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of select) out[p] = item[p];
  out.MetadataId = item.MetadataId;
  return out;
}

export interface OrgMetadataView {
  /** The org's tables (those it lacks removed, and the columns they lack). */
  tables: Record<string, TableDef>;
  /** Entity sets with change tracking on. */
  tracked: ReadonlySet<string>;
  /** `{url}/api/data/v9.2/` */
  base: string;
}

/** Answers a GET under `EntityDefinitions` (`segment` is the path after the API base, decoded): the JSON body. */
export function answerMetadata(view: OrgMetadataView, segment: string, params: URLSearchParams): string {
  const definitions: Definition[] = [
    ...Object.values(view.tables).map((t) => ({
      LogicalName: t.logical,
      SchemaName: SCHEMA_NAMES[t.logical]!,
      EntitySetName: t.set,
      ChangeTrackingEnabled: view.tracked.has(t.set),
      MetadataId: metadataId(t.logical),
    })),
    ...SYSTEM_TABLES.map((t) => ({ LogicalName: t.logical, SchemaName: t.schema, EntitySetName: t.set, ChangeTrackingEnabled: t.changeTracking, MetadataId: metadataId(t.logical) })),
  ];
  if (segment === 'EntityDefinitions') {
    onlyOptions(params, ['$select', '$filter']);
    const select = selection(params, ENTITY_PROPERTIES, 'EntityMetadata');
    const filterText = params.get('$filter');
    const filter = filterText ? parseFilter(filterText, metaTable('EntityMetadata', ENTITY_PROPERTIES)) : null;
    const value = definitions.filter((d) => !filter || filter(d as unknown as Record<string, unknown>)).map((d) => project(d as unknown as Record<string, unknown>, select));
    return JSON.stringify({ '@odata.context': `${view.base}$metadata#EntityDefinitions(${select.join(',')})`, value });
  }
  const m = /^EntityDefinitions\(LogicalName='([^']*)'\)(\/Attributes)?$/.exec(segment);
  if (!m) throw new ODataError(404, '0x8006088a', `Resource not found for the segment '${segment.split('/')[0]}'.`);
  const logical = m[1]!;
  const definition = definitions.find((d) => d.LogicalName === logical);
  // [unverified] the exact code and wording of an unknown table's answer; 404 in the error envelope.
  if (!definition) throw new ODataError(404, '0x80040217', `Could not find an entity with logical name '${logical}'.`);
  if (!m[2]) {
    onlyOptions(params, ['$select']);
    const select = selection(params, ENTITY_PROPERTIES, 'EntityMetadata');
    return JSON.stringify({ '@odata.context': `${view.base}$metadata#EntityDefinitions(${select.join(',')})/$entity`, ...project(definition as unknown as Record<string, unknown>, select) });
  }
  onlyOptions(params, ['$select', '$filter']);
  const select = selection(params, ATTRIBUTE_PROPERTIES, 'AttributeMetadata');
  const filterText = params.get('$filter');
  const filter = filterText ? parseFilter(filterText, metaTable('AttributeMetadata', ATTRIBUTE_PROPERTIES)) : null;
  const table = Object.values(view.tables).find((t) => t.logical === logical);
  // System tables are listed but their columns are not modelled: only the primary key.
  const columns = table ? Object.keys(table.columns) : [`${logical}id`];
  const value = columns
    .map((col) => {
      const type = table ? attributeType(table, col) : 'Uniqueidentifier';
      const name = attributeName(col);
      const item = { LogicalName: name, SchemaName: name, AttributeType: type, MetadataId: metadataId(`${logical}.${name}`) };
      return { item, type };
    })
    .filter(({ item }) => !filter || filter(item))
    .map(({ item, type }) => ({ '@odata.type': `#Microsoft.Dynamics.CRM.${type === 'Uniqueidentifier' ? 'UniqueIdentifier' : type}AttributeMetadata`, ...project(item, select) }));
  return JSON.stringify({ '@odata.context': `${view.base}$metadata#EntityDefinitions('${logical}')/Attributes(${select.join(',')})`, value });
}
