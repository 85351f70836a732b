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
function setup(perVersion = 1, maxVersions = 8, failFirst = 0, opts: { workerMb?: number; otherMb?: () => number; hold?: boolean; destroyFails?: boolean } = {}) {
  const clock = new ManualClock();
  const destroyed: string[] = [];
  const exits = new Map<string, (e: SandboxExit) => void>();
  const held: (() => void)[] = [];
  let n = 0;
  let attempts = 0;
  const clones: SnapStartClones = new SnapStartClones({
    perVersion, idleMs: IDLE, maxVersions, clock, log: silentLogger(),
    freeMb: () => (opts.workerMb ?? 1 << 20) - (opts.otherMb?.() ?? 0) - clones.reservedMb(),
    restore: async (s) => {
      attempts++;
      if (opts.hold) await new Promise<void>((resolve) => held.push(resolve));
      if (failFirst-- > 0) throw new Error('criu restore failed');
      const id = `${s.functionName}#${++n}`;
      const exited = new Promise<SandboxExit>((resolve) => exits.set(id, resolve));
      const sandbox = { id, pid: n, exited, destroy: async () => { destroyed.push(id); if (opts.destroyFails) throw new Error('kill failed'); } } as unknown as Sandbox;
      return { controlDir: `/nonexistent/${id}`, sandbox, leases: new Leases(), memoryMb: s.memoryMb } satisfies PreRestored;
    },
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, clones, destroyed, settle, held, attempts: () => attempts, exit: (id: string) => exits.get(id)?.({ code: null, signal: 'SIGKILL', oomKilled: false }) };
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
    // Three accounts: one account's share (half the slots) is not what limits here.
    const of = (name: string, account: string) => spec(name, { accountId: account.repeat(12) });
    clones.refill(of('f', '1'), IMAGE);
    clones.refill(of('g', '2'), IMAGE);
    await settle();
    clones.refill(of('h', '3'), IMAGE);
    await settle();
    assert.deepEqual(destroyed, ['f#1'], 'f was the least recently restored');
    assert.equal(clones.ready(of('h', '3')), 1);
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

  it('restores a clone only into room the worker has left, counting its environments and the clones being restored', async () => {
    let environmentsMb = 0;
    const { clones, settle } = setup(2, 8, 0, { workerMb: 1024, otherMb: () => environmentsMb });
    environmentsMb = 768;
    clones.refill(spec('f'), IMAGE);
    assert.equal(clones.reservedMb(), 256, 'one of the two fits');
    await settle();
    assert.equal(clones.ready(spec('f')), 1);
    environmentsMb = 1024;
    clones.refill(spec('g'), IMAGE);
    await settle();
    assert.equal(clones.ready(spec('g')), 0, 'a full worker restores none');
    assert.ok(clones.reservedMb() + environmentsMb <= 1024 + 256, 'nothing beyond the one already there');
  });

  it('drops clones, least recently used first, for a create that needs their room, and none for a create that takes one', async () => {
    const { clones, destroyed, settle } = setup(1);
    for (const name of ['f', 'g', 'h']) clones.refill(spec(name), IMAGE);
    await settle();
    clones.makeRoom(spec('h'), 0);
    assert.deepEqual(destroyed, [], 'h takes its own clone: no room needed');
    clones.makeRoom(spec('x', { memoryMb: 512 }), 0);
    await settle();
    assert.deepEqual(destroyed, ['f#1', 'g#2'], 'the two least recent make 512 MB');
    assert.equal(clones.ready(spec('h')), 1);
    clones.makeRoom(spec('y'), 256);
    await settle();
    assert.equal(clones.ready(spec('h')), 1, 'enough room already: nothing dropped');
  });

  it('lets one account hold at most half of the version slots: its own least recent version gives way, not other accounts\'', async () => {
    const { clones, destroyed, settle } = setup(1, 4);
    clones.refill(spec('other', { accountId: '210987654321' }), IMAGE);
    await settle();
    for (const v of ['1', '2', '3', '4', '5']) {
      clones.refill(spec('f', { version: v }), IMAGE);
      await settle();
    }
    assert.equal(clones.ready(spec('other', { accountId: '210987654321' })), 1, 'the other account keeps its clone');
    assert.equal(clones.ready(spec('f', { version: '5' })) + clones.ready(spec('f', { version: '4' })), 2);
    assert.deepEqual(destroyed.sort(), ['f#2', 'f#3', 'f#4']);
  });

  it('close waits for restores in flight and destroys what they bring; a failing destroy is logged, not thrown', async () => {
    const { clones, destroyed, settle, held } = setup(1, 8, 0, { hold: true });
    clones.refill(spec('f'), IMAGE);
    await settle();
    let closed = false;
    const closing = clones.close().then(() => { closed = true; });
    await settle();
    assert.equal(closed, false, 'close waits for the restore under way');
    for (const release of held) release();
    await closing;
    assert.deepEqual(destroyed, ['f#1'], 'the clone restored after close is destroyed by then');
    assert.equal(clones.reservedMb(), 0);
  });

  it('a clone whose destroy fails is logged, not an unhandled rejection (idle drop, LRU drop, death)', async () => {
    const { clock, clones, destroyed, settle, exit } = setup(1, 1, 0, { destroyFails: true });
    clones.refill(spec('f'), IMAGE);
    await settle();
    clones.refill(spec('g'), IMAGE);
    await settle();
    exit('g#2');
    await settle();
    clones.refill(spec('h'), IMAGE);
    await settle();
    clock.advance(IDLE);
    await settle();
    await clones.close();
    assert.deepEqual(destroyed.sort(), ['f#1', 'g#2', 'h#3']);
  });
});
