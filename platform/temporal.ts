/** Temporal connections for Tessera's processes: one data converter (encryption) everywhere. */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { SearchAttributeKey, SearchAttributeType } from '@temporalio/common/lib/search-attributes';
import { EncryptionCodec, loadCodecKeys } from './payload-codec';

export function tesseraDataConverter(env: NodeJS.ProcessEnv = process.env): DataConverter {
  const { current, previous } = loadCodecKeys(env);
  return {
    payloadCodecs: [new EncryptionCodec(current, previous)],
    failureConverterPath: require.resolve('./failure-converter'),
  };
}

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace, dataConverter: tesseraDataConverter() });
}

/**
 * Registers any of Tessera's search attributes that the namespace lacks (a dev-server state
 * file created by an older version, or a fresh cluster). Idempotent.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string, keys: ReadonlyArray<SearchAttributeKey<SearchAttributeType>>): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = keys.filter((k) => !known.has(k.name));
  if (missing.length === 0) return [];
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  const IndexedValueType = temporal.api.enums.v1.IndexedValueType;
  for (const k of missing) searchAttributes[k.name] = IndexedValueType[`INDEXED_VALUE_TYPE_${k.type}`];
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  return missing.map((k) => k.name);
}
