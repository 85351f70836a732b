import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeWorker } from '../../test/helpers/fake-worker.js';
import { ManualClock } from '../shared/clock.js';
import { sharedToken, type Authentication } from '../shared/cluster-api.js';
import { isStratusError } from '../shared/errors.js';
import { HttpServer } from '../shared/http-server.js';
import { InternalClient } from '../shared/internal-client.js';
import { silentLogger } from '../shared/log.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker, WorkerAddress } from './connector.js';
import { PlacementService } from './placement.js';
import { sendHeartbeat, WorkerRegistrations } from './registration.js';

const TOKEN = 'registration-test-token-0123456789';
const W1_CREDENTIAL = 'w1-own-credential';
/** `stratus up`'s shared token, or worker w1's own credential. */
const authenticate = (authorization: string | undefined): Authentication =>
  authorization === `Bearer ${W1_CREDENTIAL}` ? { kind: 'worker', workerId: 'w1' } : sharedToken(TOKEN)(authorization);
const client = InternalClient.withToken(TOKEN);

class FakeRemote extends FakeWorker implements ConnectedWorker {
  reported: WorkerStatus[] = [];
  report(status: WorkerStatus): void {
    this.reported.push(status);
  }
}

describe('WorkerRegistrations', () => {
  const clock = new ManualClock();
  const placement = new PlacementService({ clock, leaseMs: 3000 });
  const connected: WorkerAddress[] = [];
  const joined: string[] = [];
  const revoked = new Set<string>();
  const registrations = new WorkerRegistrations({
    authenticate, placement, leaseMs: 3000, log: silentLogger(), revoked: (id) => revoked.has(id),
    connector: { connect: (w) => (connected.push(w), new FakeRemote(w.id)) },
    onWorkerJoined: (agent) => joined.push(agent.id),
  });
  const server = new HttpServer({
    routes: registrations.routes(), log: silentLogger(),
    notFound: () => ({ status: 404 }), errorReply: () => ({ status: 500 }),
  });
  let url = '';
  const status = (environments: number): WorkerStatus => ({ id: 'w1', memoryMb: 1024, memoryReservedMb: 0, environments, cachedCode: [] });
  before(async () => {
    url = `http://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
  });
  after(async () => {
    client.close();
    placement.stop();
    await server.close();
  });

  it('registers a worker on its first heartbeat, renews its lease and takes its status on later ones', async () => {
    await sendHeartbeat(client, url, { id: 'w1', url: 'http://w1', status: status(0) }, 1000);
    assert.deepEqual(joined, ['w1']);
    assert.deepEqual(connected.map((w) => w.url), ['http://w1']);
    clock.advance(2000);
    await sendHeartbeat(client, url, { id: 'w1', url: 'http://w1', status: status(2) }, 1000);
    clock.advance(2000);
    const agent = placement.worker('w1') as FakeRemote;
    assert.ok(agent, 'the renewed lease still holds');
    assert.deepEqual(agent.reported.map((s) => s.environments), [2]);
    assert.equal(connected.length, 1, 'a renewal connects nothing new');
  });

  it('a worker whose lease ran out is connected again when it comes back', async () => {
    clock.advance(5000);
    assert.equal(placement.worker('w1'), undefined);
    await sendHeartbeat(client, url, { id: 'w1', url: 'http://w1', status: status(0) }, 1000);
    assert.deepEqual(joined, ['w1', 'w1']);
    assert.equal(connected.length, 2);
  });

  it('refuses a heartbeat without the cluster token', async () => {
    await assert.rejects(
      sendHeartbeat(InternalClient.withToken('wrong'), url, { id: 'w2', url: 'http://w2', status: status(0) }, 1000),
      (err) => isStratusError(err) && err.code === 'Forbidden' && err.details.reason === 'UnknownCredential' && /bad cluster token/.test(err.message),
    );
    assert.equal(placement.worker('w2'), undefined);
  });

  it("refuses a heartbeat under another worker's id: nothing is registered, nothing renewed", async () => {
    const asW1 = new InternalClient({ authorization: `Bearer ${W1_CREDENTIAL}` });
    await sendHeartbeat(asW1, url, { id: 'w1', url: 'http://w1', status: status(0) }, 1000);
    const joinedBefore = joined.length;
    await assert.rejects(
      sendHeartbeat(asW1, url, { id: 'w3', url: 'http://w3', status: status(0) }, 1000),
      (err) => isStratusError(err) && err.code === 'Forbidden' && err.details.reason === 'NotPermitted',
    );
    assert.equal(placement.worker('w3'), undefined);
    assert.equal(joined.length, joinedBefore);
    asW1.close();
  });

  it('refuses a heartbeat that authenticated before its revocation was seen: the revoked worker is not registered again', async () => {
    const asW1 = new InternalClient({ authorization: `Bearer ${W1_CREDENTIAL}` });
    placement.remove('w1');
    revoked.add('w1');
    await assert.rejects(
      sendHeartbeat(asW1, url, { id: 'w1', url: 'http://w1', status: status(0) }, 1000),
      (err) => isStratusError(err) && err.code === 'Forbidden' && err.details.reason === 'UnknownCredential',
    );
    assert.equal(placement.worker('w1'), undefined);
    revoked.delete('w1');
    asW1.close();
  });
});
