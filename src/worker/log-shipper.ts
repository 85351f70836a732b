import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { CLUSTER_API } from '../shared/cluster-api.js';
import type { InternalClient } from '../shared/internal-client.js';
import { isStratusError } from '../shared/errors.js';
import { CONTROL_PLANE_NAME } from '../shared/tls.js';
import type { Logger } from '../shared/log.js';
import type { EnvironmentSpec } from './environment-spec.js';
import { charStart, EventArena, MAX_EVENT_BYTES, takenBytes, type TakenEvents } from './log-arena.js';

/** Where function output goes besides the log tail (the log store, the console of `stratus up`, or nowhere). */
export interface FunctionLogSink {
  /** False when function output goes nowhere: the platform lines are then only built for a tail. */
  readonly enabled: boolean;
  /** Output of one environment as it comes (not cut into lines): the function's pipes, or the platform's whole lines. */
  write(to: LogDestination, text: string, source: OutputSource): void;
}

/** Lines are assembled per source, so a line on one pipe never runs into another's. */
export type OutputSource = 'stdout' | 'stderr' | 'platform';

/** The log group and stream of one environment, in its function's account. */
export interface LogDestination {
  accountId: string;
  functionName: string;
  group: string;
  stream: string;
  /** The grant a worker in its own process posts the group's batches under (`shared/log-grants.ts`). */
  grant?: string;
}

/** What one request to the store carries at most (its JSON stays well within the ingest route's bound). */
const MAX_SHIPMENT_BYTES = 2 * 1024 * 1024;

export { MAX_EVENT_BYTES } from './log-arena.js';

/** Events of one environment's stream, as a worker hands them to the log store (the wire shape). */
export const logBatchSchema = z.object({
  accountId: z.string().regex(/^\d{12}$/),
  group: z.string().min(1).max(512),
  stream: z.string().min(1).max(512),
  grant: z.string().max(128).optional(),
  events: z.array(z.object({ timestamp: z.number().int().nonnegative(), message: z.string().max(MAX_EVENT_BYTES) })).min(1),
});
export type LogBatch = z.infer<typeof logBatchSchema>;

/**
 * Stores batches of function logs (into the journal's log store, or over the internal API). A
 * failure may name, in its StratusError detail SETTLED_BATCHES, the batches it stored (or
 * dropped) all the same: those are not shipped again.
 */
export type ShipLogs = (batches: LogBatch[]) => Promise<void>;

/** The detail of a shipping failure listing the batches (indexes, comma-separated) that are settled. */
export const SETTLED_BATCHES = 'settledBatches';

/** The batches a shipping failure says were settled all the same. */
function settledBatches(err: unknown): Set<number> {
  const listed = isStratusError(err) ? err.details[SETTLED_BATCHES] : undefined;
  return new Set(listed ? listed.split(',').map(Number) : []);
}

export interface LogShipperOptions {
  ship: ShipLogs;
  clock: Clock;
  log: Logger;
  /** How long output waits to be shipped with more (a partial line waits as long). */
  flushAfterMs: number;
  /** Output held while the store is unreachable; beyond it the oldest is dropped (and counted). */
  maxBufferedBytes: number;
}

interface Stream {
  to: LogDestination;
  /** Per source, the end of its output so far that is not yet a whole line, and when it began. */
  partials: Map<OutputSource, { text: string; at: number; bytes: number }>;
  /** Its whole events, waiting (off the JavaScript heap until they are shipped). */
  events: EventArena;
}

const NEWLINE = 0x0a;

const keyOf = (to: Pick<LogDestination, 'accountId' | 'group' | 'stream'>) => `${to.accountId}\n${to.group}\n${to.stream}`;

/**
 * Function output into the log store: cut into lines per source (one event each, timestamped
 * when it began), kept per environment's stream, shipped in batches every `flushAfterMs` (a
 * partial line once it has waited that long). Shipping never blocks a function: while the
 * store is unreachable the output waits (up to a bound) and is retried with the next batch.
 */
export class LogShipper implements FunctionLogSink {
  readonly enabled = true;
  private readonly streams = new Map<string, Stream>();
  private readonly keys = new WeakMap<LogDestination, string>();
  private bufferedBytes = 0;
  private droppedEvents = 0;
  private timer: TimerHandle | undefined;
  private shipping: Promise<void> = Promise.resolve();

  constructor(private readonly o: LogShipperOptions) {}

  write(to: LogDestination, text: string, source: OutputSource): void {
    const s = this.stream(to);
    const now = this.o.clock.now();
    const partial = s.partials.get(source);
    if (partial === undefined && text.charCodeAt(text.length - 1) === NEWLINE) {
      // Whole lines, nothing before them on this source (the platform's always, most output):
      // encoded once into the stream's buffer and cut there, no string or object per line.
      this.buffered(s.events.addLines(now, text));
      return this.schedule();
    }
    if (!text.includes('\n')) {
      // The line goes on: kept as it comes (no re-reading of what came before) until it ends or is an event's size.
      const bytes = (partial?.bytes ?? 0) + Buffer.byteLength(text);
      if (bytes < MAX_EVENT_BYTES) {
        s.partials.set(source, { text: (partial?.text ?? '') + text, at: partial?.at ?? now, bytes });
        return this.schedule();
      }
    }
    // Lines that end what came before on this source: each an event, cut where it ends.
    const all = partial ? partial.text + text : text;
    let from = 0;
    for (let end = all.indexOf('\n'); end >= 0; from = end + 1, end = all.indexOf('\n', from)) {
      this.buffered(s.events.add(from === 0 && partial ? partial.at : now, all.slice(from, end)));
    }
    const rest = from === 0 ? all : all.slice(from);
    const restAt = from === 0 && partial ? partial.at : now;
    const restBytes = Buffer.byteLength(rest);
    if (rest === '') s.partials.delete(source);
    else if (restBytes < MAX_EVENT_BYTES) s.partials.set(source, { text: rest, at: restAt, bytes: restBytes });
    else {
      // A line longer than an event goes out in events of the largest size as it comes.
      const bytes = Buffer.from(rest);
      const whole = charStart(bytes, bytes.length - (bytes.length % MAX_EVENT_BYTES));
      this.buffered(s.events.addBytes(restAt, bytes.subarray(0, whole)));
      if (whole === bytes.length) s.partials.delete(source);
      else s.partials.set(source, { text: bytes.subarray(whole).toString(), at: restAt, bytes: bytes.length - whole });
    }
    this.schedule();
  }

  /** Ships everything written so far, partial lines too; resolves once stored or given up. */
  flush(): Promise<void> {
    return this.ship(Infinity);
  }

  /** Events waiting in every stream (for tests: bounded by maxBufferedBytes with each event's overhead). */
  get waitingEvents(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.events.size;
    return n;
  }

  /** Bytes the streams' buffers hold (within a small factor of maxBufferedBytes, however long the store is away). */
  get bufferCapacity(): number {
    let total = 0;
    for (const s of this.streams.values()) total += s.events.capacity;
    return total;
  }

  /** Events dropped since start because the store stayed unreachable. */
  get dropped(): number {
    return this.droppedEvents;
  }

  /**
   * Ships the whole lines, and the partial ones older than `partialsBefore`, after any shipment
   * under way (one at a time, so a flush waits for everything written before it).
   */
  private ship(partialsBefore: number): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    this.shipping = this.shipping.then(() => this.shipNow(partialsBefore)).catch((err: unknown) => {
      this.o.log.error({ err }, 'function log shipping failed');
    });
    return this.shipping;
  }

  /** What is buffered, in requests of at most MAX_SHIPMENT_BYTES; what the store refuses waits for the next turn. */
  private async shipNow(partialsBefore: number): Promise<void> {
    for (const s of this.streams.values()) this.endPartials(s, partialsBefore);
    // What is buffered now: what comes while it is shipped waits for the next turn.
    const due = new Map([...this.streams.values()].map((s) => [s, s.events.size]));
    for (;;) {
      const shipment = this.take(due);
      if (shipment.kept.length === 0) break;
      try {
        // Only the bytes are kept while the store works: the batches' strings are the store's, and can go once it has them.
        const stored = this.o.ship(shipment.batches);
        shipment.batches = [];
        await stored;
        this.bufferedBytes -= shipment.bytes;
      } catch (err) {
        this.requeue(shipment.kept, err);
        break;
      }
    }
    for (const [key, s] of this.streams) if (s.partials.size === 0 && s.events.size === 0) this.streams.delete(key);
    if (this.streams.size > 0) this.schedule();
  }

  /** Up to MAX_SHIPMENT_BYTES (one event at least) of the events `due`, per stream, in order; `bytes`: their size. */
  private take(due: Map<Stream, number>): { batches: LogBatch[]; kept: { to: LogDestination; events: TakenEvents }[]; bytes: number } {
    const batches: LogBatch[] = [];
    const kept: { to: LogDestination; events: TakenEvents }[] = [];
    let total = 0;
    for (const [s, left] of due) {
      const { events, bytes, kept: taken } = s.events.take(left, total, MAX_SHIPMENT_BYTES);
      total += bytes;
      if (events.length > 0) {
        const { accountId, group, stream, grant } = s.to;
        batches.push({ accountId, group, stream, ...(grant === undefined ? {} : { grant }), events });
        kept.push({ to: s.to, events: taken });
      }
      due.set(s, left - events.length);
      if (total >= MAX_SHIPMENT_BYTES) break;
    }
    return { batches, kept, bytes: total };
  }

  private stream(to: LogDestination): Stream {
    // The key of a destination is built (and hashed) once, not on every write.
    let key = this.keys.get(to);
    if (key === undefined) this.keys.set(to, (key = keyOf(to)));
    let s = this.streams.get(key);
    if (!s) {
      s = { to, partials: new Map(), events: new EventArena() };
      this.streams.set(key, s);
    }
    return s;
  }

  /** Counts bytes of events just added, dropping the oldest while over the bound. */
  private buffered(bytes: number): void {
    this.bufferedBytes += bytes;
    while (this.bufferedBytes > this.o.maxBufferedBytes && this.dropOldest());
  }

  private endPartials(s: Stream, before: number): void {
    for (const [source, partial] of s.partials) {
      if (partial.at >= before) continue;
      s.partials.delete(source);
      this.buffered(s.events.add(partial.at, partial.text));
    }
  }

  private dropOldest(): boolean {
    let oldest: Stream | undefined;
    for (const s of this.streams.values()) if (s.events.size > 0 && (!oldest || s.events.oldest < oldest.events.oldest)) oldest = s;
    if (!oldest) return false;
    this.bufferedBytes -= oldest.events.dropOldest();
    this.droppedEvents++;
    return true;
  }

  /** Puts a failed shipment's batches back, but those the failure says are settled (their bytes no longer held). */
  private requeue(kept: { to: LogDestination; events: TakenEvents }[], err: unknown): void {
    this.o.log.warn({ err, batches: kept.length }, 'function logs could not be stored; retrying with the next batch');
    const settled = settledBatches(err);
    kept.forEach((k, i) => {
      if (settled.has(i)) this.bufferedBytes -= takenBytes(k.events);
      else this.stream(k.to).events.putBack(k.events);
    });
    while (this.bufferedBytes > this.o.maxBufferedBytes && this.dropOldest());
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= this.o.clock.setTimer(this.o.flushAfterMs, () => {
      this.timer = undefined;
      void this.ship(this.o.clock.now() - this.o.flushAfterMs + 1);
    });
  }
}

/** The function's log group: its LoggingConfig.LogGroup (Lambda's default `/aws/lambda/<name>`). */
export function logGroupOf(spec: EnvironmentSpec): string {
  return spec.logging.logGroup;
}

/** Lambda's name of an environment's log stream: `YYYY/MM/DD/[version]` and 32 hex digits. */
export function logStreamName(createdAtMs: number, version: string, envId: string): string {
  const day = new Date(createdAtMs).toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[${version}]${createHash('sha256').update(envId).digest('hex').slice(0, 32)}`;
}

/** A worker in its own process ships its logs to the control plane's internal API (`logs/ingest.ts`). */
export function shipLogsTo(controlPlane: string, client: InternalClient): ShipLogs {
  return async (batches) => {
    await client.json(`${controlPlane}${CLUSTER_API}/logs`, CONTROL_PLANE_NAME, 'POST', batches, 30_000);
  };
}
