/**
 * Scaling with traffic (issue 19): a cluster whose placement starts its workers with the
 * `local-hosts` provider (each worker a host of its own: network namespace, address on a bridge,
 * cgroup) begins with one 512 MB worker; 16 clients then invoke a 128 MB function that sleeps
 * 2 s, in a loop, until the fleet has 4 workers. Measured: the time from the load's start until
 * the fleet has 2, 3 and 4 workers (as placement's `stratus_fleet_workers` shows it), and, once
 * the load stops, until it is back at one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { canMakeHosts } from '../../src/placement/index.js';
import { startCluster, type Cluster } from '../../test/helpers/cluster.js';
import { makeZip } from '../../test/helpers/zip.js';
import { sleep } from '../harness.js';
import { check, ms, Series, type Scenario } from '../scenario.js';

const FN = 'bench-fleet';
const CODE = 'exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.sleep ?? 0)); return {}; };';
const SUSTAIN_MS = 1000;

async function activeWorkers(cluster: Cluster): Promise<number> {
  const url = /Metrics \(Prometheus\) on (\S+)/.exec(cluster.placement.output())?.[1];
  const text = await fetch(`${url}`).then((r) => r.text(), () => '');
  return Number(/stratus_fleet_workers\{state="active"\} (\d+)/.exec(text)?.[1] ?? 0);
}

async function waitFor(cluster: Cluster, want: (n: number) => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!want(await activeWorkers(cluster))) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`the fleet did not reach the size asked within ${timeoutMs} ms`);
    await sleep(50);
  }
  return performance.now() - t0;
}

export const fleetScaleOut: Scenario = {
  id: 'fleet-scale-out',
  title: '17. Fleet: scale out from 1 to 4 local-hosts workers under load, and back',
  standalone: true,
  async run(ctx) {
    const can = await canMakeHosts();
    if (!can.ok) return { method: [], tables: [], checks: [], notes: [`skipped: ${can.reason}`] };
    const rounds = ctx.quick ? 1 : Math.min(3, ctx.rounds);
    const toSize = [new Series(), new Series(), new Series()];
    const back = new Series();
    let errors = 0;
    let ok = 0;
    for (let round = 0; round < rounds; round++) {
      const dataDir = await mkdtemp(join(ctx.scratch, 'fleet-'));
      const cluster = await startCluster({
        workers: 0, replicas: 2, frontends: 1, keepAliveMs: 3000,
        placementArgs: [
          '--data-dir', dataDir, '--worker-provider', 'local-hosts', '--fleet-min', '1', '--fleet-max', '4', '--fleet-scale-out-above', '0.7',
          '--fleet-scale-in-below', '0.3', '--fleet-sustain-ms', String(SUSTAIN_MS), '--worker-memory-mb', '512', '--heartbeat-ms', '300',
        ],
      });
      try {
        await waitFor(cluster, (n) => n === 1, 60_000);
        const lambda = cluster.lambda(0, { maxAttempts: 1 });
        await cluster.lambda(0).send(new CreateFunctionCommand({
          FunctionName: FN, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/bench', Handler: 'index.handler', MemorySize: 128, Timeout: 30,
          Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
        }));
        let running = true;
        const clients = Array.from({ length: 16 }, async () => {
          while (running) {
            try {
              const r = await lambda.send(new InvokeCommand({ FunctionName: FN, Payload: Buffer.from('{"sleep":2000}') }));
              if (r.FunctionError) errors++;
              else ok++;
            } catch (err) {
              if ((err as Error).name === 'TooManyRequestsException') await sleep(100);
              else errors++;
            }
          }
        });
        const t0 = performance.now();
        try {
          for (const [i, size] of [2, 3, 4].entries()) {
            await waitFor(cluster, (n) => n >= size, 120_000);
            toSize[i]?.add(round, performance.now() - t0);
          }
        } finally {
          running = false;
          await Promise.all(clients);
        }
        back.add(round, await waitFor(cluster, (n) => n === 1, 120_000));
      } finally {
        await cluster.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    }
    const four = toSize[2]?.summary();
    return {
      method: [
        'A 3-member etcd, placement with --worker-provider local-hosts (each worker its own network namespace on placement\'s bridge, own cgroup and data directory), 2 assignment replicas, 1 frontend; keep-alive 3 s.',
        `Fleet: min 1, max 4, 512 MB workers; scale out at ≥ 70 % of memory reserved, in at ≤ 30 %, each held ${SUSTAIN_MS} ms; one worker started at a time (the next once it joined).`,
        '16 clients (AWS SDK v3, no retries; 429s wait 100 ms) invoke a 128 MB function sleeping 2 s in a loop from the moment the fleet is at 1 worker; times are to placement\'s stratus_fleet_workers{state="active"} (polled every 50 ms).',
        `${rounds} round(s), each a fresh cluster.`,
      ],
      tables: [{
        title: 'Fleet size over time',
        rows: [
          toSize[0]?.row('load start → 2 workers', 'time', 'ms'),
          toSize[1]?.row('load start → 3 workers', 'time', 'ms'),
          toSize[2]?.row('load start → 4 workers', 'time', 'ms'),
          back.row('load end → back to 1 worker (keep-alive 3 s, drain)', 'time', 'ms'),
        ].filter((r) => r !== undefined),
      }],
      checks: [
        check('17. fleet', 'the fleet grows from 1 to 4 workers under load (median time)', four ? ms(four.median) : 'n/a', null),
        check('17. fleet', 'no accepted invoke fails while the fleet grows and drains', `${errors} failed of ${ok + errors}`, errors === 0),
      ],
      notes: [],
    };
  },
};
