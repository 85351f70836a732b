import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeWorker } from '../../test/helpers/fake-worker.js';
import { testTrust } from '../../test/helpers/test-trust.js';
import { ManualClock } from '../shared/clock.js';
import type { Authentication } from '../shared/cluster-api.js';
import { isStratusError } from '../shared/errors.js';
import { HttpServer } from '../shared/http-server.js';
import { InternalClient } from '../shared/internal-client.js';
import { silentLogger } from '../shared/log.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker, WorkerAddress } from './connector.js';
import { PlacementService } from './placement.js';
import { sendHeartbeat, WorkerRegistrations } from './registration.js';

const TRUST = testTrust();
/** Each worker's own credential: `Bearer <id>-own-credential`. */
const authenticate = (authorization: string | undefined): Authentication => {
  const m = /^Bearer (w\d|local)-own-credential$/.exec(authorization ?? '');
  return m?.[1] ? { kind: 'worker', workerId: m[1] } : { refused: 401, message: 'unknown credential' };
};
const as = (authorization: string) => new InternalClient({ authorization, ca: TRUST.ca.certPem });
const client = as('Bearer w1-own-credential');

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
    routes: registrations.routes(), log: silentLogger(), tls: TRUST.controlPlaneIdentity(),
    notFound: () => ({ status: 404 }), errorReply: () => ({ status: 500 }),
  });
  let url = '';
  const status = (environments: number): WorkerStatus => ({ id: 'w1', memoryMb: 1024, memoryReservedMb: 0, environments, cachedCode: [] });
  before(async () => {
    url = `https://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
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

  it('a worker that comes back under the same id at another URL is connected there, not handed out at the old one', async () => {
    const before = placement.worker('w1');
    await sendHeartbeat(client, url, { id: 'w1', url: 'http://w1:2', status: status(0) }, 1000);
    assert.equal(connected.at(-1)?.url, 'http://w1:2');
    assert.notEqual(placement.worker('w1'), before, 'placement holds the worker connected at its new URL');
    assert.equal(registrations.holds('w1'), true);
    assert.equal((registrations as unknown as { urls: Map<string, string> }).urls.get('w1'), 'http://w1:2', 'its zone peers are told the new URL');
    const count = connected.length;
    await sendHeartbeat(client, url, { id: 'w1', url: 'http://w1:2', status: status(0) }, 1000);
    assert.equal(connected.length, count, 'then renewed as usual');
  });

  it('refuses a heartbeat without a known credential', async () => {
    const unknown = as('Bearer w2-someone-else');
    await assert.rejects(
      sendHeartbeat(unknown, url, { id: 'w2', url: 'http://w2', status: status(0) }, 1000),
      (err) => isStratusError(err) && err.code === 'Forbidden' && err.details.reason === 'UnknownCredential',
    );
    assert.equal(placement.worker('w2'), undefined);
    unknown.close();
  });

  it("refuses a heartbeat under the id of a worker placement holds otherwise (stratus up's own): it is not replaced", async () => {
    const own = new FakeWorker('local');
    placement.register(own);
    const asLocal = as('Bearer local-own-credential');
    await assert.rejects(
      sendHeartbeat(asLocal, url, { id: 'local', url: 'http://elsewhere', status: status(0) }, 1000),
      (err) => isStratusError(err) && err.code === 'Forbidden' && err.details.reason === 'NotPermitted',
    );
    assert.equal(placement.worker('local'), own);
    placement.deregister('local');
    asLocal.close();
  });

  it("refuses a heartbeat under another worker's id: nothing is registered, nothing renewed", async () => {
    const asW1 = as('Bearer w1-own-credential');
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
    const asW1 = as('Bearer w1-own-credential');
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
