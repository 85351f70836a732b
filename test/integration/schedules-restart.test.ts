// Schedules fire in a real `stratus up` and the function really runs; Stratus is then killed
// (SIGKILL) and restarted on its data directory, and every due time fires exactly once across
// the restart: one due before the kill, one due while Stratus is down, one due after the restart.
// Each firing has its own execution id (<aws.scheduler.execution-id> in the input), so a firing
// counts once even if its Event invoke is delivered twice (the async queue's at-least-once).
// Another account's schedule naming a function of its own that does not exist never reaches the
// administrator's function of that name.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { createAccount, keyOf } from '../helpers/accounts.js';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { functionArn, SCHEDULER_ROLE, signedScheduler } from '../helpers/schedules.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ADMIN = '000000000000';
const ARGS = ['--function-logs', 'stdout', '--event-claim-ms', '2000'];
const INPUT = (name: string) => JSON.stringify({ schedule: name, execution: '<aws.scheduler.execution-id>', time: '<aws.scheduler.scheduled-time>' });
/** `at()` of an instant (UTC, whole seconds). */
const atExpression = (ms: number) => `at(${new Date(ms).toISOString().slice(0, 19)})`;

describe('schedules across a SIGKILL of the single machine', () => {
  const started: StratusProcess[] = [];
  let dataDir = '';
  after(async () => {
    for (const s of started) await s.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('each due time fires exactly once: before the kill, while down, and after the restart', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-schedules-restart-'));
    const credentials = { accessKeyId: 'AKIASTRATUSSCHEDULE', secretAccessKey: 'schedule-secret' };
    const first = await startStratus({ dataDir, credentials, args: ARGS });
    started.push(first);
    await first.lambda.send(new CreateFunctionCommand({
      FunctionName: 'recorder', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::000000000000:role/lambda', Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': RECORDER }) },
    }));
    const intruder = await createAccount(first.url, credentials, 'intruder');

    const T = Math.ceil(Date.now() / 1000) * 1000 + 5000;
    const plan = { before: T, attack: T + 1000, during: T + 5000, after: T + 20_000 };
    const schedule = async (s: StratusProcess, name: string, atMs: number, extra: Record<string, unknown> = {}, account = ADMIN, key = credentials) => {
      const r = await signedScheduler(s, 'POST', `/schedules/${name}`, {
        ScheduleExpression: atExpression(atMs), FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: functionArn(account, 'recorder'), RoleArn: SCHEDULER_ROLE, Input: INPUT(name) }, ...extra,
      }, key);
      assert.equal(r.status, 200, `create ${name}: ${JSON.stringify(r.json)}`);
    };
    await schedule(first, 'before', plan.before);
    await schedule(first, 'during', plan.during, { ActionAfterCompletion: 'DELETE' });
    await schedule(first, 'after', plan.after);
    await schedule(first, 'attack', plan.attack, {}, intruder.AccountId, keyOf(intruder));
    assert.ok(Date.now() < plan.before, 'the schedules were created before their times');

    const fired = (...outputs: string[]) => {
      const byName = new Map<string, Set<string>>();
      for (const r of recordsIn(...outputs)) {
        const set = byName.get(String(r.schedule)) ?? new Set<string>();
        set.add(`${String(r.execution)}@${String(r.time)}`);
        byName.set(String(r.schedule), set);
      }
      return byName;
    };
    await until(() => fired(first.output()).has('before'), '"before" to fire in the first process', 30_000);
    await first.kill();
    assert.ok(!fired(first.output()).has('during'), '"during" was not due before the kill');
    await until(() => Date.now() > plan.during + 500 || undefined, '"during" to fall due while Stratus is down', 30_000);

    const second = await startStratus({ dataDir, credentials, args: ARGS });
    started.push(second);
    const all = () => fired(first.output(), second.output());
    await until(() => all().has('after'), '"after" to fire after the restart', 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- before the kill:\n${first.output()}\n--- after the restart:\n${second.output()}`);
    });
    const seen = all();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
    for (const name of ['before', 'during', 'after'] as const) {
      const firings = [...(seen.get(name) ?? [])];
      assert.equal(firings.length, 1, `${name} fired once: ${firings.join(', ')}`);
      assert.ok(firings[0]!.endsWith(`@${iso(plan[name])}`), `${name} fired for its due time: ${firings[0]}`);
    }
    assert.equal(seen.get('attack'), undefined, "the intruder's schedule never ran the administrator's function");
    assert.match(first.output() + second.output(), new RegExp(`"account":"${intruder.AccountId}","schedule":"default/attack".*"outcome":"dropped"`), 'it fired, with nothing to invoke');
    // Firing is in due order, and "after" is last: anything fired again would have shown by now.
    assert.equal((await signedScheduler(second, 'GET', '/schedules/during')).type, 'ResourceNotFoundException', 'ActionAfterCompletion DELETE removed it');
    assert.equal((await signedScheduler(second, 'GET', '/schedules/before')).json.State, 'ENABLED', 'NONE keeps a completed schedule');
  });
});
