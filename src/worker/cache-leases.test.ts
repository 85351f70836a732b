import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { CacheLeases, Leases } from './cache-leases.js';

const IDLE = 60_000;

/** A cache whose entries are strings, recording its builds and removals. */
function setup(maxBytes = 1_000_000) {
  const clock = new ManualClock();
  const all = new CacheLeases(clock, { idleMs: IDLE, maxBytes });
  const removed: string[] = [];
  const built: string[] = [];
  let removal: Promise<void> | undefined;
  const code = all.cache<string>('code', async (key) => {
    await removal;
    removed.push(key);
  });
  const build = (key: string, bytes = 10) => async () => {
    built.push(key);
    return { value: `/cache/${key}`, bytes };
  };
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { clock, all, code, removed, built, build, settle, holdRemoval: (p: Promise<void>) => (removal = p) };
}

describe('CacheLeases (reference-counted worker cache entries)', () => {
  it('builds an entry once for every concurrent use, and keeps it while any lease holds it', async () => {
    const { clock, code, built, removed, build, settle } = setup();
    const [a, b] = [new Leases(), new Leases()];
    const [x, y] = await Promise.all([code.use('A/1', a, build('A/1')), code.use('A/1', b, build('A/1'))]);
    assert.deepEqual([x, y, built], ['/cache/A/1', '/cache/A/1', ['A/1']]);
    a.releaseAll();
    clock.advance(IDLE * 10);
    await settle();
    assert.deepEqual(removed, [], 'still held by b');
    b.releaseAll();
    clock.advance(IDLE - 1);
    await settle();
    assert.deepEqual(removed, [], 'not idle long enough yet');
    clock.advance(1);
    await settle();
    assert.deepEqual(removed, ['A/1']);
    assert.deepEqual(code.keys(), []);
    assert.equal(code.counters.evicted.idle, 1);
  });

  it('a use before the idle time restarts it; releasing twice counts once', async () => {
    const { clock, code, removed, build, settle } = setup();
    const a = new Leases();
    await code.use('A/1', a, build('A/1'));
    a.releaseAll();
    a.releaseAll();
    clock.advance(IDLE - 10);
    const b = new Leases();
    await code.use('A/1', b, build('A/1'));
    const c = new Leases();
    await code.use('A/1', c, build('A/1'));
    c.releaseAll();
    clock.advance(IDLE * 2);
    await settle();
    assert.deepEqual(removed, [], 'b holds it');
    b.releaseAll();
    clock.advance(IDLE);
    await settle();
    assert.deepEqual(removed, ['A/1']);
  });

  it('over the byte budget, unused entries go least recently used first; held ones never', async () => {
    const { clock, code, all, removed, build, settle } = setup(25);
    const held = new Leases();
    await code.use('A/held', held, build('A/held'));
    for (const key of ['A/old', 'B/newer']) {
      const l = new Leases();
      await code.use(key, l, build(key));
      clock.advance(1000);
      l.releaseAll();
    }
    await settle();
    assert.deepEqual(removed, ['A/old'], 'the third entry went over 25 bytes: the oldest unused one went');
    const l = new Leases();
    await code.use('B/new', l, build('B/new'));
    await settle();
    assert.deepEqual(removed, ['A/old', 'B/newer'], 'then the next oldest unused (the held one stays)');
    assert.equal(all.stats().get('code')?.bytes, 20);
    assert.equal(code.counters.evicted.budget, 2);
    assert.equal(code.counters.evictedBytes, 20);
    assert.deepEqual(code.keys().sort(), ['A/held', 'B/new']);
  });

  it('over budget, an entry goes as soon as its last lease is released', async () => {
    const { code, removed, build, settle } = setup(15);
    const [a, b] = [new Leases(), new Leases()];
    await code.use('A/1', a, build('A/1'));
    await code.use('B/1', b, build('B/1'));
    await settle();
    assert.deepEqual(removed, [], 'both held');
    a.releaseAll();
    await settle();
    assert.deepEqual(removed, ['A/1']);
    b.releaseAll();
    await settle();
    assert.deepEqual(removed, ['A/1'], 'within budget again: B/1 waits for its idle time');
  });

  it('a use while its entry is being removed waits for the removal, then builds it again', async () => {
    const { clock, code, removed, built, build, settle, holdRemoval } = setup();
    let finish!: () => void;
    holdRemoval(new Promise<void>((resolve) => (finish = resolve)));
    const a = new Leases();
    await code.use('A/1', a, build('A/1'));
    a.releaseAll();
    clock.advance(IDLE);
    const b = new Leases();
    const again = code.use('A/1', b, build('A/1'));
    await settle();
    assert.deepEqual(built, ['A/1'], 'not built again while the removal runs');
    finish();
    assert.equal(await again, '/cache/A/1');
    assert.deepEqual(removed, ['A/1']);
    assert.deepEqual(built, ['A/1', 'A/1'], 'built again after its removal');
    clock.advance(IDLE * 3);
    await settle();
    assert.deepEqual(removed, ['A/1'], 'the new entry is held by b');
  });

  it('an entry being built is never removed, even over budget and idle', async () => {
    const { clock, code, removed, settle } = setup(1);
    let finish!: () => void;
    const a = new Leases();
    const building = code.use('A/big', a, () => new Promise((resolve) => (finish = () => resolve({ value: 'big', bytes: 100 }))));
    clock.advance(IDLE * 5);
    await settle();
    assert.deepEqual(removed, []);
    finish();
    assert.equal(await building, 'big');
    await settle();
    assert.deepEqual(removed, [], 'held by its builder');
    a.releaseAll();
    const other = new Leases();
    await code.use('B/small', other, async () => ({ value: 'small', bytes: 1 }));
    await settle();
    assert.deepEqual(removed, ['A/big'], 'released: now the over-budget one goes');
  });

  it('a failed build is forgotten (the next use builds again) and leaves no lease', async () => {
    const { clock, code, removed, build, settle } = setup();
    const a = new Leases();
    await assert.rejects(code.use('A/1', a, async () => Promise.reject(new Error('mkfs failed'))), /mkfs failed/);
    assert.equal(await code.use('A/1', a, build('A/1')), '/cache/A/1');
    a.releaseAll();
    clock.advance(IDLE);
    await settle();
    assert.deepEqual(removed, ['A/1']);
  });

  it('a lease taken after its environment released everything is released at once', async () => {
    const { clock, code, removed, build, settle } = setup();
    const env = new Leases();
    env.releaseAll();
    await code.use('A/1', env, build('A/1'));
    clock.advance(IDLE);
    await settle();
    assert.deepEqual(removed, ['A/1']);
  });

  it('entries found on disk are adopted unused: removed when idle unless used', async () => {
    const { clock, code, all, removed, built, build, settle } = setup();
    code.adopt('A/left', 50);
    code.adopt('A/used', 50);
    assert.equal(all.stats().get('code')?.bytes, 100);
    const l = new Leases();
    assert.equal(await code.use('A/used', l, build('A/used')), '/cache/A/used', 'built (remounted) on first use');
    assert.deepEqual(built, ['A/used']);
    clock.advance(IDLE);
    await settle();
    assert.deepEqual(removed, ['A/left']);
    assert.deepEqual(all.stats().get('code'), { entries: 1, inUse: 1, bytes: 10, evicted: { idle: 1, budget: 0 }, evictedBytes: 50 });
  });

  it('a removal that fails is logged and forgotten: the next use builds the entry again', async () => {
    const clock = new ManualClock();
    const warnings: unknown[] = [];
    const log = { warn: (o: unknown) => void warnings.push(o) } as unknown as Logger;
    const all = new CacheLeases(clock, { idleMs: IDLE, maxBytes: 1000 }, log);
    const builds: string[] = [];
    const code = all.cache<string>('code', async () => Promise.reject(new Error('EBUSY')));
    const l = new Leases();
    await code.use('A/1', l, async () => (builds.push('A/1'), { value: 'x', bytes: 5 }));
    l.releaseAll();
    clock.advance(IDLE);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(warnings.length, 1);
    assert.deepEqual(code.keys(), []);
    await code.use('A/1', l, async () => (builds.push('A/1'), { value: 'x', bytes: 5 }));
    assert.deepEqual(builds, ['A/1', 'A/1']);
    assert.equal(all.stats().get('code')?.bytes, 5, 'counted once');
  });

  it('caches with the same keys are apart; close stops every removal', async () => {
    const { clock, all, code, removed, build, settle } = setup();
    const snapRemoved: string[] = [];
    const snaps = all.cache<string>('snapshots', async (key) => void snapRemoved.push(key));
    const l = new Leases();
    await code.use('A/1', l, build('A/1'));
    await snaps.use('A/1', l, build('A/1'));
    l.releaseAll();
    all.close();
    clock.advance(IDLE * 2);
    await settle();
    assert.deepEqual([removed, snapRemoved], [[], []]);
    assert.deepEqual([...all.stats().keys()], ['code', 'snapshots']);
  });
});
