import assert from 'node:assert/strict';
import { AssignmentApiServer, AssignmentReplica, AssignmentService, ConcurrencyLimiter, RemoteAssignment, type Assigner } from '../../src/assignment/index.js';
import { MemoryJournal } from '../../src/journal/index.js';
import { PlacementService } from '../../src/placement/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { silentLogger } from '../../src/shared/log.js';
import { FakeWorker } from '../helpers/fake-worker.js';
import { testTrust } from '../helpers/test-trust.js';
import { ASSIGNER_CONFIG, runAssignerContract, type AssignerOptions } from './assigner.contract.js';

/** Frontends reach the leader as in a cluster: over TLS, with the control-plane credential. */
const TRUST = testTrust();
const IDENTITY = TRUST.controlPlaneIdentity();

/** The service's parts as `stratus up` and `stratus assignment` wire them, over one fake worker. */
function parts(opts: AssignerOptions) {
  const worker = new FakeWorker('w1', opts.workerMemoryMb ?? 4096);
  const placement = new PlacementService();
  placement.register(worker);
  const reserved = opts.reserved ?? {};
  const limiter = new ConcurrencyLimiter({
    accountLimit: () => 1000, reservedFor: (fn) => reserved[fn.functionArn.split(':').at(-1) ?? ''], reservedTotal: () => Object.values(reserved).reduce((a, b) => a + b, 0),
  });
  return { worker, placement, limiter, journal: new MemoryJournal() };
}

runAssignerContract('AssignmentService (one machine)', async (opts) => {
  const { worker, placement, limiter, journal } = parts(opts);
  const service = new AssignmentService({ config: ASSIGNER_CONFIG, log: journal.assignmentLog, placement, clock: systemClock, logger: silentLogger(), limiter });
  await service.start();
  return { assigner: service, service, worker, epoch: undefined, settled: async () => {}, cleanup: () => service.shutdown() };
});

runAssignerContract('RemoteAssignment over the assignment API (an elected leader)', async (opts) => {
  const { worker, placement, limiter, journal } = parts(opts);
  const election = journal.election('assignment', 1000);
  let replica: AssignmentReplica | undefined;
  const api = new AssignmentApiServer({
    leader: () => replica?.leader(), workerUrl: (id) => (id === worker.id ? 'http://worker.invalid' : undefined), status: () => replica?.status(),
    authenticate: TRUST.authenticate, tls: IDENTITY, log: silentLogger(),
  });
  const url = `https://127.0.0.1:${(await api.listen('127.0.0.1', 0)).port}`;
  // Releases that reached the leader's service, to wait for the ones a frontend sent (they travel on their own).
  let releasesReceived = 0;
  let releasesSent = 0;
  replica = new AssignmentReplica({
    log: journal.assignmentLog, election, candidate: { id: 'leader', address: url }, clock: systemClock, logger: silentLogger(), tailIntervalMs: 50,
    lead: async (leadership) => {
      const service = new AssignmentService({ config: ASSIGNER_CONFIG, log: journal.assignmentLog, placement, clock: systemClock, logger: silentLogger(), leadership, limiter });
      const release = service.release.bind(service);
      service.release = (lease, reusable) => {
        releasesReceived++;
        release(lease, reusable);
      };
      return service;
    },
  });
  replica.start();
  const service = await leaderOf(replica);
  const epoch = replica.status().epoch;
  assert.ok(epoch !== undefined, 'the leader has an epoch');
  const remote = new RemoteAssignment({ election, client: new InternalClient(TRUST.controlPlane), worker: () => worker, clock: systemClock, logger: silentLogger(), failoverWaitMs: 2000 });
  await remote.start();
  const assigner: Assigner & { provisionedCount: RemoteAssignment['provisionedCount'] } = {
    acquire: (fn) => remote.acquire(fn),
    release: (lease, reusable) => {
      releasesSent++;
      remote.release(lease, reusable);
    },
    provisionedCount: (fn) => remote.provisionedCount(fn),
    environments: () => remote.environments(),
  };
  return {
    assigner, service, worker,
    epoch,
    async settled() {
      const deadline = Date.now() + 10_000;
      while (releasesReceived < releasesSent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(releasesReceived, releasesSent, 'every release reached the leader');
    },
    async cleanup() {
      remote.stop();
      await replica?.stop();
      await api.close();
    },
  };
});

async function leaderOf(replica: AssignmentReplica): Promise<AssignmentService> {
  for (let i = 0; i < 500; i++) {
    const service = replica.leader();
    if (service) return service;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the replica was not elected');
}
