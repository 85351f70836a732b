import type { ChunkStore, CodeStore } from '../codestore/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { markReferences, type ReferenceCollections } from './references.js';

export interface CodeCollectorDeps {
  /** Every account's functions, versions and layers (the journal's own collections, not one registry's). */
  journal: ReferenceCollections;
  code: Pick<CodeStore, 'list' | 'deleteIfPutBefore'>;
  chunks: Pick<ChunkStore, 'listChunks' | 'listImages' | 'getImage' | 'deleteChunkIfPutBefore' | 'deleteImageIfPutBefore'>;
  clock: Clock;
  /**
   * Nothing is deleted within this long of its last upload (the document naming it may not be
   * written yet) or of when this collector first saw it unused (a reference being copied from
   * one document into another may not be written yet; an environment may still read it).
   */
  graceMs: number;
  /** The periodic sweep (besides the one at start, the ones a change of the documents asks for, and the ones grace defers). */
  intervalMs: number;
  /** A change of the documents asks for a sweep this much later (changes in between share it). */
  debounceMs: number;
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

/** A stored thing no document refers to, as a sweep considers it. */
interface Candidate {
  id: string;
  /** Its last put; undefined when the store keeps none (stored by an older version): only `unusedSince` counts then. */
  lastPutMs: number | undefined;
  remove(putBeforeMs: number): Promise<boolean>;
}

/**
 * Code garbage collection by mark and sweep: what no document of any account refers to is
 * deleted from the code store and the chunk store once both its last put and the moment this
 * collector first saw it unused are more than `graceMs` ago (see docs/storage-lifecycle.md).
 * That moment is kept in memory per blob, chunk and manifest, and forgotten when it is
 * referenced again; a restart forgets all of them, which only delays deletion. One process of
 * an installation runs it (`stratus up`, a cluster's placement process): a sweep at start (what
 * a crash between a document's change and a delete left is seen unused there, and removed
 * `graceMs` later), one shortly after any change of the documents, one when deferred blobs
 * leave their grace, and one every `intervalMs`. Sweeps never overlap; a failed one is logged
 * and tried again at the next.
 */
export class CodeCollector {
  private timer: { handle: TimerHandle; at: number } | undefined;
  private running: Promise<SweepResult | undefined> | undefined;
  private again = false;
  private stopped = true;
  private unwatch: (() => void)[] = [];
  private completed = 0;
  /** Per kind, when this collector first saw each stored, unreferenced thing unused (its `Candidate.id`). */
  private readonly unusedSince: Record<Kind, Map<string, number>> = { code: new Map(), chunk: new Map(), image: new Map() };
  private readonly removed: Record<Kind, { blobs: number; bytes: number }> = { code: { blobs: 0, bytes: 0 }, chunk: { blobs: 0, bytes: 0 }, image: { blobs: 0, bytes: 0 } };

  constructor(private readonly deps: CodeCollectorDeps) {}

  /** Sweeps now, then as described above, following the documents' changes. */
  async start(): Promise<void> {
    this.stopped = false;
    const nudge = () => this.nudge();
    const watches = await Promise.allSettled([this.deps.journal.functions, this.deps.journal.versions, this.deps.journal.layers].map((store) => store.watch(nudge)));
    const opened = watches.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
    const failed = watches.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) {
      // The watches that did open are closed again: a start that failed leaves nothing running.
      for (const stop of opened) stop();
      this.stopped = true;
      throw failed.reason;
    }
    this.unwatch = opened;
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

  /** Sweeps completed since start (a failed one is not counted): for the metrics. */
  sweepsCompleted(): number {
    return this.completed;
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
      this.completed++;
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
    const { clock, code, chunks } = this.deps;
    const refs = await markReferences(this.deps.journal);
    const result: SweepResult = { code: { blobs: 0, bytes: 0 }, chunks: { blobs: 0, bytes: 0 }, images: 0, deferred: 0, held: false };
    const due = { at: Infinity };
    const blobs = await code.list();
    await this.sweepKind('code', blobs.filter((b) => !refs.code.has(b.sha256)).map((b) => ({
      id: b.sha256, lastPutMs: b.lastPutMs, remove: async (before) => (await code.deleteIfPutBefore(b.sha256, before)) && this.count('code', result.code, b.size),
    })), result, due);
    const images = await chunks.listImages();
    await this.sweepKind('image', images.filter((i) => !refs.images.has(i.digest)).map((i) => ({
      id: i.digest, lastPutMs: i.lastPutMs, remove: async (before) => {
        if (!(await chunks.deleteImageIfPutBefore(i.digest, before))) return false;
        result.images++;
        this.removed.image.blobs++;
        return true;
      },
    })), result, due);
    // Chunks: listed after the manifests' deletions, so every manifest still stored (referenced,
    // young, or touched meanwhile) keeps all its chunks; so does every marked image, whatever
    // the listing returned (its manifest read on its own: a failure to read it fails the sweep).
    const stored = await chunks.listImages();
    const kept = new Set(stored.flatMap((image) => image.chunks));
    const listed = new Set(stored.map((image) => image.digest));
    for (const digest of refs.images) {
      if (listed.has(digest)) continue;
      const manifest = await chunks.getImage(digest);
      if (manifest) manifest.chunks.forEach((c) => kept.add(c));
      else this.deps.log.warn({ digest }, 'an image that a function names has no manifest stored');
    }
    const allChunks = await chunks.listChunks();
    await this.sweepKind('chunk', allChunks.filter((c) => !kept.has(c.sha256)).map((c) => ({
      id: c.sha256, lastPutMs: c.lastPutMs, remove: async (before) => (await chunks.deleteChunkIfPutBefore(c.sha256, before)) && this.count('chunk', result.chunks, c.size),
    })), result, due);
    if (due.at < Infinity) this.wakeIn(Math.max(0, due.at - clock.now()));
    return result;
  }

  /**
   * Records when each unreferenced thing of `kind` was first seen unused (forgetting the rest:
   * referenced again, or gone), then deletes those whose last put and first-seen-unused moment
   * are both more than `graceMs` ago; the others are deferred, and a sweep is due when they leave it.
   */
  private async sweepKind(kind: Kind, unused: Candidate[], result: SweepResult, due: { at: number }): Promise<void> {
    const { clock, graceMs } = this.deps;
    const now = clock.now();
    const cutoff = now - graceMs;
    const previous = this.unusedSince[kind];
    const seen = new Map(unused.map((c) => [c.id, previous.get(c.id) ?? now]));
    this.unusedSince[kind] = seen;
    for (const candidate of unused) {
      const since = seen.get(candidate.id) ?? now;
      // The later of its last put (unknown: does not count) and the moment it was first seen unused.
      const latest = Math.max(since, candidate.lastPutMs ?? -Infinity);
      if (latest >= cutoff) {
        result.deferred++;
        due.at = Math.min(due.at, latest + graceMs + 1);
        continue;
      }
      if (result.held || (await this.deps.held?.())) {
        result.held = true;
        due.at = Math.min(due.at, clock.now() + HELD_RETRY_MS);
        continue;
      }
      if (await candidate.remove(cutoff)) seen.delete(candidate.id);
    }
  }

  private count(kind: Kind, into: { blobs: number; bytes: number }, bytes: number): true {
    into.blobs++;
    into.bytes += bytes;
    this.removed[kind].blobs++;
    this.removed[kind].bytes += bytes;
    return true;
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
