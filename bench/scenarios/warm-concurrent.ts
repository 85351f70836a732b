/**
 * Scenario 2 — warm invoke under concurrency: throughput and latency of the no-op function at
 * 10 and 50 closed-loop keep-alive connections, against the floor and against the peer
 * (serverless-offline 13 on serverless 3, a freshly started process per round).
 */
import { KeepAliveInvoker, expectOk, invokePath } from '../client.js';
import { createFunction, noopZip } from '../functions.js';
import { cpuSplitMs, log } from '../harness.js';
import { loadGenerator, runLoad, type LoadResult } from '../load.js';
import { PEER_FUNCTION, startPeer, type RunningPeer } from '../peer.js';
import type { Row, Table } from '../report.js';
import { check, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio, summarizeRoundPercentiles } from '../stats.js';
import { startBenchStratus, startFloor } from '../targets.js';

const FN = 'bench-noop';
const LEVELS = [10, 50];
const TARGET_PEER_RATIO = 3;
const TARGET_FLOOR_SHARE = 0.35;
const TARGET_CPU_MS = 0.35;
type Name = 'floor' | 'stratus' | 'peer';
type Measured = LoadResult & { cpuSelfMs: number; cpuChildrenMs: number };

export const warmConcurrent: Scenario = {
  id: 'warm-concurrent',
  title: '2. Warm invoke, concurrent (10 and 50 clients)',
  async run(ctx) {
    const durationS = ctx.quick ? 2 : 3;
    const peerWarmS = ctx.quick ? 1 : 2;
    const stratus = await startBenchStratus();
    const floor = await startFloor();
    await createFunction(stratus.proc.lambda, FN, await noopZip());
    const path = invokePath(FN);
    const urls: Record<Name, string> = {
      floor: `http://127.0.0.1:${floor.port}${path}`,
      stratus: `http://127.0.0.1:${stratus.proc.port}${path}`,
      peer: `http://127.0.0.1:3002${invokePath(PEER_FUNCTION)}`,
    };
    const pids: Record<Name, number> = { floor: floor.pid, stratus: stratus.proc.pid, peer: 0 };
    /** One load run; also the CPU time the target's process (and its sandboxes) spent per request. */
    const load = async (name: Name, connections: number, seconds: number): Promise<Measured> => {
      const url = new URL(urls[name]);
      const headers = await stratus.signer.headers({ host: url.hostname, port: Number(url.port), path: url.pathname }, '{}');
      const before = await cpuSplitMs(pids[name]);
      const r = await runLoad({ url: urls[name], headers, body: '{}', connections, durationS: seconds }, ctx.scratch);
      const after = await cpuSplitMs(pids[name]);
      const n = Math.max(1, r.requests);
      const self = (after.self - before.self) / n;
      const children = (after.descendants - before.descendants) / n;
      // Stratus: its own process and its sandboxes apart; the others: everything they run.
      return name === 'stratus' ? { ...r, cpuSelfMs: self, cpuChildrenMs: children } : { ...r, cpuSelfMs: self + children, cpuChildrenMs: 0 };
    };
    const results = new Map<string, Measured[]>(); // `${name}@${c}` → one per round
    const record = (name: Name, c: number, r: Measured) => results.set(`${name}@${c}`, [...(results.get(`${name}@${c}`) ?? []), r]);
    const notes: string[] = [];
    let peerError = ctx.peer.ok ? undefined : ctx.peer.error ?? 'not installed';
    const peerStarts: number[] = [];
    let sandboxesAfterWarmup = 0;
    let warmupErrors = 0;
    try {
      const probe = new KeepAliveInvoker(stratus.signer, stratus.target(FN));
      expectOk(await probe.invoke(), 'first invoke');
      // Warm-up: enough load at the highest concurrency that Stratus creates its environments.
      warmupErrors = (await load('stratus', Math.max(...LEVELS), ctx.quick ? 3 : 5)).errors;
      await load('stratus', Math.min(...LEVELS), 1);
      await load('floor', Math.max(...LEVELS), 1);
      sandboxesAfterWarmup = (await stratus.sandboxes()).length;
      for (let round = 0; round < ctx.rounds; round++) {
        let peer: RunningPeer | undefined;
        if (!peerError) {
          try {
            peer = await startPeer();
            pids.peer = peer.pid;
            peerStarts.push(peer.startMs);
          } catch (err) {
            peerError = `could not start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
          }
        }
        try {
          for (const c of rotate(LEVELS, round)) {
            for (const name of rotate<Name>(['floor', 'stratus', 'peer'], round)) {
              if (name === 'peer') {
                if (!peer) continue;
                await load('peer', c, peerWarmS); // its handler workers start on demand
              }
              const r = await load(name, c, durationS);
              record(name, c, r);
              log(`  round ${round + 1} c=${c} ${name}: ${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, errors ${r.errors}`);
            }
          }
        } finally {
          await peer?.stop();
        }
      }
      expectOk(await probe.invoke(), 'invoke after the load');
      probe.close();
    } finally {
      await floor.stop();
      await stratus.stop();
    }
    const label: Record<Name, string> = {
      floor: 'floor: bare Node.js HTTP echo',
      stratus: 'Stratus',
      peer: 'peer: serverless-offline 13',
    };
    const tables: Table[] = [];
    const checks = [];
    for (const c of LEVELS) {
      const rows: Row[] = [];
      const rps: Partial<Record<Name, number>> = {};
      const cpuMs: Partial<Record<Name, number>> = {};
      for (const name of ['floor', 'stratus', 'peer'] as Name[]) {
        const runs = results.get(`${name}@${c}`) ?? [];
        if (runs.length === 0) continue;
        const t = new Series();
        runs.forEach((r, i) => t.add(i, r.rps));
        const errors = runs.reduce((n, r) => n + r.errors, 0);
        rows.push(t.row(label[name], 'throughput', 'req/s', errors ? `${errors} errors` : undefined));
        rps[name] = t.summary().median;
        const lat = summarizeRoundPercentiles(runs.map((r) => ({ p50: r.p50Ms, p90: r.p90Ms, p99: r.p99Ms, n: r.requests })));
        rows.push({ target: label[name], metric: 'latency', unit: 'ms', summary: lat });
        const cpu = new Series();
        runs.forEach((r, i) => cpu.add(i, r.cpuSelfMs));
        rows.push(cpu.row(label[name], 'CPU per request', 'ms', name === 'stratus' ? 'the Stratus process' : undefined));
        cpuMs[name] = cpu.summary().median;
        if (name === 'stratus') {
          const sandboxCpu = new Series();
          runs.forEach((r, i) => sandboxCpu.add(i, r.cpuChildrenMs));
          rows.push(sandboxCpu.row(label[name], 'CPU per request', 'ms', 'its sandboxes'));
        }
      }
      tables.push({ title: `${c} concurrent clients`, rows });
      const vsPeer = ratio(rps.stratus ?? Number.NaN, rps.peer ?? Number.NaN);
      checks.push(
        check('2. warm concurrent', `≥ ${TARGET_PEER_RATIO}x the peer's throughput at ${c} clients`,
          rps.peer === undefined ? `peer not measured (${peerError ?? 'no result'})` : `${x(vsPeer)} (${Math.round(rps.stratus ?? 0)} vs ${Math.round(rps.peer)} req/s)`,
          rps.peer === undefined ? null : vsPeer >= TARGET_PEER_RATIO),
      );
      const vsFloor = ratio(rps.stratus ?? Number.NaN, rps.floor ?? Number.NaN);
      checks.push(
        check('2. warm concurrent', `≥ ${TARGET_FLOOR_SHARE * 100}% of the floor's throughput at ${c} clients`,
          `${(vsFloor * 100).toFixed(1)}% (${Math.round(rps.stratus ?? 0)} vs ${Math.round(rps.floor ?? 0)} req/s)`, vsFloor >= TARGET_FLOOR_SHARE),
        check('2. warm concurrent', `Stratus process CPU per warm invoke ≤ ${TARGET_CPU_MS} ms at ${c} clients`,
          `${(cpuMs.stratus ?? Number.NaN).toFixed(3)} ms (floor server ${(cpuMs.floor ?? Number.NaN).toFixed(3)} ms per request)`, (cpuMs.stratus ?? Number.POSITIVE_INFINITY) <= TARGET_CPU_MS),
      );
    }
    if (peerError) notes.push(`Peer: ${peerError}.`);
    if (peerStarts.length) notes.push(`The peer took ${Math.round(Math.min(...peerStarts) / 1000)}–${Math.round(Math.max(...peerStarts) / 1000)} s to start (a fresh \`serverless offline start\` per round).`);
    return {
      method: [
        `Load: ${loadGenerator() === 'wrk' ? 'wrk -t1 (one thread, C)' : 'a Node.js load generator in its own process'}, closed loop, N keep-alive connections, ${durationS} s per measurement; ` +
          'it replays one SigV4-signed request (signed right before each run; Stratus accepts a signature for 15 minutes and does not reject replays). Floor and peer get the same request.',
        `Stratus: \`${FN}\`, one invocation per sandbox; warmed up with ${ctx.quick ? 3 : 5} s at ${Math.max(...LEVELS)} connections first ` +
          `(${sandboxesAfterWarmup} environments existed after warm-up; ${warmupErrors} errors during warm-up). ` +
          'Errors counted: connection errors, timeouts, non-2xx replies and replies with X-Amz-Function-Error (wrk counts the last in a Lua response hook, for every target alike).',
        `Peer: \`serverless offline start\` (SLS_TELEMETRY_DISABLED=1, SLS_NOTIFICATIONS_MODE=off), Lambda invoke endpoint on 127.0.0.1:3002 ` +
          `(\`POST /2015-03-31/functions/${PEER_FUNCTION}/invocations\`), handler \`async () => ({})\`; a freshly started process each round, ` +
          `${peerWarmS} s of unmeasured load at each concurrency before its measurement (its handler workers start on demand).`,
        `Per round: both concurrency levels, each target once, orders rotated between rounds; ${ctx.rounds} rounds. The latency rows give the median over rounds of each round's percentile.`,
        'CPU per request: user + system time from /proc/<pid>/stat of the target process (all its threads) over the run, divided by the requests served; ' +
          'for Stratus also the CPU of its sandboxes (bwrap + runtime processes). The load generator is not counted.',
      ],
      tables,
      checks,
      notes,
    };
  },
};
