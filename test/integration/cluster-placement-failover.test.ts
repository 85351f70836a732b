// Placement replicated: a real 3-member etcd, three placement replicas (one leader elected in
// etcd), an assignment replica, a frontend and two `stratus worker`s given every placement URL.
// The placement leader is SIGKILLed under invokes: a follower takes over, adopts the workers and
// no worker is lost (the directory never loses an entry), warm environments stay warm and the
// SDK's retries absorb the failover. Then a leader paused past its lease (SIGSTOP) and resumed
// finds its own leases run out: fenced, it expires nobody and deletes nothing. A follower refuses
// forged heartbeats as the leader does, and points only the worker itself to the leader.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { EtcdJournal, type Candidate } from '../../src/journal/index.js';
import { sendHeartbeat, workerAuthorization, type WorkerBundle, type WorkerDocument } from '../../src/placement/index.js';
import { isStratusError } from '../../src/shared/errors.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/role-process.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `const id = require('crypto').randomUUID(); let n = 0;
exports.handler = async () => { await new Promise((r) => setTimeout(r, 20)); return { id, n: ++n }; };`;
/**
 * The placement replicas' lease for a worker: Stratus's default. Not the helper's 1.5 s: a worker
 * still following a paused leader spends its heartbeat's 1 s timeout there before it finds the
 * successor, which on a loaded machine came close to a 1.5 s lease.
 */
const LEASE_MS = 3000;

interface Reply { id: string; n: number; startedAt: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function invoke(lambda: LambdaClient): Promise<{ id: string; n: number }> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: 'steady', Payload: Buffer.from('{}') }));
  if (out.FunctionError) throw new Error(`function error: ${Buffer.from(out.Payload ?? []).toString()}`);
  return JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { id: string; n: number };
}

function steadyLoad(lambda: LambdaClient, clients: number) {
  const replies: Reply[] = [];
  const errors: string[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const startedAt = Date.now();
      await invoke(lambda).then((r) => replies.push({ ...r, startedAt }), (err: Error) => errors.push(`${err.name}: ${err.message}`));
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

describe('placement replicas on etcd', () => {
  let cluster: Cluster;
  let journal: EtcdJournal;
  /** Worker directory entries deleted while the tests ran (each would be a worker lost). */
  const deleted: string[] = [];
  let unwatch: () => void = () => undefined;

  const leaderRecorded = () => journal.election('placement', 1000).leader();
  const replica = (c: Candidate | undefined) => cluster.placements.find((p) => p.id === c?.id);
  const directory = async () => (await journal.workers.list()).map((d) => d.value as WorkerDocument).map((w) => `${w.id} ${w.url}`).sort();
  /** Environments the assignment leader destroyed because they (or their worker) were lost. */
  const destroyedAsLost = async () => (await journal.assignmentLog.readAfter(0, 100_000))
    .map((e) => e.entry as { type: string; envId: string; reason?: string })
    .filter((e) => e.type === 'destroyed' && /lost/.test(e.reason ?? ''));
  const elected = (p: RoleProcess) => p.output().split('\n').filter((l) => l.includes('elected placement leader')).length;
  const diag = () => {
    for (const p of [...cluster.placements, ...cluster.workers, ...cluster.assignment]) {
      console.log(`DIAG ${p.id}:\n${p.output().split('\n').filter((l) => /"level":(40|50|60)|leader/.test(l)).slice(-30).join('\n')}`);
    }
  };

  before(async () => {
    cluster = await startCluster({ placements: 3, replicas: 1, frontends: 1, workers: 2, leaderTtlMs: 1000, placementArgs: ['--lease-ms', String(LEASE_MS)] });
    journal = new EtcdJournal({ endpoints: cluster.etcd.endpoints, prefix: cluster.prefix });
    unwatch = await journal.workers.watch((key, doc) => {
      if (!doc) deleted.push(key);
    });
    await until(async () => (await directory()).length === 2, 'both workers in the directory');
    await cluster.lambda(0).send(new CreateFunctionCommand({
      FunctionName: 'steady', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
  });
  after(async () => {
    unwatch();
    await journal?.close();
    await cluster?.stop();
  });

  test('one replica leads; a heartbeat goes only to it and the followers take none', async () => {
    const leader = replica(await until(leaderRecorded, 'a placement leader'));
    assert.ok(leader, 'the recorded leader is one of the replicas');
    assert.deepEqual(cluster.placements.map(elected), cluster.placements.map((p) => (p === leader ? 1 : 0)), 'exactly one replica was elected');
    for (const p of cluster.placements.filter((q) => q !== leader)) {
      assert.doesNotMatch(p.output(), /worker joined/, `follower ${p.id} registered no worker`);
    }
    assert.match(leader.output(), /worker joined/);
  });

  test('attack: a follower refuses a heartbeat under another worker\'s id or without a worker credential as any leader does, and names the leader only to the worker itself', async () => {
    const leader = replica(await until(leaderRecorded, 'a placement leader'));
    const follower = cluster.placements.find((p) => p !== leader);
    assert.ok(leader && follower);
    const bundle = JSON.parse(await readFile(join(cluster.dir, 'worker-0.json'), 'utf8')) as WorkerBundle;
    const asWorker0 = new InternalClient({ authorization: workerAuthorization(bundle), ca: bundle.caCertificate });
    const asControlPlane = new InternalClient(cluster.controlPlane);
    const stranger = new InternalClient({ authorization: 'Bearer not-a-credential', ca: bundle.caCertificate });
    const status = (id: string) => ({ id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] });
    const url = cluster.workers[0]?.url ?? '';
    const refusedWith = (code: string, reason?: string) => (err: unknown) =>
      isStratusError(err) && err.code === code && (reason === undefined || err.details.reason === reason) && err.details.leader === undefined;
    try {
      await assert.rejects(sendHeartbeat(asWorker0, follower.url, { id: 'worker-1', url, status: status('worker-1') }, 5000), refusedWith('Forbidden', 'NotPermitted'));
      await assert.rejects(sendHeartbeat(asControlPlane, follower.url, { id: 'worker-0', url, status: status('worker-0') }, 5000), refusedWith('Forbidden', 'UnknownCredential'));
      await assert.rejects(sendHeartbeat(stranger, follower.url, { id: 'worker-0', url, status: status('worker-0') }, 5000), refusedWith('Forbidden', 'UnknownCredential'));
      // The worker itself is sent on to the leader.
      await assert.rejects(sendHeartbeat(asWorker0, follower.url, { id: 'worker-0', url, status: status('worker-0') }, 5000),
        (err: unknown) => isStratusError(err) && err.code === 'NotLeader' && err.details.leader === leader.url);
      assert.deepEqual(deleted, []);
    } finally {
      for (const c of [asWorker0, asControlPlane, stranger]) c.close();
    }
  });

  test('SIGKILL of the placement leader under invokes: a follower adopts the workers, none is lost, invokes go on warm', async () => {
    const lambda = cluster.lambda(0);
    const load = steadyLoad(lambda, 2);
    await until(() => load.replies.length >= 20, 'warm invokes');
    const before = await directory();
    const warm = new Set(load.replies.map((r) => r.id));
    const old = replica(await leaderRecorded());
    assert.ok(old);
    const killedAt = Date.now();
    await old.kill();
    const next = await until(async () => {
      const r = replica(await leaderRecorded());
      return r && r !== old && elected(r) > 0 ? r : undefined;
    }, 'a new placement leader', 20_000);
    const failoverMs = Date.now() - killedAt;
    // Two lease periods after the takeover: a worker whose heartbeats did not reach the new leader would have run out by then.
    await sleep(2 * LEASE_MS);
    await load.stop();
    try {
      assert.notEqual(next.id, old.id);
      assert.deepEqual(deleted, [], 'no worker left the directory: none was lost');
      assert.deepEqual(await directory(), before, 'the directory is the same two workers, at the same addresses');
      assert.match(next.output(), /worker joined|elected placement leader/);
      assert.deepEqual(load.errors, [], 'the SDK retries absorbed the failover (if anything)');
      const after = load.replies.filter((r) => r.startedAt > killedAt);
      assert.ok(after.length > 0, 'invokes went on after the kill');
      assert.deepEqual(await destroyedAsLost(), [], 'the assignment log destroyed no environment as lost');
      assert.ok(after.some((r) => warm.has(r.id)), 'environments warm before the kill served invokes after it');
    } catch (err) {
      diag();
      throw err;
    }
    console.log(`placement failover: new leader ${next.id} in ${failoverMs} ms; ${load.replies.length} invokes, ${load.errors.length} errors`);
  });

  test('fencing: a leader paused past its lease and resumed deletes nothing and expires nobody; the workers follow the new leader', async () => {
    const paused = replica(await until(leaderRecorded, 'the placement leader'));
    assert.ok(paused);
    const lostBefore = paused.output().split('\n').filter((l) => l.includes('placement leadership lost')).length;
    process.kill(paused.pid, 'SIGSTOP');
    let resumed = false;
    try {
      const next = await until(async () => {
        const r = replica(await leaderRecorded());
        return r && r !== paused ? r : undefined;
      }, 'a successor while the leader is paused', 20_000);
      // Paused well past the workers' leases as the paused replica counts them: on waking, every one has run out.
      await sleep(2 * LEASE_MS);
      process.kill(paused.pid, 'SIGCONT');
      resumed = true;
      await until(() => paused.output().split('\n').filter((l) => l.includes('placement leadership lost')).length > lostBefore, 'the resumed replica to notice', 10_000);
      // Its lease sweep runs at a quarter of the lease: give it several turns to (wrongly) expire someone.
      await sleep(LEASE_MS);
      assert.deepEqual(deleted, [], 'the deposed leader deleted no directory entry');
      assert.deepEqual(await destroyedAsLost(), [], 'no environment was lost');
      assert.equal((await directory()).length, 2, 'both workers are still in the directory');
      assert.doesNotMatch(paused.output(), /"msg":"worker lease expired"/, 'the deposed leader expired no worker');
      assert.equal((await leaderRecorded())?.id, next.id, 'the successor still leads');
      const invoked = await invoke(cluster.lambda(0));
      assert.ok(invoked.n > 1, 'invokes still run warm');
    } catch (err) {
      diag();
      throw err;
    } finally {
      if (!resumed) process.kill(paused.pid, 'SIGCONT');
    }
  });
});
