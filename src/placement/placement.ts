import type { WorkerAgent } from '../worker/index.js';

/** What placement needs to know to put a new environment somewhere. */
export interface PlacementRequest {
  memoryMb: number;
  codeSha256: string;
}

interface Member {
  agent: WorkerAgent;
  reservedMb: number;
}

/**
 * Keeps the set of workers and chooses the one a new environment goes to: only workers with
 * room for its memory; among them, one that has the code cached, then the least loaded.
 */
export class PlacementService {
  private readonly members = new Map<string, Member>();

  register(agent: WorkerAgent): void {
    this.members.set(agent.id, { agent, reservedMb: 0 });
  }

  deregister(workerId: string): void {
    this.members.delete(workerId);
  }

  worker(workerId: string): WorkerAgent | undefined {
    return this.members.get(workerId)?.agent;
  }

  workers(): WorkerAgent[] {
    return [...this.members.values()].map((m) => m.agent);
  }

  /** Picks a worker and reserves the memory on it; undefined if no worker has room. */
  place(req: PlacementRequest): WorkerAgent | undefined {
    let best: { member: Member; cached: boolean; free: number } | undefined;
    for (const member of this.members.values()) {
      const status = member.agent.status();
      const free = status.memoryMb - member.reservedMb;
      if (free < req.memoryMb) continue;
      const cached = status.cachedCode.includes(req.codeSha256);
      if (!best || (cached && !best.cached) || (cached === best.cached && free > best.free)) best = { member, cached, free };
    }
    if (!best) return undefined;
    best.member.reservedMb += req.memoryMb;
    return best.member.agent;
  }

  /** Returns memory reserved by `place` once the environment is gone. */
  release(workerId: string, memoryMb: number): void {
    const member = this.members.get(workerId);
    if (member) member.reservedMb = Math.max(0, member.reservedMb - memoryMb);
  }
}
