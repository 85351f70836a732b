/**
 * Scenario 15, in process: the assignment service's acquire/release of a warm environment with
 * 1 idle environment in its table against one with 500 (500 real idle sandboxes would need
 * ~15–20 GB). The real service (`AssignmentService` with its `IdlePool`, `CapacityQueue` and
 * `ConcurrencyLimiter`) over fake workers (test/helpers/fake-worker.ts), so only assignment's own
 * work is timed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AssignmentService, ConcurrencyLimiter, type Lease } from '../../src/assignment/index.js';
import { MemoryJournal } from '../../src/journal/index.js';
import { PlacementService } from '../../src/placement/index.js';
import { ManualClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/log.js';
import { fakeFunction, FakeWorker } from '../../test/helpers/fake-worker.js';
import { rotate, Series } from '../scenario.js';

export const IDLE_MANY = 500;
const HOT = 'hot';

export interface AcquireReleaseResult {
  /** Wall time per acquire + release pair, µs, per table size. */
  wallUs: Record<'one' | 'many', Series>;
  /** CPU (user + system of the bench process) per pair, µs. */
  cpuUs: Record<'one' | 'many', Series>;
  pairsPerBlock: number;
  /** Heap growth per idle environment in the table (bytes), after a forced GC (NaN if none could be forced). */
  heapPerEnvBytes: number;
}

async function service(): Promise<AssignmentService> {
  const clock = new ManualClock();
  const journal = new MemoryJournal();
  const placement = new PlacementService();
  // Room for every environment: the measured path never evicts.
  placement.register(new FakeWorker('w1', 1024 * 1024));
  const assignment = new AssignmentService({
    config: { keepAliveMs: 3_600_000, sweepIntervalMs: 3_600_000, capacityWaitMs: 5000, scalingBurst: 100_000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 },
    log: journal.assignmentLog, placement, clock, logger: silentLogger(),
    limiter: new ConcurrencyLimiter({ accountLimit: () => 100_000, reservedFor: () => undefined, reservedTotal: () => 0 }),
  });
  await assignment.start();
  return assignment;
}

/**
 * A table with `hot` idle environments of the measured function and `others` idle environments
 * of as many other functions.
 */
async function populated(hot: number, others: number): Promise<AssignmentService> {
  const assignment = await service();
  const held: Lease[] = [];
  for (let i = 0; i < hot; i++) held.push(await assignment.acquire(fakeFunction(HOT)));
  for (let i = 0; i < others; i++) held.push(await assignment.acquire(fakeFunction(`other-${i}`)));
  for (const lease of held) assignment.release(lease, true);
  return assignment;
}

/** Heap in use after a full GC (the flag set at run time, so the bench needs no --expose-gc). */
function heapUsed(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  if (typeof gc !== 'function') return NaN;
  gc();
  return process.memoryUsage().heapUsed;
}

/** Interleaved rounds of acquire + release pairs on the two tables. */
export async function measureAcquireRelease(rounds: number, quick: boolean): Promise<AcquireReleaseResult> {
  const pairsPerBlock = quick ? 20_000 : 50_000;
  const blocksPerRound = quick ? 2 : 4;
  const heap0 = heapUsed();
  const one = await populated(1, 0);
  const heap1 = heapUsed();
  // Half the environments are the measured function's own (a deep idle stack), half other functions' (a big table).
  const many = await populated(IDLE_MANY / 2, IDLE_MANY / 2);
  const heap2 = heapUsed();
  const services = { one, many };
  const fn = fakeFunction(HOT);
  const wallUs = { one: new Series(), many: new Series() };
  const cpuUs = { one: new Series(), many: new Series() };
  const block = async (s: AssignmentService) => {
    for (let i = 0; i < pairsPerBlock; i++) {
      const lease = await s.acquire(fn);
      if (lease.cold) throw new Error('the measured acquire was a cold start: the table lost its idle environment');
      s.release(lease, true);
    }
  };
  try {
    for (const s of [one, many]) await block(s); // warm-up: JIT
    for (let round = 0; round < rounds; round++) {
      for (let b = 0; b < blocksPerRound; b++) {
        for (const name of rotate(['one', 'many'] as const, round + b)) {
          const cpu0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          await block(services[name]);
          const wall = Number(process.hrtime.bigint() - t0) / 1e3;
          const cpu = process.cpuUsage(cpu0);
          wallUs[name].add(round, wall / pairsPerBlock);
          cpuUs[name].add(round, (cpu.user + cpu.system) / pairsPerBlock);
        }
      }
    }
  } finally {
    await one.shutdown();
    await many.shutdown();
  }
  // The heap of the "many" table over the "one" table (the service itself counted once in each).
  const heapPerEnvBytes = (heap2 - heap1 - (heap1 - heap0)) / (IDLE_MANY - 1);
  return { wallUs, cpuUs, pairsPerBlock, heapPerEnvBytes };
}
