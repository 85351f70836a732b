import { eventBytes, type LogEventQuery, type StoredLogEvent } from './log-store.js';

/**
 * Log events stored a batch at a time (the SQLite and etcd engines): what an append brought to
 * one stream is kept together, each event as [its index in the batch, timestamp, message], and
 * an event's id is its batch's sequence and its index. A read takes batches in the order of
 * their earliest event (latest, descending) and stops once no further batch can change its page.
 */
export type BatchEvent = [index: number, timestamp: number, message: string];

/** The id of a batch's event: ordered as strings the way (sequence, index) orders as numbers. */
export function batchEventId(seq: number, index: number): string {
  return `${String(seq).padStart(16, '0')}${String(index).padStart(6, '0')}`;
}

export function batchEvents(seq: number, stream: string, ingestionTime: number, ev: BatchEvent[]): StoredLogEvent[] {
  return ev.map(([i, timestamp, message]) => ({ id: batchEventId(seq, i), stream, timestamp, message, ingestionTime }));
}

/** The events' stored bytes. */
export function batchBytes(ev: BatchEvent[]): number {
  return ev.reduce((sum, e) => sum + eventBytes(e[2]), 0);
}

/** The lowest and highest timestamp of a (non-empty) batch. */
export function timeRange(ev: BatchEvent[]): [number, number] {
  let lo = Number.MAX_SAFE_INTEGER;
  let hi = Number.MIN_SAFE_INTEGER;
  for (const e of ev) {
    lo = Math.min(lo, e[1]);
    hi = Math.max(hi, e[1]);
  }
  return [lo, hi];
}

/** The batch's first events (in append order) that together hold at least `bytes`. */
export function earliest(ev: BatchEvent[], bytes: number): BatchEvent[] {
  const out: BatchEvent[] = [];
  let sum = 0;
  for (const e of [...ev].sort((a, b) => a[0] - b[0])) {
    if (sum >= bytes) break;
    out.push(e);
    sum += eventBytes(e[2]);
  }
  return out;
}

/**
 * A page of a query's events, collected from batches. Batches are offered in the query's order
 * of a bound on their events (ascending: each batch's lowest timestamp or less; descending: its
 * highest or more); once the page is full and its last event comes before the next batch's
 * bound, no batch from there on can change it (`needs` says false). Several such sequences (one
 * per stream) may feed one page, each from its start.
 */
export class BatchPage {
  private found: StoredLogEvent[] = [];
  private readonly sign: number;

  constructor(private readonly q: LogEventQuery) {
    this.sign = q.descending ? -1 : 1;
  }

  /** Whether a batch whose events all lie at or after `bound` (descending: at or before) can still change the page. */
  needs(bound: number): boolean {
    if (this.found.length < this.q.limit) return true;
    const kth = this.sorted()[this.q.limit - 1]!;
    return this.q.descending ? kth.timestamp <= bound : kth.timestamp >= bound;
  }

  add(events: StoredLogEvent[]): void {
    for (const e of events) if (this.wanted(e)) this.found.push(e);
    if (this.found.length > 4 * this.q.limit) this.found = this.sorted().slice(0, this.q.limit);
  }

  events(): StoredLogEvent[] {
    return this.sorted().slice(0, this.q.limit);
  }

  private sorted(): StoredLogEvent[] {
    return this.found.sort((a, b) => this.order(a, b));
  }

  private order(a: { timestamp: number; id: string }, b: { timestamp: number; id: string }): number {
    return this.sign * (a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private wanted(e: StoredLogEvent): boolean {
    const q = this.q;
    return (q.startTime === undefined || e.timestamp >= q.startTime) && (q.endTime === undefined || e.timestamp < q.endTime)
      && (q.after === undefined || this.order(e, q.after) > 0);
  }
}
