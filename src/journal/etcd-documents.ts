import type { IKeyValue, Namespace } from 'etcd3';
import { etcdCall, startWatch, watchStartRevision } from '../shared/etcd.js';
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

  async watch(listener: (key: string, doc: StoredDocument | undefined) => void): Promise<() => void> {
    const watcher = await startWatch(this.ns.watch().prefix(''), this.callTimeoutMs);
    const startedAt = watchStartRevision(watcher);
    const deliver = (kv: IKeyValue, doc: StoredDocument | undefined) => {
      if (Number(kv.mod_revision) < startedAt) return;
      try {
        listener(kv.key.toString(), doc);
      } catch {
        // A listener's failure is its own.
      }
    };
    watcher.on('put', (kv) => deliver(kv, toDocument(kv.key.toString(), kv)));
    watcher.on('delete', (kv) => deliver(kv, undefined));
    return () => void watcher.cancel().catch(() => undefined);
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
