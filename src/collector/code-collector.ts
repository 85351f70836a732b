import type { ChunkStore, CodeStore } from '../codestore/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { markReferences, type ReferenceCollections, type References } from './references.js';

export interface CodeCollectorDeps {
  /** Every account's functions, versions and layers (the journal's own collections, not one registry's). */
  journal: ReferenceCollections;
  code: Pick<CodeStore, 'list' | 'deleteIfPutBefore'>;
  chunks: Pick<ChunkStore, 'listChunks' | 'listImages' | 'deleteChunkIfPutBefore' | 'deleteImageIfPutBefore'>;
  clock: Clock;
  /** A blob put less than this long ago is never deleted: the document naming it may not be written yet. */
  graceMs: number;
  /** The periodic sweep (besides the one at start, the ones a change of the documents asks for, and the ones grace defers). */
  intervalMs: number;
  /** A change of the documents asks for a sweep this much later (changes in between share it). */
  debounceMs: number;
  /**
   * Between the sweep's two marks: a blob must be unreferenced in both. A reference copied
   * from one document into another (a layer version into a function, $LATEST into a version)
   * without a put is seen by the second mark if the copy took less than this.
   */
  settleMs: number;
  log: Logger;
  /**
   * Whether collection is held now (on one machine, a backup's hold: `gcHeld`): asked right before
   * each deletion; while it answers true nothing is deleted and the sweep is tried again shortly.
   */
  held?: () => Promise<boolean>;
  /** After a sweep that deleted something (a cluster compacts etcd's history so the space is returned). */
  afterRemoval?: () => Promise<unknown>;
}

/** What one sweep removed. */
export interface SweepResult {
  code: { blobs: number; bytes: number };
  chunks: { blobs: number; bytes: number };
  images: number;
  /** Unreferenced blobs still within the grace period: collected by a later sweep. */
  deferred: number;
  /** A hold stopped the sweep's deletions (it is tried again shortly). */
  held: boolean;
}

/** How soon a sweep that a hold stopped is tried again. */
const HELD_RETRY_MS = 5000;

type Kind = 'code' | 'chunk' | 'image';

/**
 * Code garbage collection by mark and sweep: what no document of any account refers to, and
 * was last put before the grace period, is deleted from the code store and the chunk store
 * (see docs/storage-lifecycle.md). One process of an installation runs it (`stratus up`, a
 * cluster's placement process): a sweep at start (repairing what a crash between a document's
 * change and a delete left), one shortly after any change of the documents, one when deferred
 * blobs leave their grace, and one every `intervalMs`. Sweeps never overlap; a failed one is
 * logged and tried again at the next.
 */
export class CodeCollector {
  private timer: { handle: TimerHandle; at: number } | undefined;
  private running: Promise<SweepResult | undefined> | undefined;
  private again = false;
  private stopped = true;
  private unwatch: (() => void)[] = [];
  private readonly removed: Record<Kind, { blobs: number; bytes: number }> = { code: { blobs: 0, bytes: 0 }, chunk: { blobs: 0, bytes: 0 }, image: { blobs: 0, bytes: 0 } };

  constructor(private readonly deps: CodeCollectorDeps) {}

  /** Sweeps now, then as described above, following the documents' changes. */
  async start(): Promise<void> {
    this.stopped = false;
    const nudge = () => this.nudge();
    this.unwatch = await Promise.all([this.deps.journal.functions, this.deps.journal.versions, this.deps.journal.layers].map((store) => store.watch(nudge)));
    void this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const stop of this.unwatch) stop();
    this.timer?.handle.cancel();
    this.timer = undefined;
    await this.running;
  }

  /** A document changed: sweep after the debounce (unless one is due sooner). */
  nudge(): void {
    this.wakeIn(this.deps.debounceMs);
  }

  /** Resolves once no sweep is under way (nor asked for again meanwhile). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Running totals removed since start, by kind: for the metrics. */
  totals(): Readonly<Record<Kind, { blobs: number; bytes: number }>> {
    return this.removed;
  }

  /** One sweep now (after the one under way, if any); resolves what it removed, undefined if it failed. */
  async sweep(): Promise<SweepResult | undefined> {
    if (this.running) {
      this.again = true;
      await this.idle();
      return undefined;
    }
    this.running = this.sweepOnce();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.sweep();
      }
    }
  }

  private async sweepOnce(): Promise<SweepResult | undefined> {
    try {
      const result = await this.collect();
      const total = result.code.blobs + result.chunks.blobs + result.images;
      if (total > 0) {
        this.deps.log.info({ ...result }, 'removed unreferenced code');
        await this.deps.afterRemoval?.().catch((err: unknown) => this.deps.log.warn({ err }, 'returning the space of removed code failed'));
      }
      return result;
    } catch (err) {
      this.deps.log.warn({ err }, 'collecting unreferenced code failed; trying again at the next sweep');
      return undefined;
    } finally {
      this.wakeIn(this.deps.intervalMs);
    }
  }

  private async collect(): Promise<SweepResult> {
    const { clock, graceMs } = this.deps;
    const cutoff = clock.now() - graceMs;
    const first = await markReferences(this.deps.journal);
    if (this.deps.settleMs > 0) await new Promise<void>((resolve) => clock.setTimer(this.deps.settleMs, resolve));
    const refs = union(first, await markReferences(this.deps.journal));
    const result: SweepResult = { code: { blobs: 0, bytes: 0 }, chunks: { blobs: 0, bytes: 0 }, images: 0, deferred: 0, held: false };
    let nextDue = Infinity;
    const consider = async (lastPutMs: number, remove: () => Promise<boolean>): Promise<boolean> => {
      if (lastPutMs >= cutoff) {
        result.deferred++;
        nextDue = Math.min(nextDue, lastPutMs + graceMs + 1);
        return false;
      }
      if (result.held || (await this.deps.held?.())) {
        result.held = true;
        nextDue = Math.min(nextDue, clock.now() + HELD_RETRY_MS);
        return false;
      }
      return remove();
    };
    for (const blob of await this.deps.code.list()) {
      if (refs.code.has(blob.sha256)) continue;
      if (await consider(blob.lastPutMs, () => this.deps.code.deleteIfPutBefore(blob.sha256, cutoff))) this.count('code', result.code, blob.size);
    }
    for (const image of await this.deps.chunks.listImages()) {
      if (refs.images.has(image.digest)) continue;
      if (await consider(image.lastPutMs, () => this.deps.chunks.deleteImageIfPutBefore(image.digest, cutoff))) {
        result.images++;
        this.removed.image.blobs++;
      }
    }
    // Chunks: listed after the manifests' deletions, so every manifest still stored (referenced,
    // young, or touched meanwhile) keeps all its chunks.
    const kept = new Set((await this.deps.chunks.listImages()).flatMap((image) => image.chunks));
    for (const chunk of await this.deps.chunks.listChunks()) {
      if (kept.has(chunk.sha256)) continue;
      if (await consider(chunk.lastPutMs, () => this.deps.chunks.deleteChunkIfPutBefore(chunk.sha256, cutoff))) this.count('chunk', result.chunks, chunk.size);
    }
    if (nextDue < Infinity) this.wakeIn(Math.max(0, nextDue - clock.now()));
    return result;
  }

  private count(kind: Kind, into: { blobs: number; bytes: number }, bytes: number): void {
    into.blobs++;
    into.bytes += bytes;
    this.removed[kind].blobs++;
    this.removed[kind].bytes += bytes;
  }

  /** Arms the timer for a sweep in `ms`, unless one is armed sooner already. */
  private wakeIn(ms: number): void {
    if (this.stopped) return;
    const at = this.deps.clock.now() + ms;
    if (this.timer && this.timer.at <= at) return;
    this.timer?.handle.cancel();
    const handle = this.deps.clock.setTimer(ms, () => {
      if (this.timer?.handle === handle) this.timer = undefined;
      void this.sweep();
    });
    this.timer = { handle, at };
  }
}

function union(a: References, b: References): References {
  return { code: new Set([...a.code, ...b.code]), images: new Set([...a.images, ...b.images]) };
}
