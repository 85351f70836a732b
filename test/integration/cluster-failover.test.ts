// Stratus as a cluster on a real 3-member etcd: two frontends, three assignment replicas,
// placement and two workers, each its own process. The assignment leader is killed under load,
// cut off from etcd, and etcd loses a member and then its quorum; clients (the SDK with its
// default retries) must see at most a brief error burst, and warm environments stay warm.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { makeZip } from '../helpers/zip.js';

/** Each environment has an id and counts its invocations: n === 1 means a cold start. */
const CODE = `const id = require('crypto').randomUUID(); let n = 0;
exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.sleep ?? 0)); return { id, n: ++n }; };`;

interface Reply { id: string; n: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function invoke(lambda: LambdaClient, fn: string, sleepMs = 0): Promise<Reply> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify({ sleep: sleepMs })) }));
  if (out.FunctionError) throw new Error(`function error: ${Buffer.from(out.Payload ?? []).toString()}`);
  return JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Reply;
}

async function createFunction(lambda: LambdaClient, name: string): Promise<void> {
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30,
    Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
  }));
}

/** `clients` loops invoking through alternating frontends until stopped; records outcomes. */
function steadyLoad(cluster: Cluster, fn: string, clients: number) {
  const lambdas = cluster.frontends.map((_, i) => cluster.lambda(i));
  const replies: (Reply & { startedAt: number })[] = [];
  const errors: string[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; running; i++) {
      const lambda = lambdas[(c + i) % lambdas.length];
      if (!lambda) break;
      const startedAt = Date.now();
      await invoke(lambda, fn, 20).then((r) => replies.push({ ...r, startedAt }), (err: Error) => errors.push(`${err.name}: ${err.message}`));
    }
  });
  return {
    replies, errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** On a failure: what every role process warned about (for a run that cannot be repeated at will). */
function printWarnings(cluster: Cluster): void {
  for (const p of [...cluster.assignment, ...cluster.frontends, ...cluster.workers]) {
    const warnings = p.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l) || /leader|takeover/.test(l));
    console.log(`DIAG ${p.id}:\n${warnings.slice(-40).join('\n')}`);
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('a cluster on etcd', () => {
  let cluster: Cluster;

  before(async () => {
    // A 2 s lease (the default) rides out a quorum loss; with 1 s a quorum loss can look like a lost lease.
    cluster = await startCluster({ frontends: 2, replicas: 3, workers: 2, leaderTtlMs: 2000 });
    await waitFor('an assignment leader', () => cluster.leader());
    await createFunction(cluster.lambda(0), 'steady');
  });
  after(async () => {
    await cluster?.stop();
  });

  test('a function created through one frontend is served through the other, warm', async () => {
    const b = cluster.lambda(1);
    await waitFor('the function on frontend 1', () => b.send(new GetFunctionCommand({ FunctionName: 'steady' })));
    const first = await invoke(b, 'steady');
    const second = await invoke(cluster.lambda(0), 'steady');
    assert.equal(second.id, first.id, 'the second invoke, through the other frontend, reused the environment');
    assert.equal(second.n, first.n + 1);
  });

  test('SIGKILL of the assignment leader under load: a follower takes over at once, warm environments stay warm', async () => {
    const load = steadyLoad(cluster, 'steady', 4);
    await waitFor('every client warm', async () => (load.replies.length >= 20 ? true : undefined));
    const old = await waitFor('the leader', () => cluster.leader());
    const killedAt = Date.now();
    await old.kill();
    const next = await waitFor('a new leader', async () => {
      const l = await cluster.leader();
      return l && l !== old ? l : undefined;
    });
    const failoverMs = Date.now() - killedAt;
    const countAtTakeover = load.replies.length;
    await sleep(1500);
    await load.stop();
    const cold = load.replies.filter((r) => r.n === 1 && r.startedAt >= killedAt);
    try {
      assert.notEqual(next.id, old.id);
      assert.ok(failoverMs < 5000, `a follower led within ${failoverMs} ms`);
      assert.ok(load.replies.length > countAtTakeover, 'invokes went on after the takeover');
      assert.deepEqual(load.errors, [], 'the SDK retries absorbed the failover');
      assert.ok(cold.length <= 2, `no mass cold starts: ${cold.length} new environments after the kill`);
    } catch (err) {
      printWarnings(cluster);
      throw err;
    }
    const status = await next.status();
    const onWorkers = (await cluster.workerEnvironments()).reduce((a, b) => a + b, 0);
    assert.equal(onWorkers, status.environments, 'every sandbox on the workers is in the new leader\'s table (none orphaned)');
    console.log(`failover: new leader in ${failoverMs} ms; ${load.replies.length} invokes, ${load.errors.length} errors, ${cold.length} cold after the kill`);
  });

  test('a leader cut off from etcd stops granting before another is elected; two leaders never overlap', async () => {
    const old = await waitFor('the leader', () => cluster.leader());
    const load = steadyLoad(cluster, 'steady', 2);
    await sleep(500);
    let overlap = 0;
    let sawNew = false;
    for (const link of old.links) link.sever();
    const deadline = Date.now() + 8000;
    while (Date.now() < deadline && !sawNew) {
      const statuses = await Promise.all(cluster.assignment.map((r) => r.status().catch(() => undefined)));
      const granting = statuses.filter((s) => s?.role === 'leader' && s.standing === 'held');
      if (granting.length > 1) overlap++;
      sawNew = granting.some((s) => s?.id !== old.id);
      await sleep(20);
    }
    assert.ok(sawNew, 'another replica was elected');
    assert.equal(overlap, 0, 'never two granting leaders at once');
    const oldStatus = await old.status();
    assert.notEqual(oldStatus.role, 'leader', 'the cut-off replica no longer leads');
    for (const link of old.links) link.restore();
    await sleep(1000);
    await load.stop();
    if (load.errors.length > 0) printWarnings(cluster);
    assert.deepEqual(load.errors, [], 'clients did not notice');
    assert.equal((await old.status()).role, 'follower', 'reconnected, the old leader follows');
  });

  test('losing one etcd member changes nothing; losing quorum refuses cold starts clearly, warm invokes go on, and it heals', async () => {
    const lambda = cluster.lambda(0);
    const once = cluster.lambda(0, { maxAttempts: 1 });
    const [m0, m1] = cluster.etcd.members;
    assert.ok(m0 && m1);
    await m0.stop();
    await createFunction(lambda, 'one-down');
    const first = await invoke(lambda, 'one-down');
    assert.equal(first.n, 1, 'a cold start (a journal write) with one member down');

    await m1.stop();
    const leader = await waitFor('the leader to see the quorum loss', async () => {
      for (const r of cluster.assignment) if ((await r.status().catch(() => undefined))?.standing === 'no-quorum') return r;
      return undefined;
    });
    const warm = await invoke(once, 'one-down').catch(async (err: Error) => {
      console.log('DIAG', JSON.stringify(await Promise.all(cluster.assignment.map((r) => r.status().catch((e: Error) => e.message)))));
      for (const r of cluster.assignment) console.log(`DIAG ${r.id}:\n${r.output().slice(-4000)}`);
      throw err;
    });
    assert.equal(warm.id, first.id, 'a warm invoke needs no journal write and works without quorum');
    const two = await Promise.allSettled([invoke(once, 'one-down', 1000), invoke(once, 'one-down', 1000)]);
    const refused = two.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    assert.equal(refused.length, 1, `one of two concurrent invokes needs a new environment: ${refused.map((e) => e.message)}`);
    assert.equal(refused[0]?.name, 'ServiceException');
    assert.match(refused[0]?.message ?? '', /quorum/);

    await m0.start();
    await m1.start();
    await waitFor('cold starts again', async () => {
      const results = await Promise.all([invoke(once, 'one-down', 500), invoke(once, 'one-down', 500)]);
      return results.length === 2 ? true : undefined;
    }, 20_000);
    assert.ok((await leader.status()).role === 'leader' || (await cluster.leader()) !== undefined, 'a leader grants again');
  });
});
