/**
 * Prometheus metrics (prom-client), one registry per process, served at /metrics by the API and
 * by the worker. Counters and histograms are this process's own (Prometheus adds processes up);
 * what lives in Postgres (queue depth and lag, the resolvers' totals) is read at scrape time by a
 * collector the process registers, so every process reports the same shared figures.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'tessera_process_' });

const ingested = new Counter({
  name: 'tessera_records_ingested_total',
  help: 'Records stored by this process, by channel (api, file, sync, replay) and outcome (accepted, quarantined)',
  labelNames: ['channel', 'outcome'] as const,
  registers: [registry],
});

const batchRecords = new Histogram({
  name: 'tessera_resolver_batch_records',
  help: 'Records per resolver micro-batch',
  labelNames: ['entity'] as const,
  buckets: [1, 5, 25, 100, 250, 500, 1000, 2000],
  registers: [registry],
});
const batchSeconds = new Histogram({
  name: 'tessera_resolver_batch_seconds',
  help: 'Duration of a resolver micro-batch (one transaction)',
  labelNames: ['entity'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Shared figures read from Postgres when scraped. */
export interface ResolverFigures {
  entity: string;
  queueDepth: number;
  oldestQueuedMs: number;
  lastLagMs: number | null;
  records: number;
  merges: number;
  splits: number;
  setAside: number;
}

const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['entity'] as const, registers: [registry] });
const shared = {
  depth: gauge('tessera_resolver_queue_depth', 'Records waiting for the identity resolver'),
  lag: gauge('tessera_resolver_queue_lag_seconds', 'Age of the oldest record waiting for the resolver (0 when the queue is empty)'),
  lastLag: gauge('tessera_resolver_last_batch_lag_seconds', 'Ingest → resolved time of the oldest record in the last micro-batch'),
  records: gauge('tessera_resolver_records', 'Records resolved since the resolver was created'),
  merges: gauge('tessera_identity_merges', 'Profiles whose records joined another existing profile'),
  splits: gauge('tessera_identity_splits', 'Profiles whose records now lie in two or more profiles'),
  setAside: gauge('tessera_resolver_set_aside', 'Records set aside after failing to resolve (requeue after a fix)'),
};

let readFigures: (() => Promise<ResolverFigures[]>) | undefined;

/** Registers where the shared figures come from (the process's database). */
export function collectResolverFigures(read: () => Promise<ResolverFigures[]>): void {
  readFigures = read;
}

export const ingestMetrics = {
  count(channel: string, accepted: number, quarantined: number): void {
    if (accepted) ingested.inc({ channel, outcome: 'accepted' }, accepted);
    if (quarantined) ingested.inc({ channel, outcome: 'quarantined' }, quarantined);
  },
};

export const resolverMetrics = {
  observeBatch(entity: string, records: number, seconds: number): void {
    batchRecords.observe({ entity }, records);
    batchSeconds.observe({ entity }, seconds);
  },
};

/** The exposition text (Prometheus format), with the shared figures read now. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  if (readFigures) {
    const figures = await readFigures().catch(() => []);
    for (const f of figures) {
      const l = { entity: f.entity };
      shared.depth.set(l, f.queueDepth);
      shared.lag.set(l, f.oldestQueuedMs / 1000);
      shared.lastLag.set(l, (f.lastLagMs ?? 0) / 1000);
      shared.records.set(l, f.records);
      shared.merges.set(l, f.merges);
      shared.splits.set(l, f.splits);
      shared.setAside.set(l, f.setAside);
    }
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
