import type { ICompare, IKeyValue, IOperation, ITxnResponse, Namespace } from 'etcd3';
import { commitTxn, createdAt, etcdCall, keyIn, resumableWatch, startWatch } from '../shared/etcd.js';
import { fenceCompares, fenceRead, throwIfFenced } from './etcd-election.js';
import type { DocumentStore, Leadership, StoredDocument } from './journal.js';

/** What a document's etcd value holds: the caller's revision string beside the value. */
interface Stored {
  revision: string;
  value: unknown;
}

/**
 * A DocumentStore on etcd: one key per document under `<collection>/` of the journal's
 * namespace. Conditional writes compare etcd's own create/mod revisions in a transaction; a
 * fenced write also compares the leadership's election key (its create revision is the epoch).
 */
export class EtcdDocumentStore implements DocumentStore {
  private readonly ns: Namespace;

  /** `parent`: the journal's namespace (where the election keys are). */
  constructor(private readonly parent: Namespace, collection: string, private readonly callTimeoutMs: number) {
    this.ns = parent.namespace(`${collection}/`);
  }

  async get(key: string): Promise<StoredDocument | undefined> {
    const res = await etcdCall('get', () => this.ns.get(key).exec());
    const kv = res.kvs[0];
    return kv && toDocument(key, kv);
  }

  async list(prefix?: string): Promise<StoredDocument[]> {
    const all = this.ns.getAll();
    const res = await etcdCall('list', () => (prefix ? all.prefix(prefix) : all).sort('Key', 'Ascend').exec());
    return res.kvs.map((kv) => toDocument(kv.key.toString(), kv));
  }

  async create(key: string, value: unknown, revision: string, fence?: Leadership): Promise<boolean> {
    const res = await this.commit('create', [createdAt(this.ns, key, 0)], this.ns.put(key).value(encode(value, revision)), fence);
    return this.settled(res, key, revision, fence);
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string, fence?: Leadership): Promise<boolean> {
    fenceCompares(this.parent, fence);
    const res = await etcdCall('get', () => this.ns.get(key).exec());
    const kv = res.kvs[0];
    if (!kv) return false;
    if (decode(kv).revision !== expectedRevision) return decode(kv).revision === revision; // this write, already stored
    const compare: ICompare = { key: keyIn(this.ns, key), target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision };
    const txn = await this.commit('replace', [compare], this.ns.put(key).value(encode(value, revision)), fence);
    return this.settled(txn, key, revision, fence);
  }

  /** One transaction: `write` if `compare` holds (and the fence, if any); the fence's election key read otherwise. */
  private commit(what: string, compare: ICompare[], write: IOperation, fence: Leadership | undefined): Promise<ITxnResponse> {
    return commitTxn(what, this.ns, [...compare, ...fenceCompares(this.parent, fence)], [write], fenceRead(this.parent, fence));
  }

  /** Whether the write committed: in this transaction, or by an earlier attempt of it; 'Fenced' if the fence failed it. */
  private async settled(res: ITxnResponse, key: string, revision: string, fence: Leadership | undefined): Promise<boolean> {
    if (res.succeeded || (await this.committed(key, revision))) return true;
    throwIfFenced(fence, res);
    return false;
  }

  /**
   * Did this very write (its revision, unique per write) commit after all? The client retries a
   * call on another member when its member goes away, and the first attempt may have committed
   * before it did: the retry's comparison then fails on the write's own result, which is not a
   * conflict (found by test/integration/fault-injection-cluster.test.ts: a CreateFunction
   * answered "already exist" for the function it had just created).
   */
  private async committed(key: string, revision: string): Promise<boolean> {
    return (await this.get(key))?.revision === revision;
  }

  async delete(key: string, fence?: Leadership): Promise<boolean> {
    if (fence === undefined) {
      const res = await etcdCall('delete', () => this.ns.delete().key(key).exec());
      return Number(res.deleted) > 0;
    }
    const res = await this.commit('delete', [], this.ns.delete().key(key), fence);
    if (!res.succeeded) throwIfFenced(fence, res);
    return Number(res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  /**
   * Changes after the watch started, in order. etcd cancels a watcher that comes back from a cut
   * connection after the history it missed was compacted (the code collector compacts): it is
   * then replaced by a fresh one, and the listener is first given what changed in between (every
   * document at a revision it has not seen, a delete for every key that is gone), read at the
   * revision the new watcher starts after, so a mirror fed by it never goes stale.
   */
  async watch(listener: (key: string, doc: StoredDocument | undefined) => void): Promise<() => void> {
    const seen = new Map<string, string>();
    const deliver = (key: string, doc: StoredDocument | undefined) => {
      if (doc) seen.set(key, doc.revision);
      else seen.delete(key);
      try {
        listener(key, doc);
      } catch {
        // A listener's failure is its own.
      }
    };
    return resumableWatch(async (catchingUp) => {
      const res = await etcdCall('list', () => this.ns.getAll().exec());
      const docs = res.kvs.map((kv) => toDocument(kv.key.toString(), kv));
      if (catchingUp) {
        const present = new Set(docs.map((d) => d.key));
        for (const key of [...seen.keys()]) if (!present.has(key)) deliver(key, undefined);
        for (const doc of docs) if (seen.get(doc.key) !== doc.revision) deliver(doc.key, doc);
      } else for (const doc of docs) seen.set(doc.key, doc.revision);
      const watcher = await startWatch(this.ns.watch().prefix('').startRevision(String(Number(res.header.revision) + 1)), this.callTimeoutMs);
      watcher.on('put', (kv) => deliver(kv.key.toString(), toDocument(kv.key.toString(), kv)));
      watcher.on('delete', (kv) => deliver(kv.key.toString(), undefined));
      return watcher;
    });
  }
}

function encode(value: unknown, revision: string): string {
  return JSON.stringify({ revision, value } satisfies Stored);
}

function decode(kv: IKeyValue): Stored {
  return JSON.parse(kv.value.toString()) as Stored;
}

function toDocument(key: string, kv: IKeyValue): StoredDocument {
  const { revision, value } = decode(kv);
  return { key, value, revision };
}
