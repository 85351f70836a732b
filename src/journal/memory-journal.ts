import type { AppendLog, DocumentStore, EventQueue, Journal, LeaderElection, Leadership, LogEntry, LogSnapshot, ScheduleStore, StoredDocument } from './journal.js';
import { DocumentListeners, LocalElections } from './local.js';
import { MemoryEventQueue } from './memory-event-queue.js';
import type { LogStore } from './log-store.js';
import { MemoryLogStore } from './memory-log-store.js';
import { MemoryScheduleStore } from './memory-schedule-store.js';

/** In-memory fake Journal for unit tests; passes the same contract suite as the real engines. */
export class MemoryJournal implements Journal {
  /** First: the document stores check fences against it. */
  private readonly elections = new LocalElections(countingEpochs());
  readonly functions: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly versions: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly aliases: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly functionUrls: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly layers: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly eventQueue: EventQueue = new MemoryEventQueue();
  readonly logs: LogStore = new MemoryLogStore();
  readonly scheduleGroups: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly schedules: ScheduleStore = new MemoryScheduleStore(this.eventQueue);
  readonly workers: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly accounts: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly accessKeys: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly clusterSecrets: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly workerCredentials: DocumentStore = new MemoryDocumentStore(this.elections);
  readonly assignmentLog: AppendLog = new MemoryAppendLog(this.elections);

  election(name: string, _ttlMs?: number): LeaderElection {
    return this.elections.election(name);
  }

  async close(): Promise<void> {}
}

/** Epochs from 1 per election name. */
function countingEpochs(): (name: string) => number {
  const epochs = new Map<string, number>();
  return (name) => {
    const epoch = (epochs.get(name) ?? 0) + 1;
    epochs.set(name, epoch);
    return epoch;
  };
}

class MemoryDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();
  private readonly listeners = new DocumentListeners();

  constructor(private readonly elections: LocalElections) {}

  async get(key: string): Promise<StoredDocument | undefined> {
    const doc = this.docs.get(key);
    return doc && structuredClone(doc);
  }

  async list(prefix?: string): Promise<StoredDocument[]> {
    return [...this.docs.values()].filter((d) => !prefix || d.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1)).map((d) => structuredClone(d));
  }

  async create(key: string, value: unknown, revision: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
    if (this.docs.has(key)) return false;
    this.set({ key, value, revision });
    return true;
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
    if (this.docs.get(key)?.revision !== expectedRevision) return false;
    this.set({ key, value, revision });
    return true;
  }

  async delete(key: string, fence?: Leadership): Promise<boolean> {
    this.elections.checkFence(fence);
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
