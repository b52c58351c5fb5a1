/**
 * Starts a file ingestion: checks the file first (so a person gets every problem at once, before
 * anything runs), records it, and starts its ingestFile workflow with the search attributes
 * operators filter on. Used by the API and the benchmarks.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import type { ColumnMapping } from '../domain/ingestion/column-mapping';
import type { XdmClassName } from '../domain/xdm/class-spec';
import { XDM_CLASSES } from '../domain/xdm/registry';
import { createFileIngestion, getFileIngestion, type FileFormat, type FileIngestionRow } from '../db/repositories/file-ingestions';
import { fileIngestionWorkflowId, type IngestFileInput } from '../contracts/file-ingestion';
import { SA } from '../contracts/search-attributes';
import { inspectFile } from '../engine/ingest/file-ingestion';

export interface StartFileIngestion {
  path: string;
  xdmClass: XdmClassName;
  format: FileFormat;
  mapping: ColumnMapping | null;
  trigger: string;
  /** The token that uploaded the file (it is deleted once ingested); absent for import directories. */
  uploadedBy?: string;
  /** Workflow tuning (slice and batch sizes); production defaults otherwise. */
  tuning?: Omit<IngestFileInput, 'ingestionId'>;
}

export async function startFileIngestion(db: Knex, temporal: { client: Client; taskQueue: string }, req: StartFileIngestion): Promise<FileIngestionRow> {
  const inspected = await inspectFile(req.path, req.format, XDM_CLASSES[req.xdmClass], req.mapping);
  const id = randomUUID();
  const workflowId = fileIngestionWorkflowId(id);
  await createFileIngestion(db, { id, xdmClass: req.xdmClass, format: req.format, path: req.path, mapping: req.mapping, sizeBytes: inspected.sizeBytes, workflowId, uploadedBy: req.uploadedBy ?? null });
  await temporal.client.workflow.start('ingestFile', {
    workflowId,
    taskQueue: temporal.taskQueue,
    args: [{ ingestionId: id, ...req.tuning }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: SA.jobKind, value: 'file-ingestion' },
      { key: SA.entityType, value: req.xdmClass },
      { key: SA.entityId, value: id },
      { key: SA.trigger, value: req.trigger },
    ],
  });
  return (await getFileIngestion(db, id))!;
}
