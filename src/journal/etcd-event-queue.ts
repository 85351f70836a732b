import type { ICompare, IKeyValue, IOperation, Namespace } from 'etcd3';
import { commitTxn, etcdCall, keyIn } from '../shared/etcd.js';
import type { ClaimedEvent, EventQueue, QueuedEvent } from './journal.js';

/** What `events/items/<id>` holds. */
interface StoredEvent extends QueuedEvent {
  owner?: string;
  claimUntilMs?: number;
}

const items = 'events/items/';
const ready = 'events/ready/';

/** `events/ready/<ms, 16 digits>/<id>`: an item becomes claimable at that time. */
function readyKey(atMs: number, id: string): string {
  return `${ready}${String(Math.max(0, Math.floor(atMs))).padStart(16, '0')}/${id}`;
}

/** When an item can next be claimed: its due time, or the end of its current claim. */
function availableAt(e: StoredEvent): number {
  return e.owner === undefined ? e.dueAtMs : Math.max(e.dueAtMs, e.claimUntilMs ?? 0);
}

/** The writes that queue a new, unclaimed item (for a transaction of the queue or of another store, e.g. a schedule's firing). */
export function eventPutOps(root: Namespace, item: QueuedEvent): IOperation[] {
  const stored: StoredEvent = { id: item.id, dueAtMs: item.dueAtMs, value: item.value };
  return [root.put(items + item.id).value(JSON.stringify(stored)), root.put(readyKey(stored.dueAtMs, item.id)).value(item.id)];
}

/** A comparison that holds while no item `id` is queued. */
export function eventAbsent(root: Namespace, id: string): ICompare {
  return { key: keyIn(root, items + id), target: 'Create', result: 'Equal', create_revision: 0 };
}

/**
 * Each item is one key, `events/items/<id>`, plus an index key `events/ready/<ms>/<id>` at the
 * time it can next be claimed, moved in the same transaction as every change to the item. A
 * claim scans the index up to now and takes each item with a transaction that compares the
 * item's mod revision, so two owners (in any processes) never hold an item at once.
 */
export class EtcdEventQueue implements EventQueue {
  /** Puts of one id through this queue commit in the order they were made. */
  private readonly putsInFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly root: Namespace) {}

  async put(item: QueuedEvent): Promise<boolean> {
    const previous = this.putsInFlight.get(item.id);
    const next = (previous ?? Promise.resolve(false)).catch(() => false).then(() => this.putNow(item));
    this.putsInFlight.set(item.id, next);
    try {
      return await next;
    } finally {
      if (this.putsInFlight.get(item.id) === next) this.putsInFlight.delete(item.id);
    }
  }

  private async putNow(item: QueuedEvent): Promise<boolean> {
    const res = await commitTxn('queue put', this.root, [eventAbsent(this.root, item.id)], eventPutOps(this.root, item));
    return res.succeeded;
  }

  async claim(owner: string, nowMs: number, claimMs: number, limit: number): Promise<ClaimedEvent[]> {
    const claimed: ClaimedEvent[] = [];
    let from = readyKey(0, '');
    while (claimed.length < limit) {
      const range = { start: from, end: readyKey(nowMs + 1, '') };
      const want = limit - claimed.length;
      const res = await etcdCall('queue claim', () => this.root.getAll().inRange(range).sort('Key', 'Ascend').limit(want).exec());
      const ids = res.kvs.map((kv) => kv.value.toString());
      const taken = await Promise.all(ids.map((id) => this.take(id, owner, nowMs, claimMs)));
      claimed.push(...taken.flatMap((t) => (t ? [t] : [])));
      if (res.kvs.length < want) break;
      from = `${res.kvs.at(-1)!.key.toString()}\0`;
    }
    return claimed;
  }

  async extend(id: string, owner: string, nowMs: number, claimMs: number): Promise<boolean> {
    const held = await this.heldBy(id, owner, nowMs);
    return held !== undefined && this.update(held, { ...held.event, claimUntilMs: nowMs + claimMs });
  }

  async reschedule(item: QueuedEvent, owner: string, nowMs: number): Promise<boolean> {
    const held = await this.heldBy(item.id, owner, nowMs);
    return held !== undefined && this.update(held, { id: item.id, dueAtMs: item.dueAtMs, value: item.value });
  }

  async remove(id: string, owner: string, nowMs: number): Promise<boolean> {
    const held = await this.heldBy(id, owner, nowMs);
    return held !== undefined && this.update(held, undefined);
  }

  async count(): Promise<number> {
    return etcdCall('queue count', () => this.root.getAll().prefix(items).count());
  }

  /** Claims one item if it is (still) claimable at nowMs. */
  private async take(id: string, owner: string, nowMs: number, claimMs: number): Promise<ClaimedEvent | undefined> {
    const current = await this.read(id);
    if (!current || current.event.dueAtMs > nowMs || availableAt(current.event) > nowMs) return undefined;
    const { dueAtMs, value } = current.event;
    const next: ClaimedEvent = { id, dueAtMs, value, claimUntilMs: nowMs + claimMs };
    return (await this.update(current, { ...next, owner })) ? next : undefined;
  }

  private async heldBy(id: string, owner: string, nowMs: number): Promise<{ event: StoredEvent; kv: IKeyValue } | undefined> {
    const current = await this.read(id);
    const live = current?.event.owner === owner && (current.event.claimUntilMs ?? 0) > nowMs;
    return live ? current : undefined;
  }

  private async read(id: string): Promise<{ event: StoredEvent; kv: IKeyValue } | undefined> {
    const kv = (await etcdCall('queue read', () => this.root.get(items + id).exec())).kvs[0];
    return kv && { event: JSON.parse(kv.value.toString()) as StoredEvent, kv };
  }

  /** Replaces (or with undefined deletes) the item and moves its index key, if nobody changed it since `current`. */
  private async update(current: { event: StoredEvent; kv: IKeyValue }, next: StoredEvent | undefined): Promise<boolean> {
    const { id } = current.event;
    const ops: IOperation[] = [this.root.delete().key(readyKey(availableAt(current.event), id))];
    if (next) ops.push(this.root.put(items + id).value(JSON.stringify(next)), this.root.put(readyKey(availableAt(next), id)).value(id));
    else ops.push(this.root.delete().key(items + id));
    const unchanged = { key: keyIn(this.root, items + id), target: 'Mod' as const, result: 'Equal' as const, mod_revision: current.kv.mod_revision };
    return (await commitTxn('queue update', this.root, [unchanged], ops)).succeeded;
  }
}
