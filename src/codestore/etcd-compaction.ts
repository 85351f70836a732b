import type { Etcd3 } from 'etcd3';
import { etcdCall } from '../shared/etcd.js';

/**
 * etcd keeps every revision of a key until its history is compacted: deleting a code package
 * frees nothing until then. Compacts the whole keyspace to the current revision (physically,
 * so the space is reusable when this resolves; `etcdctl defrag` gives it back to the disk)
 * under the client's call deadline. Resolves the revision compacted to; a compaction another
 * process already made past it is not an error.
 */
export async function compactEtcd(client: Etcd3): Promise<number> {
  const revision = Number((await etcdCall('compact', () => client.kv.range({ key: Buffer.from([0]) }))).header.revision);
  try {
    await etcdCall('compact', () => client.kv.compact({ revision, physical: true }));
  } catch (err) {
    if (!/compacted/.test(String(err))) throw err;
  }
  return revision;
}
