/**
 * Whether the Marketo subscription has a native CRM sync (Salesforce or Microsoft Dynamics).
 *
 * Adobe: "Opportunity Role APIs are available only for subscriptions that do not have native CRM
 * sync enabled", and error 1018 (CRM Enabled) means "the action could not be carried out, because
 * the instance has a native CRM integration enabled". Marketo exposes no REST setting that names
 * the sync, so the first contact tells: the opportunity-role describe call answers 1018 on such a
 * subscription. The answer is cached per connector for a day (Adobe advises caching describe
 * metadata daily), and a 1018 on any later call marks the subscription at once.
 */
import { MarketoApiError, type MarketoHttp } from './http';

export const CRM_ENABLED = '1018';
const DAY = 86_400_000;

export class NativeCrmSync {
  private known: { enabled: boolean; at: number } | null = null;
  private probing: Promise<boolean> | null = null;

  constructor(private readonly http: MarketoHttp, private readonly ttlMs = DAY, private readonly now: () => number = Date.now) {}

  /** True when the subscription has native CRM sync; one describe call per connector and day. */
  async enabled(signal: AbortSignal): Promise<boolean> {
    if (this.known && this.now() - this.known.at < this.ttlMs) return this.known.enabled;
    if (!this.probing) {
      this.probing = this.probe(signal).finally(() => {
        this.probing = null;
      });
    }
    return this.probing;
  }

  /** A read answered 1018: the subscription has native CRM sync. */
  markEnabled(): void {
    this.known = { enabled: true, at: this.now() };
  }

  private async probe(signal: AbortSignal): Promise<boolean> {
    try {
      await this.http.call('GET', '/rest/v1/opportunities/roles/describe.json', { signal, passThrough: [CRM_ENABLED] });
      this.known = { enabled: false, at: this.now() };
    } catch (err) {
      if (!(err instanceof MarketoApiError) || err.code !== CRM_ENABLED) throw err;
      this.markEnabled();
    }
    return this.known!.enabled;
  }
}
