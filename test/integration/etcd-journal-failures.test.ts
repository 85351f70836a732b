// EtcdJournal against a real 3-member etcd cluster under failures: a leader process SIGKILLed
// (its lease runs out, a follower's campaign resolves), a leader cut off from etcd by a severed
// TCP proxy (it knows it lost before anyone else is elected), and losing quorum (the leadership
// reports 'no-quorum', not 'lost'; writes fail fast as JournalUnavailable; it heals), and a
// document watch cut off while the history it missed is compacted (it catches up).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdJournal, type Leadership, type LeadershipStanding } from '../../src/journal/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

const JOURNAL_MODULE = new URL('../../src/journal/index.js', import.meta.url).href;
const candidate = (id: string) => ({ id, address: `http://${id}` });

/** A separate node process that wins the election and then holds it until SIGKILLed. */
async function leaderProcess(endpoints: string[], prefix: string, ttlMs: number): Promise<{ pid: number; epoch: number; kill(): Promise<void> }> {
  const script = `
    const { EtcdJournal } = await import(${JSON.stringify(JOURNAL_MODULE)});
    const journal = new EtcdJournal({ endpoints: ${JSON.stringify(endpoints)}, prefix: ${JSON.stringify(prefix)} });
    const leadership = await journal.election('assignment', ${ttlMs}).campaign({ id: 'child', address: 'http://child' });
    console.log(JSON.stringify({ epoch: leadership.epoch }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const epoch = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { epoch: number }).epoch));
    child.once('exit', (code) => reject(new Error(`leader process exited (${code})`)));
  });
  return {
    pid: child.pid!, epoch,
    async kill() {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

async function waitForStanding(l: Leadership, want: LeadershipStanding, timeoutMs: number): Promise<LeadershipStanding[]> {
  const seen: LeadershipStanding[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = l.standing();
    if (seen.at(-1) !== s) seen.push(s);
    if (s === want) return seen;
    await sleep(25);
  }
  throw new Error(`standing did not become ${want} within ${timeoutMs} ms (saw ${seen.join(' -> ')})`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('EtcdJournal under failures (3-member etcd)', () => {
  const getCluster = useEtcdCluster({ members: 3 });

  it('elects a follower once a SIGKILLed leader process\'s lease runs out, with a greater epoch', async (t) => {
    const cluster = getCluster();
    const ttlMs = 1000;
    const prefix = freshPrefix('failover');
    const journal = new EtcdJournal({ endpoints: cluster.endpoints, prefix });
    const times: number[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        const leader = await leaderProcess(cluster.endpoints, prefix, ttlMs);
        const follower = journal.election('assignment', ttlMs).campaign(candidate(`f${round}`));
        await sleep(300 + 100 * round);
        const killedAt = performance.now();
        await leader.kill();
        const successor = await follower;
        times.push(performance.now() - killedAt);
        assert.ok(successor.epoch > leader.epoch, 'the successor has a greater epoch');
        await journal.assignmentLog.append({ by: 'new' }, successor);
        await successor.resign();
      }
    } finally {
      await journal.close();
    }
    t.diagnostic(`SIGKILL of the leader -> successor elected (ttl ${ttlMs} ms), ms: ${times.map((x) => x.toFixed(0)).join(', ')}; median ${median(times).toFixed(0)}`);
    assert.ok(times.every((x) => x < 10 * ttlMs), 'a successor is elected once the lease runs out');
  });

  it('a watch cut off while the history it missed is compacted catches up: every change, then the next ones', async () => {
    const cluster = getCluster();
    const prefix = freshPrefix('compacted');
    const member = new URL(cluster.endpoints[0]!);
    const proxy = await startTcpProxy({ host: member.hostname, port: Number(member.port) });
    const cutOff = new EtcdJournal({ endpoints: [proxy.url], prefix, callTimeoutMs: 1000 });
    const other = new EtcdJournal({ endpoints: cluster.endpoints, prefix });
    const admin = new Etcd3({ hosts: cluster.endpoints });
    try {
      for (const key of ['kept', 'changed', 'deleted']) assert.ok(await other.functions.create(key, { v: 1 }, `${key}-1`));
      const mirror = new Map<string, unknown>();
      const stop = await cutOff.functions.watch((key, doc) => (doc ? mirror.set(key, doc.value) : mirror.delete(key)));
      assert.ok(await other.functions.replace('kept', { v: 2 }, 'kept-2', 'kept-1'));
      await until(() => (mirror.get('kept') as { v: number } | undefined)?.v === 2, 'the watch follows before the cut');
      proxy.sever();
      assert.ok(await other.functions.replace('changed', { v: 2 }, 'changed-2', 'changed-1'));
      assert.ok(await other.functions.delete('deleted'));
      assert.ok(await other.functions.create('created', { v: 1 }, 'created-1'));
      const revision = Number((await admin.kv.range({ key: Buffer.from([0]) })).header.revision);
      await admin.kv.compact({ revision, physical: true });
      proxy.restore();
      await until(() => mirror.has('created') && !mirror.has('deleted') && (mirror.get('changed') as { v: number }).v === 2, 'the watch catches up after the compaction');
      assert.deepEqual(Object.fromEntries(mirror), { kept: { v: 2 }, changed: { v: 2 }, created: { v: 1 } });
      assert.ok(await other.functions.replace('created', { v: 2 }, 'created-2', 'created-1'));
      await until(() => (mirror.get('created') as { v: number }).v === 2, 'and follows what comes next');
      stop();
    } finally {
      admin.close();
      await other.close();
      await cutOff.close();
      await proxy.close();
    }
  });

  it('a leader cut off from etcd knows it lost within its TTL, before a successor is elected', async (t) => {
    const cluster = getCluster();
    const ttlMs = 1000;
    const prefix = freshPrefix('cutoff');
    const member = new URL(cluster.endpoints[0]!);
    const proxy = await startTcpProxy({ host: member.hostname, port: Number(member.port) });
    const cutOff = new EtcdJournal({ endpoints: [proxy.url], prefix, callTimeoutMs: 500 });
    const other = new EtcdJournal({ endpoints: cluster.endpoints, prefix });
    try {
      const a = await cutOff.election('assignment', ttlMs).campaign(candidate('a'));
      let lostAt = Infinity;
      void a.lost.then(() => (lostAt = performance.now()));
      const b = other.election('assignment', ttlMs).campaign(candidate('b')).then((l) => ({ l, at: performance.now(), aStanding: a.standing() }));
      await sleep(500);
      assert.equal(a.standing(), 'held');
      const severedAt = performance.now();
      proxy.sever();
      const elected = await b;
      assert.equal(elected.aStanding, 'lost', 'the old leader no longer holds when the successor is elected');
      assert.ok(lostAt < elected.at, 'the old leader learned it lost before the successor was elected');
      assert.ok(lostAt - severedAt <= ttlMs + 250, `lost ${(lostAt - severedAt).toFixed(0)} ms after the cut (TTL ${ttlMs})`);
      assert.ok(elected.l.epoch > a.epoch);
      await assert.rejects(other.assignmentLog.append({ by: 'a' }, a), { code: 'Fenced' });
      t.diagnostic(`cut off -> old leader lost after ${(lostAt - severedAt).toFixed(0)} ms, successor elected after ${(elected.at - severedAt).toFixed(0)} ms`);
      await elected.l.resign();
    } finally {
      await other.close();
      await cutOff.close();
      await proxy.close();
    }
  });

  it('without quorum a leadership is "no-quorum", not lost; writes fail fast; it heals with quorum', async (t) => {
    const cluster = getCluster();
    // With a 1 s TTL, a member may notice the loss of the raft leader only after up to 2 election
    // timeouts (1 s): then the local TTL can run out first and the leadership is (safely) lost.
    const ttlMs = 2000;
    const callTimeoutMs = 1000;
    const journal = new EtcdJournal({ endpoints: cluster.endpoints, prefix: freshPrefix('quorum'), callTimeoutMs });
    try {
      const l = await journal.election('assignment', ttlMs).campaign(candidate('a'));
      await journal.assignmentLog.append({ n: 1 }, l);
      await cluster.members[1]!.stop();
      await cluster.members[2]!.stop();
      const seen = await waitForStanding(l, 'no-quorum', 3 * ttlMs);
      assert.ok(!seen.includes('lost'), `standing went ${seen.join(' -> ')}`);
      const started = performance.now();
      await assert.rejects(journal.assignmentLog.append({ n: 2 }, l), { code: 'JournalUnavailable' });
      const appendMs = performance.now() - started;
      await assert.rejects(journal.functions.create('f', {}, 'r'), { code: 'JournalUnavailable' });
      assert.ok(appendMs < 3 * callTimeoutMs, `append failed after ${appendMs.toFixed(0)} ms`);
      await sleep(ttlMs);
      assert.equal(l.standing(), 'no-quorum', 'still no-quorum after a whole TTL without quorum');
      await cluster.members[1]!.start();
      await cluster.members[2]!.start();
      const healed = await waitForStanding(l, 'held', 10_000);
      assert.ok(!healed.includes('lost'), `standing went ${healed.join(' -> ')}`);
      await journal.assignmentLog.append({ n: 3 }, l);
      t.diagnostic(`no quorum: fenced append rejected after ${appendMs.toFixed(0)} ms (call timeout ${callTimeoutMs} ms)`);
      await l.resign();
    } finally {
      await journal.close();
    }
  });
});
