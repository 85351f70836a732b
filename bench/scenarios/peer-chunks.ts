/**
 * Scenario — the peer chunk tier: two `stratus worker`s of one zone, each with an empty chunk
 * cache; as root each is a `local-hosts` host (its own network namespace and address on a bridge,
 * so chunks move between workers over veth and bridge), otherwise both on loopback. An image
 * function's cold start on worker A fetches its chunks from the code store (through the control
 * plane); a second function of the same image, cold on worker B (A has no room left), takes them
 * from A. Reported: chunk reads and bytes per tier (local, peer, store) from the workers' own
 * metrics, and both cold starts end to end.
 */
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { canMakeHosts } from '../../src/placement/index.js';
import { startHostCluster } from '../../test/helpers/host-cluster.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry } from '../../test/helpers/oci.js';
import { parseExposition, Scrape } from '../../test/helpers/prometheus.js';
import { startStratus, startWorker, type WorkerProcess } from '../../test/helpers/stratus.js';
import { ROLE } from '../functions.js';
import { log, onCleanup, tempDir } from '../harness.js';
import { check, Series, type Scenario } from '../scenario.js';
import { STRATUS_ARGS } from '../targets.js';

const PEER_SHARE_TARGET = 0.9;

interface Tiers {
  local: number;
  peer: number;
  store: number;
  peerBytes: number;
  storeBytes: number;
}

interface BenchWorker {
  id: string;
  metricsUrl: string;
}

/** Where the round runs: a Lambda API and a way to add a 512 MB worker of one zone. */
interface Bed {
  lambda: LambdaClient;
  worker(id: string): Promise<BenchWorker>;
  stop(): Promise<void>;
}

async function tiers(w: BenchWorker): Promise<Tiers> {
  if (!w.metricsUrl) throw new Error(`worker ${w.id} printed no metrics URL`);
  const m = new Scrape(await parseExposition(await (await fetch(w.metricsUrl)).text()));
  const v = (name: string, tier: string) => m.value(name, { worker: w.id, tier });
  return {
    local: v('stratus_chunk_fetches_total', 'local'), peer: v('stratus_chunk_fetches_total', 'peer'), store: v('stratus_chunk_fetches_total', 'store'),
    peerBytes: v('stratus_chunk_fetched_bytes_total', 'peer'), storeBytes: v('stratus_chunk_fetched_bytes_total', 'store'),
  };
}

async function coldStart(lambda: LambdaClient, fn: string): Promise<number> {
  const t0 = performance.now();
  const out = await lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from('{}') }));
  if (out.FunctionError) throw new Error(`${fn}: ${Buffer.from(out.Payload ?? []).toString()}`);
  return performance.now() - t0;
}

/** A cluster (3-member etcd, placement on a bridge) whose workers are local-hosts hosts. */
async function hostsBed(): Promise<Bed> {
  const cluster = await startHostCluster({ workerMemoryMb: 512, replicas: 1, frontends: 1 });
  return {
    lambda: cluster.lambda(0),
    async worker() {
      const w = await cluster.addHost('zone-bench');
      return { id: w.id, metricsUrl: w.metricsUrl() };
    },
    stop: () => cluster.stop(),
  };
}

/** A fresh `stratus up` (its in-process worker too small for the functions) and workers on loopback. */
async function loopbackBed(r: number): Promise<Bed> {
  const dir = await tempDir(`peer-chunks-${r}`);
  const proc = await startStratus({ dataDir: join(dir, 'stratus'), args: [...STRATUS_ARGS, '--log-level', 'warn', '--worker-memory-mb', '128'] });
  const workers: WorkerProcess[] = [];
  return {
    lambda: proc.lambda,
    async worker(id) {
      const w = await startWorker(proc, { id, memoryMb: 512, dataDir: join(dir, id), args: ['--zone', 'zone-bench', '--metrics-port', '0'] });
      workers.push(w);
      return { id, metricsUrl: /Metrics \(Prometheus\) on (\S+)/.exec(w.output())?.[1] ?? '' };
    },
    async stop() {
      for (const w of workers) await w.stop();
      await proc.stop();
    },
  };
}

/** One round: fresh workers of one zone with empty chunk caches. */
async function round(uri: string, r: number, hosts: boolean): Promise<{ coldA: number; coldB: number; a: Tiers; b: Tiers }> {
  const bed = hosts ? await hostsBed() : await loopbackBed(r);
  const stopBed = onCleanup(() => bed.stop());
  try {
    for (const fn of ['on-a', 'on-b']) {
      await bed.lambda.send(new CreateFunctionCommand({ FunctionName: fn, Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 512 }));
    }
    const a = await bed.worker('peer-a');
    const coldA = await coldStart(bed.lambda, 'on-a');
    // B joins with A as its zone peer; A has no room left, so on-b starts on B.
    const b = await bed.worker('peer-b');
    const coldB = await coldStart(bed.lambda, 'on-b');
    return { coldA, coldB, a: await tiers(a), b: await tiers(b) };
  } finally {
    await stopBed();
  }
}

export const peerChunks: Scenario = {
  id: 'peer-chunks',
  title: '8b. Chunk tiers: zone peers before the code store',
  standalone: true,
  async run(ctx) {
    // An image built here from the host's Node.js (no download): what a cold start reads of it is what moves between tiers.
    const layout = await ImageLayout.create();
    onCleanup(() => layout.remove());
    await layout.build('app', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': "export const handler = async () => ({ message: 'hello world' });\n" },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    const registry = await startRegistry();
    onCleanup(() => registry.stop());
    const uri = await layout.push('app', registry, 'bench/node:peers');
    const rounds = ctx.quick ? 1 : Math.min(ctx.rounds, 2);
    const hosts = (await canMakeHosts()).ok;
    const s = { coldA: new Series(), coldB: new Series(), peerMiB: new Series(), storeMiB: new Series(), storeMiBA: new Series() };
    const last: { a?: Tiers; b?: Tiers } = {};
    for (let r = 0; r < rounds; r++) {
      const res = await round(uri, r, hosts);
      s.coldA.add(r, res.coldA);
      s.coldB.add(r, res.coldB);
      s.storeMiBA.add(r, res.a.storeBytes / 2 ** 20);
      s.peerMiB.add(r, res.b.peerBytes / 2 ** 20);
      s.storeMiB.add(r, res.b.storeBytes / 2 ** 20);
      Object.assign(last, res);
      log(`peer-chunks: round ${r}: B took ${(res.b.peerBytes / 2 ** 20).toFixed(1)} MiB from A, ${(res.b.storeBytes / 2 ** 20).toFixed(1)} MiB from the store`);
    }
    const med = (x: Series) => x.summary().median;
    const share = med(s.peerMiB) / (med(s.peerMiB) + med(s.storeMiB));
    const rate = (t: Tiers | undefined) => {
      const all = t ? t.local + t.peer + t.store : 0;
      return (n: number) => (all > 0 ? `${((100 * n) / all).toFixed(1)}%` : 'n/a');
    };
    const [ra, rb] = [rate(last.a), rate(last.b)];
    return {
      method: [
        hosts
          ? 'Per round: a fresh cluster (3-member etcd, placement listening on a bridge, 1 assignment replica, 1 frontend) and two `stratus worker`s of one zone, each a `local-hosts` host (its own network namespace and address on the bridge: chunks move between them over veth and bridge), with empty chunk caches (512 MB each); two image functions (512 MB) of one Node.js image built from the host\'s node (test/helpers/oci.ts).'
          : 'Per round (not root, so no network namespaces): a fresh `stratus up` (its in-process worker too small for the functions), two `stratus worker`s of one zone on loopback with empty chunk caches (512 MB each), two image functions (512 MB) of one Node.js image built from the host\'s node (test/helpers/oci.ts).',
        'Cold start of the first function on worker A (the only worker), then of the second on worker B (A has no room): end to end through the Lambda API.',
        'Reads and bytes per tier from each worker\'s metrics (stratus_chunk_fetches_total, stratus_chunk_fetched_bytes_total).',
      ],
      tables: [
        { title: 'Chunk bytes by tier', rows: [
          s.storeMiBA.row('worker A (alone in its zone)', 'bytes from the code store', 'MiB'),
          s.peerMiB.row('worker B (A is its peer)', 'bytes from its zone peer', 'MiB'),
          s.storeMiB.row('worker B', 'bytes from the code store', 'MiB'),
          s.coldA.row('cold start on A (chunks from the store)', 'end to end', 'ms'),
          s.coldB.row('cold start on B (chunks from A)', 'end to end', 'ms'),
        ] },
        { title: 'Hit rates per tier (last round)', rows: [], plain: {
          header: ['Worker', 'local', 'peer', 'store'],
          cells: [['A', ra(last.a?.local ?? 0), ra(last.a?.peer ?? 0), ra(last.a?.store ?? 0)], ['B', rb(last.b?.local ?? 0), rb(last.b?.peer ?? 0), rb(last.b?.store ?? 0)]],
        } },
      ],
      checks: [
        check('8b. chunk tiers', `a second worker of the zone takes ≥ ${PEER_SHARE_TARGET * 100}% of its chunk bytes from its peer`,
          `${(share * 100).toFixed(1)}% (${med(s.peerMiB).toFixed(1)} MiB from the peer, ${med(s.storeMiB).toFixed(1)} MiB from the store)`, share >= PEER_SHARE_TARGET),
      ],
      notes: [],
    };
  },
};
