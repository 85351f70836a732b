import type { ClaimedEvent, EventQueue, QueuedEvent } from './journal.js';

interface Slot {
  item: QueuedEvent;
  owner?: string;
  claimUntilMs: number;
}

/** The event queue of the in-memory Journal (unit tests); same contract as the real engines. */
export class MemoryEventQueue implements EventQueue {
  private readonly slots = new Map<string, Slot>();

  async put(item: QueuedEvent): Promise<boolean> {
    if (this.slots.has(item.id)) return false;
    this.slots.set(item.id, { item: structuredClone(item), claimUntilMs: 0 });
    return true;
  }

  async claim(owner: string, nowMs: number, claimMs: number, limit: number): Promise<ClaimedEvent[]> {
    const due = [...this.slots.values()]
      .filter((s) => s.item.dueAtMs <= nowMs && (s.owner === undefined || s.claimUntilMs <= nowMs))
      .sort((a, b) => a.item.dueAtMs - b.item.dueAtMs || (a.item.id < b.item.id ? -1 : 1))
      .slice(0, Math.max(0, limit));
    return due.map((slot) => {
      slot.owner = owner;
      slot.claimUntilMs = nowMs + claimMs;
      return { ...structuredClone(slot.item), claimUntilMs: slot.claimUntilMs };
    });
  }

  async extend(id: string, owner: string, nowMs: number, claimMs: number): Promise<boolean> {
    const slot = this.held(id, owner, nowMs);
    if (!slot) return false;
    slot.claimUntilMs = nowMs + claimMs;
    return true;
  }

  async reschedule(item: QueuedEvent, owner: string, nowMs: number): Promise<boolean> {
    const slot = this.held(item.id, owner, nowMs);
    if (!slot) return false;
    this.slots.set(item.id, { item: structuredClone(item), claimUntilMs: 0 });
    return true;
  }

  async remove(id: string, owner: string, nowMs: number): Promise<boolean> {
    return this.held(id, owner, nowMs) !== undefined && this.slots.delete(id);
  }

  async count(): Promise<number> {
    return this.slots.size;
  }

  private held(id: string, owner: string, nowMs: number): Slot | undefined {
    const slot = this.slots.get(id);
    return slot && slot.owner === owner && slot.claimUntilMs > nowMs ? slot : undefined;
  }
}
