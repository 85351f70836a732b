// Scaling with traffic, end to end: a cluster whose placement starts its workers with the
// `local-hosts` provider (each a host of its own: network namespace, address on placement's
// bridge, cgroup, data directory) begins with one worker; a burst of invokes scales it out, and
// once the burst is over it drains and removes the extra workers, back to one. No invoke that
// was accepted fails, including those running while workers drain. Cold starts that find no room
// scale it out by themselves (the assignment leader's demand document), while reserved memory
// stays under the threshold; cold starts no worker could ever hold do not.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { canMakeHosts, LocalHostsProvider } from '../../src/placement/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const run = promisify(execFile);
const can = await canMakeHosts();
/** A hostile function with outbound network: what can it reach from a local-hosts worker? */
const PROBE = `
const net = require('net'); const https = require('https');
const tcp = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port }); const done = (r) => { s.destroy(); resolve(r); };
  s.setTimeout(3000, () => done('TIMEOUT')); s.once('connect', () => done('CONNECTED')); s.once('error', (e) => done(e.code));
});
const call = (url) => new Promise((resolve) => {
  const r = https.request(url, { method: 'POST', rejectUnauthorized: false, timeout: 3000 }, (res) => { res.resume(); resolve(res.statusCode); });
  r.once('error', (e) => resolve(e.code)); r.once('timeout', () => r.destroy(new Error('TIMEOUT'))); r.end('{}');
});
exports.handler = async (e) => ({
  etcdOnLoopback: await tcp('127.0.0.1', e.etcdPort), etcdOnTheBridge: await tcp(e.bridge, e.etcdPort), etcdViaGateway: await tcp('10.0.2.2', e.etcdPort),
  placementUnauthenticated: await call(e.placement + '/_stratus/cluster/v1/workers'),
});`;
const CODE = `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.sleep ?? 0)); return { ok: true }; };`;

interface HostsState { bridge: string; hosts: { id: string; netns: string; address: string; pid?: number }[] }

describe('fleet scaling with local-hosts workers', { skip: can.ok ? undefined : can.reason }, () => {
  let cluster: Cluster;
  let dataDir: string;
  let lambda: LambdaClient;
  const stateFile = () => join(dataDir, 'local-hosts', 'hosts.db');
  const hosts = async (): Promise<HostsState> => {
    const { net, hosts: recorded } = LocalHostsProvider.recorded(join(dataDir, 'local-hosts'));
    return { bridge: net?.bridge ?? '', hosts: recorded };
  };
  const metrics = async () => {
    const url = /Metrics \(Prometheus\) on (\S+)/.exec(cluster.placement.output())?.[1];
    return (await fetch(`${url}`)).text();
  };
  const placementLog = () => cluster.placement.output();
  const fleet = async (state: string) => Number(new RegExp(`stratus_fleet_workers\\{state="${state}"\\} (\\d+)`).exec(await metrics())?.[1] ?? NaN);
  const invoke = (sleep: number) => lambda.send(new InvokeCommand({ FunctionName: 'burst', Payload: Buffer.from(JSON.stringify({ sleep })) }));
  const outcomes = { ok: 0, throttled: 0, failed: [] as string[] };
  const count = (p: Promise<{ FunctionError?: string }>) => p.then(
    (r) => (r.FunctionError ? outcomes.failed.push(r.FunctionError) : outcomes.ok++),
    (err: Error) => (err.name === 'TooManyRequestsException' ? outcomes.throttled++ : outcomes.failed.push(`${err.name}: ${err.message}`)),
  );

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-fleet-'));
    cluster = await startCluster({
      workers: 0, replicas: 2, frontends: 1, keepAliveMs: 3000,
      placementArgs: [
        '--data-dir', dataDir, '--worker-provider', 'local-hosts', '--fleet-min', '1', '--fleet-max', '4', '--fleet-zones', 'zone-a,zone-b',
        '--fleet-scale-out-above', '0.7', '--fleet-scale-in-below', '0.3', '--fleet-sustain-ms', '1000', '--fleet-drain-max-ms', '600000',
        '--worker-memory-mb', '512', '--heartbeat-ms', '300',
      ],
    });
    lambda = cluster.lambda(0, { maxAttempts: 1 });
    await until(async () => (await fleet('active')) === 1, 'the minimum fleet of one worker', 60_000);
    await cluster.lambda(0).send(new CreateFunctionCommand({
      FunctionName: 'burst', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30, MemorySize: 128,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
  });
  after(async () => {
    const recorded = existsSync(stateFile()) ? await hosts() : undefined;
    await cluster?.stop();
    if (recorded) {
      // Placement stopped: everything local-hosts made is gone with it.
      const netns = (await run('ip', ['netns', 'list'])).stdout;
      assert.deepEqual(recorded.hosts.filter((h) => netns.includes(h.netns)), []);
      assert.equal(await run('ip', ['link', 'show', recorded.bridge]).then(() => true, () => false), false);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a burst scales the fleet out from one worker, each worker a host of its own on the bridge', async () => {
    const first = (await hosts()).hosts;
    assert.equal(first.length, 1);
    let stop = false;
    // Waves of 12 concurrent 2-second invokes: 3 workers' worth of 128 MB environments on 512 MB workers.
    const burst = (async () => {
      while (!stop) await Promise.all(Array.from({ length: 12 }, () => count(invoke(2000))));
    })();
    try {
      await until(async () => (await fleet('active')) >= 3, 'the fleet to grow to 3 workers', 90_000);
    } finally {
      stop = true;
      await burst;
    }
    const grown = (await hosts()).hosts;
    assert.ok(grown.length >= 3);
    assert.equal(new Set(grown.map((h) => h.address)).size, grown.length, 'each host its own address');
    assert.ok(grown.every((h) => h.address.startsWith('10.213.')));
    assert.match(await metrics(), /stratus_fleet_decisions_total\{action="scale-out"\} [3-9]/);
    assert.ok(outcomes.ok > 0);
    assert.deepEqual(outcomes.failed, [], 'no accepted invoke failed');
  });

  test('after the burst the fleet drains back to one worker; invokes running meanwhile all succeed', async () => {
    // A trickle while the scale-in begins: whichever worker serves it, none is removed under it.
    for (let i = 0; i < 15; i++) await count(invoke(300));
    await until(async () => (await fleet('active')) === 1 && (await fleet('draining')) === 0, 'the fleet back at one worker', 120_000);
    assert.equal((await hosts()).hosts.length, 1, 'the removed hosts are gone from the provider\'s record');
    assert.match(await metrics(), /stratus_fleet_decisions_total\{action="removed"\} [2-9]/);
    assert.deepEqual(outcomes.failed, [], 'no accepted invoke failed, draining included');
    const r = await invoke(0);
    assert.equal(r.StatusCode, 200, 'the remaining worker serves');
  });

  test('attack: cold starts of a function larger than any worker are refused and do not grow the fleet', async () => {
    await until(async () => (await fleet('active')) === 1 && (await fleet('starting')) === 0, 'a fleet of one worker', 60_000);
    await cluster.lambda(0).send(new CreateFunctionCommand({
      FunctionName: 'huge', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30, MemorySize: 1024,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
    const mark = placementLog().length;
    const outs = await Promise.all(Array.from({ length: 8 }, () => lambda.send(new InvokeCommand({ FunctionName: 'huge', Payload: Buffer.from('{}') })).then(() => 'ok', (err: Error) => err.name)));
    // Each waited for room (the capacity wait, 10 s) in which the scaler looked ~10 times.
    assert.deepEqual(new Set(outs), new Set(['TooManyRequestsException']));
    assert.equal(await fleet('active') + await fleet('starting'), 1, 'no worker was started for them');
    assert.doesNotMatch(placementLog().slice(mark), /fleet: adding a worker/);
  });

  test('cold starts that find no room scale the fleet out while reserved memory stays under the threshold', async () => {
    // 320 MB environments on 512 MB workers: one fits (0.625 reserved, under 0.7), a second finds no room.
    await cluster.lambda(0).send(new CreateFunctionCommand({
      FunctionName: 'wide', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30, MemorySize: 320,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
    await until(async () => /^stratus_fleet_reserved_ratio(\{\})? 0$/m.test(await metrics()), 'the burst\'s idle environments reclaimed', 60_000);
    const mark = placementLog().length;
    let stop = false;
    const waves = (async () => {
      while (!stop) await Promise.all(Array.from({ length: 2 }, () => count(lambda.send(new InvokeCommand({ FunctionName: 'wide', Payload: Buffer.from(JSON.stringify({ sleep: 2000 })) })))));
    })();
    try {
      await until(async () => (await fleet('active')) >= 2, 'the fleet to grow to 2 workers', 60_000);
    } finally {
      stop = true;
      await waves;
    }
    const outs = placementLog().slice(mark).split('\n').filter((l) => l.includes('fleet: adding a worker')).map((l) => JSON.parse(l) as { reason: string; utilization: number });
    assert.ok(outs.length >= 1, 'a scale-out was decided');
    for (const o of outs) {
      assert.equal(o.reason, 'requests found no room');
      assert.ok(o.utilization < 0.7, `reserved memory under the threshold: ${o.utilization}`);
    }
    assert.deepEqual(outcomes.failed, [], 'no accepted invoke failed');
  });

  test('attack: a function with outbound network on a local-hosts worker reaches no etcd member on the host, and placement on the bridge refuses it without a worker credential', async () => {
    await cluster.lambda(0).send(new CreateFunctionCommand({
      FunctionName: 'probe', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': PROBE }) }, Tags: { 'stratus:network': 'outbound' },
    }));
    const bridge = new URL(cluster.placement.url).hostname;
    assert.match(bridge, /^10\.213\./, 'placement listens on the bridge');
    const out = await cluster.lambda(0).send(new InvokeCommand({
      FunctionName: 'probe', Payload: Buffer.from(JSON.stringify({ etcdPort: Number(new URL(cluster.etcd.endpoints[0] ?? '').port), bridge, placement: cluster.placement.url })),
    }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    const seen = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>;
    assert.notEqual(seen.etcdOnLoopback, 'CONNECTED', JSON.stringify(seen));
    assert.notEqual(seen.etcdOnTheBridge, 'CONNECTED', JSON.stringify(seen));
    assert.notEqual(seen.etcdViaGateway, 'CONNECTED', JSON.stringify(seen));
    assert.equal(seen.placementUnauthenticated, 401, JSON.stringify(seen));
  });
});
