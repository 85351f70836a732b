import { StratusError } from '../shared/errors.js';
import type { Candidate, LeaderElection, Leadership, LeadershipStanding, StoredDocument } from './journal.js';

/**
 * Parts shared by the single-process engines (in-memory and SQLite): document watches that see
 * this journal's own writes, and a local election in which a leadership is held until resigned.
 */
export class DocumentListeners {
  private readonly listeners = new Set<(key: string, doc: StoredDocument | undefined) => void>();

  add(listener: (key: string, doc: StoredDocument | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  emit(key: string, doc: StoredDocument | undefined): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(key, doc && structuredClone(doc));
      } catch {
        // A listener's failure is its own; the write has committed.
      }
    }
  }
}

/** Where a local election's epochs come from (the SQLite engine persists them). */
export type EpochSource = (name: string) => number;

/** All local elections of one journal: who holds each name, and who waits for it. */
export class LocalElections {
  private readonly holders = new Map<string, LocalLeadership>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private readonly leaderListeners = new Map<string, Set<(leader: Candidate | undefined) => void>>();

  constructor(private readonly nextEpoch: EpochSource) {}

  election(name: string): LeaderElection {
    return {
      campaign: (candidate, signal) => this.campaign(name, candidate, signal),
      leader: async () => this.holders.get(name)?.candidate,
      watchLeader: async (listener) => {
        const set = this.leaderListeners.get(name) ?? new Set();
        this.leaderListeners.set(name, set);
        set.add(listener);
        return () => void set.delete(listener);
      },
    };
  }

  /** Rejects with 'Fenced' unless `fence` is the current leadership of its name. */
  checkFence(fence: Leadership | undefined): void {
    if (fence === undefined) return;
    const current = fence instanceof LocalLeadership && this.holders.get(fence.name) === fence;
    if (!current) throw new StratusError('Fenced', `leadership epoch ${fence.epoch} is no longer current`);
  }

  private async campaign(name: string, candidate: Candidate, signal?: AbortSignal): Promise<Leadership> {
    while (this.holders.has(name)) {
      signal?.throwIfAborted();
      await this.waitForRelease(name, signal);
    }
    signal?.throwIfAborted();
    const leadership = new LocalLeadership(name, structuredClone(candidate), this.nextEpoch(name), () => this.release(name, leadership));
    this.holders.set(name, leadership);
    this.notify(name, leadership.candidate);
    return leadership;
  }

  private waitForRelease(name: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.waiters.get(name) ?? [];
      this.waiters.set(name, queue);
      const onAbort = () => {
        queue.splice(queue.indexOf(wake), 1);
        reject(signal?.reason as Error);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      queue.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(name: string, leadership: LocalLeadership): void {
    if (this.holders.get(name) !== leadership) return;
    this.holders.delete(name);
    this.notify(name, undefined);
    this.waiters.get(name)?.shift()?.();
  }

  private notify(name: string, leader: Candidate | undefined): void {
    for (const listener of [...(this.leaderListeners.get(name) ?? [])]) listener(leader && structuredClone(leader));
  }
}

class LocalLeadership implements Leadership {
  private resigned = false;
  readonly lost: Promise<string>;
  private resolveLost!: (reason: string) => void;

  constructor(
    readonly name: string,
    readonly candidate: Candidate,
    readonly epoch: number,
    private readonly onResign: () => void,
  ) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
  }

  standing(): LeadershipStanding {
    return this.resigned ? 'lost' : 'held';
  }

  async resign(): Promise<void> {
    if (this.resigned) return;
    this.resigned = true;
    this.onResign();
    this.resolveLost('resigned');
  }
}
