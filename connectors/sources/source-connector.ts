/**
 * The contract between a source connector (Marketo, Salesforce, Dynamics) and the sync engine
 * (activities/sync.ts, workflows/sync.ts and backfill.ts).
 *
 * A connector exposes streams (one per source object or export: `leads`, `Contact`, `accounts`).
 * The engine reads a stream one page at a time: `readPage(state)` returns the records of one page,
 * already mapped to XDM classes, and the stream state *after* that page. The engine validates the
 * records with the XDM schemas and stores them together with the new state in ONE Postgres
 * transaction, so a crash re-reads at most the page in flight. The state is JSON, opaque to the
 * engine and validated by the connector (zod) when read back.
 *
 * A run of a stream ends when a page says `complete: true`; that page's state is the stream's
 * resting state (a watermark, a delta link) from which the next run starts. A backfill reads one
 * time window per run, with its own state, starting from null.
 *
 * Connectors never see the database or Temporal: every HTTP call goes through `gate` (the
 * instance's shared request budget) and credentials come in `credentials`, never from inputs.
 */
import type { XdmClassName } from '../../domain/xdm/class-spec';

export const SOURCE_TYPES = ['marketo', 'salesforce', 'dynamics'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/** Where and how to reach one instance. Non-secret; stored in `source_instance`. */
export interface SourceInstance {
  sourceType: SourceType;
  /**
   * The `sourceInstanceID` in source keys: the Marketo Munchkin id (`123-ABC-456`), the Salesforce
   * org id, the Dynamics organisation (e.g. the host label `contoso`). No '@' or '.'.
   */
  instanceId: string;
  /** API base URL: `https://123-ABC-456.mktorest.com`, `https://acme.my.salesforce.com`, `https://contoso.crm.dynamics.com`. */
  endpoint: string;
  /** Token URL when separate from `endpoint` (Entra: `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`). */
  authEndpoint?: string;
  /** Connector-specific settings (API version, page sizes, bulk thresholds, overlap); the connector validates them. */
  settings: Record<string, unknown>;
}

/** OAuth client credentials for one instance, from env or the secrets file. Never logged. */
export interface SourceCredentials {
  clientId: string;
  clientSecret: string;
}

/**
 * Runs one HTTP call within the instance's request budget (shared by every worker through
 * Postgres): waits for a slot, runs the call, frees the slot. Every attempt of every call goes
 * through it, retries included.
 */
export type RequestGate = <T>(call: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

export interface ConnectorLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface ConnectorContext {
  instance: SourceInstance;
  credentials: SourceCredentials;
  gate: RequestGate;
  log: ConnectorLog;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A stream's position, as JSON. Opaque to the engine. */
export type StreamState = { [key: string]: JsonValue };

export interface TimeWindow {
  /** ISO 8601, inclusive. */
  from: string;
  /** ISO 8601, exclusive. */
  to: string;
}

export interface ReadRequest {
  /** The state stored with the previous page, or the resting state of the previous run; null on the first run. */
  state: StreamState | null;
  /** Backfills only: the window to read (never longer than the stream's `backfill.maxWindowDays`). */
  window?: TimeWindow;
  /** When this run started (ISO): an incremental run reads changes up to here (its high-water mark). */
  runStartedAt: string;
  signal: AbortSignal;
  /**
   * For objects the source can only read by key (Marketo companies, opportunities, opportunity
   * roles): the distinct values already stored from this instance at dotted `path` of records of
   * `xdmClass` (e.g. the CRM company ids carried on leads), in ascending order, after `after`.
   */
  knownValues(query: KnownValuesQuery, after: string | null, limit: number): Promise<string[]>;
}

export interface KnownValuesQuery {
  xdmClass: XdmClassName;
  /** Dotted path inside the stored XDM record, e.g. `b2b.accountKey.sourceID`. */
  path: string;
  /**
   * Only the values carried by records stored at or after this instant (ISO): the keys that are new
   * or whose referencing records changed since a stream's last complete run. Absent: every value.
   */
  changedSince?: string;
  /**
   * Values stored from another instance than the stream's: the CRM org a Marketo subscription syncs
   * with (its opportunity ids are the `externalOpportunityId`s Marketo can be asked by).
   */
  instance?: { sourceType: SourceType; instanceId: string };
}

/** One source record mapped to an XDM class; the engine validates it with the class's schema. */
export interface SourceRecord {
  xdmClass: XdmClassName;
  record: Record<string, unknown>;
}

/** A source row the connector could not map (e.g. a malformed bulk CSV line): quarantined with its reason. */
export interface UnmappableRow {
  xdmClass: XdmClassName;
  /** The row's source key when it could be read. */
  sourceKey: string | null;
  reason: string;
  /** The row as received (object, or string when it could not be parsed). */
  raw: unknown;
}

export interface PageResult {
  records: SourceRecord[];
  unmappable: UnmappableRow[];
  /** The state after this page: stored in the same transaction as its records. */
  state: StreamState;
  /** This run has read everything it should; `state` is the resting state the next run starts from. */
  complete: boolean;
  /** Wait this long before reading again (a bulk job still running). The engine sleeps durably. */
  waitMs?: number;
  /** What an operator should see in the run's status, e.g. `change token expired: full resync`. */
  notices?: string[];
  /**
   * When complete: the number of records the source said this run would return, when it says so
   * (a bulk job's record count). The engine fails the run if it stored fewer (no silent gaps).
   */
  expectedRecords?: number;
}

export interface SourceStream {
  /** Stable name, used in cursors, workflow search attributes and the UI: `leads`, `Contact`, `accounts`. */
  name: string;
  /** The XDM classes this stream produces. */
  xdmClasses: readonly XdmClassName[];
  /** Streams whose run must be complete before this one starts (e.g. companies read by keys found on leads). */
  dependsOn?: readonly string[];
  /** Whether the stream can be backfilled by time window, and the longest window the source allows. */
  backfill: { maxWindowDays: number } | null;
  readPage(req: ReadRequest): Promise<PageResult>;
  /**
   * For streams whose source reports no deletes (Marketo companies, opportunities, list
   * membership; Dataverse tables without change tracking): how to list the ids the source holds
   * now, for the periodic id-set reconciliation that marks the stored records it no longer has as
   * deleted. Absent: the stream's deletes are seen by its reads.
   */
  reconcile?: ReconcileSpec;
}

export interface ReconcileSpec {
  /** The class of the stored records this stream writes. */
  xdmClass: XdmClassName;
  /**
   * The stored records this stream owns are those of `xdmClass` from this instance whose sourceID
   * ends with this suffix (Marketo companies `.mkto_org`, named accounts `.mkto_acct`); '' for all.
   */
  idSuffix: string;
  /**
   * One page of the ids (sourceIDs, suffix included) the source holds now. `state` is null on the
   * first call; the answer's `state` is null once every id has been listed. `storedIds` pages
   * through the sourceIDs stored from this instance for the stream (ascending, after `after`), for
   * sources that can only be asked about known ids (Marketo's filter-only objects).
   */
  listIds(req: ListIdsRequest): Promise<{ ids: string[]; state: StreamState | null }>;
}

export interface ListIdsRequest {
  state: StreamState | null;
  signal: AbortSignal;
  storedIds(after: string | null, limit: number): Promise<string[]>;
}

export interface SourceConnector {
  readonly sourceType: SourceType;
  readonly streams: readonly SourceStream[];
  /** Checks credentials and reachability; throws SourceAuthFailed / SourceUnavailable. */
  verify(signal: AbortSignal): Promise<void>;
}

/** What each connector module exports (connectors/sources/<type>/index.ts). */
export interface SourceConnectorModule {
  sourceType: SourceType;
  /** The vendor's per-instance limits the request budget enforces (with a safety margin). */
  budget: { maxCalls: number; windowMs: number; maxInFlight: number };
  create(ctx: ConnectorContext): SourceConnector;
}
