/** What every scenario gets and returns. */
import type { PeerInfo } from './peer.js';
import type { Check, Row, ScenarioResult } from './report.js';
import { summarize, type Summary } from './stats.js';

export interface BenchContext {
  /** Interleaved rounds per scenario. */
  rounds: number;
  /** Fewer samples and shorter loads: a smoke run, not for comparison. */
  quick: boolean;
  /** A temp dir, removed at the end. */
  scratch: string;
  peer: PeerInfo;
  cores: number;
}

/** The body of a scenario; the runner adds timing and turns a throw into a failed result. */
export type ScenarioBody = (ctx: BenchContext) => Promise<Omit<ScenarioResult, 'id' | 'title' | 'ok' | 'durationS'>>;

export interface Scenario {
  id: string;
  title: string;
  run: ScenarioBody;
  /** Needs neither the load generator nor the peer (they are not installed for it alone). */
  standalone?: boolean;
}

/** `items` rotated by `round`, so no target is always first (or always right after another). */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Samples grouped per round, for one series. */
export class Series {
  readonly rounds: number[][] = [];

  add(round: number, value: number): void {
    while (this.rounds.length <= round) this.rounds.push([]);
    (this.rounds[round] as number[]).push(value);
  }

  summary(): Summary {
    return summarize(this.rounds);
  }

  row(target: string, metric: string, unit: string, note?: string): Row {
    return { target, metric, unit, summary: this.summary(), note };
  }
}

export function check(scenario: string, target: string, measured: string, met: boolean | null): Check {
  return { scenario, target, measured, met };
}

export const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(v >= 10 ? 1 : 2)} ms` : 'n/a');
export const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : 'n/a');
