/**
 * Worker thread of a rebuild (engine/identity/bulk-profiles.ts): person profiles from their
 * records' JSON text — parsed, merged by policy and written as COPY lines here, so the main
 * thread only moves rows between Postgres and this thread.
 */
import type { IdentityConfig } from '../../domain/identity/config';
import { serveJobs } from '../../platform/ts-worker';
import { copyArray, copyValue } from '../../db/pg-transaction';
import { personRow, provenanceByRecord } from './profiles';

export interface PersonProfileJob {
  profiles: Array<{ profileId: string; anchor: string; count: number; frags: Array<{ recordKey: string; sourceInstanceId: string | null; updatedAt: string; record: string }> }>;
}

serveJobs<PersonProfileJob, string, { config: IdentityConfig }>((job, { config }) => {
  let out = '';
  for (const p of job.profiles) {
    const r = personRow(config, p.profileId, p.anchor, p.frags.map((f) => ({ ...f, record: JSON.parse(f.record) as Record<string, unknown> })), p.count);
    out += `${p.profileId}\t${copyValue(r.anchor)}\t${copyValue(JSON.stringify(r.m.attributes))}\t${copyValue(JSON.stringify(provenanceByRecord(r.m.provenance)))}\t${copyArray(r.recordKeys)}\t${copyArray(r.types)}\t${r.count}\n`;
  }
  return out;
});
