import type { Etcd3 } from 'etcd3';
import { createEtcdClient, type EtcdConnection } from '../shared/etcd.js';

/**
 * Asks each etcd member directly (one client per member, no retries) whether it knows a raft
 * leader. A leadership whose renewals fail uses it to tell "etcd has no quorum, so nobody can
 * be elected either" from "we are cut off, and a successor may be elected once the lease ends".
 */
export class EtcdQuorumProbe {
  private clients: Etcd3[] | undefined;
  private closed = false;

  constructor(private readonly conn: EtcdConnection) {}

  /**
   * True if at least one member answered within `timeoutMs` and none of those that answered
   * knows a raft leader that answered too. Then, from here, etcd cannot commit anything: it has
   * lost quorum, or its leader is out of reach (a minority member also reports no leader, or a
   * stale one). False if no member answered (this process is cut off) or if the raft leader
   * answered (etcd works, and the renewal failed for another reason).
   */
  async noQuorum(timeoutMs: number): Promise<boolean> {
    if (this.closed) return false;
    this.clients ??= this.conn.endpoints.map((e) => createEtcdClient({ endpoints: [e], callTimeoutMs: timeoutMs, tls: this.conn.tls }, { singleMember: true }));
    const answers = await Promise.allSettled(this.clients.map((c) => c.maintenance.status({ deadline: Date.now() + timeoutMs })));
    const statuses = answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    const reachable = new Set(statuses.map((s) => String(s.header.member_id)));
    return statuses.length > 0 && !statuses.some((s) => Number(s.leader) !== 0 && reachable.has(String(s.leader)));
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients ?? []) client.close();
    this.clients = undefined;
  }
}
