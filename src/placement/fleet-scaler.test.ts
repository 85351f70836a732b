import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import pino from 'pino';
import { silentLogger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { MemoryJournal } from '../journal/index.js';
import { WorkerDirectory } from './directory.js';
import { FleetScaler, type FleetMember, type FleetScalerConfig, type FleetScalerDeps } from './fleet-scaler.js';
import { StaticWorkerProvider, type ProvidedWorker, type WorkerProvider } from './worker-provider.js';

/** A provider whose workers join when the test says so; records every start and stop. */
class FakeProvider implements WorkerProvider {
  readonly kind = 'fake';
  readonly canScale = true;
  readonly started: ProvidedWorker[] = [];
  readonly stopped: string[] = [];
  private n = 0;
  async start(spec: { zone: string }): Promise<ProvidedWorker> {
    const w = { id: `w${++this.n}`, zone: spec.zone };
    this.started.push(w);
    return w;
  }
  async stop(id: string): Promise<void> {
    this.stopped.push(id);
  }
  list(): ProvidedWorker[] {
    return this.started.filter((w) => !this.stopped.includes(w.id));
  }
  async close(): Promise<void> {}
}

const CONFIG: FleetScalerConfig = {
  minWorkers: 1, maxWorkers: 3, scaleOutAbove: 0.75, scaleInBelow: 0.25, sustainMs: 10_000, intervalMs: 1000, joinTimeoutMs: 30_000, drainMaxMs: 60_000, zones: ['a', 'b'],
};

function fleet(config: Partial<FleetScalerConfig> = {}, deps: Partial<FleetScalerDeps> = {}) {
  const clock = new ManualClock();
  const fencing = { leads: true };
  const provider = new FakeProvider();
  const members = new Map<string, FleetMember>();
  const draining = new Set<string>();
  const removed: string[] = [];
  const metrics = new Metrics();
  const scaler = new FleetScaler({ ...CONFIG, ...config }, {
    provider, clock, log: process.env.FLEET_DEBUG ? pino({ level: 'info' }, { write: (l: string) => process.stdout.write(`# ${l}`) }) : silentLogger(), metrics,
    members: () => [...members.values()], mayAct: () => fencing.leads,
    setDraining: (id, on) => (on ? draining.add(id) : draining.delete(id)),
    removed: (id) => (removed.push(id), members.delete(id)),
    ...deps,
  });
  const join = (id: string, reservedMb = 0, extra: Partial<FleetMember> = {}) => members.set(id, { id, memoryMb: 1000, reservedMb, environments: reservedMb > 0 ? 1 : 0, busy: 0, ...extra });
  const load = (id: string, reservedMb: number, extra: Partial<FleetMember> = {}) => join(id, reservedMb, extra);
  /** Moves time on in steps of the interval, looking at the fleet each step. */
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += 1000) {
      clock.advance(1000);
      await scaler.tick();
    }
  };
  return { clock, fencing, provider, members, draining, removed, metrics, scaler, join, load, pass };
}

describe('FleetScaler', () => {
  it('brings the fleet up to its minimum at once, spreading zones', async () => {
    const f = fleet({ minWorkers: 2 });
    await f.pass(1000);
    f.join('w1');
    await f.pass(1000);
    assert.deepEqual(f.provider.started.map((w) => w.zone), ['a', 'b']);
  });

  it('replaces a starting worker the provider lost (its host died) at the next look, not after the join timeout', async () => {
    const f = fleet();
    await f.pass(1000);
    assert.deepEqual(f.provider.started.map((w) => w.id), ['w1']);
    await f.pass(1000);
    assert.equal(f.provider.started.length, 1, 'w1 is still starting');
    f.scaler.lost('w1');
    await f.pass(1000);
    assert.deepEqual(f.provider.started.map((w) => w.id), ['w1', 'w2']);
  });

  it('scales out only after reserved memory stayed above the threshold for the sustain time (hysteresis), one worker at a time', async () => {
    const f = fleet();
    await f.pass(1000);
    f.join('w1', 900);
    await f.pass(9000);
    assert.equal(f.provider.started.length, 1, 'not before sustainMs');
    f.load('w1', 500); // a dip resets the clock
    await f.pass(1000);
    f.load('w1', 900);
    await f.pass(9000);
    assert.equal(f.provider.started.length, 1);
    await f.pass(2000);
    assert.equal(f.provider.started.length, 2);
    assert.equal(f.provider.started[1]?.zone, 'b');
    await f.pass(29_000);
    assert.equal(f.provider.started.length, 2, 'no second start while the first has not joined');
    await f.pass(1000);
    assert.equal(f.scaler.decisions()['join-timeout'], 1, 'a worker that never joins is removed');
    assert.deepEqual(f.provider.stopped, ['w2']);
    assert.equal(f.provider.started.length, 3, 'and another one tried');
  });

  it('never grows beyond the maximum', async () => {
    const f = fleet({ maxWorkers: 2 });
    await f.pass(1000);
    f.join('w1', 1000);
    await f.pass(11_000);
    f.join('w2', 1000);
    await f.pass(60_000);
    assert.equal(f.provider.started.length, 2);
  });

  it('counts demand that found no room as above the threshold', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider();
    let unplaced = 0;
    const scaler = new FleetScaler(CONFIG, {
      provider, clock, log: silentLogger(), members: () => [{ id: 'w0', memoryMb: 1000, reservedMb: 100, environments: 1, busy: 1 }], setDraining: () => {}, removed: () => {}, unplaced: () => unplaced,
    });
    unplaced = 3;
    for (let i = 0; i < 12; i++) (clock.advance(1000), await scaler.tick());
    assert.equal(provider.started.length, 1);
  });

  it('scales in after a sustained low: drains first, removes only once nothing runs there, never below the minimum', async () => {
    const f = fleet();
    await f.pass(1000);
    f.join('w1', 900);
    await f.pass(11_000);
    f.join('w2', 900);
    f.load('w1', 100, { environments: 1, busy: 1 });
    f.load('w2', 0, { environments: 1, busy: 1 });
    await f.pass(11_000);
    assert.deepEqual([...f.draining], ['w2'], 'the least reserved worker is drained');
    assert.equal(f.scaler.decisions()['scale-in'], 1);
    await f.pass(120_000);
    assert.deepEqual(f.provider.stopped, [], 'an invoke in flight is never cut, however long the drain');
    f.load('w2', 0, { environments: 1, busy: 0 });
    await f.pass(1000);
    assert.deepEqual(f.provider.stopped, ['w2'], 'idle past drainMaxMs: removed');
    assert.deepEqual(f.removed, ['w2']);
    await f.pass(60_000);
    assert.deepEqual(f.provider.stopped, ['w2'], 'w1 is the minimum');
    assert.match(await f.metrics.text(), /stratus_fleet_decisions_total\{action="removed"\} 1/);
    assert.match(await f.metrics.text(), /stratus_fleet_workers\{state="active"\} 1/);
  });

  it('removes a drained worker as soon as its last environment is gone', async () => {
    const f = fleet({ minWorkers: 0 });
    await f.pass(1000);
    f.provider.started.push({ id: 'x', zone: 'a' });
    f.join('x', 0, { environments: 2, busy: 0 });
    await f.pass(11_000);
    assert.deepEqual([...f.draining], ['x']);
    await f.pass(5000);
    assert.deepEqual(f.provider.stopped, []);
    f.join('x', 0, { environments: 0 });
    await f.pass(1000);
    assert.deepEqual(f.provider.stopped, ['x']);
  });

  it('a drained worker the provider fails to stop stays drained and is stopped at the next look', async () => {
    const f = fleet({ minWorkers: 0 });
    f.provider.started.push({ id: 'x', zone: 'a' });
    f.join('x', 0);
    let failures = 1;
    const stop = f.provider.stop.bind(f.provider);
    f.provider.stop = async (id) => {
      if (failures-- > 0) throw new Error('substrate busy');
      return stop(id);
    };
    await f.pass(12_000);
    assert.deepEqual(f.provider.stopped, [], 'the first stop failed');
    assert.deepEqual([...f.draining], ['x'], 'still drained');
    assert.deepEqual(f.removed, []);
    await f.pass(1000);
    assert.deepEqual(f.provider.stopped, ['x']);
    assert.deepEqual(f.removed, ['x']);
    assert.equal(f.scaler.decisions().removed, 1);
  });

  it('a drained worker the provider no longer has (ResourceNotFound) is taken as removed, so the scaler goes on', async () => {
    const f = fleet({ minWorkers: 0 });
    f.provider.started.push({ id: 'x', zone: 'a' });
    f.join('x', 0);
    f.provider.stop = async (id) => {
      throw new StratusError('ResourceNotFound', `local-hosts did not start worker ${id}`);
    };
    await f.pass(12_000);
    assert.deepEqual(f.removed, ['x']);
    assert.match(await f.metrics.text(), /stratus_fleet_workers\{state="draining"\} 0/);
    assert.equal(f.scaler.decisions().removed, 1);
  });

  it('is fenced: a replica that no longer leads starts and stops nothing, also when deposed during a look', async () => {
    const f = fleet({ minWorkers: 2 });
    f.fencing.leads = false;
    await f.pass(5000);
    assert.deepEqual(f.provider.started, [], 'no look acts while not leading');
    f.fencing.leads = true;
    const members = f.members.values.bind(f.members);
    f.members.values = () => ((f.fencing.leads = false), members()); // deposed (paused) between the look's start and its provider call
    await f.pass(1000);
    assert.deepEqual(f.provider.started, [], 'checked again before the provider call');
    f.members.values = members;
    f.fencing.leads = true;
    await f.pass(1000);
    assert.equal(f.provider.started.length, 1, 'acts again once leading');
  });

  it('does not drain a worker whose removal would push the rest over the scale-out threshold, nor one it did not start', async () => {
    const f = fleet({ minWorkers: 0, scaleInBelow: 0.5 });
    f.provider.started.push({ id: 'p', zone: 'a' });
    f.join('p', 450);
    f.join('q', 450); // joined by itself
    await f.pass(20_000);
    assert.deepEqual([...f.draining], [], '900 of 1000 would be above 0.75');
  });

  it('a new leader continues the drains its predecessor recorded in the worker directory, counting them as draining', async () => {
    const journal = new MemoryJournal();
    const directory = new WorkerDirectory(journal.workers, silentLogger());
    const entry = (id: string) => ({ id, url: `https://${id}`, status: { id, memoryMb: 1000, memoryReservedMb: 0, environments: 1, cachedCode: [] } });
    const settle = () => new Promise((r) => setTimeout(r, 10));
    // The first leader drains x (marks it in the directory), then is deposed.
    const first = fleet({ minWorkers: 1 });
    first.provider.started.push({ id: 'x', zone: 'a' });
    first.join('x', 0, { environments: 1, busy: 1 });
    first.join('y', 0, { environments: 1, busy: 1 });
    for (const id of ['x', 'y']) directory.publish(entry(id));
    await first.pass(11_000);
    assert.deepEqual([...first.draining], ['x']);
    directory.publish({ ...entry('x'), draining: true });
    // A heartbeat's entry carries no mark: the recorded one stays.
    directory.publish(entry('x'));
    await settle();
    assert.equal((await directory.recorded()).find((w) => w.id === 'x')?.draining, true);
    // Another replica leads: its scaler finds the drain in the directory.
    const next = fleet({ minWorkers: 1 }, { recordedDrains: async () => (await directory.recorded()).filter((w) => w.draining).map((w) => w.id) });
    const { scaler } = next;
    next.provider.started.push({ id: 'x', zone: 'a' });
    next.join('x', 0, { environments: 1, busy: 1 });
    next.join('y', 0, { environments: 1, busy: 1 });
    scaler.start();
    for (let i = 0; i < 20; i++) (next.clock.advance(1000), await scaler.tick());
    assert.equal(scaler.isDraining('x'), true);
    assert.match(await next.metrics.text(), /stratus_fleet_workers\{state="draining"\} 1/);
    assert.match(await next.metrics.text(), /stratus_fleet_workers\{state="active"\} 1/);
    assert.deepEqual([...next.draining], [], 'no second drain begun (y is the minimum, x still drains)');
    next.join('x', 0, { environments: 0 });
    next.clock.advance(1000);
    await scaler.tick();
    await scaler.stop();
    assert.deepEqual(next.provider.stopped, ['x'], 'removed once its last environment is gone');
    assert.deepEqual(next.removed, ['x']);
  });

  it('a new leader whose first read of the recorded drains fails (etcd unsettled at failover) reads them at the next look, deciding nothing until then', async () => {
    let reads = 0;
    const recordedDrains = async () => {
      if (++reads === 1) throw new StratusError('JournalUnavailable', 'etcd: no leader');
      return ['x'];
    };
    const f = fleet({ minWorkers: 1 }, { recordedDrains });
    f.provider.started.push({ id: 'x', zone: 'a' }, { id: 'y', zone: 'a' });
    f.join('x', 0, { environments: 1, busy: 1 });
    f.join('y', 0, { environments: 1, busy: 1 });
    f.scaler.start();
    await f.pass(1000);
    assert.ok(reads >= 2, 'read again');
    assert.equal(f.scaler.isDraining('x'), true, 'the recorded drain is continued');
    assert.equal(f.scaler.knowsDrains(), true);
    assert.match(await f.metrics.text(), /stratus_fleet_workers\{state="draining"\} 1/);
    assert.match(await f.metrics.text(), /stratus_fleet_workers\{state="active"\} 1/, 'x counts as draining, not active');
    await f.pass(20_000);
    assert.deepEqual([...f.draining], [], 'no second drain begun (y is the minimum)');
    f.join('x', 0, { environments: 0 });
    await f.pass(1000);
    await f.scaler.stop();
    assert.deepEqual(f.provider.stopped, ['x']);
    assert.deepEqual(f.removed, ['x']);
  });

  it('decides nothing while the recorded drains cannot be read (a drained worker would count as active)', async () => {
    const f = fleet({ minWorkers: 0 }, { recordedDrains: () => Promise.reject(new StratusError('JournalUnavailable', 'etcd: no leader')) });
    f.provider.started.push({ id: 'x', zone: 'a' });
    f.join('x', 0, { environments: 1, busy: 1 });
    f.scaler.start();
    await f.pass(30_000);
    await f.scaler.stop();
    assert.deepEqual([...f.draining], [], 'no drain begun on figures that may be wrong');
    assert.equal(f.scaler.knowsDrains(), false);
  });

  it('clears recorded marks no scaler here can finish: the static provider\'s (a cluster restarted with --fleet-provider static), read again after a failed first read', async () => {
    const clock = new ManualClock();
    const marks: [string, boolean][] = [];
    let reads = 0;
    const scaler = new FleetScaler(CONFIG, {
      provider: new StaticWorkerProvider(), clock, log: silentLogger(), members: () => [], removed: () => {},
      setDraining: (id, on) => void marks.push([id, on]),
      recordedDrains: async () => {
        if (++reads === 1) throw new StratusError('JournalUnavailable', 'etcd: no leader');
        return ['x'];
      },
    });
    scaler.start();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(marks, []);
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(marks, [['x', false]], 'the worker is taken back into active');
    assert.equal(scaler.knowsDrains(), true);
    clock.advance(60_000);
    await scaler.stop();
    assert.equal(reads, 2, 'once settled, a provider that cannot scale is not looked at any more');
  });

  it('clears the recorded mark of a worker its provider did not start (another replica\'s local-hosts worker) rather than removing it', async () => {
    const f = fleet({ minWorkers: 0 }, { recordedDrains: async () => ['z'] });
    f.join('z', 0, { environments: 1, busy: 1 });
    f.draining.add('z');
    f.scaler.start();
    await f.pass(1000);
    await f.scaler.stop();
    assert.equal(f.scaler.isDraining('z'), false);
    assert.deepEqual([...f.draining], [], 'mark cleared');
    assert.deepEqual(f.removed, []);
    assert.deepEqual(f.provider.stopped, []);
  });

  it('with the static provider never starts or stops anything', async () => {
    const clock = new ManualClock();
    const scaler = new FleetScaler(CONFIG, { provider: new StaticWorkerProvider(), clock, log: silentLogger(), members: () => [], setDraining: () => {}, removed: () => {} });
    scaler.start();
    clock.advance(60_000);
    await scaler.stop();
    assert.deepEqual(scaler.decisions(), { 'scale-out': 0, 'scale-in': 0, removed: 0, 'join-timeout': 0 });
  });

  it('looks at the fleet on the injected clock once started', async () => {
    const f = fleet();
    f.scaler.start();
    f.clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    await f.scaler.stop();
    assert.equal(f.provider.started.length, 1);
  });
});
