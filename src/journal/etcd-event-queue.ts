import type { IKeyValue, Namespace } from 'etcd3';
import { commitTxn, etcdCall } from './etcd-client.js';
import type { ClaimedEvent, EventQueue, QueuedEvent } from './journal.js';

/** What an item's etcd value holds: the item and its claim (owner absent: unclaimed). */
interface Stored {
  dueAtMs: number;
  value: unknown;
  owner?: string;
  claimUntilMs: number;
}

/**
 * The event queue on etcd: one key per item, `queue/<id>`. Every change is a transaction that
 * compares the key's mod revision with the one just read (single-key compare-and-swap), so of
 * two consumers racing for an item exactly one wins. A put is committed by a quorum (raft)
 * before it resolves. Claiming reads the whole queue: fine for the backlogs Stratus expects;
 * a due-time index would be the next step for very long ones.
 */
export class EtcdEventQueue implements EventQueue {
  private readonly ns: Namespace;

  constructor(parent: Namespace) {
    this.ns = parent.namespace('queue/');
  }

  async put(item: QueuedEvent): Promise<boolean> {
    const stored: Stored = { dueAtMs: item.dueAtMs, value: item.value, claimUntilMs: 0 };
    const put = this.ns.put(item.id).value(JSON.stringify(stored));
    const res = await etcdCall('queue put', () => this.ns.if(item.id, 'Create', '==', 0).then(put).commit());
    return res.succeeded;
  }

  async claim(owner: string, nowMs: number, claimMs: number, limit: number): Promise<ClaimedEvent[]> {
    if (limit <= 0) return [];
    const res = await etcdCall('queue list', () => this.ns.getAll().exec());
    const due = res.kvs
      .map((kv) => ({ kv, id: kv.key.toString(), item: decode(kv) }))
      .filter(({ item }) => item.dueAtMs <= nowMs && (item.owner === undefined || item.claimUntilMs <= nowMs))
      .sort((a, b) => a.item.dueAtMs - b.item.dueAtMs || (a.id < b.id ? -1 : 1));
    const claimUntilMs = nowMs + claimMs;
    const claimed: ClaimedEvent[] = [];
    for (const { kv, id, item } of due) {
      if (claimed.length >= limit) break;
      if (await this.swap(id, kv, { ...item, owner, claimUntilMs })) claimed.push({ id, dueAtMs: item.dueAtMs, value: item.value, claimUntilMs });
    }
    return claimed;
  }

  async extend(id: string, owner: string, nowMs: number, claimMs: number): Promise<boolean> {
    const held = await this.held(id, owner, nowMs);
    return held !== undefined && this.swap(id, held.kv, { ...held.item, claimUntilMs: nowMs + claimMs });
  }

  async reschedule(item: QueuedEvent, owner: string, nowMs: number): Promise<boolean> {
    const held = await this.held(item.id, owner, nowMs);
    return held !== undefined && this.swap(item.id, held.kv, { dueAtMs: item.dueAtMs, value: item.value, claimUntilMs: 0 });
  }

  async remove(id: string, owner: string, nowMs: number): Promise<boolean> {
    const held = await this.held(id, owner, nowMs);
    if (!held) return false;
    const res = await commitTxn('queue remove', this.ns, [modAt(this.ns, id, held.kv)], [this.ns.delete().key(id)]);
    return res.succeeded;
  }

  async count(): Promise<number> {
    return etcdCall('queue count', () => this.ns.getAll().count());
  }

  /** The item if `owner` holds a live claim on it, with the key-value it was read from. */
  private async held(id: string, owner: string, nowMs: number): Promise<{ kv: IKeyValue; item: Stored } | undefined> {
    const res = await etcdCall('queue get', () => this.ns.get(id).exec());
    const kv = res.kvs[0];
    if (!kv) return undefined;
    const item = decode(kv);
    return item.owner === owner && item.claimUntilMs > nowMs ? { kv, item } : undefined;
  }

  /** Writes `next` only if the key is unchanged since `kv` was read. */
  private async swap(id: string, kv: IKeyValue, next: Stored): Promise<boolean> {
    const res = await commitTxn('queue update', this.ns, [modAt(this.ns, id, kv)], [this.ns.put(id).value(JSON.stringify(next))]);
    return res.succeeded;
  }
}

function modAt(ns: Namespace, id: string, kv: IKeyValue) {
  return { key: Buffer.concat([ns.prefix, Buffer.from(id)]), target: 'Mod' as const, result: 'Equal' as const, mod_revision: kv.mod_revision };
}

function decode(kv: IKeyValue): Stored {
  const stored = JSON.parse(kv.value.toString()) as Stored;
  return stored.owner === undefined || stored.owner === null ? { dueAtMs: stored.dueAtMs, value: stored.value, claimUntilMs: stored.claimUntilMs } : stored;
}
