// SnapStart in a cluster: the frontend that took PublishVersion makes the snapshot under the
// version's own election in etcd. SIGKILLed while it does, it leaves the version Pending with no
// live owner once its lease runs out; the other frontend then makes the snapshot, and the version
// becomes Active with OptimizationStatus On, restored by its first invoke.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { Etcd3 } from 'etcd3';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createInput } from '../helpers/lambda-api.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

/** An initialization of a few seconds: the snapshot is under way long enough to kill its frontend during it. */
const SLOW_INIT = `
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
const initId = require('node:crypto').randomUUID();
exports.handler = async () => ({ initId, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE });
`;

describe('SnapStart in a cluster: a Pending version whose frontend died', () => {
  let cluster: Cluster;
  let etcd: Etcd3;
  before(async () => {
    // A version Pending 3 s with no owner is taken over (15 s by default): the test waits less.
    cluster = await startCluster({ frontends: 2, replicas: 1, workers: 1, frontendArgs: ['--snapstart-orphan-ms', '3000'] });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
  });
  after(async () => {
    etcd?.close();
    await cluster?.stop();
  });

  /** The owners of versions' snapshots: election key → the owner's id. */
  const owners = async () => {
    const found = await etcd.getAll().prefix(`${cluster.prefix}elections/snapstart/`).strings();
    return Object.fromEntries(Object.entries(found).map(([key, value]) => [key.slice(cluster.prefix.length), (JSON.parse(value) as { id: string }).id]));
  };

  it('is made by the surviving frontend and becomes Active with OptimizationStatus On', async () => {
    const [maker, survivor] = cluster.frontends;
    assert.ok(maker && survivor);
    const viaMaker = cluster.lambda(0);
    const viaSurvivor = cluster.lambda(1);
    await viaMaker.send(new CreateFunctionCommand({ ...createInput('slow', await makeZip({ 'index.js': SLOW_INIT })), Timeout: 30, SnapStart: { ApplyOn: 'PublishedVersions' } }));
    const published = await viaMaker.send(new PublishVersionCommand({ FunctionName: 'slow' }));
    assert.equal(published.State, 'Pending');
    const owned = await until(async () => {
      const o = await owners();
      return Object.keys(o).length > 0 && o;
    }, 'the publishing frontend owning the snapshot');
    const [ownerKey] = Object.keys(owned);
    assert.match(ownerKey ?? '', /^elections\/snapstart\/\d{12}\/slow:1$/);
    assert.match(owned[ownerKey ?? ''] ?? '', new RegExp(`^frontend-.*-${maker.pid}$`), 'the frontend that took PublishVersion makes it');

    await maker.kill();
    const pending = await viaSurvivor.send(new GetFunctionConfigurationCommand({ FunctionName: 'slow', Qualifier: '1' }));
    assert.equal(pending.State, 'Pending', 'its maker died before recording it');
    const config = await until(async () => {
      const c = await viaSurvivor.send(new GetFunctionConfigurationCommand({ FunctionName: 'slow', Qualifier: '1' }));
      return c.State !== 'Pending' && c;
    }, 'another frontend to make the snapshot', 110_000);
    assert.equal(config.State, 'Active', `${config.StateReasonCode}: ${config.StateReason}`);
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    assert.match(survivor.output(), /Pending with no maker: making its snapshot here/, 'the survivor made it');
    await until(async () => Object.keys(await owners()).length === 0, 'the survivor resigning the version\'s election');

    const out = await viaSurvivor.send(new InvokeCommand({ FunctionName: 'slow', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
    assert.equal(out.FunctionError, undefined, log);
    assert.match(log, /\tRestore Duration: [\d.]+ ms/);
    assert.equal((JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { initType: string }).initType, 'snap-start');
  });
});
