// SnapStart for a container-image function in a cluster: the version is checkpointed on one
// worker, and after that worker is stopped its first invoke restores on the OTHER worker, which
// mounts the image itself (its own lazy mount, a path of its own) and restores the clone onto it.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { publishSnapStarted } from '../helpers/lambda-api.js';
import { Etcd3 } from 'etcd3';
import { startCluster, snapshotMaker, unpackedSnapshots, type Cluster } from '../helpers/cluster.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { until } from '../helpers/wait.js';

const HANDLER = `
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
const initId = randomUUID();
let restored = 0;
awslambda.registerAfterRestore(() => { restored++; });
export const handler = async () => ({ initId, restored, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, data: readFileSync('/var/task/data.txt', 'utf8') });
`;

interface Answer { initId: string; restored: number; initType: string; data: string }

describe('SnapStart for container images in a cluster', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let uri = '';
  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': HANDLER, '/var/task/data.txt': 'from the image' },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    uri = await layout.push('v1', registry, 'stratus/snap:v1');
    cluster = await startCluster({ frontends: 1, replicas: 1, workers: 2 });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
  });
  after(async () => {
    etcd?.close();
    await cluster?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  const snapshotsOn = (id: string) => unpackedSnapshots(cluster.dir, id);
  /** Images mounted by worker `id` (their digests). */
  const imagesOn = async (id: string) => {
    const root = join(cluster.dir, id, 'worker', 'images');
    const found: string[] = [];
    for (const account of await readdir(root).catch(() => [] as string[])) found.push(...(await readdir(join(root, account)).catch(() => [] as string[])));
    return found.filter((name) => /^[0-9a-f]{16}$/.test(name));
  };

  it('is made on one worker and restored on the other, onto that worker\'s own mount of the image', async (t) => {
    const lambda = cluster.lambda(0);
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'snap-img', Role: 'arn:aws:iam::123456789012:role/r', PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 256, Timeout: 30,
      SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    const publishedAt = Date.now();
    await publishSnapStarted(lambda, 'snap-img', 100_000);
    t.diagnostic(`publish-version to OptimizationStatus On: ${Date.now() - publishedAt} ms`);

    const { maker, other, sha } = await snapshotMaker(cluster);
    assert.equal((await imagesOn(other.id)).length, 0, 'the other worker has not mounted the image yet');

    await maker.stop();
    await until(async () => (await etcd.getAll().prefix(`${cluster.prefix}docs/workers/${maker.id}`).keys()).length === 0, 'placement dropping the stopped worker');
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'snap-img', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
    assert.equal(out.FunctionError, undefined, log);
    assert.match(log, /RESTORE_START Runtime Version/);
    assert.match(log, /\tRestore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms/);
    assert.doesNotMatch(log, /Init Duration/);
    t.diagnostic(`first restore on the other worker: Restore Duration ${/Restore Duration: ([\d.]+)/.exec(log)?.[1]} ms`);
    const answer = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Answer;
    assert.equal(answer.initType, 'snap-start');
    assert.equal(answer.restored, 1, 'the after-restore hook ran in the clone');
    assert.equal(answer.data, 'from the image');
    assert.deepEqual(await snapshotsOn(other.id), [sha], 'the other worker unpacked the same snapshot');
    assert.equal((await imagesOn(other.id)).length, 1, 'and mounted the image itself');
  });
});
