// SnapStart in a cluster: a published version is checkpointed on one worker, its snapshot stored
// chunked in etcd (the chunk store's chunks and a manifest, as images are), and its first invoke
// restores on the OTHER worker (the maker is stopped first), which fetches the chunks through its
// chunk cache. The collector keeps the snapshot's chunks while the version exists and collects
// them once it is deleted. A chunk tampered in etcd is refused by a worker that fetches it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { Etcd3 } from 'etcd3';
import { startCluster, snapshotMaker, unpackedSnapshots, type Cluster } from '../helpers/cluster.js';
import { createInput, publishSnapStarted } from '../helpers/lambda-api.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `
const crypto = require('node:crypto');
const initId = crypto.randomUUID();
let restored = 0;
awslambda.registerAfterRestore(async () => { restored++; });
exports.handler = async () => ({ initId, restored, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, uuid: crypto.randomUUID() });
`;

interface Answer { initId: string; restored: number; initType: string; uuid: string }

describe('SnapStart in a cluster', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  before(async () => {
    cluster = await startCluster({ frontends: 1, replicas: 1, workers: 2, placementArgs: ['--code-gc-grace-ms', '1500'] });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
  });
  after(async () => {
    etcd?.close();
    await cluster?.stop();
  });

  const snapshotsOn = (id: string) => unpackedSnapshots(cluster.dir, id);
  const keys = (prefix: string) => etcd.getAll().prefix(`${cluster.prefix}${prefix}`).keys();

  it('is made on one worker, stored chunked, restored on the other, and collected after the version is deleted', async () => {
    const lambda = cluster.lambda(0);
    await lambda.send(new CreateFunctionCommand({ ...createInput('snap', await makeZip({ 'index.js': CODE })), Timeout: 30, SnapStart: { ApplyOn: 'PublishedVersions' } }));
    await publishSnapStarted(lambda, 'snap', 90_000);

    // Made on exactly one worker; stored as a manifest named by the tar's digest and its chunks.
    const { maker, other, sha } = await snapshotMaker(cluster);
    const manifestKey = `${cluster.prefix}images/sha256:${sha}`;
    const manifest = JSON.parse((await etcd.get(manifestKey).string()) ?? 'null') as { chunks: string[]; size: number } | null;
    assert.ok(manifest, 'the snapshot manifest is in etcd');
    assert.ok(manifest.chunks.length >= 2, `a snapshot of ${manifest.size} bytes is several chunks`);
    for (const chunk of manifest.chunks) assert.ok(await etcd.get(`${cluster.prefix}chunks/${chunk}`).buffer(), `chunk ${chunk} is stored`);
    assert.equal((await keys(`code/${sha}`)).length, 0, 'not one code-store blob');

    // The maker leaves: the first invoke restores on the other worker, from the chunks.
    await maker.stop();
    await until(async () => (await keys(`docs/workers/${maker.id}`)).length === 0, 'placement dropping the stopped worker');
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'snap', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
    assert.equal(out.FunctionError, undefined, log);
    assert.match(log, /RESTORE_START Runtime Version/);
    assert.match(log, /\tRestore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms/);
    assert.doesNotMatch(log, /Init Duration/);
    const answer = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Answer;
    assert.equal(answer.initType, 'snap-start');
    assert.equal(answer.restored, 1, 'the after-restore hook ran in the clone');
    assert.notEqual(answer.uuid, answer.initId);
    assert.deepEqual(await snapshotsOn(other.id), [sha], 'the other worker unpacked the same snapshot');

    // GC: a sweep after the grace period (it collects another function's code) keeps the snapshot's chunks...
    const doomed = await makeZip({ 'index.js': 'exports.handler = async () => 1;\n', 'pad.bin': randomBytes(1024) });
    await lambda.send(new CreateFunctionCommand(createInput('doomed', doomed)));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    await until(async () => (await keys(`code/${createHash('sha256').update(doomed).digest('hex')}`)).length === 0, 'a sweep collecting the other code');
    assert.ok(await etcd.get(manifestKey).string(), 'the snapshot manifest is kept');
    for (const chunk of manifest.chunks) assert.ok(await etcd.get(`${cluster.prefix}chunks/${chunk}`).buffer(), `chunk ${chunk} is kept`);

    // Attack: a chunk tampered in the store. A fresh worker (no cached copy) refuses it, and the
    // cold start boots instead of restoring from it.
    const victim = manifest.chunks[1] ?? '';
    const original = await etcd.get(`${cluster.prefix}chunks/${victim}`).buffer();
    assert.ok(original);
    const tampered = Buffer.from(original);
    tampered[100] = (tampered[100] ?? 0) ^ 0xff;
    await etcd.put(`${cluster.prefix}chunks/${victim}`).value(tampered);
    const fresh = await cluster.addWorker('worker-fresh');
    await other.stop();
    await until(async () => (await keys(`docs/workers/${other.id}`)).length === 0, 'placement dropping the other worker');
    const booted = await lambda.send(new InvokeCommand({ FunctionName: 'snap', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
    const bootLog = Buffer.from(booted.LogResult ?? '', 'base64').toString();
    assert.equal(booted.FunctionError, undefined, bootLog);
    assert.match(bootLog, /\tInit Duration: [\d.]+ ms/, 'the cold start booted');
    assert.doesNotMatch(bootLog, /Restore Duration/);
    assert.notEqual((JSON.parse(Buffer.from(booted.Payload ?? []).toString()) as Answer).initType, 'snap-start');
    assert.deepEqual(await snapshotsOn(fresh.id), [], 'nothing of the tampered snapshot was unpacked');
    await etcd.put(`${cluster.prefix}chunks/${victim}`).value(original);

    // ...and once the version is deleted, its manifest and chunks go.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'snap', Qualifier: '1' }));
    await until(async () => !(await etcd.get(manifestKey).string()), 'the collector deleting the snapshot manifest');
    await until(async () => {
      for (const chunk of manifest.chunks) if (await etcd.get(`${cluster.prefix}chunks/${chunk}`).buffer()) return false;
      return true;
    }, 'the collector deleting the snapshot chunks');
  });
});
