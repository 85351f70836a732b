/**
 * Scenario 15 — scale: what a warm invoke, a page of ListFunctions and a warm acquire/release
 * cost as the work a Stratus holds grows. Three `stratus up`s side by side: "few" with 10
 * functions, "many" with 10,000 (one account; a second tenant with one function on both),
 * "envs" with 10 functions and 100 more idle environments. Warm invokes alternate between them
 * block by block; ListFunctions pages at the start, middle and end of the 10,000 alternate; the
 * assignment service's acquire/release runs in process with 1 vs 500 idle environments.
 */
import { ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf } from '../../test/helpers/accounts.js';
import { InvokeSigner, KeepAliveInvoker, expectOk, invokePath, type Reply } from '../client.js';
import { createFunction, noopZip } from '../functions.js';
import { cpuSplitMs, log, procStatusKb, sleep } from '../harness.js';
import { check, ms, rotate, Series, type Scenario } from '../scenario.js';
import { median } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';
import { IDLE_MANY, measureAcquireRelease } from './scale-assign.js';

const MANY = 10_000;
const FEW = 10;
const PAGE = 50;
const TOLERANCE = 0.1;
const TENANT_FN = 'tenant-b-noop';

const fnName = (i: number) => `scale-${String(i).padStart(5, '0')}`;
const isOk = (r: Reply) => r.status === 200 && !r.headers['x-amz-function-error'];
const within = (ratio: number) => Math.abs(ratio - 1) <= TOLERANCE;
const pct = (ratio: number) => `${ratio >= 1 ? '+' : '−'}${(Math.abs(ratio - 1) * 100).toFixed(1)}%`;

/** Runs `work(i)` for i in [from, to) with `parallel` in flight. */
async function inParallel(from: number, to: number, parallel: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < to) await work(next++);
  }));
}

interface Registration {
  /** Stratus CPU per CreateFunction (ms), per chunk of 1,000, in order. */
  cpuPerCreate: number[];
  /** CreateFunctions per second (wall), per chunk. */
  rate: number[];
  totalS: number;
}

/**
 * Registers the functions numbered `order` (in that order) with the same zip, `parallel` requests
 * in flight, timing chunks of 1,000.
 */
async function register(stratus: BenchStratus, zip: Buffer, order: readonly number[], parallel = 8): Promise<Registration> {
  const out: Registration = { cpuPerCreate: [], rate: [], totalS: 0 };
  const t0 = Date.now();
  for (let start = 0; start < order.length; start += 1000) {
    const end = Math.min(order.length, start + 1000);
    const cpu0 = (await cpuSplitMs(stratus.proc.pid)).self;
    const c0 = Date.now();
    await inParallel(start, end, parallel, (i) => createFunction(stratus.proc.lambda, fnName(order[i]!), zip));
    const cpu1 = (await cpuSplitMs(stratus.proc.pid)).self;
    out.cpuPerCreate.push((cpu1 - cpu0) / (end - start));
    out.rate.push((end - start) / ((Date.now() - c0) / 1000));
  }
  out.totalS = (Date.now() - t0) / 1000;
  return out;
}

/** [from, to) in a scrambled order (a stride coprime with the count), so creation order is not name order. */
function scrambled(from: number, to: number): number[] {
  const n = to - from;
  return Array.from({ length: n }, (_, i) => from + ((i * 7919) % n));
}

/**
 * A with B compared block by block: the median over blocks of A's block value / B's block value in
 * the same rotation slot (blocks of the two run back to back, so load that comes and goes on a
 * shared machine touches both). `a` and `b` hold one value per block, in the same order.
 */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  const ratios = a.map((v, i) => v / (b[i] ?? NaN)).filter((r) => Number.isFinite(r));
  return median(ratios);
}

/** VmRSS in MB once the process has been idle a moment: the median of 5 samples 0.5 s apart. */
async function settledRssMb(pid: number): Promise<number> {
  await sleep(2000);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++, await sleep(500)) samples.push((await procStatusKb(pid)) / 1024);
  return median(samples);
}

type Target = 'few' | 'many' | 'envs' | 'tenantFew' | 'tenantMany';
/** Pages of "many" (first, middle, last), and the first page of "envs" (110 functions): a page over few functions. */
type Position = 'first' | 'middle' | 'last' | 'small';

export const scale: Scenario = {
  id: 'scale',
  title: '15. Scale: 10,000 functions, many idle environments',
  standalone: true,
  async run(ctx) {
    const blocksPerRound = ctx.quick ? 2 : 4;
    const perBlock = ctx.quick ? 100 : 300;
    const pagesPerBlock = ctx.quick ? 60 : 200;
    const extraEnvs = ctx.quick ? 30 : 100;
    const zip = await noopZip();
    const s = { few: await startBenchStratus(), many: await startBenchStratus(), envs: await startBenchStratus() };
    const clients: Partial<Record<Target, KeepAliveInvoker>> = {};
    try {
      // A second tenant with one function, on "few" and "many": its invokes must not feel the first tenant's 10,000 functions.
      for (const k of ['few', 'many'] as const) {
        const account = await createAccount(s[k].proc.url, s[k].proc.credentials, 'tenant-b');
        const lambda = clientFor(s[k].proc.url, keyOf(account));
        await createFunction(lambda, TENANT_FN, zip).finally(() => lambda.destroy());
        clients[k === 'few' ? 'tenantFew' : 'tenantMany'] = new KeepAliveInvoker(
          new InvokeSigner(keyOf(account)), { host: '127.0.0.1', port: s[k].proc.port, path: invokePath(TENANT_FN) });
      }
      for (const k of ['few', 'many', 'envs'] as const) {
        await register(s[k], zip, scrambled(0, FEW));
        clients[k] = new KeepAliveInvoker(s[k].signer, s[k].target(fnName(0)));
      }
      const rssFewFunctions = await settledRssMb(s.many.proc.pid);
      log(`scale: registering ${MANY - FEW} more functions`);
      const reg = await register(s.many, zip, scrambled(FEW, MANY));
      const rssManyFunctions = await settledRssMb(s.many.proc.pid);

      // Warm environments: fn 0 (and the tenant's) everywhere; on "envs", `extraEnvs` more of as many functions.
      const idleNames = Array.from({ length: extraEnvs }, (_, i) => `idle-${String(i).padStart(3, '0')}`);
      for (const name of idleNames) await createFunction(s.envs.proc.lambda, name, zip);
      for (const t of Object.keys(clients) as Target[]) expectOk(await clients[t]!.invoke(), `first invoke (${t})`);
      const rssOneEnv = await settledRssMb(s.envs.proc.pid);
      await inParallel(0, extraEnvs, 4, async (i) => {
        const c = new KeepAliveInvoker(s.envs.signer, s.envs.target(idleNames[i]!));
        try {
          expectOk(await c.invoke(), `first invoke of ${idleNames[i]}`);
        } finally {
          c.close();
        }
      });
      const boxes = (await s.envs.sandboxes()).length;
      const rssManyEnvs = await settledRssMb(s.envs.proc.pid);

      const pid: Record<Target, number> = { few: s.few.proc.pid, many: s.many.proc.pid, envs: s.envs.proc.pid, tenantFew: s.few.proc.pid, tenantMany: s.many.proc.pid };
      const targets = Object.keys(clients) as Target[];
      for (const t of targets) for (let i = 0; i < 300; i++) expectOk(await clients[t]!.invoke(), `warm-up (${t})`);
      const lat = Object.fromEntries(targets.map((t) => [t, new Series()])) as Record<Target, Series>;
      const cpu = Object.fromEntries(targets.map((t) => [t, new Series()])) as Record<Target, Series>;
      const latBlocks = Object.fromEntries(targets.map((t) => [t, [] as number[]])) as Record<Target, number[]>;
      const errors: Record<string, number> = {};
      const positions: Position[] = ['first', 'middle', 'last', 'small'];
      const marker: Record<Position, string | undefined> = { first: undefined, middle: fnName(MANY / 2 - 1), last: fnName(MANY - PAGE - 1), small: undefined };
      const lister: Record<Position, BenchStratus> = { first: s.many, middle: s.many, last: s.many, small: s.envs };
      const pageMs = { first: new Series(), middle: new Series(), last: new Series(), small: new Series() };
      const pageCpu = { first: new Series(), middle: new Series(), last: new Series(), small: new Series() };
      const pageBlocks: Record<Position, number[]> = { first: [], middle: [], last: [], small: [] };
      const listPage = async (p: Position) => {
        const t0 = process.hrtime.bigint();
        const out = await lister[p].proc.lambda.send(new ListFunctionsCommand({ MaxItems: PAGE, Marker: marker[p] }));
        const took = Number(process.hrtime.bigint() - t0) / 1e6;
        if (out.Functions?.length !== PAGE) throw new Error(`ListFunctions (${p} page) returned ${out.Functions?.length} functions`);
        return took;
      };
      for (const p of positions) for (let i = 0; i < 20; i++) await listPage(p);

      for (let round = 0; round < ctx.rounds; round++) {
        for (let block = 0; block < blocksPerRound; block++) {
          for (const t of rotate(targets, round + block)) {
            const before = (await cpuSplitMs(pid[t])).self;
            const block: number[] = [];
            for (let i = 0; i < perBlock; i++) {
              const reply = await clients[t]!.invoke();
              if (isOk(reply)) block.push(reply.ms);
              else errors[t] = (errors[t] ?? 0) + 1;
            }
            cpu[t].add(round, ((await cpuSplitMs(pid[t])).self - before) / perBlock);
            for (const v of block) lat[t].add(round, v);
            latBlocks[t].push(median(block));
          }
        }
        for (let block = 0; block < blocksPerRound; block++) {
          for (const p of rotate(positions, round + block)) {
            const before = (await cpuSplitMs(lister[p].proc.pid)).self;
            const block: number[] = [];
            for (let i = 0; i < pagesPerBlock; i++) block.push(await listPage(p));
            pageCpu[p].add(round, ((await cpuSplitMs(lister[p].proc.pid)).self - before) / pagesPerBlock);
            for (const v of block) pageMs[p].add(round, v);
            pageBlocks[p].push(median(block));
          }
        }
      }
      log('scale: acquire/release in process');
      const ar = await measureAcquireRelease(ctx.rounds, ctx.quick);
      return report({
        ctx, reg, lat, latBlocks, cpu, pageMs, pageBlocks, pageCpu, ar, errors, boxes, extraEnvs, perBlock, blocksPerRound, pagesPerBlock,
        rss: { fewFunctions: rssFewFunctions, manyFunctions: rssManyFunctions, oneEnv: rssOneEnv, manyEnvs: rssManyEnvs },
      });
    } finally {
      for (const c of Object.values(clients)) c.close();
      await Promise.all(Object.values(s).map((x) => x.stop()));
    }
  },
};

interface Measured {
  ctx: { rounds: number };
  reg: Registration;
  lat: Record<Target, Series>;
  latBlocks: Record<Target, number[]>;
  cpu: Record<Target, Series>;
  pageMs: Record<Position, Series>;
  pageBlocks: Record<Position, number[]>;
  pageCpu: Record<Position, Series>;
  ar: Awaited<ReturnType<typeof measureAcquireRelease>>;
  errors: Record<string, number>;
  boxes: number;
  extraEnvs: number;
  perBlock: number;
  blocksPerRound: number;
  pagesPerBlock: number;
  rss: { fewFunctions: number; manyFunctions: number; oneEnv: number; manyEnvs: number };
}

function report(m: Measured) {
  const med = (x: Series) => x.summary().median;
  /** A against B: the paired block ratio, and the two pooled medians for scale. */
  const compare = (what: string, blocksA: number[], blocksB: number[], a: Series, b: Series, fmt: (v: number) => string) => {
    const r = pairedRatio(blocksA, blocksB);
    return { text: `${what} ${pct(r)} (${fmt(med(a))} vs ${fmt(med(b))})`, ok: within(r), notMore: r <= 1 + TOLERANCE };
  };
  const flat = (x: Series) => x.rounds.flat();
  const cpuMs = (v: number) => `${v.toFixed(3)} ms`;
  const cpuOf = (a: Series, b: Series) => compare('CPU', flat(a), flat(b), a, b, cpuMs);
  const us = (v: number) => `${v.toFixed(2)} µs`;
  const invokeCheck = (a: Target, b: Target) => {
    const l = compare('latency', m.latBlocks[a], m.latBlocks[b], m.lat[a], m.lat[b], ms);
    const c = cpuOf(m.cpu[a], m.cpu[b]);
    return { measured: `${l.text}; ${c.text}`, met: l.ok && c.ok };
  };
  const same = invokeCheck('many', 'few');
  const other = invokeCheck('tenantMany', 'tenantFew');
  const envs = invokeCheck('envs', 'few');
  const pageVs = (p: Position, base: Position) => ({
    l: compare('time', m.pageBlocks[p], m.pageBlocks[base], m.pageMs[p], m.pageMs[base], ms), c: cpuOf(m.pageCpu[p], m.pageCpu[base]),
  });
  const pages = (['middle', 'last'] as const).map((p) => ({ p, ...pageVs(p, 'first') }));
  const overMany = pageVs('first', 'small');
  const arWall = compare('wall', flat(m.ar.wallUs.many), flat(m.ar.wallUs.one), m.ar.wallUs.many, m.ar.wallUs.one, us);
  const arCpu = compare('CPU', flat(m.ar.cpuUs.many), flat(m.ar.cpuUs.one), m.ar.cpuUs.many, m.ar.cpuUs.one, us);
  const chunk = (xs: number[], i: number) => xs.at(i) ?? NaN;
  const createGrowth = chunk(m.reg.cpuPerCreate, -1) / chunk(m.reg.cpuPerCreate, 0);
  const perFunctionKb = ((m.rss.manyFunctions - m.rss.fewFunctions) * 1024) / (MANY - FEW);
  const perEnvKb = ((m.rss.manyEnvs - m.rss.oneEnv) * 1024) / m.extraEnvs;
  const t = '15. scale';
  return {
    method: [
      `Three \`stratus up\`s: "few" with ${FEW} functions, "many" with ${MANY.toLocaleString('en')} (all in the administrator's account, the same no-op zip, ` +
        'registered 8 CreateFunction requests at a time, in an order that is not name order), "envs" with the same 10 functions plus ' +
        `${m.extraEnvs} more functions invoked once each (${m.extraEnvs} more idle environments; ${m.boxes} sandboxes). "few" and "many" also have a second tenant (\`stratus accounts create\`) with one function.`,
      `Warm invokes of \`${fnName(0)}\` on each Stratus, and of the tenant's function on "few" and "many", on keep-alive connections after 300 warm-up invokes each: ` +
        `per round ${m.blocksPerRound} blocks of ${m.perBlock} sequential invokes per target, the targets rotated block by block; ${m.ctx.rounds} rounds. ` +
        'CPU is the Stratus process\'s utime + stime from /proc/<pid>/stat over each block (10 ms ticks). ' +
          'Every check compares A with B block by block: the median over blocks of A\'s value / B\'s in the same rotation slot (CPU per invoke, the block\'s median latency); ' +
          'the medians in brackets are pooled over all samples.',
      `ListFunctions (MaxItems ${PAGE}, through the AWS SDK) on "many": the first page, the page after \`${fnName(MANY / 2 - 1)}\` and the last page; and the first page on "envs" (${FEW + m.extraEnvs} functions), ` +
        `per round ${m.blocksPerRound} blocks of ${m.pagesPerBlock} pages per position, rotated block by block; per page wall time and Stratus CPU per block. A page must cost no more than the first (one-sided: the target is that cost does not grow with position).`,
      `Acquire/release: in the bench process, the real \`AssignmentService\` (idle pool, capacity queue, concurrency limiter) over fake workers ` +
        `(test/helpers/fake-worker.ts), one with 1 idle environment and one with ${IDLE_MANY} (half of the measured function, half of ${IDLE_MANY / 2} other functions); ` +
        `${m.ar.pairsPerBlock.toLocaleString('en')} warm acquire + release pairs per block, the two alternating; the check is on CPU (process.cpuUsage), since the wall time of a µs-scale loop on a shared 2-core machine mostly measures preemption. 500 real idle sandboxes would need ~15–20 GB; ` +
        `the real cross-check is "envs" (${m.extraEnvs + 1} idle environments) against "few".`,
      'Memory: VmRSS of the Stratus process (the median of 5 samples, from 2 s after the change) before and after registering the 9,990 functions, and on "envs" ' +
        'before and after the extra functions\' first invokes (their functions already registered). Stratus cannot be made to collect garbage from outside, so these carry ' +
        'a few MB of GC noise; the in-process heap per environment of assignment\'s table is measured after a forced GC.',
    ],
    tables: [
      { title: 'Warm invoke, sequential', rows: [
        m.lat.few.row(`"few": ${FEW} functions`, 'latency', 'ms'), m.lat.many.row(`"many": ${MANY.toLocaleString('en')} functions`, 'latency', 'ms'),
        m.lat.tenantFew.row('other tenant on "few"', 'latency', 'ms'), m.lat.tenantMany.row('other tenant on "many"', 'latency', 'ms'),
        m.lat.envs.row(`"envs": ${m.extraEnvs + 1} idle environments`, 'latency', 'ms'),
        m.cpu.few.row('"few"', 'Stratus CPU per invoke', 'ms'), m.cpu.many.row('"many"', 'Stratus CPU per invoke', 'ms'),
        m.cpu.tenantFew.row('other tenant on "few"', 'Stratus CPU per invoke', 'ms'), m.cpu.tenantMany.row('other tenant on "many"', 'Stratus CPU per invoke', 'ms'),
        m.cpu.envs.row('"envs"', 'Stratus CPU per invoke', 'ms'),
      ] },
      { title: `ListFunctions over ${MANY.toLocaleString('en')} functions, ${PAGE} per page`, rows: (['first', 'middle', 'last', 'small'] as const).flatMap((p) => {
        const what = p === 'small' ? `first page over ${FEW + m.extraEnvs} functions ("envs")` : `${p} page`;
        return [m.pageMs[p].row(what, 'time', 'ms'), m.pageCpu[p].row(what, 'Stratus CPU', 'ms')];
      }) },
      { title: 'Acquire + release of a warm environment (in process)', rows: [
        m.ar.wallUs.one.row('1 idle environment', 'wall per pair', 'µs'), m.ar.wallUs.many.row(`${IDLE_MANY} idle environments`, 'wall per pair', 'µs'),
        m.ar.cpuUs.one.row('1 idle environment', 'CPU per pair', 'µs'), m.ar.cpuUs.many.row(`${IDLE_MANY} idle environments`, 'CPU per pair', 'µs'),
      ] },
      { title: 'Registering the functions', rows: [], plain: {
        header: ['chunk of 1,000', 'creates/s', 'Stratus CPU per create (ms)'],
        cells: m.reg.cpuPerCreate.map((c, i) => [String(i + 1), (m.reg.rate[i] ?? NaN).toFixed(0), c.toFixed(2)]),
      } },
    ],
    checks: [
      check(t, `warm invoke with ${MANY.toLocaleString('en')} functions registered costs the same as with ${FEW} (±10%)`, same.measured, same.met),
      check(t, `another tenant's warm invoke is not slowed by a tenant's ${MANY.toLocaleString('en')} functions (±10%)`, other.measured, other.met),
      check(t, `ListFunctions: a page over ${MANY.toLocaleString('en')} functions costs the same as one over ${FEW + m.extraEnvs} (±10%)`,
        `${overMany.l.text}; ${overMany.c.text}`, overMany.l.ok && overMany.c.ok),
      ...pages.map(({ p, l, c }) => check(t, `ListFunctions: the ${p} page costs no more than the first (≤ +10%)`, `${l.text}; ${c.text}`, l.notMore && c.notMore)),
      check(t, `acquire/release with ${IDLE_MANY} idle environments costs the same CPU as with 1 (±10%, in process; wall time for information)`,
        `${arCpu.text}; ${arWall.text}`, arCpu.ok),
      check(t, `warm invoke with ${m.extraEnvs + 1} real idle environments costs the same as with 1–2 (±10%, cross-check)`, envs.measured, envs.met),
      check(t, 'CreateFunction does not slow down as functions accumulate (last 1,000 vs first 1,000, Stratus CPU, ≤ 1.25x)',
        `${createGrowth.toFixed(2)}x (${chunk(m.reg.cpuPerCreate, -1).toFixed(2)} vs ${chunk(m.reg.cpuPerCreate, 0).toFixed(2)} ms); ${MANY.toLocaleString('en')} registered in ${m.reg.totalS.toFixed(0)} s`,
        createGrowth <= 1.25),
      check(t, 'Stratus memory per registered function (no target)', `${perFunctionKb.toFixed(1)} KB VmRSS (${m.rss.fewFunctions.toFixed(0)} → ${m.rss.manyFunctions.toFixed(0)} MB)`, null),
      check(t, 'Stratus memory per idle environment (no target)',
        `${perEnvKb.toFixed(0)} KB VmRSS (${m.rss.oneEnv.toFixed(0)} → ${m.rss.manyEnvs.toFixed(0)} MB for ${m.extraEnvs} more); assignment's table alone ${(m.ar.heapPerEnvBytes / 1024).toFixed(2)} KB of heap`, null),
    ],
    notes: [`Errors (non-200 or X-Amz-Function-Error): ${JSON.stringify(m.errors)}.`],
  };
}
