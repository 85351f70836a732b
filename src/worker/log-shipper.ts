import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { CLUSTER_API } from '../shared/cluster-api.js';
import type { InternalClient } from '../shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../shared/tls.js';
import type { Logger } from '../shared/log.js';
import type { EnvironmentSpec } from './environment-spec.js';

/** Where function output goes besides the log tail (the log store, the console of `stratus up`, or nowhere). */
export interface FunctionLogSink {
  /** False when function output goes nowhere: the platform lines are then only built for a tail. */
  readonly enabled: boolean;
  /** Function output or platform lines of one environment, as they come (not cut into lines). */
  write(to: LogDestination, text: string): void;
}

/** The log group and stream of one environment, in its function's account. */
export interface LogDestination {
  accountId: string;
  functionName: string;
  group: string;
  stream: string;
}

/** CloudWatch's largest event (256 KB); a longer line is cut into events of this size. */
export const MAX_EVENT_BYTES = 256 * 1024;

/** Events of one environment's stream, as a worker hands them to the log store (the wire shape). */
export const logBatchSchema = z.object({
  accountId: z.string().regex(/^\d{12}$/),
  group: z.string().min(1).max(512),
  stream: z.string().min(1).max(512),
  events: z.array(z.object({ timestamp: z.number().int().nonnegative(), message: z.string().max(MAX_EVENT_BYTES) })).min(1),
});
export type LogBatch = z.infer<typeof logBatchSchema>;

/** Stores batches of function logs (into the journal's log store, or over the internal API). */
export type ShipLogs = (batches: LogBatch[]) => Promise<void>;

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
  /** The end of the output so far that is not yet a whole line. */
  partial: string;
  partialAt: number;
  events: { timestamp: number; message: string }[];
}

/**
 * Function output into the log store: cut into lines (one event each, timestamped when it
 * came), kept per environment's stream, shipped in batches every `flushAfterMs`. Shipping
 * never blocks a function: while the store is unreachable the output waits (up to a bound)
 * and is retried with the next batch.
 */
export class LogShipper implements FunctionLogSink {
  readonly enabled = true;
  private readonly streams = new Map<string, Stream>();
  private bufferedBytes = 0;
  private droppedEvents = 0;
  private timer: TimerHandle | undefined;
  private shipping: Promise<void> | undefined;

  constructor(private readonly o: LogShipperOptions) {}

  write(to: LogDestination, text: string): void {
    const key = `${to.accountId}\n${to.group}\n${to.stream}`;
    let s = this.streams.get(key);
    if (!s) {
      s = { to, partial: '', partialAt: 0, events: [] };
      this.streams.set(key, s);
    }
    const now = this.o.clock.now();
    const lines = (s.partial + text).split('\n');
    const rest = lines.pop() ?? '';
    lines.forEach((line, i) => this.add(s, i === 0 && s.partial !== '' ? s.partialAt : now, line));
    if (rest !== '' && (lines.length > 0 || s.partial === '')) s.partialAt = now;
    s.partial = rest;
    if (Buffer.byteLength(s.partial) >= MAX_EVENT_BYTES) this.endPartial(s);
    this.schedule();
  }

  /** Ships everything written so far (partial lines too); resolves once stored or given up. */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.shipping;
    for (const s of this.streams.values()) this.endPartial(s);
    const batches = [...this.streams.values()].filter((s) => s.events.length > 0).map((s) => ({ ...s.to, events: s.events.splice(0) }));
    for (const [key, s] of this.streams) if (s.partial === '') this.streams.delete(key);
    if (batches.length === 0) return;
    const bytes = batches.reduce((n, b) => n + b.events.reduce((m, e) => m + Buffer.byteLength(e.message), 0), 0);
    this.shipping = this.o.ship(batches.map(({ accountId, group, stream, events }) => ({ accountId, group, stream, events }))).then(
      () => void (this.bufferedBytes -= bytes),
      (err: unknown) => this.requeue(batches, bytes, err),
    );
    await this.shipping;
  }

  /** Events dropped since start because the store stayed unreachable. */
  get dropped(): number {
    return this.droppedEvents;
  }

  private add(s: Stream, timestamp: number, line: string): void {
    const bytes = Buffer.from(line);
    let at = 0;
    do {
      const message = bytes.subarray(at, at + MAX_EVENT_BYTES).toString();
      s.events.push({ timestamp, message });
      this.bufferedBytes += Buffer.byteLength(message);
      at += MAX_EVENT_BYTES;
    } while (at < bytes.length);
    while (this.bufferedBytes > this.o.maxBufferedBytes && this.dropOldest());
  }

  private endPartial(s: Stream): void {
    if (s.partial === '') return;
    const line = s.partial;
    s.partial = '';
    this.add(s, s.partialAt, line);
  }

  private dropOldest(): boolean {
    const oldest = [...this.streams.values()].filter((s) => s.events.length > 0)
      .sort((a, b) => (a.events[0]?.timestamp ?? 0) - (b.events[0]?.timestamp ?? 0))[0];
    const event = oldest?.events.shift();
    if (!event) return false;
    this.bufferedBytes -= Buffer.byteLength(event.message);
    this.droppedEvents++;
    return true;
  }

  private requeue(batches: LogBatch[], bytes: number, err: unknown): void {
    this.o.log.warn({ err, batches: batches.length, bytes }, 'function logs could not be stored; retrying with the next batch');
    for (const b of batches) {
      const s = this.streams.get(`${b.accountId}\n${b.group}\n${b.stream}`) ?? { to: { ...b, functionName: '' }, partial: '', partialAt: 0, events: [] };
      this.streams.set(`${b.accountId}\n${b.group}\n${b.stream}`, s);
      s.events.unshift(...b.events);
    }
    while (this.bufferedBytes > this.o.maxBufferedBytes && this.dropOldest());
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= this.o.clock.setTimer(this.o.flushAfterMs, () => {
      this.timer = undefined;
      void this.flush();
    });
  }
}

/** Lambda's log group of a function. */
export function logGroupOf(spec: EnvironmentSpec): string {
  return `/aws/lambda/${spec.functionName}`;
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
