import { appendEach, DAY_MS, eventBytes, type LogAppend, type LogEventQuery, type LogGroupInfo, type LogStore, type LogStreamInfo, type NewLogEvent, type StoredLogEvent } from './log-store.js';

interface Group {
  info: LogGroupInfo;
  streams: Map<string, LogStreamInfo>;
  events: StoredLogEvent[];
}

/** The log store of the in-memory Journal (unit tests); same contract as the real engines. */
export class MemoryLogStore implements LogStore {
  private readonly accounts = new Map<string, Map<string, Group>>();
  private nextId = 1;

  async createGroup(accountId: string, group: string, nowMs: number): Promise<boolean> {
    if (this.group(accountId, group)) return false;
    this.add(accountId, group, nowMs);
    return true;
  }

  async append(accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number): Promise<void> {
    const g = this.group(accountId, group) ?? this.add(accountId, group, ingestionTimeMs);
    let s = g.streams.get(stream);
    if (!s) {
      s = { name: stream, creationTime: ingestionTimeMs, storedBytes: 0 };
      g.streams.set(stream, s);
    }
    for (const e of events) {
      g.events.push({ id: String(this.nextId++).padStart(20, '0'), stream, timestamp: e.timestamp, message: e.message, ingestionTime: ingestionTimeMs });
      const bytes = eventBytes(e.message);
      s.storedBytes += bytes;
      g.info.storedBytes += bytes;
      s.firstEventTimestamp = Math.min(s.firstEventTimestamp ?? e.timestamp, e.timestamp);
      s.lastEventTimestamp = Math.max(s.lastEventTimestamp ?? e.timestamp, e.timestamp);
    }
    if (events.length > 0) s.lastIngestionTime = ingestionTimeMs;
  }

  appendAll(appends: LogAppend[], ingestionTimeMs: number): Promise<(Error | undefined)[]> {
    return appendEach(this, appends, ingestionTimeMs);
  }

  async groups(accountId: string, namePrefix = ''): Promise<LogGroupInfo[]> {
    return [...(this.accounts.get(accountId)?.values() ?? [])]
      .filter((g) => g.info.name.startsWith(namePrefix))
      .map((g) => ({ ...g.info }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async streams(accountId: string, group: string): Promise<LogStreamInfo[] | undefined> {
    const g = this.group(accountId, group);
    return g && [...g.streams.values()].map((s) => ({ ...s })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async events(accountId: string, group: string, q: LogEventQuery): Promise<StoredLogEvent[] | undefined> {
    const g = this.group(accountId, group);
    if (!g) return undefined;
    const sign = q.descending ? -1 : 1;
    const order = (a: { timestamp: number; id: string }, b: { timestamp: number; id: string }) =>
      sign * (a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return g.events
      .filter((e) => (q.streams === undefined || q.streams.includes(e.stream))
        && (q.streamPrefix === undefined || e.stream.startsWith(q.streamPrefix))
        && (q.startTime === undefined || e.timestamp >= q.startTime)
        && (q.endTime === undefined || e.timestamp < q.endTime)
        && (q.after === undefined || order(e, q.after) > 0))
      .sort(order)
      .slice(0, q.limit)
      .map((e) => ({ ...e }));
  }

  async setRetention(accountId: string, group: string, days: number | undefined): Promise<boolean> {
    const g = this.group(accountId, group);
    if (!g) return false;
    g.info.retentionInDays = days;
    if (days === undefined) delete g.info.retentionInDays;
    return true;
  }

  async deleteGroup(accountId: string, group: string): Promise<boolean> {
    return this.accounts.get(accountId)?.delete(group) ?? false;
  }

  async deleteStream(accountId: string, group: string, stream: string): Promise<boolean> {
    const g = this.group(accountId, group);
    if (!g?.streams.delete(stream)) return false;
    this.remove(g, (e) => e.stream === stream);
    return true;
  }

  async expire(nowMs: number, maxBytesPerAccount: number): Promise<number> {
    let removed = 0;
    for (const groups of this.accounts.values()) {
      for (const g of groups.values()) {
        const days = g.info.retentionInDays;
        if (days !== undefined) removed += this.remove(g, (e) => e.timestamp < nowMs - days * DAY_MS);
      }
      const all = [...groups.values()].flatMap((g) => g.events.map((e) => ({ g, e }))).sort((a, b) => (a.e.id < b.e.id ? -1 : 1));
      let total = [...groups.values()].reduce((sum, g) => sum + g.info.storedBytes, 0);
      const doomed = new Set<StoredLogEvent>();
      for (const { e } of all) {
        if (total <= maxBytesPerAccount) break;
        total -= eventBytes(e.message);
        doomed.add(e);
      }
      for (const g of groups.values()) removed += this.remove(g, (e) => doomed.has(e));
    }
    return removed;
  }

  private group(accountId: string, group: string): Group | undefined {
    return this.accounts.get(accountId)?.get(group);
  }

  private add(accountId: string, name: string, nowMs: number): Group {
    const groups = this.accounts.get(accountId) ?? new Map<string, Group>();
    this.accounts.set(accountId, groups);
    const g: Group = { info: { name, creationTime: nowMs, storedBytes: 0 }, streams: new Map(), events: [] };
    groups.set(name, g);
    return g;
  }

  /** Removes the events `doomed` picks, keeping byte counts true; resolves the bytes removed. */
  private remove(g: Group, doomed: (e: StoredLogEvent) => boolean): number {
    let removed = 0;
    g.events = g.events.filter((e) => {
      if (!doomed(e)) return true;
      const bytes = eventBytes(e.message);
      removed += bytes;
      g.info.storedBytes -= bytes;
      const s = g.streams.get(e.stream);
      if (s) s.storedBytes -= bytes;
      return false;
    });
    return removed;
  }
}
