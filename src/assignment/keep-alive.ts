import type { FunctionVersion } from '../registry/index.js';
import type { EnvironmentEntry } from './environments.js';

/** What the policy decides when an invoke ends and its environment would go idle. */
export interface KeepAliveWindow {
  /**
   * 0: keep the environment idle for `keepAliveMs`. More: unload it now, and boot a fresh one
   * this long after the invoke ended, kept idle for `keepAliveMs` (a pre-warm).
   */
  prewarmMs: number;
  keepAliveMs: number;
}

/** A pre-warm that is due: boot one environment of `fn` now and keep it idle for `keepAliveMs`. */
export interface Prewarm {
  fn: FunctionVersion;
  key: string;
  keepAliveMs: number;
}

/**
 * How long idle environments are kept, per environment key. The assignment service tells it of
 * every arrival and every end of an invoke; it never sees provisioned environments' windows
 * applied (they are kept whatever it says). Implementations: `FixedKeepAlive`, `HistogramKeepAlive`.
 */
export interface KeepAlivePolicy {
  readonly name: 'fixed' | 'histogram';
  /** An invoke of `fn` (environment key `key`) arrived: a pending pre-warm of the key is no longer needed. */
  arrived(fn: FunctionVersion, key: string, nowMs: number): void;
  /** An invoke ended on `env`, which goes idle: how long to keep it (for a provisioned one, only recorded). */
  ended(env: Pick<EnvironmentEntry, 'key' | 'provisioned'>, nowMs: number): KeepAliveWindow;
  /** An invoke of `key` that arrived will never end (it got no environment, or its environment was destroyed while it ran). */
  abandoned(key: string): void;
  /** Pre-warms due by now (each is returned once). */
  duePrewarms(nowMs: number): Prewarm[];
  /** The function (or one version of it) changed: what was learnt of it goes, except of key `current`. */
  retire(functionArn: string, version: string | undefined, current: string | undefined): void;
  clear(): void;
}

/** Today's keep-alive: every idle environment is kept `keepAliveMs` after its last invoke. */
export class FixedKeepAlive implements KeepAlivePolicy {
  readonly name = 'fixed';
  private readonly window: KeepAliveWindow;

  constructor(keepAliveMs: number) {
    this.window = { prewarmMs: 0, keepAliveMs };
  }

  arrived(): void {}

  abandoned(): void {}

  ended(): KeepAliveWindow {
    return this.window;
  }

  duePrewarms(): Prewarm[] {
    return [];
  }

  retire(): void {}

  clear(): void {}
}
