/**
 * Switchable, seeded fault injection for simulators (connector-apis.md §6): rules matched by
 * method, path, the nth matching call, every-nth or a seeded probability, and limited in how often
 * they fire. Tests add rules through the simulator object or `POST /__sim/faults`.
 */
import { z } from 'zod';
import { seededRandom, type Random } from './random';

export const faultActionSchema = z.discriminatedUnion('kind', [
  /** Answer with this HTTP status, body and headers instead of the real handler. */
  z.object({ kind: z.literal('http'), status: z.number().int(), body: z.unknown().optional(), headers: z.record(z.string(), z.string()).optional() }),
  /** The simulator's own vendor error (Marketo `606`, Salesforce `INVALID_SESSION_ID`, Dynamics `expired-token`...), rendered in the vendor's envelope. */
  z.object({ kind: z.literal('vendor'), code: z.string(), message: z.string().optional() }),
  /** Delay the real response by `ms`. */
  z.object({ kind: z.literal('delay'), ms: z.number().int().nonnegative() }),
  /** Destroy the connection without answering. */
  z.object({ kind: z.literal('drop') }),
  /** Send the real response but cut the body after `afterBytes` bytes (then close). */
  z.object({ kind: z.literal('truncate'), afterBytes: z.number().int().nonnegative() }),
  /** Simulator-specific data fault (e.g. `malformed-row`): the handler asks `faults.dataFault(name)`. */
  z.object({ kind: z.literal('data'), name: z.string() }),
]);
export type FaultAction = z.infer<typeof faultActionSchema>;

export const faultRuleSchema = z.object({
  id: z.string().optional(),
  method: z.string().optional(),
  /** Regular expression tested against the path (without query). */
  path: z.string().optional(),
  /** Fire on the nth matching call only (1-based). */
  nth: z.number().int().positive().optional(),
  /** Fire on every nth matching call. */
  every: z.number().int().positive().optional(),
  /** Fire with this probability (seeded). */
  probability: z.number().min(0).max(1).optional(),
  /** Fire at most this many times. */
  times: z.number().int().positive().optional(),
  action: faultActionSchema,
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

interface ActiveRule {
  rule: FaultRule;
  id: string;
  pathRe: RegExp | null;
  matched: number;
  fired: number;
}

export class FaultController {
  private rules: ActiveRule[] = [];
  private random: Random;
  private nextId = 1;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  add(rule: FaultRule): string {
    const parsed = faultRuleSchema.parse(rule);
    const id = parsed.id ?? `fault-${this.nextId++}`;
    this.rules.push({ rule: parsed, id, pathRe: parsed.path ? new RegExp(parsed.path) : null, matched: 0, fired: 0 });
    return id;
  }

  remove(id: string): void {
    this.rules = this.rules.filter((r) => r.id !== id);
  }

  clear(): void {
    this.rules = [];
  }

  list(): Array<FaultRule & { id: string; matched: number; fired: number }> {
    return this.rules.map((r) => ({ ...r.rule, id: r.id, matched: r.matched, fired: r.fired }));
  }

  /** The action of the first rule that fires for this request, if any (counts matches as it goes). */
  match(method: string, path: string): FaultAction | null {
    for (const r of this.rules) {
      if (r.rule.action.kind === 'data') continue;
      if (this.fires(r, method, path)) return r.rule.action;
    }
    return null;
  }

  /** Whether a data fault named `name` fires now for this request (handlers ask per row or per page). */
  dataFault(name: string, method = '*', path = '*'): boolean {
    for (const r of this.rules) {
      if (r.rule.action.kind !== 'data' || r.rule.action.name !== name) continue;
      if (this.fires(r, method, path)) return true;
    }
    return false;
  }

  private fires(r: ActiveRule, method: string, path: string): boolean {
    if (r.rule.method && method !== '*' && r.rule.method.toUpperCase() !== method.toUpperCase()) return false;
    if (r.pathRe && path !== '*' && !r.pathRe.test(path)) return false;
    if (r.rule.times !== undefined && r.fired >= r.rule.times) return false;
    r.matched++;
    let fire = true;
    if (r.rule.nth !== undefined) fire = r.matched === r.rule.nth;
    if (fire && r.rule.every !== undefined) fire = r.matched % r.rule.every === 0;
    if (fire && r.rule.probability !== undefined) fire = this.random() < r.rule.probability;
    if (fire) r.fired++;
    return fire;
  }
}
