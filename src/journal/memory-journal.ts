import type { AppendLog, DocumentStore, EventQueue, Journal, LogEntry, StoredDocument } from './journal.js';
import { MemoryEventQueue } from './memory-event-queue.js';

/** In-memory fake Journal for unit tests; passes the same contract suite as the real engines. */
export class MemoryJournal implements Journal {
  readonly functions: DocumentStore = new MemoryDocumentStore();
  readonly versions: DocumentStore = new MemoryDocumentStore();
  readonly aliases: DocumentStore = new MemoryDocumentStore();
  readonly functionUrls: DocumentStore = new MemoryDocumentStore();
  readonly assignmentLog: AppendLog = new MemoryAppendLog();
  readonly eventQueue: EventQueue = new MemoryEventQueue();

  async close(): Promise<void> {}
}

class MemoryDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();

  async get(key: string): Promise<StoredDocument | undefined> {
    const doc = this.docs.get(key);
    return doc && structuredClone(doc);
  }

  async list(): Promise<StoredDocument[]> {
    return [...this.docs.values()].sort((a, b) => (a.key < b.key ? -1 : 1)).map((d) => structuredClone(d));
  }

  async create(key: string, value: unknown, revision: string): Promise<boolean> {
    if (this.docs.has(key)) return false;
    this.docs.set(key, structuredClone({ key, value, revision }));
    return true;
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string): Promise<boolean> {
    if (this.docs.get(key)?.revision !== expectedRevision) return false;
    this.docs.set(key, structuredClone({ key, value, revision }));
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.docs.delete(key);
  }
}

class MemoryAppendLog implements AppendLog {
  private entries: LogEntry[] = [];
  private nextSeq = 1;

  async append(entry: unknown): Promise<number> {
    const seq = this.nextSeq++;
    this.entries.push({ seq, entry: structuredClone(entry) });
    return seq;
  }

  async readAfter(afterSeq: number, limit = 1000): Promise<LogEntry[]> {
    return this.entries.filter((e) => e.seq > afterSeq).slice(0, limit).map((e) => structuredClone(e));
  }

  async truncate(uptoSeq: number): Promise<void> {
    this.entries = this.entries.filter((e) => e.seq > uptoSeq);
  }
}
