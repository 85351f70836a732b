import type { AppendLog, DocumentStore, EventQueue, Journal, LeaderElection, Leadership, LogEntry, LogSnapshot, ScheduleStore, StoredDocument } from './journal.js';
import { DocumentListeners, LocalElections } from './local.js';
import { MemoryEventQueue } from './memory-event-queue.js';
import type { LogStore } from './log-store.js';
import { MemoryLogStore } from './memory-log-store.js';
import { MemoryScheduleStore } from './memory-schedule-store.js';

/** In-memory fake Journal for unit tests; passes the same contract suite as the real engines. */
export class MemoryJournal implements Journal {
  readonly functions: DocumentStore = new MemoryDocumentStore();
  readonly versions: DocumentStore = new MemoryDocumentStore();
  readonly aliases: DocumentStore = new MemoryDocumentStore();
  readonly functionUrls: DocumentStore = new MemoryDocumentStore();
  readonly layers: DocumentStore = new MemoryDocumentStore();
  readonly eventQueue: EventQueue = new MemoryEventQueue();
  readonly logs: LogStore = new MemoryLogStore();
  readonly scheduleGroups: DocumentStore = new MemoryDocumentStore();
  readonly schedules: ScheduleStore = new MemoryScheduleStore(this.eventQueue);
  readonly workers: DocumentStore = new MemoryDocumentStore();
  readonly accounts: DocumentStore = new MemoryDocumentStore();
  readonly accessKeys: DocumentStore = new MemoryDocumentStore();
  readonly clusterSecrets: DocumentStore = new MemoryDocumentStore();
  readonly workerCredentials: DocumentStore = new MemoryDocumentStore();
  readonly assignmentLog: AppendLog;
  private readonly elections: LocalElections;

  constructor() {
    const epochs = new Map<string, number>();
    this.elections = new LocalElections((name) => {
      const epoch = (epochs.get(name) ?? 0) + 1;
      epochs.set(name, epoch);
      return epoch;
    });
    this.assignmentLog = new MemoryAppendLog(this.elections);
  }

  election(name: string, _ttlMs?: number): LeaderElection {
    return this.elections.election(name);
  }

  async close(): Promise<void> {}
}

class MemoryDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();
  private readonly listeners = new DocumentListeners();

  async get(key: string): Promise<StoredDocument | undefined> {
    const doc = this.docs.get(key);
    return doc && structuredClone(doc);
  }

  async list(): Promise<StoredDocument[]> {
    return [...this.docs.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((d) => structuredClone(d));
  }

  async create(key: string, value: unknown, revision: string): Promise<boolean> {
    if (this.docs.has(key)) return false;
    this.set({ key, value, revision });
    return true;
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string): Promise<boolean> {
    if (this.docs.get(key)?.revision !== expectedRevision) return false;
    this.set({ key, value, revision });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    if (!this.docs.delete(key)) return false;
    this.listeners.emit(key, undefined);
    return true;
  }

  async watch(listener: (key: string, doc: StoredDocument | undefined) => void): Promise<() => void> {
    return this.listeners.add(listener);
  }

  private set(doc: StoredDocument): void {
    const stored = structuredClone(doc);
    this.docs.set(doc.key, stored);
    this.listeners.emit(doc.key, stored);
  }
}

class MemoryAppendLog implements AppendLog {
  private entries: LogEntry[] = [];
  private snapshot: LogSnapshot | undefined;
  private nextSeq = 1;

  constructor(private readonly elections: LocalElections) {}

  async append(entry: unknown, fence?: Leadership): Promise<number> {
    this.elections.checkFence(fence);
    const seq = this.nextSeq++;
    this.entries.push({ seq, entry: structuredClone(entry) });
    return seq;
  }

  async readAfter(afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    return this.entries.filter((e) => e.seq > afterSeq).slice(0, limit).map((e) => structuredClone(e));
  }

  async readSnapshot(): Promise<LogSnapshot | undefined> {
    return this.snapshot && structuredClone(this.snapshot);
  }

  async compact(snapshot: LogSnapshot, fence?: Leadership): Promise<void> {
    this.elections.checkFence(fence);
    this.snapshot = structuredClone(snapshot);
    this.entries = this.entries.filter((e) => e.seq > snapshot.seq);
  }
}
