/** Messages of the ingestFile workflow. Workflow-safe: types and Temporal definitions only. */
import { defineQuery } from '@temporalio/workflow';

export interface IngestFileInput {
  ingestionId: string;
  /** Records per activity call (each call is one slice, visible in the workflow history). */
  sliceRecords?: number;
  /** Records per transaction. */
  batchSize?: number;
  /** Slices per run before continuing as new (default 200). */
  slicesPerRun?: number;
  /** How soon a crashed worker's slice is retried elsewhere (default 30s; tests shorten it). */
  heartbeatTimeout?: string;
}

export interface FileIngestionTotals {
  status: 'pending' | 'running' | 'completed' | 'failed';
  sizeBytes: number;
  byteOffset: number;
  rows: number;
  accepted: number;
  quarantined: number;
  slices: number;
}

export interface FileIngestionProgress extends FileIngestionTotals {
  /** 0..100, by bytes read. */
  percent: number;
}

/** The workflow id of a file ingestion (one workflow per ingestion; a second start joins it). */
export function fileIngestionWorkflowId(ingestionId: string): string {
  return `file-ingestion:${ingestionId}`;
}

/** 0..100, by bytes read. */
export function percentRead(t: Pick<FileIngestionTotals, 'byteOffset' | 'sizeBytes'>): number {
  return t.sizeBytes ? Math.min(100, Math.floor((t.byteOffset / t.sizeBytes) * 100)) : 0;
}

/** Undefined until the file has been opened. */
export const fileIngestionProgressQuery = defineQuery<FileIngestionProgress | undefined>('progress');
