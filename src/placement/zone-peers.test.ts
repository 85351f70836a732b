import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeWorker } from '../../test/helpers/fake-worker.js';
import { testTrust } from '../../test/helpers/test-trust.js';
import { ManualClock } from '../shared/clock.js';
import type { Authentication } from '../shared/cluster-api.js';
import { HttpServer } from '../shared/http-server.js';
import { InternalClient } from '../shared/internal-client.js';
import { silentLogger } from '../shared/log.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker } from './connector.js';
import { PlacementService } from './placement.js';
import { sendHeartbeat, WorkerRegistrations } from './registration.js';

const TRUST = testTrust();
const authenticate = (authorization: string | undefined): Authentication => {
  const m = /^Bearer (w\d)-own$/.exec(authorization ?? '');
  return m?.[1] ? { kind: 'worker', workerId: m[1] } : { refused: 401, message: 'unknown credential' };
};

/** A remote worker whose status is what it last reported (its zone among it). */
class ReportingRemote extends FakeWorker implements ConnectedWorker {
  constructor(id: string, private last: WorkerStatus) {
    super(id);
  }
  report(status: WorkerStatus): void {
    this.last = status;
  }
  override status(): WorkerStatus {
    return this.last;
  }
}

describe('heartbeats answer the zone peers (the peer chunk tier)', () => {
  const clock = new ManualClock();
  const placement = new PlacementService({ clock, leaseMs: 3000 });
  const registrations = new WorkerRegistrations({
    authenticate, placement, leaseMs: 3000, log: silentLogger(), peerKeyHash: (id) => `hash-of-${id}`,
    connector: { connect: (w) => new ReportingRemote(w.id, w.status) },
  });
  const server = new HttpServer({ routes: registrations.routes(), log: silentLogger(), tls: TRUST.controlPlaneIdentity(), notFound: () => ({ status: 404 }), errorReply: () => ({ status: 500 }) });
  const clients: InternalClient[] = [];
  let url = '';
  const beat = (id: string, zone?: string) => {
    const client = new InternalClient({ authorization: `Bearer ${id}-own`, ca: TRUST.ca.certPem });
    clients.push(client);
    const status: WorkerStatus = { id, memoryMb: 1024, memoryReservedMb: 0, environments: 0, cachedCode: [], ...(zone ? { zone } : {}) };
    return sendHeartbeat(client, url, { id, url: `https://${id}.example:1`, status }, 1000);
  };
  before(async () => {
    url = `https://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
  });
  after(async () => {
    for (const c of clients) c.close();
    placement.stop();
    await server.close();
  });

  it('lists the other workers of the same zone only, with their key hashes, and drops lost ones', async () => {
    await beat('w1', 'zone-a');
    await beat('w2', 'zone-a');
    await beat('w3', 'zone-b');
    await beat('w4');
    const answer = await beat('w1', 'zone-a');
    assert.equal(answer.leaseMs, 3000);
    assert.deepEqual(answer.peers, [{ id: 'w2', url: 'https://w2.example:1', keyHash: 'hash-of-w2' }, { id: 'w4', url: 'https://w4.example:1', keyHash: 'hash-of-w4' }],
      'w4 reports no zone: it is in the default one, zone-a');
    assert.deepEqual((await beat('w3', 'zone-b')).peers, [], 'alone in zone-b');
    // A worker that moves zone is listed in its new zone from its next heartbeat.
    await beat('w2', 'zone-b');
    assert.deepEqual((await beat('w3', 'zone-b')).peers?.map((p) => p.id), ['w2']);
    // A worker whose lease runs out is no peer of anyone.
    clock.advance(2000);
    await beat('w1', 'zone-a');
    await beat('w3', 'zone-b');
    clock.advance(1500);
    assert.deepEqual((await beat('w3', 'zone-b')).peers, [], 'w2 was lost');
    assert.deepEqual((await beat('w1', 'zone-a')).peers, [], 'w4 was lost');
  });
});
