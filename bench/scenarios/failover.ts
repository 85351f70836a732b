/**
 * Cluster failover (issue 7): a real 3-member etcd, two frontends, three assignment replicas,
 * placement and two workers. Under steady invoke load the assignment leader is SIGKILLed, again
 * and again (the killed replica is restarted as a follower each time). Measured: the time from
 * the kill until a follower leads, the longest invoke during the failover, errors the clients
 * saw (AWS SDK v3, default retries) and new environments started after each kill. Then the same
 * for the placement leader (two placement replicas): the time from its SIGKILL until the other
 * replica leads and has adopted the workers.
 */
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { startCluster, type Cluster } from '../../test/helpers/cluster.js';
import { noopZip } from '../functions.js';
import { sleep } from '../harness.js';
import { check, ms, Series, type Scenario } from '../scenario.js';

const FN = 'bench-failover';
const TARGET_FAILOVER_MS = 2000;

interface Sample { ms: number; ok: boolean; cold: boolean; at: number }

function load(lambdas: LambdaClient[], clients: number) {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; running; i++) {
      const lambda = lambdas[(c + i) % lambdas.length];
      if (!lambda) return;
      const t0 = performance.now();
      const at = Date.now();
      try {
        const out = await lambda.send(new InvokeCommand({ FunctionName: FN, Payload: Buffer.from('{}'), LogType: 'Tail' }));
        const tail = Buffer.from(out.LogResult ?? '', 'base64').toString();
        samples.push({ ms: performance.now() - t0, ok: !out.FunctionError, cold: tail.includes('Init Duration'), at });
      } catch {
        samples.push({ ms: performance.now() - t0, ok: false, cold: false, at });
      }
    }
  });
  return { samples, stop: async () => { running = false; await Promise.all(loops); } };
}

/** The placement replica whose log shows it took over more often than `before` says (it logs after adopting the workers). */
async function placementTakeover(cluster: Cluster, before: Map<string, number>, not: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const next = cluster.placements.find((p) => p.id !== not && elections(p) > (before.get(p.id) ?? 0));
    if (next) return next;
    await sleep(10);
  }
  throw new Error(`no placement replica took over:\n${cluster.placements.map((p) => `--- ${p.id}\n${p.output().slice(-1500)}`).join('\n')}`);
}

const elections = (p: { output(): string }) => p.output().split('\n').filter((l) => l.includes('elected placement leader')).length;

async function leaderOf(cluster: Cluster, timeoutMs: number, not?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = await cluster.leader();
    if (leader && leader.id !== not) return leader;
    await sleep(10);
  }
  const statuses = await Promise.all(cluster.assignment.map((r) => r.status().catch((e: Error) => `${r.id}: ${e.message}`)));
  const logs = cluster.assignment.map((r) => `--- ${r.id}\n${r.output().slice(-1500)}`).join('\n');
  throw new Error(`no assignment leader: ${JSON.stringify(statuses)}\n${logs}`);
}

export const failover: Scenario = {
  id: 'failover',
  title: '6. Cluster: assignment leader failover under load',
  async run(ctx) {
    const kills = ctx.quick ? 2 : Math.max(5, ctx.rounds);
    const cluster = await startCluster({ frontends: 2, replicas: 3, workers: 2, leaderTtlMs: 1000, placements: 2 });
    const takeover = new Series();
    const placementTakeovers = new Series();
    const worst = new Series();
    let errors = 0;
    let coldAfterKills = 0;
    let invokes = 0;
    try {
      await leaderOf(cluster, 15_000);
      const lambdas = cluster.frontends.map((_, i) => cluster.lambda(i));
      await lambdas[0]?.send(new CreateFunctionCommand({
        FunctionName: FN, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/bench', Handler: 'index.handler', Code: { ZipFile: await noopZip() },
      }));
      const traffic = load(lambdas, 4);
      await sleep(2000);
      for (let k = 0; k < kills; k++) {
        const old = await leaderOf(cluster, 15_000);
        const from = traffic.samples.length;
        const killedAt = Date.now();
        await old.kill();
        await leaderOf(cluster, 15_000, old.id);
        takeover.add(k, Date.now() - killedAt);
        await sleep(1500);
        const during = traffic.samples.slice(from);
        worst.add(k, Math.max(...during.map((s) => s.ms)));
        errors += during.filter((s) => !s.ok).length;
        coldAfterKills += during.filter((s) => s.cold).length;
        await old.respawn();
        await sleep(1000);
      }
      // The placement leader: the replica that took over last (each replica logs every takeover).
      let placementLeader = cluster.placements.find((p) => elections(p) > 0);
      for (let k = 0; k < kills && placementLeader; k++) {
        const old = placementLeader;
        const before = new Map(cluster.placements.map((p) => [p.id, elections(p)]));
        const from = traffic.samples.length;
        const killedAt = Date.now();
        await old.kill();
        placementLeader = await placementTakeover(cluster, before, old.id, 15_000);
        placementTakeovers.add(k, Date.now() - killedAt);
        await sleep(1500);
        errors += traffic.samples.slice(from).filter((s) => !s.ok).length;
        await old.respawn();
        await sleep(1000);
      }
      await traffic.stop();
      invokes = traffic.samples.length;
    } finally {
      await cluster.stop();
    }
    const t = takeover.summary();
    return {
      method: [
        'A 3-member etcd 3.4 (heartbeat 50 ms, election timeout 500 ms, so the minimum lease TTL is 1 s), each Stratus role its own process on loopback; assignment leader lease 1 s.',
        `4 clients (AWS SDK v3, default retries) invoke a no-op function in a loop through both frontends; the leader is SIGKILLed ${kills} times, 1.5 s of load is observed after each takeover, then the killed replica is restarted as a follower.`,
        'Failover time: from the SIGKILL until another replica reports itself leader with its lease held (polled every 10 ms).',
        `Then the placement leader (of two placement replicas, lease 1 s) is SIGKILLed ${kills} times: from the SIGKILL until the other replica logs that it leads, which it does after adopting the recorded workers (polled every 10 ms); the killed replica is restarted as a follower.`,
      ],
      tables: [{
        title: 'Failover',
        rows: [
          takeover.row('kill → new leader', 'time', 'ms'),
          worst.row('slowest invoke around each kill', 'latency', 'ms'),
          placementTakeovers.row('placement: kill → new leader adopted the workers', 'time', 'ms'),
        ],
      }],
      checks: [
        check('6. failover', `a follower leads within ${TARGET_FAILOVER_MS} ms of the leader's SIGKILL (median)`, ms(t.median), t.median <= TARGET_FAILOVER_MS),
        check('6. failover', 'clients see no errors (SDK retries absorb the assignment and placement failovers)', `${errors} errors in ${invokes} invokes`, errors === 0),
        check('6. failover', 'warm environments stay warm (no mass cold starts)', `${coldAfterKills} cold starts after ${kills} kills`, coldAfterKills <= kills * 2),
      ],
      notes: [],
    };
  },
};
