/**
 * What the org's table definitions say, asked once per connector (a worker keeps its connector
 * until the instance's configuration changes), through the Web API metadata endpoints:
 *
 *   GET EntityDefinitions?$select=LogicalName,EntitySetName,ChangeTrackingEnabled
 *       which tables the org has, their entity sets, and which have change tracking ("Track
 *       changes"; once on it cannot be turned off, so the answer never goes stale that way)
 *   GET EntityDefinitions(LogicalName='opportunity')/Attributes?$select=LogicalName
 *       the columns of one table (lookups by their attribute name, `parentaccountid`)
 *
 * A failed look-up is asked again by the next caller; a good answer is kept.
 */
import { z } from 'zod';
import type { DataverseClient } from './client';

const entityDefinitionsSchema = z.object({
  value: z.array(
    z.object({
      LogicalName: z.string().min(1),
      EntitySetName: z.string().nullable().optional(),
      /** Nullable in the metadata model (EntityMetadata.ChangeTrackingEnabled is bool?): null is off. */
      ChangeTrackingEnabled: z.boolean().nullable(),
    }),
  ),
  '@odata.nextLink': z.string().optional(),
});

const attributesSchema = z.object({
  value: z.array(z.object({ LogicalName: z.string().min(1) })),
  '@odata.nextLink': z.string().optional(),
});

export interface TableDefinition {
  logicalName: string;
  entitySet: string | null;
  changeTracking: boolean;
}

export class OrgMetadata {
  private tablesRead: Promise<ReadonlyMap<string, TableDefinition>> | null = null;
  private readonly columnsRead = new Map<string, Promise<ReadonlySet<string>>>();

  constructor(private readonly client: DataverseClient) {}

  /** Every table of the org, by logical name. */
  tables(signal: AbortSignal): Promise<ReadonlyMap<string, TableDefinition>> {
    this.tablesRead ??= (async () => {
      const tables = new Map<string, TableDefinition>();
      let path: string | undefined = 'EntityDefinitions?$select=LogicalName,EntitySetName,ChangeTrackingEnabled';
      while (path) {
        const page: z.infer<typeof entityDefinitionsSchema> = await this.client.getJson(path, entityDefinitionsSchema, signal);
        for (const t of page.value) {
          tables.set(t.LogicalName, { logicalName: t.LogicalName, entitySet: t.EntitySetName ?? null, changeTracking: t.ChangeTrackingEnabled === true });
        }
        path = page['@odata.nextLink'];
      }
      return tables;
    })().catch((err) => {
      this.tablesRead = null;
      throw err;
    });
    return this.tablesRead;
  }

  /** The column (attribute) logical names of one table. */
  columns(logicalName: string, signal: AbortSignal): Promise<ReadonlySet<string>> {
    let read = this.columnsRead.get(logicalName);
    if (!read) {
      read = (async () => {
        const names = new Set<string>();
        let path: string | undefined = `EntityDefinitions(LogicalName='${logicalName}')/Attributes?$select=LogicalName`;
        while (path) {
          const page: z.infer<typeof attributesSchema> = await this.client.getJson(path, attributesSchema, signal);
          for (const a of page.value) names.add(a.LogicalName);
          path = page['@odata.nextLink'];
        }
        return names;
      })().catch((err) => {
        this.columnsRead.delete(logicalName);
        throw err;
      });
      this.columnsRead.set(logicalName, read);
    }
    return read;
  }

  /** Forgets what was read of one table (a read it planned was refused): the next plan asks again. */
  forget(logicalName: string): void {
    this.tablesRead = null;
    this.columnsRead.delete(logicalName);
  }
}
