import type { Clock, TimerHandle } from '../shared/clock.js';

/**
 * Lambda's Telemetry API 2022-07-01 for one environment: each subscription (one per extension)
 * gets the records of the types it asked for, buffered as Lambda does (up to maxItems records or
 * maxBytes, or timeoutMs since the first) and POSTed as a JSON array to its listener inside the
 * sandbox through `deliver` (the TelemetryRelay). One delivery per subscription at a time; while
 * one is in flight a full buffer drops records (counted, and told in a platform.logsDropped
 * record), so a flood of output or a listener that never answers cannot grow the worker's memory.
 */
export type TelemetryType = 'platform' | 'function' | 'extension';
export interface TelemetryRecord { time: string; type: string; record: unknown }

export interface Buffering { maxItems: number; maxBytes: number; timeoutMs: number }
export interface SubscriptionRequest { port: number; path: string; types: TelemetryType[]; buffering: Buffering }

/** Lambda's defaults and bounds for `buffering`. */
const DEFAULTS: Buffering = { maxItems: 1000, maxBytes: 262_144, timeoutMs: 1000 };
const BOUNDS: Record<keyof Buffering, [number, number]> = { maxItems: [1000, 10_000], maxBytes: [262_144, 1_048_576], timeoutMs: [25, 30_000] };
const TYPES: readonly TelemetryType[] = ['platform', 'function', 'extension'];
/** Records kept from before the first subscription (init), replayed to each new one. */
const BACKLOG_ITEMS = 1000;
const BACKLOG_BYTES = 262_144;
const DROPPED = 'Some logs were dropped because the downstream consumer is slower than the logs production rate';
/** How long a listener gets to answer a delivery. */
const DELIVERY_TIMEOUT_MS = 10_000;

export type Deliver = (port: number, path: string, body: Buffer, timeoutMs: number) => Promise<number>;

/** Parses a subscription's body as Lambda validates it; a string is the ValidationError's message. */
export function parseSubscription(body: unknown): SubscriptionRequest | string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (!['2022-07-01', '2022-12-13', '2025-01-29'].includes(String(b.schemaVersion))) return `Invalid schemaVersion: ${String(b.schemaVersion)}`;
  const dest = (typeof b.destination === 'object' && b.destination !== null ? b.destination : {}) as Record<string, unknown>;
  if (dest.protocol !== 'HTTP') return `Unsupported destination protocol: ${String(dest.protocol)} (only HTTP)`;
  let uri: URL;
  try {
    uri = new URL(String(dest.URI));
  } catch {
    return `Invalid destination URI: ${String(dest.URI)}`;
  }
  // The listener must be in the sandbox: sandbox.localdomain is the sandbox's own loopback.
  if (uri.protocol !== 'http:' || uri.hostname !== 'sandbox.localdomain' || !uri.port || uri.username || uri.password) {
    return `Invalid destination URI: ${String(dest.URI)} (it must be http://sandbox.localdomain:<port>/...)`;
  }
  const types = b.types;
  if (!Array.isArray(types) || types.length === 0 || types.some((t) => !TYPES.includes(t as TelemetryType))) return `Invalid types: ${JSON.stringify(types)}`;
  const given = (typeof b.buffering === 'object' && b.buffering !== null ? b.buffering : {}) as Record<string, unknown>;
  const buffering = { ...DEFAULTS };
  for (const key of Object.keys(BOUNDS) as (keyof Buffering)[]) {
    if (given[key] === undefined) continue;
    const v = given[key];
    const [min, max] = BOUNDS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return `buffering.${key} must be an integer between ${min} and ${max}`;
    buffering[key] = v;
  }
  return { port: Number(uri.port), path: `${uri.pathname}${uri.search}`, types: [...new Set(types as TelemetryType[])], buffering };
}

class Subscription {
  private items: string[] = [];
  private bytes = 0;
  private inFlight = false;
  private timer: TimerHandle | undefined;
  private dropped = { records: 0, bytes: 0 };
  private closed = false;

  constructor(readonly extension: string, readonly req: SubscriptionRequest, private readonly clock: Clock, private readonly deliver: Deliver) {}

  add(rec: TelemetryRecord): void {
    if (!this.req.types.includes(rec.type.startsWith('platform.') ? 'platform' : (rec.type as TelemetryType))) return;
    const json = JSON.stringify(rec);
    const { maxItems, maxBytes, timeoutMs } = this.req.buffering;
    if (this.items.length >= maxItems || this.bytes + json.length > maxBytes) {
      if (this.inFlight || this.items.length === 0) {
        this.dropped.records++;
        this.dropped.bytes += json.length;
        return;
      }
      this.flush();
      if (this.inFlight) return this.add(rec);
    }
    this.items.push(json);
    this.bytes += json.length;
    if (this.items.length >= maxItems || this.bytes >= maxBytes) this.flush();
    else this.timer ??= this.clock.setTimer(timeoutMs, () => this.flush());
  }

  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.inFlight || this.items.length === 0) return;
    const body = Buffer.from(`[${this.items.join(',')}]`);
    this.items = [];
    this.bytes = 0;
    this.inFlight = true;
    void this.deliver(this.req.port, this.req.path, body, DELIVERY_TIMEOUT_MS).then(() => {
      this.inFlight = false;
      if (this.closed) return;
      // What was dropped is told first, ahead of the buffer waiting behind this delivery.
      if (this.dropped.records > 0 && this.req.types.includes('platform')) {
        const { records, bytes } = this.dropped;
        const json = JSON.stringify(platformRecord(this.clock, 'platform.logsDropped', { reason: DROPPED, droppedRecords: records, droppedBytes: bytes }));
        this.items.unshift(json);
        this.bytes += json.length;
      }
      this.dropped = { records: 0, bytes: 0 };
      const { maxItems, maxBytes } = this.req.buffering;
      if (this.items.length >= maxItems || this.bytes >= maxBytes) return this.flush();
      if (this.items.length > 0) this.timer ??= this.clock.setTimer(this.req.buffering.timeoutMs, () => this.flush());
    });
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.items = [];
  }
}

export function platformRecord(clock: Clock, type: string, record: unknown): TelemetryRecord {
  return { time: new Date(clock.now()).toISOString(), type, record };
}

export class Telemetry {
  private readonly subs = new Map<string, Subscription>();
  private backlog: TelemetryRecord[] | undefined = [];
  private backlogBytes = 0;

  constructor(private readonly clock: Clock, private readonly deliver: Deliver) {}

  /** Subscribes extension `id` (a later subscription of the same extension replaces it). */
  subscribe(id: string, name: string, req: SubscriptionRequest): void {
    this.subs.get(id)?.close();
    const sub = new Subscription(name, req, this.clock, this.deliver);
    this.subs.set(id, sub);
    for (const rec of this.backlog ?? []) sub.add(rec);
    this.platform('platform.telemetrySubscription', { name, state: 'Subscribed', types: req.types });
  }

  /** Someone takes records now (a subscription, or the backlog of init): otherwise there is nothing to build. */
  get listening(): boolean {
    return this.subs.size > 0 || this.backlog !== undefined;
  }

  platform(type: string, record: unknown): void {
    if (this.subs.size === 0 && !this.backlog) return;
    this.emit(platformRecord(this.clock, type, record));
  }

  /** Lines the function (or an extension) wrote. */
  output(text: string, type: 'function' | 'extension' = 'function'): void {
    if (this.subs.size === 0 && !this.backlog) return;
    const time = new Date(this.clock.now()).toISOString();
    for (const line of text.split('\n')) if (line !== '') this.emit({ time, type, record: line });
  }

  /** Init is over: records from now on go to the subscriptions there are. */
  endBacklog(): void {
    this.backlog = undefined;
  }

  /** Delivers what is buffered now (before a SHUTDOWN). */
  flush(): void {
    for (const sub of this.subs.values()) sub.flush();
  }

  close(): void {
    for (const sub of this.subs.values()) sub.close();
    this.subs.clear();
  }

  private emit(rec: TelemetryRecord): void {
    if (this.backlog && this.backlog.length < BACKLOG_ITEMS && this.backlogBytes < BACKLOG_BYTES) {
      this.backlog.push(rec);
      this.backlogBytes += JSON.stringify(rec.record).length;
    }
    for (const sub of this.subs.values()) sub.add(rec);
  }
}
