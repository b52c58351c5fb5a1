/** What every vendor simulator offers its users (tests, benchmarks, `npm start`'s estate). */
import type { XdmClassName } from '../../domain/xdm/class-spec';
import type { SimClock } from './clock';
import type { FaultController } from './faults';
import type { RequestStatsSnapshot } from './request-stats';

export interface SimulatorHandle {
  /** Base URL to give the connector as `endpoint`. */
  url: string;
  /** The sourceInstanceID the connector uses in source keys. */
  instanceId: string;
  faults: FaultController;
  clock: SimClock;
  stats(): RequestStatsSnapshot;
  /**
   * Records per XDM class a full sync of this instance yields (deleted ones included, flagged).
   * `crmSynced`: the CRM org a Marketo instance syncs with was synced before it (its opportunities
   * are stored, so Marketo's opportunities are found by their CRM ids too, not only by roles).
   */
  groundTruth(opts?: { crmSynced?: boolean }): Partial<Record<XdmClassName, number>>;
  /** Changes data as a user would: updates n records of each object, deletes m. */
  mutate(opts: { update?: number; delete?: number; seed?: number }): { updated: number; deleted: number };
  stop(): Promise<void>;
}
