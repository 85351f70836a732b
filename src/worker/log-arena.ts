/** CloudWatch's largest event (256 KB); a longer line is cut into events of this size. */
export const MAX_EVENT_BYTES = 256 * 1024;

const NEWLINE = 0x0a;

/** Events taken for a shipment, kept as bytes (off the JavaScript heap) until it is known stored. */
export interface TakenEvents {
  bytes: Buffer;
  starts: number[];
  ends: number[];
  times: number[];
}
const MIN_CAPACITY = 4096;

/**
 * One stream's events waiting to be shipped, kept off the JavaScript heap: their UTF-8 bytes
 * back to back in one buffer, and per event where it starts and ends and its timestamp (columns
 * of numbers, not an object and a string per event). Events wait up to a flush interval, long
 * enough to live through a young-generation collection; as strings and objects they were copied,
 * then promoted, by every one they outlived. Strings are made again only when a batch is taken
 * for shipping, just before it leaves.
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

  /** Events waiting. */
  get size(): number {
    return this.ends.length - this.first;
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
    const from = this.reserve(text.length * 3);
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
    const from = this.reserve(line.length * 3);
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
      const size = this.ends[i]! - this.starts[i]!;
      if (bytes > 0 && bytes + size > maxBytes) break;
      bytes += size;
      events.push({ timestamp: this.times[i]!, message: this.bytes.toString('utf8', this.starts[i]!, this.ends[i]!) });
    }
    const kept = this.copy(from, from + events.length);
    this.first += events.length;
    this.compact();
    return { events, bytes: bytes - before, kept };
  }

  /** Drops the earliest event; resolves its bytes. */
  dropOldest(): number {
    const size = this.ends[this.first]! - this.starts[this.first]!;
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
    this.bytes.copy(bytes, 0, base, this.ends[to - 1]!);
    return { bytes, starts: this.starts.slice(from, to).map((x) => x - base), ends: this.ends.slice(from, to).map((x) => x - base), times: this.times.slice(from, to) };
  }

  private append(taken: TakenEvents): void {
    const base = this.reserve(taken.bytes.length);
    this.used = base + taken.bytes.copy(this.bytes, base);
    for (let i = 0; i < taken.times.length; i++) this.push(taken.times[i]!, base + taken.starts[i]!, base + taken.ends[i]!);
  }

  /** An event per run of at most MAX_EVENT_BYTES of [start, end), never cutting a character; resolves the bytes. */
  private cut(at: number, start: number, end: number): number {
    if (end - start <= MAX_EVENT_BYTES) {
      this.push(at, start, end);
      return end - start;
    }
    for (let from = start; from < end;) {
      const limit = from + MAX_EVENT_BYTES;
      const to = limit >= end ? end : charStart(this.bytes, limit, from + 1);
      this.push(at, from, to);
      from = to;
    }
    return end - start;
  }

  private push(at: number, start: number, end: number): void {
    this.starts.push(start);
    this.ends.push(end);
    this.times.push(at);
  }

  /** Room for `n` more bytes; resolves where they go. */
  private reserve(n: number): number {
    if (this.used + n > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(MIN_CAPACITY, this.bytes.length * 2, this.used + n));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    return this.used;
  }

  /** Once every event is taken the buffer is reused from its start (and a large one let go); past half, the rest moves down. */
  private compact(): void {
    if (this.first === this.ends.length) {
      this.first = 0;
      this.used = 0;
      this.starts = [];
      this.ends = [];
      this.times = [];
      if (this.bytes.length > 16 * MIN_CAPACITY) this.bytes = Buffer.allocUnsafe(0);
      return;
    }
    if (this.first < 1024 || this.first * 2 < this.ends.length) return;
    const base = this.starts[this.first]!;
    this.bytes.copy(this.bytes, 0, base, this.used);
    this.used -= base;
    this.starts = this.starts.slice(this.first).map((s) => s - base);
    this.ends = this.ends.slice(this.first).map((e) => e - base);
    this.times = this.times.slice(this.first);
    this.first = 0;
  }
}

/** `at`, or the start of the UTF-8 character it falls inside (not before `floor`). */
export function charStart(bytes: Buffer, at: number, floor = 0): number {
  let start = at;
  while (start > floor && start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  return start;
}
