// Schedules in a cluster: one frontend at a time holds the scheduler leadership (etcd) and fires;
// when it is SIGKILLed, another takes over once the lease runs out, and every due time (one
// before the kill, one during the failover, one after) fires exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { functionArn, SCHEDULER_ROLE, signedScheduler } from '../helpers/schedules.js';
import { makeZip } from '../helpers/zip.js';

const LEADS = 'this process leads the scheduler';
const atExpression = (ms: number) => `at(${new Date(ms).toISOString().slice(0, 19)})`;

describe('schedules in a cluster', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ functionLogs: 'stdout' });
  });
  after(() => cluster.stop());

  test('a leader failover neither loses nor doubles a firing', async () => {
    const lambda = cluster.lambda(0, { maxAttempts: 1 });
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'recorder', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::000000000000:role/lambda', Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) },
    }));
    const leaderIndex = await until(() => {
      const i = cluster.frontends.findIndex((f) => f.output().includes(LEADS));
      return i >= 0 ? i : undefined;
    }, 'a frontend to lead the scheduler', 30_000);
    const leader = cluster.frontends[leaderIndex]!;
    const follower = cluster.frontends[1 - leaderIndex]!;
    assert.ok(!follower.output().includes(LEADS), 'only one frontend leads');
    const api = { url: follower.url, credentials: cluster.credentials };
    const T = Math.ceil(Date.now() / 1000) * 1000 + 5000;
    const plan = { first: T, failover: T + 2000, later: T + 15_000 };
    for (const [name, atMs] of Object.entries(plan)) {
      const r = await signedScheduler(api, 'POST', `/schedules/${name}`, {
        ScheduleExpression: atExpression(atMs), FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: functionArn('000000000000', 'recorder'), RoleArn: SCHEDULER_ROLE, Input: JSON.stringify({ schedule: name, execution: '<aws.scheduler.execution-id>' }) },
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    const workerOutput = () => cluster.workers.map((w) => w.output()).join('\n');
    const fired = () => {
      const byName = new Map<string, Set<string>>();
      for (const r of recordsIn(workerOutput())) byName.set(String(r.schedule), (byName.get(String(r.schedule)) ?? new Set()).add(String(r.execution)));
      return byName;
    };
    await until(() => fired().has('first'), '"first" to fire', 30_000);
    await leader.kill();
    await until(() => follower.output().includes(LEADS), 'the other frontend to take the scheduler over', 30_000);
    await until(() => fired().has('later'), '"later" to fire after the failover', 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- follower:\n${follower.output()}\n--- workers:\n${workerOutput()}`);
    });
    const seen = fired();
    for (const name of Object.keys(plan)) assert.equal(seen.get(name)?.size, 1, `${name} fired once: ${[...(seen.get(name) ?? [])].join(', ')}`);
  });
});
