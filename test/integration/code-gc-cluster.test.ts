// Code garbage collection in a real cluster: the placement process collects, in etcd, the code
// of a deleted function (its header and chunk keys), and then compacts etcd's history so the
// space is really returned; code another function still uses stays.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand } from '@aws-sdk/client-lambda';
import { Etcd3 } from 'etcd3';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createInput } from '../helpers/lambda-api.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

describe('code garbage collection in a cluster', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  before(async () => {
    cluster = await startCluster({ frontends: 1, replicas: 1, workers: 0, placementArgs: ['--code-gc-grace-ms', '1500'] });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
  });
  after(async () => {
    etcd?.close();
    await cluster?.stop();
  });

  it("a deleted function's code keys leave etcd and its history is compacted; code still used stays", async () => {
    const lambda = cluster.lambda(0);
    const gone = await makeZip({ 'index.js': 'exports.handler = async () => "deleted soon";\n', 'pad.bin': randomBytes(600 * 1024) });
    const kept = await makeZip({ 'index.js': 'exports.handler = async () => "kept";\n' });
    await lambda.send(new CreateFunctionCommand(createInput('doomed', gone)));
    await lambda.send(new CreateFunctionCommand(createInput('kept', kept)));
    const code = (zip: Buffer) => `${cluster.prefix}code/${createHash('sha256').update(zip).digest('hex')}`;
    const keysOf = (zip: Buffer) => etcd.getAll().prefix(code(zip)).keys();
    assert.ok((await keysOf(gone)).length >= 3, 'a header and (at least) two 512 KiB chunks');
    const before = Number((await etcd.kv.range({ key: Buffer.from(code(gone)) })).header.revision);

    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
    await until(async () => (await keysOf(gone)).length === 0, 'the collector deleting the code keys');
    await until(async () => etcd.kv.range({ key: Buffer.from(code(gone)), revision: before }).then(() => false, (err: unknown) => /compacted/.test(String(err))), 'the compaction past the deletion');
    assert.equal((await keysOf(kept)).length, 2, 'the other function\'s header and chunk');
    assert.equal((await lambda.send(new GetFunctionCommand({ FunctionName: 'kept' }))).Configuration?.CodeSize, kept.length);
  });
});
