/**
 * The cost of function logs on the warm path: the same function (one console.log per invoke)
 * at 10 closed-loop clients, on a Stratus that stores every line in its log store (the
 * default) and on one that keeps them nowhere (--function-logs off), alternating per round.
 * The target: logging (and metrics, always on) cost at most 5% of warm throughput.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { expectOk, invokePath, KeepAliveInvoker } from '../client.js';
import { createFunction } from '../functions.js';
import { readFile } from 'node:fs/promises';
import { cpuSplitMs, log, TICK_MS } from '../harness.js';
import { runLoad } from '../load.js';
import { check, rotate, Series, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';
import { makeZip } from '../../test/helpers/zip.js';

const FN = 'bench-logs';
const CLIENTS = 10;
const MAX_COST = 0.05;
type Mode = 'store' | 'off';

export const logging: Scenario = {
  id: 'logging',
  title: 'Function logs on the warm path (stored vs off, 10 clients)',
  async run(ctx) {
    const durationS = ctx.quick ? 2 : 4;
    const code = await makeZip({ 'index.js': "'use strict';\nexports.handler = async (event) => { console.log('handled', JSON.stringify(event)); return {}; };\n" });
    const rps: Record<Mode, Series> = { store: new Series(), off: new Series() };
    const cpu: Record<Mode, Series> = { store: new Series(), off: new Series() };
    const whole: Record<Mode, Series> = { store: new Series(), off: new Series() };
    const main: Record<Mode, Series> = { store: new Series(), off: new Series() };
    let stored = 0;
    for (let round = 0; round < ctx.rounds; round++) {
      for (const mode of rotate<Mode>(['store', 'off'], round)) {
        const stratus: BenchStratus = await startBenchStratus(['--function-logs', mode]);
        try {
          await createFunction(stratus.proc.lambda, FN, code);
          const probe = new KeepAliveInvoker(stratus.signer, stratus.target(FN));
          expectOk(await probe.invoke(), 'first invoke');
          probe.close();
          const url = `http://127.0.0.1:${stratus.proc.port}${invokePath(FN)}`;
          const headers = await stratus.signer.headers({ host: '127.0.0.1', port: stratus.proc.port, path: invokePath(FN) }, '{"n":1}');
          await runLoad({ url, headers, body: '{"n":1}', connections: CLIENTS, durationS: 1 }, ctx.scratch); // environments up
          const before = await cpuSplitMs(stratus.proc.pid);
          const mainBefore = await mainThreadMs(stratus.proc.pid);
          const r = await runLoad({ url, headers, body: '{"n":1}', connections: CLIENTS, durationS }, ctx.scratch);
          const after = await cpuSplitMs(stratus.proc.pid);
          main[mode].add(round, ((await mainThreadMs(stratus.proc.pid)) - mainBefore) / Math.max(1, r.requests));
          rps[mode].add(round, r.rps);
          cpu[mode].add(round, (after.self - before.self) / Math.max(1, r.requests));
          whole[mode].add(round, (after.self + after.descendants - before.self - before.descendants) / Math.max(1, r.requests));
          if (mode === 'store') stored = await storedEvents(stratus);
          log(`  round ${round + 1} ${mode}: ${Math.round(r.rps)} req/s, ${((after.self - before.self) / Math.max(1, r.requests)).toFixed(3)} ms CPU per request, errors ${r.errors}`);
        } finally {
          await stratus.stop();
        }
      }
    }
    const store = rps.store.summary().median;
    const off = rps.off.summary().median;
    const cost = 1 - ratio(store, off);
    // On a machine the load saturates, throughput goes as the inverse of the CPU each request
    // takes; CPU time, unlike throughput, hardly moves when other work shares the machine.
    const cpuCost = 1 - ratio(whole.off.summary().median, whole.store.summary().median);
    return {
      method: [
        `A function that logs one line per invoke, ${CLIENTS} keep-alive clients, ${durationS} s per measurement after 1 s of warm-up, ` +
          `a fresh \`stratus up\` per measurement (--function-logs store, or off); modes alternate, ${ctx.rounds} rounds.`,
        'Stored: START, the function\'s line, END and REPORT of every invoke go through the worker\'s LogShipper into the SQLite journal\'s log store.',
      ],
      tables: [{ title: `${CLIENTS} concurrent clients`, rows: [
        rps.store.row('logs stored', 'throughput', 'req/s'), rps.off.row('logs off', 'throughput', 'req/s'),
        cpu.store.row('logs stored', 'CPU per request', 'ms', 'the Stratus process, all its threads'), cpu.off.row('logs off', 'CPU per request', 'ms', 'the Stratus process, all its threads'),
        main.store.row('logs stored', 'CPU per request', 'ms', 'its main thread: the invoke path'), main.off.row('logs off', 'CPU per request', 'ms', 'its main thread: the invoke path'),
        whole.store.row('logs stored', 'CPU per request', 'ms', 'Stratus and its sandboxes'), whole.off.row('logs off', 'CPU per request', 'ms', 'Stratus and its sandboxes'),
      ] }],
      checks: [check('logging', `function logs cost ≤ ${MAX_COST * 100}% of warm throughput`, `${(cost * 100).toFixed(1)}% (${Math.round(store)} vs ${Math.round(off)} req/s)`, cost <= MAX_COST)],
      notes: [
        `The last stored run kept ${stored} events in the log group.`,
        `Cost estimated from CPU per request (Stratus and its sandboxes, the load generator left out, which overstates the cost): ${(cpuCost * 100).toFixed(1)}%.`,
      ],
    };
  },
};

/** CPU time of the process's main thread (its task whose id is the pid): the invoke path, without the log writer or V8's helper threads. */
async function mainThreadMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/task/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Events of the function's group, counted through the CloudWatch Logs API (paged). */
async function storedEvents(stratus: BenchStratus): Promise<number> {
  const logs = new CloudWatchLogsClient({ endpoint: stratus.proc.url, region: 'us-east-1', credentials: stratus.proc.credentials });
  let n = 0;
  let nextToken: string | undefined;
  try {
    do {
      const page = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${FN}`, nextToken, limit: 10_000 }));
      n += page.events?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken);
  } finally {
    logs.destroy();
  }
  return n;
}
