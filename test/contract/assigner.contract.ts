import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Assigner, AssignmentService } from '../../src/assignment/index.js';
import type { FunctionVersion } from '../../src/registry/index.js';
import { isStratusError, type ErrorCode } from '../../src/shared/errors.js';
import { fakeFunction as fn, type FakeWorker } from '../helpers/fake-worker.js';

export interface AssignerUnderTest {
  assigner: Assigner & { provisionedCount(fn: FunctionVersion): number | Promise<number> };
  /** The service that grants (the leader's, for a remote assigner): what the registry tells it. */
  service: AssignmentService;
  /** The one worker it places on (a fake). */
  worker: FakeWorker;
  /** The epoch its leases carry (undefined: no leadership, one machine). */
  epoch: number | undefined;
  /** Waits until the releases made so far have reached the service (a remote release travels on its own). */
  settled(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface AssignerOptions {
  /** Reserved concurrency per function name. */
  reserved?: Record<string, number>;
  /** The worker's memory (default 4096 MB). */
  workerMemoryMb?: number;
}

/** A cold start that finds no room fails at once (capacityWaitMs 0); nothing else expires during a test. */
export const ASSIGNER_CONFIG = { keepAliveMs: 600_000, sweepIntervalMs: 1000, capacityWaitMs: 0, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 0 };

/** What every Assigner does alike: the AssignmentService in process, and RemoteAssignment over the assignment API. */
export function runAssignerContract(name: string, newAssigner: (opts: AssignerOptions) => Promise<AssignerUnderTest>): void {
  describe(`Assigner contract: ${name}`, () => {
    const withAssigner = (test: (under: AssignerUnderTest) => Promise<void>, opts: AssignerOptions = {}) => async () => {
      // Stratus's timers never hold the process open (a server does): this test does, meanwhile.
      const open = setInterval(() => {}, 1000);
      const under = await newAssigner(opts);
      try {
        await test(under);
      } finally {
        await under.cleanup();
        clearInterval(open);
      }
    };

    it('a cold acquire creates an environment on a worker; after its release a warm acquire reuses it', withAssigner(async (under) => {
      const { assigner, worker } = under;
      const first = await assigner.acquire(fn('f'));
      assert.deepEqual([first.cold, first.worker.id, first.epoch], [true, worker.id, under.epoch]);
      assert.deepEqual(worker.created, [first.envId]);
      assigner.release(first, true);
      await under.settled();
      const again = await assigner.acquire(fn('f'));
      assert.deepEqual([again.envId, again.cold, again.worker.id, again.epoch], [first.envId, false, worker.id, under.epoch]);
      assert.deepEqual(worker.created, [first.envId], 'no second environment');
    }));

    it('concurrent acquires get separate environments, and functions never share one', withAssigner(async (under) => {
      const { assigner } = under;
      const [a, b] = await Promise.all([assigner.acquire(fn('f')), assigner.acquire(fn('f'))]);
      assert.notEqual(a.envId, b.envId);
      assigner.release(a, true);
      await under.settled();
      const other = await assigner.acquire(fn('g'));
      assert.equal(other.cold, true);
      assert.ok(![a.envId, b.envId].includes(other.envId));
    }));

    it('releasing a non-reusable environment destroys it; the next acquire is cold', withAssigner(async (under) => {
      const { assigner, worker } = under;
      const lease = await assigner.acquire(fn('f'));
      assigner.release(lease, false);
      await under.settled();
      await until(() => worker.destroyed.includes(lease.envId), 'the environment is destroyed on its worker');
      const next = await assigner.acquire(fn('f'));
      assert.equal(next.cold, true);
      assert.notEqual(next.envId, lease.envId);
    }));

    it('an environment released twice is handed out once; releasing an unknown environment does nothing', withAssigner(async (under) => {
      const { assigner, worker } = under;
      const lease = await assigner.acquire(fn('f'));
      assigner.release(lease, true);
      assigner.release(lease, true);
      assigner.release({ envId: randomUUID(), grant: randomUUID() }, true);
      assigner.release({ envId: randomUUID(), grant: randomUUID() }, false);
      await under.settled();
      const warm = await assigner.acquire(fn('f'));
      const second = await assigner.acquire(fn('f'));
      assert.deepEqual([warm.envId, warm.cold], [lease.envId, false]);
      assert.deepEqual([second.cold, second.envId === lease.envId], [true, false], 'the second acquire is not granted the same environment');
      assert.deepEqual(worker.destroyed, []);
    }));

    it('a release repeated after the environment was granted again does not free the new grant', withAssigner(async (under) => {
      const { assigner } = under;
      const first = await assigner.acquire(fn('f'));
      assigner.release(first, true);
      await under.settled();
      const again = await assigner.acquire(fn('f'));
      assert.deepEqual([again.envId, again.cold], [first.envId, false]);
      assigner.release(first, true);
      await under.settled();
      const third = await assigner.acquire(fn('f'));
      assert.deepEqual([third.cold, third.envId === again.envId], [true, false], 'the environment still running the second grant is not handed out');
      assigner.release(again, true);
      assigner.release(third, true);
      await under.settled();
    }));

    it('reserved concurrency: over the limit, TooManyRequests with its Reason; room again once released', withAssigner(async (under) => {
      const { assigner } = under;
      const first = await assigner.acquire(fn('limited'));
      await assert.rejects(assigner.acquire(fn('limited')), throttled('ReservedFunctionConcurrentInvocationLimitExceeded'));
      await assert.rejects(assigner.acquire(fn('blocked')), throttled('ReservedFunctionConcurrentInvocationLimitExceeded'));
      assigner.release(first, true);
      await under.settled();
      const again = await assigner.acquire(fn('limited'));
      assert.deepEqual([again.envId, again.cold], [first.envId, false]);
    }, { reserved: { limited: 1, blocked: 0 } }));

    it('no worker has room: TooManyRequests with Reason ConcurrentInvocationLimitExceeded', withAssigner(async (under) => {
      await assert.rejects(under.assigner.acquire(fn('huge', 'r1', 2048)), throttled('ConcurrentInvocationLimitExceeded'));
      assert.deepEqual(under.worker.created, []);
    }, { workerMemoryMb: 1024 }));

    it('a failed create rejects with SandboxCreateFailed and its message; nothing is granted', withAssigner(async (under) => {
      const { assigner, worker } = under;
      worker.failCreate = true;
      await assert.rejects(assigner.acquire(fn('f')), code('SandboxCreateFailed', /boot failed/));
      worker.failCreate = false;
      const lease = await assigner.acquire(fn('f'));
      assert.equal(lease.cold, true, 'the failed environment was not kept');
      assert.deepEqual(worker.created, [lease.envId]);
    }));

    it('provisionedCount counts ready provisioned environments of a version (0 for any other); an acquire gets one warm', withAssigner(async (under) => {
      const { assigner, service, worker } = under;
      assert.equal(await assigner.provisionedCount(fn('p')), 0);
      service.setProvisioned(fn('p'), 2);
      await untilAsync(async () => (await assigner.provisionedCount(fn('p'))) === 2, 'two provisioned environments are ready');
      assert.equal(await assigner.provisionedCount(fn('other')), 0);
      assert.equal(await assigner.provisionedCount(fn('p', 'r2')), 0, 'another revision has none');
      const lease = await assigner.acquire(fn('p'));
      assert.equal(lease.cold, false);
      assert.ok(worker.created.includes(lease.envId));
      service.setProvisioned(fn('p'), 0);
      assert.equal(await assigner.provisionedCount(fn('p')), 0);
    }));

    it('environments lists every worker and its environments with function, version, state, provisioned and age; frozen and stems as the worker reports them', withAssigner(async (under) => {
      const { assigner, service, worker } = under;
      const cold = await assigner.acquire(fn('a'));
      assert.equal((await assigner.environments())[0]?.environments[0]?.state, 'initializing', 'cold: initializing until its first release');
      assigner.release(cold, true);
      await under.settled();
      const busy = await assigner.acquire(fn('a'));
      const idle = await assigner.acquire(fn('b'));
      assigner.release(idle, true);
      await under.settled();
      service.setProvisioned(fn('p'), 1);
      await untilAsync(async () => (await assigner.provisionedCount(fn('p'))) === 1, 'the provisioned environment is ready');
      const [listing, ...others] = await assigner.environments();
      assert.deepEqual(others, []);
      assert.equal(listing?.workerId, worker.id);
      const byId = new Map(listing?.environments.map((env) => [env.envId, env]));
      assert.deepEqual(pick(byId.get(busy.envId)), { functionArn: fn('a').functionArn, version: '$LATEST', state: 'busy', provisioned: false });
      assert.deepEqual(pick(byId.get(idle.envId)), { functionArn: fn('b').functionArn, version: '$LATEST', state: 'idle', provisioned: false });
      const provisioned = listing?.environments.find((env) => env.provisioned);
      assert.deepEqual(pick(provisioned), { functionArn: fn('p').functionArn, version: '$LATEST', state: 'idle', provisioned: true });
      assert.equal(listing?.environments.length, 3);
      assert.ok(listing?.environments.every((env) => env.ageMs >= 0 && env.ageMs < 60_000 && env.memoryMb > 0));
      assert.equal(listing?.stems, 0);
      // The worker says it froze the idle one and keeps two stems.
      const reports = worker.environments.bind(worker);
      worker.environments = async () => (await reports()).map((r) => (r.envId === idle.envId ? { ...r, frozen: true } : r));
      const status = worker.status.bind(worker);
      worker.status = () => ({ ...status(), stems: 2 });
      const [again] = await assigner.environments();
      assert.equal(again?.environments.find((env) => env.envId === idle.envId)?.state, 'frozen');
      assert.equal(again?.environments.find((env) => env.envId === busy.envId)?.state, 'busy');
      assert.equal(again?.stems, 2);
      assigner.release(busy, true);
      await under.settled();
      const [after] = await assigner.environments();
      assert.equal(after?.environments.find((env) => env.envId === busy.envId)?.state, 'idle', 'released: idle');
      service.setProvisioned(fn('p'), 0);
    }));
  });
}

function pick(env: { functionArn: string; version: string; state: string; provisioned: boolean } | undefined) {
  return env && { functionArn: env.functionArn, version: env.version, state: env.state, provisioned: env.provisioned };
}

function code(expected: ErrorCode, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isStratusError(err), `a StratusError, not ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

function throttled(reason: string): (err: unknown) => boolean {
  return (err) => {
    code('TooManyRequests', /^Rate Exceeded\.$/)(err);
    assert.ok(isStratusError(err));
    assert.deepEqual(err.details, { Reason: reason });
    return true;
  };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  return untilAsync(async () => predicate(), what);
}

async function untilAsync(predicate: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
