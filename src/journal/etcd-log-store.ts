import { Range, type ICompare, type IKeyValue, type IOperation, type Namespace } from 'etcd3';
import { StratusError } from '../shared/errors.js';
import { commitTxn, etcdCall, keyIn } from '../shared/etcd.js';
import { BatchPage, batchBytes, batchEvents, earliest, timeRange, type BatchEvent } from './log-batches.js';
import { appendEach, DAY_MS, type LogAppend, type LogEventQuery, type LogGroupInfo, type LogStore, type LogStreamInfo, type NewLogEvent, type StoredLogEvent } from './log-store.js';
import { untilWon } from '../shared/races.js';

/** Keys per range request when paging through a prefix. */
const pageSize = 500;
/** Batch values an event query reads at once: at most this many, of at most this many bytes (gRPC takes 4 MiB replies). */
const readAhead = 8;
const readAheadBytes = 2 * 1024 * 1024;
const maxAttempts = 50;
/** A batch's value stays at most this big (JSON), far below etcd's 1.5 MiB request limit. */
const maxBatchBytes = 512 * 1024;
/** One event alone may not be bigger than this once encoded. */
const maxEventBytes = 1024 * 1024;

interface GroupMeta { creationTime: number; retentionInDays?: number; storedBytes: number; seq: number }
type StreamMeta = Omit<LogStreamInfo, 'name'>;
/** An appended batch's summary: its events' timestamps (lowest, highest), stored bytes, and its value's size. */
interface Summary { lo: number; hi: number; bytes: number; size: number }
interface Batch { t: number; ev: BatchEvent[] }
/** Where a batch is and what its summary says. */
interface BatchRef extends Summary { group: string; stream: string; seq: number; rev: number }

/** Names become one key segment: '%' and '/' are escaped (prefixes stay prefixes). */
const esc = (name: string) => name.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
const unesc = (seg: string) => seg.replace(/%2F|%25/g, (c) => (c === '%2F' ? '/' : '%'));
const seq16 = (seq: number) => String(seq).padStart(16, '0');

const groupKey = (a: string, g: string) => `logs/g/${esc(a)}/${esc(g)}`;
const streamsOf = (a: string, g: string) => `logs/s/${esc(a)}/${esc(g)}/`;
const summariesOf = (a: string, g: string) => `logs/b/${esc(a)}/${esc(g)}/`;
const batchesOf = (a: string, g: string) => `logs/e/${esc(a)}/${esc(g)}/`;
const summaryKey = (a: string, g: string, s: string, seq: number) => `${summariesOf(a, g)}${esc(s)}/${seq16(seq)}`;
const batchKey = (a: string, g: string, s: string, seq: number) => `${batchesOf(a, g)}${esc(s)}/${seq16(seq)}`;

/**
 * The log store of the etcd Journal, under its namespace: `logs/g/<account>/<group>` a group's
 * metadata (creation, retention, stored bytes, the sequence of its batches), `logs/s/…/<stream>`
 * a stream's, and for each appended batch `logs/e/<account>/<group>/<stream>/<seq>` its events
 * and `logs/b/…` (same path) its summary (time range, bytes). An append of a batch is one
 * transaction that compares the group's and the stream's mod revisions (so concurrent appenders
 * never lose a count) and writes both with the batch. An event's id is its batch's sequence and
 * its index in it. A query reads the summaries, then only batches that can hold its next events.
 */
export class EtcdLogStore implements LogStore {
  constructor(private readonly root: Namespace) {}

  async createGroup(accountId: string, group: string, nowMs: number): Promise<boolean> {
    const key = groupKey(accountId, group);
    const meta: GroupMeta = { creationTime: nowMs, storedBytes: 0, seq: 0 };
    const res = await commitTxn('logs create group', this.root, [this.unchanged(key, undefined)], [this.root.put(key).value(JSON.stringify(meta))]);
    return res.succeeded;
  }

  async append(accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number): Promise<void> {
    for (const part of split(events)) await this.appendBatch(accountId, group, stream, part, ingestionTimeMs);
  }

  appendAll(appends: LogAppend[], ingestionTimeMs: number): Promise<(Error | undefined)[]> {
    return appendEach(this, appends, ingestionTimeMs);
  }

  async groups(accountId: string, namePrefix = ''): Promise<LogGroupInfo[]> {
    const out: LogGroupInfo[] = [];
    for await (const kv of this.scan(`logs/g/${esc(accountId)}/${esc(namePrefix)}`)) {
      const meta = parse<GroupMeta>(kv);
      out.push({ name: unesc(lastSegment(kv)), creationTime: meta.creationTime, storedBytes: meta.storedBytes, ...retention(meta) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async streams(accountId: string, group: string): Promise<LogStreamInfo[] | undefined> {
    const [g] = await this.read([groupKey(accountId, group)]);
    if (!g) return undefined;
    const out: LogStreamInfo[] = [];
    for await (const kv of this.scan(streamsOf(accountId, group))) out.push({ name: unesc(lastSegment(kv)), ...parse<StreamMeta>(kv) });
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async events(accountId: string, group: string, q: LogEventQuery): Promise<StoredLogEvent[] | undefined> {
    const [g] = await this.read([groupKey(accountId, group)]);
    if (!g) return undefined;
    if (q.limit <= 0) return [];
    const candidates = (await this.candidates(accountId, group, q)).sort((a, b) => (q.descending ? b.hi - a.hi : a.lo - b.lo));
    const page = new BatchPage(q);
    for (let i = 0; i < candidates.length && page.needs(q.descending ? candidates[i]!.hi : candidates[i]!.lo);) {
      const chunk = [candidates[i]!];
      for (let bytes = chunk[0]!.size; chunk.length < readAhead && i + chunk.length < candidates.length;) {
        bytes += candidates[i + chunk.length]!.size;
        if (bytes > readAheadBytes) break;
        chunk.push(candidates[i + chunk.length]!);
      }
      i += chunk.length;
      const batches = await this.read(chunk.map((b) => batchKey(accountId, group, b.stream, b.seq)));
      chunk.forEach((ref, j) => {
        const kv = batches[j];
        if (kv) {
          const batch = parse<Batch>(kv);
          page.add(batchEvents(ref.seq, ref.stream, batch.t, batch.ev));
        }
      });
    }
    return page.events();
  }

  async setRetention(accountId: string, group: string, days: number | undefined): Promise<boolean> {
    const key = groupKey(accountId, group);
    return this.retry('logs set retention', async () => {
      const [kv] = await this.read([key]);
      if (!kv) return false;
      const { retentionInDays: _, ...meta } = parse<GroupMeta>(kv);
      const next: GroupMeta = days === undefined ? meta : { ...meta, retentionInDays: days };
      const res = await commitTxn('logs set retention', this.root, [this.unchanged(key, kv)], [this.root.put(key).value(JSON.stringify(next))]);
      return res.succeeded ? true : undefined;
    });
  }

  async deleteGroup(accountId: string, group: string): Promise<boolean> {
    const key = groupKey(accountId, group);
    const exists: ICompare = { key: keyIn(this.root, key), target: 'Create', result: 'Greater', create_revision: 0 };
    const res = await commitTxn('logs delete group', this.root, [exists], [
      this.root.delete().key(key),
      ...[streamsOf, summariesOf, batchesOf].map((of) => this.root.delete().prefix(of(accountId, group))),
    ]);
    return res.succeeded;
  }

  async deleteStream(accountId: string, group: string, stream: string): Promise<boolean> {
    const gKey = groupKey(accountId, group);
    const sKey = streamsOf(accountId, group) + esc(stream);
    return this.retry('logs delete stream', async () => {
      const [g, s] = await this.read([gKey, sKey]);
      if (!g || !s) return false;
      const meta = parse<GroupMeta>(g);
      const res = await commitTxn('logs delete stream', this.root, [this.unchanged(gKey, g), this.unchanged(sKey, s)], [
        this.root.put(gKey).value(JSON.stringify({ ...meta, storedBytes: meta.storedBytes - parse<StreamMeta>(s).storedBytes })),
        this.root.delete().key(sKey),
        this.root.delete().prefix(`${summariesOf(accountId, group)}${esc(stream)}/`),
        this.root.delete().prefix(`${batchesOf(accountId, group)}${esc(stream)}/`),
      ]);
      return res.succeeded ? true : undefined;
    });
  }

  async expire(nowMs: number, maxBytesPerAccount: number): Promise<number> {
    let removed = 0;
    for (const { account, group, meta } of await this.allGroups()) {
      if (meta.retentionInDays === undefined) continue;
      const cutoff = nowMs - meta.retentionInDays * DAY_MS;
      for (const ref of await this.refs(summariesOf(account, group), group)) {
        if (ref.lo < cutoff) removed += await this.trim(account, ref, (ev) => ev.filter((e) => e[1] < cutoff));
      }
    }
    const totals = new Map<string, number>();
    for (const { account, meta } of await this.allGroups()) totals.set(account, (totals.get(account) ?? 0) + meta.storedBytes);
    for (const [account, total] of totals) {
      let excess = total - maxBytesPerAccount;
      if (excess <= 0) continue;
      const oldestFirst = (await this.refs(`logs/b/${esc(account)}/`)).sort((a, b) => a.rev - b.rev || a.seq - b.seq);
      for (const ref of oldestFirst) {
        if (excess <= 0) break;
        const bytes = await this.trim(account, ref, (ev) => earliest(ev, excess));
        excess -= bytes;
        removed += bytes;
      }
    }
    return removed;
  }

  /** Appends one batch (at most maxBatchBytes) in one transaction, creating the group and the stream. */
  private async appendBatch(accountId: string, group: string, stream: string, events: NewLogEvent[], t: number): Promise<void> {
    const gKey = groupKey(accountId, group);
    const sKey = streamsOf(accountId, group) + esc(stream);
    await this.retry('logs append', async () => {
      const [g, s] = await this.read([gKey, sKey]);
      if (g && s && events.length === 0) return true;
      const gMeta: GroupMeta = g ? parse<GroupMeta>(g) : { creationTime: t, storedBytes: 0, seq: 0 };
      const sMeta: StreamMeta = s ? parse<StreamMeta>(s) : { creationTime: t, storedBytes: 0 };
      const ops: IOperation[] = [];
      if (events.length > 0) {
        const seq = gMeta.seq + 1;
        const ev = events.map((e, i): BatchEvent => [i, e.timestamp, e.message]);
        const bytes = batchBytes(ev);
        const [lo, hi] = timeRange(ev);
        Object.assign(gMeta, { seq, storedBytes: gMeta.storedBytes + bytes });
        Object.assign(sMeta, {
          storedBytes: sMeta.storedBytes + bytes, lastIngestionTime: t,
          firstEventTimestamp: Math.min(sMeta.firstEventTimestamp ?? lo, lo), lastEventTimestamp: Math.max(sMeta.lastEventTimestamp ?? hi, hi),
        });
        const batch = JSON.stringify({ t, ev } satisfies Batch);
        ops.push(
          this.root.put(batchKey(accountId, group, stream, seq)).value(batch),
          this.root.put(summaryKey(accountId, group, stream, seq)).value(JSON.stringify({ lo, hi, bytes, size: Buffer.byteLength(batch) } satisfies Summary)),
        );
      }
      ops.push(this.root.put(gKey).value(JSON.stringify(gMeta)), this.root.put(sKey).value(JSON.stringify(sMeta)));
      const res = await commitTxn('logs append', this.root, [this.unchanged(gKey, g), this.unchanged(sKey, s)], ops);
      return res.succeeded ? true : undefined;
    });
  }

  /** The batches a query may need (by their summaries), in no particular order. */
  private async candidates(accountId: string, group: string, q: LogEventQuery): Promise<BatchRef[]> {
    const base = summariesOf(accountId, group);
    const prefixes = q.streams === undefined
      ? [base + esc(q.streamPrefix ?? '')]
      : [...new Set(q.streams)].filter((s) => s.startsWith(q.streamPrefix ?? '')).map((s) => `${base}${esc(s)}/`);
    const refs = (await Promise.all(prefixes.map((p) => this.refs(p, group)))).flat();
    const [start, end] = [q.startTime ?? -Infinity, q.endTime ?? Infinity];
    return refs.filter((r) => r.hi >= start && r.lo < end
      && (q.after === undefined || (q.descending ? r.lo <= q.after.timestamp : r.hi >= q.after.timestamp)));
  }

  /**
   * Removes the events `pick` chooses from a batch (rewriting it, or deleting it when none is
   * left) and takes their bytes off its stream and group, in one transaction; resolves the bytes removed.
   */
  private async trim(accountId: string, ref: BatchRef, pick: (ev: BatchEvent[]) => BatchEvent[]): Promise<number> {
    const gKey = groupKey(accountId, ref.group);
    const sKey = streamsOf(accountId, ref.group) + esc(ref.stream);
    const [bKey, sumKey] = [batchKey(accountId, ref.group, ref.stream, ref.seq), summaryKey(accountId, ref.group, ref.stream, ref.seq)];
    return this.retry('logs expire', async () => {
      const [g, s, b] = await this.read([gKey, sKey, bKey]);
      if (!g || !s || !b) return 0;
      const batch = parse<Batch>(b);
      const doomed = new Set(pick(batch.ev));
      if (doomed.size === 0) return 0;
      const kept = batch.ev.filter((e) => !doomed.has(e));
      const bytes = batchBytes([...doomed]);
      const gMeta = parse<GroupMeta>(g);
      const sMeta = parse<StreamMeta>(s);
      const ops: IOperation[] = [
        this.root.put(gKey).value(JSON.stringify({ ...gMeta, storedBytes: gMeta.storedBytes - bytes })),
        this.root.put(sKey).value(JSON.stringify({ ...sMeta, storedBytes: sMeta.storedBytes - bytes })),
      ];
      if (kept.length === 0) ops.push(this.root.delete().key(bKey), this.root.delete().key(sumKey));
      else {
        const value = JSON.stringify({ ...batch, ev: kept });
        const [lo, hi] = timeRange(kept);
        const summary: Summary = { lo, hi, bytes: batchBytes(kept), size: Buffer.byteLength(value) };
        ops.push(this.root.put(bKey).value(value), this.root.put(sumKey).value(JSON.stringify(summary)));
      }
      const res = await commitTxn('logs expire', this.root, [this.unchanged(gKey, g), this.unchanged(sKey, s), this.unchanged(bKey, b)], ops);
      return res.succeeded ? bytes : undefined;
    });
  }

  /** Every group of every account, with its metadata. */
  private async allGroups(): Promise<{ account: string; group: string; meta: GroupMeta }[]> {
    const out: { account: string; group: string; meta: GroupMeta }[] = [];
    for await (const kv of this.scan('logs/g/')) {
      const [account = '', group = ''] = kv.key.toString().slice('logs/g/'.length).split('/');
      out.push({ account: unesc(account), group: unesc(group), meta: parse<GroupMeta>(kv) });
    }
    return out;
  }

  /** The batch summaries under `prefix` (`logs/b/<account>/` or deeper; `group` when the prefix fixes it). */
  private async refs(prefix: string, group?: string): Promise<BatchRef[]> {
    const out: BatchRef[] = [];
    for await (const kv of this.scan(prefix)) {
      const parts = kv.key.toString().split('/');
      const [seq, stream, g] = [parts.at(-1)!, parts.at(-2)!, parts.at(-3)!];
      out.push({ ...parse<Summary>(kv), group: group ?? unesc(g), stream: unesc(stream), seq: Number(seq), rev: Number(kv.create_revision) });
    }
    return out;
  }

  /** Every key under `prefix`, in key order, a page (one bounded range request) at a time. */
  private async *scan(prefix: string): AsyncGenerator<IKeyValue> {
    const { end } = Range.prefix(prefix);
    let start = Buffer.from(prefix);
    for (;;) {
      const from = start;
      const res = await etcdCall('logs read', () => this.root.getAll().inRange(new Range(from, end)).sort('Key', 'Ascend').limit(pageSize).exec());
      yield* res.kvs;
      if (res.kvs.length < pageSize) return;
      start = Buffer.concat([res.kvs.at(-1)!.key, Buffer.from([0])]);
    }
  }

  /** Reads keys at one revision (one transaction of gets). */
  private async read(keys: string[]): Promise<(IKeyValue | undefined)[]> {
    const res = await commitTxn('logs read', this.root, [], keys.map((k) => this.root.get(k)));
    return res.responses.map((r) => r.response_range.kvs[0]);
  }

  /** A comparison that holds while `key` is as read (`undefined`: still absent). */
  private unchanged(key: string, kv: IKeyValue | undefined): ICompare {
    return { key: keyIn(this.root, key), target: 'Mod', result: 'Equal', mod_revision: kv?.mod_revision ?? 0 };
  }

  /** Runs `attempt` until it resolves a value (undefined: it lost a race, read again). */
  private retry<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
    return untilWon(maxAttempts, attempt, () => new StratusError('JournalUnavailable', `etcd ${what} lost the race ${maxAttempts} times`));
  }
}

/** Splits an append into batches of at most maxBatchBytes (one, even empty, at least). */
function split(events: NewLogEvent[]): NewLogEvent[][] {
  const parts: NewLogEvent[][] = [[]];
  let size = 0;
  for (const e of events) {
    const bytes = Buffer.byteLength(JSON.stringify(e.message)) + 32;
    if (bytes > maxEventBytes) throw new StratusError('RequestTooLarge', `a log event of ${bytes} bytes (encoded) is larger than ${maxEventBytes}`);
    if (size + bytes > maxBatchBytes && parts.at(-1)!.length > 0) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)!.push(e);
    size += bytes;
  }
  return parts;
}

function retention(meta: GroupMeta): { retentionInDays?: number } {
  return meta.retentionInDays === undefined ? {} : { retentionInDays: meta.retentionInDays };
}

function lastSegment(kv: IKeyValue): string {
  return kv.key.toString().split('/').at(-1)!;
}

function parse<T>(kv: IKeyValue): T {
  return JSON.parse(kv.value.toString()) as T;
}
