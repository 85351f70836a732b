import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import type { Sandbox, SandboxExit } from '../sandbox/index.js';
import { Leases } from './cache-leases.js';
import type { EnvironmentSpec } from './environment-spec.js';
import { SnapStartClones, type PreRestored } from './snapstart-clones.js';

const IDLE = 600_000;
const IMAGE = { sha256: 'b'.repeat(64), size: 1 };

function spec(functionName: string, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec {
  return {
    accountId: '123456789012', functionName, version: '1', memoryMb: 256, timeoutSec: 3, ephemeralStorageMb: 512,
    package: { type: 'Zip', code: { sha256: 'a'.repeat(64), size: 1 }, runtime: 'nodejs20.x', handler: 'index.handler' },
    environment: {}, sandboxDriver: 'default', network: 'none', logging: { format: 'Text', logGroup: `/aws/lambda/${functionName}` }, snapshot: IMAGE,
    ...extra,
  };
}

/** A pool whose clones are fake sandboxes; `destroyed` lists the clones ended, `exit` kills one. */
function setup(perVersion = 1, maxVersions = 8, failFirst = 0) {
  const clock = new ManualClock();
  const destroyed: string[] = [];
  const exits = new Map<string, (e: SandboxExit) => void>();
  let n = 0;
  let attempts = 0;
  const clones = new SnapStartClones({
    perVersion, idleMs: IDLE, maxVersions, clock, log: silentLogger(),
    restore: async (s) => {
      attempts++;
      if (failFirst-- > 0) throw new Error('criu restore failed');
      const id = `${s.functionName}#${++n}`;
      const exited = new Promise<SandboxExit>((resolve) => exits.set(id, resolve));
      const sandbox = { id, pid: n, exited, destroy: async () => void destroyed.push(id) } as unknown as Sandbox;
      return { controlDir: `/nonexistent/${id}`, sandbox, leases: new Leases(), memoryMb: s.memoryMb } satisfies PreRestored;
    },
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, clones, destroyed, settle, attempts: () => attempts, exit: (id: string) => exits.get(id)?.({ code: null, signal: 'SIGKILL', oomKilled: false }) };
}

describe('SnapStartClones (pre-restored SnapStart clones)', () => {
  it('keeps perVersion clones of a restored spec, hands each out once, and counts their memory', async () => {
    const { clones, settle } = setup(2);
    assert.equal(clones.take(spec('f')), undefined, 'nothing before a first restore');
    clones.refill(spec('f'), IMAGE);
    assert.equal(clones.reservedMb(), 512, 'being restored counts');
    await settle();
    assert.equal(clones.ready(spec('f')), 2);
    const a = clones.take(spec('f'));
    const b = clones.take(spec('f'));
    assert.ok(a && b && a !== b);
    assert.equal(clones.take(spec('f')), undefined, 'each clone once');
    assert.equal(clones.reservedMb(), 0);
  });

  it('gives a clone only to exactly its spec: another function, account, version or memory size gets none', async () => {
    const { clones, settle } = setup();
    clones.refill(spec('f'), IMAGE);
    await settle();
    assert.equal(clones.take(spec('g')), undefined);
    assert.equal(clones.take(spec('f', { accountId: '210987654321' })), undefined);
    assert.equal(clones.take(spec('f', { version: '2' })), undefined);
    assert.equal(clones.take(spec('f', { memoryMb: 512 })), undefined);
    assert.ok(clones.take(spec('f')));
  });

  it('drops a version\'s clones once none was taken for the idle time, and the least recent version beyond the limit', async () => {
    const { clock, clones, destroyed, settle } = setup(1, 2);
    clones.refill(spec('f'), IMAGE);
    clones.refill(spec('g'), IMAGE);
    await settle();
    clones.refill(spec('h'), IMAGE);
    await settle();
    assert.deepEqual(destroyed, ['f#1'], 'f was the least recently restored');
    assert.equal(clones.ready(spec('h')), 1);
    clock.advance(IDLE);
    await settle();
    assert.deepEqual(destroyed.sort(), ['f#1', 'g#2', 'h#3']);
    assert.equal(clones.reservedMb(), 0);
  });

  it('retries a failed pre-restore a few times, then waits for the next cold start', async () => {
    const once = setup(1, 8, 1);
    once.clones.refill(spec('f'), IMAGE);
    await once.settle();
    assert.equal(once.clones.ready(spec('f')), 0);
    once.clock.advance(1_000);
    await once.settle();
    assert.equal(once.clones.ready(spec('f')), 1, 'restored on the retry');
    const broken = setup(1, 8, 100);
    broken.clones.refill(spec('f'), IMAGE);
    for (let i = 0; i < 10; i++) {
      await broken.settle();
      broken.clock.advance(5_000);
    }
    assert.equal(broken.attempts(), 3, 'three tries, then none');
    assert.equal(broken.clones.reservedMb(), 0);
    broken.clones.refill(spec('f'), IMAGE);
    await broken.settle();
    assert.equal(broken.attempts(), 4, 'the next cold start tries again');
  });

  it('forgets a clone that died while waiting, and destroys every clone on close (also one still being restored)', async () => {
    const { clones, destroyed, settle, exit } = setup(1);
    clones.refill(spec('f'), IMAGE);
    await settle();
    exit('f#1');
    await settle();
    assert.equal(clones.take(spec('f')), undefined);
    assert.deepEqual(destroyed, ['f#1']);
    clones.refill(spec('g'), IMAGE);
    await clones.close();
    await settle();
    assert.deepEqual(destroyed.sort(), ['f#1', 'g#2']);
    clones.refill(spec('f'), IMAGE);
    await settle();
    assert.equal(clones.reservedMb(), 0, 'none after close');
  });
});
