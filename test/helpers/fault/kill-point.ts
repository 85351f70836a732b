/**
 * Where a trial's kill lands: a seeded random delay after the issue of a seeded random request
 * of the mix (so the kill usually falls inside that request's handling, whatever it is), or at a
 * time limit if the mix is slower than that.
 */
import type { Prng } from './prng.js';

export interface KillPlan {
  /** The request (counting across streams from 1) whose issue starts the delay. */
  afterRequest: number;
  delayMs: number;
  /** Kill by then in any case. */
  limitMs: number;
}

export interface KillPlanOptions {
  /** Range of `afterRequest` (default 1..400). */
  requests?: [number, number];
  /** Range of `delayMs` (default 0..25). */
  delayMs?: [number, number];
  limitMs?: number;
}

export function planKill(prng: Prng, opts: KillPlanOptions = {}): KillPlan {
  const [r0, r1] = opts.requests ?? [1, 400];
  const [d0, d1] = opts.delayMs ?? [0, 25];
  return { afterRequest: prng.int(r0, r1), delayMs: prng.int(d0, d1), limitMs: opts.limitMs ?? 3000 };
}

export interface KillTrigger {
  /** To be called as each request is issued. */
  onIssue(kind: string): void;
  /** Resolves, when it is time to kill, with where the kill lands. */
  fired: Promise<string>;
}

export function killTrigger(plan: KillPlan): KillTrigger {
  let issued = 0;
  let fire: (where: string) => void = () => {};
  const fired = new Promise<string>((resolve) => (fire = resolve));
  const limit = setTimeout(() => fire(`at the ${plan.limitMs} ms limit, after ${issued} requests`), plan.limitMs);
  void fired.then(() => clearTimeout(limit));
  return {
    onIssue(kind) {
      if (++issued === plan.afterRequest) setTimeout(() => fire(`${plan.delayMs} ms after request ${issued} (${kind})`), plan.delayMs);
    },
    fired,
  };
}
