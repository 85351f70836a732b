/**
 * SnapStart in a cluster (issue 19): a real 3-member etcd, placement, one assignment replica, one
 * frontend and two `stratus worker`s. Each round publishes a new SnapStart version (a heavier
 * init: a 200,000-entry Map), stops the worker that made its snapshot, and invokes the version:
 * its first cold start restores on the other worker, which fetches the snapshot's chunks from
 * etcd through its chunk cache. Measured: publish → OptimizationStatus On, the snapshot's size,
 * and that first cross-worker restore (end to end and its Restore Duration).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { Etcd3 } from 'etcd3';
import { startCluster, type Cluster } from '../../test/helpers/cluster.js';
import { makeZip } from '../../test/helpers/zip.js';
import { sleep } from '../harness.js';
import { check, ms, Series, type Scenario } from '../scenario.js';

const FN = 'bench-snap-cluster';
const CODE = `
const table = new Map();
for (let i = 0; i < 200000; i++) table.set('k' + i, { i, text: 'row ' + i });
exports.handler = async () => ({ rows: table.size, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE });
`;

async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function snapshotsOn(cluster: Cluster, id: string): Promise<Set<string>> {
  const root = join(cluster.dir, id, 'worker', 'snapshots');
  const out = new Set<string>();
  for (const account of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, account)).catch(() => [] as string[])) out.add(name);
  }
  return out;
}

export const snapStartCluster: Scenario = {
  id: 'snapstart-cluster',
  title: '16. Cluster: SnapStart snapshots made on one worker, restored on another',
  standalone: true,
  async run(ctx) {
    const rounds = ctx.quick ? 2 : Math.max(4, ctx.rounds);
    const cluster = await startCluster({ frontends: 1, replicas: 1, workers: 2 });
    const etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
    const publish = new Series();
    const sizeMb = new Series();
    const endToEnd = new Series();
    const restore = new Series();
    let restored = 0;
    try {
      const lambda = cluster.lambda(0);
      await lambda.send(new CreateFunctionCommand({
        FunctionName: FN, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/bench', Handler: 'index.handler', MemorySize: 512, Timeout: 60,
        Code: { ZipFile: await makeZip({ 'index.js': CODE }) }, SnapStart: { ApplyOn: 'PublishedVersions' },
      }));
      for (let round = 0; round < rounds; round++) {
        if (round > 0) {
          await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: FN, Description: `round ${round}` }));
          await until(async () => (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: FN }))).LastUpdateStatus === 'Successful', 'the update');
        }
        const before = await Promise.all(cluster.workers.map((w) => snapshotsOn(cluster, w.id)));
        const t0 = performance.now();
        const version = (await lambda.send(new PublishVersionCommand({ FunctionName: FN }))).Version ?? '';
        const config = await until(async () => {
          const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: FN, Qualifier: version }));
          return c.State !== 'Pending' && c;
        }, 'the snapshot');
        publish.add(round, performance.now() - t0);
        if (config.SnapStart?.OptimizationStatus !== 'On') throw new Error(`SnapStart is ${config.SnapStart?.OptimizationStatus}: ${config.StateReason}`);
        const after = await Promise.all(cluster.workers.map((w) => snapshotsOn(cluster, w.id)));
        const makerIndex = after.findIndex((set, i) => [...set].some((s) => !before[i]?.has(s)));
        const maker = cluster.workers[makerIndex];
        if (!maker) throw new Error('no worker made the snapshot');
        const sha = [...(after[makerIndex] ?? [])].find((s) => !before[makerIndex]?.has(s)) ?? '';
        const manifest = JSON.parse((await etcd.get(`${cluster.prefix}images/sha256:${sha}`).string()) ?? '{}') as { size?: number };
        sizeMb.add(round, (manifest.size ?? 0) / 1024 / 1024);
        await maker.stop();
        await until(async () => (await etcd.getAll().prefix(`${cluster.prefix}docs/workers/${maker.id}`).keys()).length === 0, 'placement dropping the maker');
        const t1 = performance.now();
        const out = await lambda.send(new InvokeCommand({ FunctionName: FN, Qualifier: version, LogType: 'Tail', Payload: Buffer.from('{}') }));
        endToEnd.add(round, performance.now() - t1);
        const tail = Buffer.from(out.LogResult ?? '', 'base64').toString();
        const m = /\tRestore Duration: ([\d.]+) ms/.exec(tail);
        if (m) {
          restored++;
          restore.add(round, Number(m[1]));
        }
        await maker.respawn();
        await until(async () => (await etcd.getAll().prefix(`${cluster.prefix}docs/workers/`).keys()).length === 2, 'the maker back');
      }
    } finally {
      etcd.close();
      await cluster.stop();
    }
    const r = restore.summary();
    return {
      method: [
        'A 3-member etcd 3.4, placement, one assignment replica, one frontend and two `stratus worker`s, each its own process on loopback.',
        `${rounds} rounds: publish a new SnapStart version of a Node.js function (512 MB; init fills a 200,000-entry Map), wait until OptimizationStatus On, stop the worker that made the snapshot, invoke the version once (AWS SDK v3, LogType Tail), restart the stopped worker.`,
        'The invoke is the version\'s first cold start on the other worker: it reads the manifest, fetches the chunks from etcd through the control plane into its chunk cache, checks the tar\'s digest, unpacks it and restores with criu (no pre-restored clone yet).',
      ],
      tables: [{
        title: 'SnapStart across workers',
        rows: [
          publish.row('publish → OptimizationStatus On (checkpoint, transfer, chunked into etcd)', 'time', 'ms'),
          sizeMb.row('snapshot tar', 'size', 'MB'),
          endToEnd.row('first invoke on the other worker (fetch, unpack, restore)', 'latency', 'ms'),
          restore.row('its Restore Duration', 'time', 'ms'),
        ],
      }],
      checks: [
        check('16. snapstart-cluster', 'every first cold start on the other worker restores from the snapshot', `${restored} of ${rounds}`, restored === rounds),
      ],
      notes: [`Restore Duration median ${ms(r.median)}.`],
    };
  },
};
