import { writeOver, type DocumentStore } from '../journal/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

/**
 * The assignment leader's demand for workers, as one document in the journal's `fleetDemand`
 * store: a running count of cold starts that found no room (assignment's `UnplacedDemand`) under
 * the leadership that counted them. One key, rewritten in place: it never grows.
 */
export interface FleetDemandDocument {
  /** The assignment leadership's epoch (a later leadership's count starts again from 0). */
  epoch: number;
  count: number;
}

/** The one key of the `fleetDemand` store. */
export const FLEET_DEMAND_KEY = 'assignment';

export interface FleetDemandPublisherDeps {
  store: DocumentStore;
  /** The assignment leadership's epoch. */
  epoch: number;
  /** The running count now. */
  read(): number;
  clock: Clock;
  intervalMs: number;
  log: Logger;
}

/**
 * The assignment leader's side: every `intervalMs`, writes its count if it changed (so nothing is
 * written while every cold start finds room). A document of a later leadership is never
 * overwritten: a deposed leader still running stops there.
 */
export class FleetDemandPublisher {
  private timer: TimerHandle | undefined;
  private written: number | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: FleetDemandPublisherDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  /** One write if the count changed since the last (the timer calls it; tests may too). */
  publish(): Promise<void> {
    this.writing = this.writing.then(() => this.write()).catch((err: unknown) => this.deps.log.warn({ err }, 'fleet demand: writing the count failed; the next look writes it again'));
    return this.writing;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimer(this.deps.intervalMs, () => void this.publish().finally(() => this.schedule()));
  }

  private async write(): Promise<void> {
    const count = this.deps.read();
    if (count === this.written || this.stopped) return;
    const value: FleetDemandDocument = { epoch: this.deps.epoch, count };
    const current = await this.deps.store.get(FLEET_DEMAND_KEY);
    const stored = current && asDemand(current.value);
    if (stored && stored.epoch > this.deps.epoch) return this.stop();
    if (await writeOver(this.deps.store, FLEET_DEMAND_KEY, current, value)) this.written = count;
  }
}

/**
 * The placement leader's side, read at each of the FleetScaler's looks: how much the count rose
 * since the previous look. The first look after `reset` (a new placement leadership) only takes
 * the count recorded as its base (none recorded: 0); a new assignment leadership's whole count is new; an older
 * leadership's document (a deposed leader's late write) counts nothing.
 */
export class FleetDemandReader {
  private seen: FleetDemandDocument | undefined;

  constructor(private readonly store: DocumentStore, private readonly log: Logger) {}

  reset(): void {
    this.seen = undefined;
  }

  async unplaced(): Promise<number> {
    let doc: FleetDemandDocument | undefined;
    try {
      const stored = await this.store.get(FLEET_DEMAND_KEY);
      doc = stored && asDemand(stored.value);
    } catch (err) {
      this.log.warn({ err }, 'fleet demand: reading the count failed; taken as none');
      return 0;
    }
    const seen = this.seen;
    // With no count recorded yet, whatever is recorded next is all new.
    if (!doc) this.seen ??= { epoch: Number.NEGATIVE_INFINITY, count: 0 };
    if (!doc || (seen && doc.epoch < seen.epoch)) return 0;
    this.seen = doc;
    if (!seen) return 0;
    return doc.epoch > seen.epoch ? doc.count : Math.max(0, doc.count - seen.count);
  }
}

/** The placement leader's key in the `fleetDemand` store: the memory of a worker its provider would add. */
export const FLEET_WORKER_SIZE_KEY = 'worker-size';

/**
 * The placement leader's side, at the start of each leadership (FleetScaler's `announce`): records
 * the memory of the workers its provider starts (0: it starts none), so that assignment counts as
 * demand only cold starts such a worker could hold, whatever the workers that joined by hand hold.
 */
export async function announceWorkerSize(store: DocumentStore, memoryMb: number): Promise<void> {
  const current = await store.get(FLEET_WORKER_SIZE_KEY);
  if (current && asWorkerSize(current.value) === memoryMb) return;
  if (!(await writeOver(store, FLEET_WORKER_SIZE_KEY, current, { memoryMb }))) throw new StratusError('ResourceConflict', 'fleet: the worker size document changed while it was written; announced again at the next look');
}

/**
 * The assignment leader's side: the memory of a worker the fleet would add, as the placement
 * leader last announced it (watched); undefined until one was announced.
 */
export class FleetWorkerSize {
  private memoryMb: number | undefined;
  private unwatch: (() => void) | undefined;

  constructor(private readonly store: DocumentStore) {}

  async start(): Promise<void> {
    this.unwatch = await this.store.watch((key, doc) => {
      if (key === FLEET_WORKER_SIZE_KEY) this.memoryMb = doc && asWorkerSize(doc.value);
    });
    const stored = await this.store.get(FLEET_WORKER_SIZE_KEY);
    // (A change the watch saw while this read was under way is the newer.)
    this.memoryMb ??= stored && asWorkerSize(stored.value);
  }

  current(): number | undefined {
    return this.memoryMb;
  }

  stop(): void {
    this.unwatch?.();
  }
}

function asWorkerSize(value: unknown): number | undefined {
  const v = (value as { memoryMb?: unknown } | null)?.memoryMb;
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined;
}

function asDemand(value: unknown): FleetDemandDocument | undefined {
  const v = value as Partial<FleetDemandDocument> | null;
  return v && Number.isSafeInteger(v.epoch) && Number.isSafeInteger(v.count) && (v.count ?? -1) >= 0 ? (v as FleetDemandDocument) : undefined;
}
