import { environmentKey, type FunctionVersion } from '../registry/index.js';
import type { EnvironmentEntry } from './environments.js';

export interface ProvisionedConcurrencyDeps {
  /** Every environment the service knows. */
  environments(): Iterable<EnvironmentEntry>;
  /** Starts one provisioned environment of `fn`; false if no worker has room for it. */
  startOne(fn: FunctionVersion, key: string): boolean;
  destroy(env: EnvironmentEntry, reason: string): void;
}

/**
 * Provisioned concurrency: per environment key, the number of environments kept initialized
 * ahead of traffic. Reconciled when a target changes and on every sweep (a lost one is replaced).
 */
export class ProvisionedConcurrency {
  private readonly targets = new Map<string, { fn: FunctionVersion; count: number }>();

  constructor(private readonly deps: ProvisionedConcurrencyDeps) {}

  /** Keep `count` environments of this version initialized (0 removes the target). */
  set(fn: FunctionVersion, count: number): void {
    const key = environmentKey(fn);
    if (count > 0) this.targets.set(key, { fn, count });
    else this.targets.delete(key);
    this.reconcile(key);
  }

  /** Provisioned environments that exist (initialized) for this version now. */
  count(fn: FunctionVersion): number {
    const key = environmentKey(fn);
    let n = 0;
    for (const env of this.deps.environments()) if (env.key === key && env.provisioned && env.state.kind !== 'initializing') n++;
    return n;
  }

  /** Targets of a changed function (or one version of it) go, except the one of key `current`. */
  retire(functionArn: string, version: string | undefined, current: string | undefined): void {
    for (const [key, target] of this.targets) {
      if (key !== current && target.fn.functionArn === functionArn && (version === undefined || target.fn.version === version)) this.targets.delete(key);
    }
  }

  /** Tops up (or trims) every target. */
  reconcileAll(): void {
    for (const key of this.targets.keys()) this.reconcile(key);
  }

  clear(): void {
    this.targets.clear();
  }

  /** Surplus idle environments are destroyed (busy ones lose the mark); missing ones are started. */
  private reconcile(key: string): void {
    const target = this.targets.get(key);
    const mine = [...this.deps.environments()].filter((e) => e.key === key && e.provisioned);
    const wanted = target?.count ?? 0;
    for (const extra of mine.slice(wanted)) {
      if (extra.state.kind === 'idle') this.deps.destroy(extra, 'provisioned concurrency lowered');
      else extra.provisioned = false;
    }
    for (let i = mine.length; target && i < wanted; i++) {
      if (!this.deps.startOne(target.fn, key)) break;
    }
  }
}
