import { EVENT_OVERHEAD_BYTES } from '../shared/cloudwatch-logs.js';

/** CloudWatch's largest event (256 KB); a longer line is cut into events of this size. */
export const MAX_EVENT_BYTES = 256 * 1024;

const NEWLINE = 0x0a;

// Every event counts CloudWatch's overhead besides its bytes in every bound, so that empty lines,
// which have no bytes, cannot grow the columns without limit while the store is away.

/** Events taken for a shipment, kept as bytes (off the JavaScript heap) until it is known stored. */
export interface TakenEvents {
  bytes: Buffer;
  starts: number[];
  ends: number[];
  times: number[];
}
/** The bytes of taken events, as `take` counted them (each with its overhead). */
export function takenBytes(t: TakenEvents): number {
  let bytes = 0;
  for (let i = 0; i < t.starts.length; i++) bytes += t.ends[i]! - t.starts[i]! + EVENT_OVERHEAD_BYTES;
  return bytes;
}

const MIN_CAPACITY = 4096;
/** A buffer up to this size is kept whatever it holds; a larger one shrinks once a quarter of it or less is in use. */
const KEEP_CAPACITY = 64 * 1024;

/**
 * One stream's events waiting to be shipped, kept off the JavaScript heap: their UTF-8 bytes
 * back to back in one buffer, and per event where it starts and ends and its timestamp (columns
 * of numbers, not an object and a string per event). Events wait up to a flush interval, long
 * enough to live through a young-generation collection; as strings and objects they were copied,
 * then promoted, by every one they outlived. Strings are made again only when a batch is taken
 * for shipping, just before it leaves.
 *
 * The buffer stays within a small factor of the bytes waiting (about 1.5 times, and at most 4
 * times once it passes 64 KB), however events leave it (taken, dropped at the shipper's bound):
 * room for new bytes is made by moving the waiting ones down to the buffer's start when they fill
 * at most two thirds of it, else by a buffer half as large again as they need; once a quarter or
 * less of a large buffer is in use it is replaced by one twice that. Each move or copy is paid for
 * by as many bytes added or gone since the last one, so the cost per byte stays constant.
 * Event offsets are kept from the stream's start (`shift`: the bytes let go before the buffer's
 * start), so a move touches the bytes only, not the columns.
 */
export class EventArena {
  private bytes: Buffer = Buffer.allocUnsafe(0);
  /** Bytes of the buffer in use (events and the newlines between them). */
  private used = 0;
  private starts: number[] = [];
  private ends: number[] = [];
  private times: number[] = [];
  /** The first event not yet taken. */
  private first = 0;
  /** Bytes let go before the buffer's start: an event's place in the buffer is its offset less this. */
  private shift = 0;

  /** Events waiting. */
  get size(): number {
    return this.ends.length - this.first;
  }

  /** Bytes the arena's buffer holds (what it costs in memory, besides the columns). */
  get capacity(): number {
    return this.bytes.length;
  }

  /** The timestamp of the earliest event waiting (the arena must not be empty). */
  get oldest(): number {
    return this.times[this.first]!;
  }

  /**
   * Whole lines (`text` ends with a newline), each an event at `at`, cut where each ends, a line
   * over MAX_EVENT_BYTES cut into events of at most that size; resolves their bytes.
   */
  addLines(at: number, text: string): number {
    const from = this.room(text);
    const end = from + this.bytes.write(text, from);
    this.used = end;
    let added = 0;
    for (let start = from; start < end;) {
      const nl = this.bytes.indexOf(NEWLINE, start);
      const lineEnd = nl < 0 || nl >= end ? end : nl;
      added += this.cut(at, start, lineEnd);
      start = lineEnd + 1;
    }
    return added;
  }

  /** One line (without its newline) as one event at `at`, or several if over MAX_EVENT_BYTES; resolves their bytes. */
  add(at: number, line: string): number {
    const from = this.room(line);
    this.used = from + this.bytes.write(line, from);
    return this.cut(at, from, this.used);
  }

  /** Bytes of one line (whole UTF-8 characters) as events at `at`; resolves their bytes. */
  addBytes(at: number, line: Buffer): number {
    const from = this.reserve(line.length);
    this.used = from + line.copy(this.bytes, from);
    return this.cut(at, from, this.used);
  }

  /**
   * Takes the earliest events, as strings: `limit` at most, and as many as keep a shipment that
   * holds `before` bytes already within `maxBytes` (one at least if it holds none). `kept`: the
   * same events as bytes, to put back should the shipment fail, so that the strings can go as
   * soon as they are sent.
   */
  take(limit: number, before: number, maxBytes: number): { events: { timestamp: number; message: string }[]; bytes: number; kept: TakenEvents } {
    const events: { timestamp: number; message: string }[] = [];
    let bytes = before;
    const from = this.first;
    for (let i = from; events.length < limit && i < this.ends.length; i++) {
      const size = this.ends[i]! - this.starts[i]! + EVENT_OVERHEAD_BYTES;
      if (bytes > 0 && bytes + size > maxBytes) break;
      bytes += size;
      events.push({ timestamp: this.times[i]!, message: this.bytes.toString('utf8', this.starts[i]! - this.shift, this.ends[i]! - this.shift) });
    }
    const kept = this.copy(from, from + events.length);
    this.first += events.length;
    this.compact();
    return { events, bytes: bytes - before, kept };
  }

  /** Drops the earliest event; resolves its bytes (with its overhead). */
  dropOldest(): number {
    const size = this.ends[this.first]! - this.starts[this.first]! + EVENT_OVERHEAD_BYTES;
    this.first++;
    this.compact();
    return size;
  }

  /** Puts taken events back before those waiting (a shipment that failed). */
  putBack(taken: TakenEvents): void {
    const waiting = this.copy(this.first, this.ends.length);
    this.first = this.ends.length;
    this.compact();
    this.append(taken);
    this.append(waiting);
  }

  /** Events [from, to) as bytes of their own, offsets from 0. */
  private copy(from: number, to: number): TakenEvents {
    if (from === to) return { bytes: Buffer.alloc(0), starts: [], ends: [], times: [] };
    const base = this.starts[from]!;
    const bytes = Buffer.allocUnsafe(this.ends[to - 1]! - base);
    this.bytes.copy(bytes, 0, base - this.shift, this.ends[to - 1]! - this.shift);
    return { bytes, starts: this.starts.slice(from, to).map((x) => x - base), ends: this.ends.slice(from, to).map((x) => x - base), times: this.times.slice(from, to) };
  }

  private append(taken: TakenEvents): void {
    const base = this.reserve(taken.bytes.length);
    this.used = base + taken.bytes.copy(this.bytes, base);
    for (let i = 0; i < taken.times.length; i++) this.push(taken.times[i]!, base + taken.starts[i]!, base + taken.ends[i]!);
  }

  /** An event per run of at most MAX_EVENT_BYTES of [start, end), never cutting a character; resolves the bytes (with each event's overhead). */
  private cut(at: number, start: number, end: number): number {
    if (end - start <= MAX_EVENT_BYTES) {
      this.push(at, start, end);
      return end - start + EVENT_OVERHEAD_BYTES;
    }
    let events = 0;
    for (let from = start; from < end; events++) {
      const limit = from + MAX_EVENT_BYTES;
      const to = limit >= end ? end : charStart(this.bytes, limit, from + 1);
      this.push(at, from, to);
      from = to;
    }
    return end - start + events * EVENT_OVERHEAD_BYTES;
  }

  /** An event at [start, end) of the buffer. */
  private push(at: number, start: number, end: number): void {
    this.starts.push(start + this.shift);
    this.ends.push(end + this.shift);
    this.times.push(at);
  }

  /** Room for `text` encoded (its exact size counted only when the most it could take does not fit); resolves where it goes. */
  private room(text: string): number {
    const most = text.length * 3;
    return this.reserve(this.used + most <= this.bytes.length ? most : Buffer.byteLength(text));
  }

  /**
   * Room for `n` more bytes; resolves where they go. Lacking it, the bytes waiting move to the
   * buffer's start if they and `n` fill at most two thirds of it (so at least as many bytes have
   * gone since they last moved), else go to a buffer half as large again as they and `n` need.
   */
  private reserve(n: number): number {
    if (this.used + n <= this.bytes.length) return this.used;
    const need = this.waiting + n;
    if (need * 3 <= this.bytes.length * 2) this.moveTo(this.bytes);
    else this.moveTo(Buffer.allocUnsafe(Math.max(MIN_CAPACITY, need + (need >> 1))));
    return this.used;
  }

  /** Bytes of the buffer the waiting events take (and the newlines between them). */
  private get waiting(): number {
    return this.first === this.ends.length ? 0 : this.used - (this.starts[this.first]! - this.shift);
  }

  /** The waiting bytes to the start of `to` (the buffer itself, or a new one). */
  private moveTo(to: Buffer): void {
    const base = this.first === this.ends.length ? this.used : this.starts[this.first]! - this.shift;
    this.bytes.copy(to, 0, base, this.used);
    this.bytes = to;
    this.used -= base;
    this.shift += base;
  }

  /**
   * After events left: once every event is taken the buffer is reused from its start (and a
   * large one let go); a large buffer a quarter or less in use is replaced by one twice what
   * waits; the columns lose their gone events once those are at least half of them.
   */
  private compact(): void {
    if (this.first === this.ends.length) {
      this.first = 0;
      this.used = 0;
      this.shift = 0;
      this.starts.length = 0;
      this.ends.length = 0;
      this.times.length = 0;
      if (this.bytes.length > KEEP_CAPACITY) this.bytes = Buffer.allocUnsafe(0);
      return;
    }
    const waiting = this.waiting;
    if (this.bytes.length > KEEP_CAPACITY && waiting * 4 <= this.bytes.length) this.moveTo(Buffer.allocUnsafe(Math.max(MIN_CAPACITY, waiting * 2)));
    if (this.first < 1024 || this.first * 2 < this.ends.length) return;
    for (const column of [this.starts, this.ends, this.times]) {
      column.copyWithin(0, this.first);
      column.length -= this.first;
    }
    this.first = 0;
  }
}

/** `at`, or the start of the UTF-8 character it falls inside (not before `floor`). */
export function charStart(bytes: Buffer, at: number, floor = 0): number {
  let start = at;
  while (start > floor && start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  return start;
}
