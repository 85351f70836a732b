import type { IKeyValue, Namespace } from 'etcd3';
import { etcdCall, resumableWatch, startWatch } from '../shared/etcd.js';
import type { DocumentStore, StoredDocument } from './journal.js';

/** What a document's etcd value holds: the caller's revision string beside the value. */
interface Stored {
  revision: string;
  value: unknown;
}

/**
 * A DocumentStore on etcd: one key per document under `<collection>/` of the journal's
 * namespace. Conditional writes compare etcd's own create/mod revisions in a transaction.
 */
export class EtcdDocumentStore implements DocumentStore {
  private readonly ns: Namespace;

  constructor(parent: Namespace, collection: string, private readonly callTimeoutMs: number) {
    this.ns = parent.namespace(`${collection}/`);
  }

  async get(key: string): Promise<StoredDocument | undefined> {
    const res = await etcdCall('get', () => this.ns.get(key).exec());
    const kv = res.kvs[0];
    return kv && toDocument(key, kv);
  }

  async list(): Promise<StoredDocument[]> {
    const res = await etcdCall('list', () => this.ns.getAll().sort('Key', 'Ascend').exec());
    return res.kvs.map((kv) => toDocument(kv.key.toString(), kv));
  }

  async create(key: string, value: unknown, revision: string): Promise<boolean> {
    const put = this.ns.put(key).value(encode(value, revision));
    const res = await etcdCall('create', () => this.ns.if(key, 'Create', '==', 0).then(put).commit());
    return res.succeeded || (await this.committed(key, revision));
  }

  async replace(key: string, value: unknown, revision: string, expectedRevision: string): Promise<boolean> {
    const res = await etcdCall('get', () => this.ns.get(key).exec());
    const kv = res.kvs[0];
    if (!kv) return false;
    if (decode(kv).revision !== expectedRevision) return decode(kv).revision === revision; // this write, already stored
    const put = this.ns.put(key).value(encode(value, revision));
    const txn = await etcdCall('replace', () => this.ns.if(key, 'Mod', '==', kv.mod_revision).then(put).commit());
    return txn.succeeded || (await this.committed(key, revision));
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

  async delete(key: string): Promise<boolean> {
    const res = await etcdCall('delete', () => this.ns.delete().key(key).exec());
    return Number(res.deleted) > 0;
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
