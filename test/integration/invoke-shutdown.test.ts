// Stopping Stratus takes every sandbox with it: idle warm ones and one that is mid-invocation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { isAlive, startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const SLEEPER = `exports.handler = async (event) => {
  console.log('sleeping ' + event.sleepMs);
  await new Promise((r) => setTimeout(r, event.sleepMs));
  return { slept: event.sleepMs };
};`;

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('shutdown', () => {
  let s: StratusProcess | undefined;

  before(async () => {
    s = await startStratus();
  });

  after(async () => {
    await s?.stop();
  });

  test('after stop() no sandbox process seen while warm (or busy) is alive', async () => {
    const stratus = s;
    assert.ok(stratus);
    for (const name of ['shut-a', 'shut-b']) {
      await stratus.lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Timeout: 60,
        Code: { ZipFile: await makeZip({ 'index.js': SLEEPER }) },
      }));
    }
    const invoke = (name: string, sleepMs: number) =>
      stratus.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ sleepMs })) }));

    // Three idle warm sandboxes: two of shut-a (concurrent), one of shut-b.
    const warm = await Promise.all([invoke('shut-a', 300), invoke('shut-a', 300), invoke('shut-b', 0)]);
    assert.ok(warm.every((r) => r.StatusCode === 200 && r.FunctionError === undefined));
    // shut-b's sandbox then becomes busy in a long invocation that is running when Stratus stops.
    // Through its own client, so that stop() (which destroys the harness's client) cannot end it.
    const caller = new LambdaClient({ endpoint: stratus.url, region: 'us-east-1', credentials: stratus.credentials, maxAttempts: 1 });
    const busy = caller.send(new InvokeCommand({ FunctionName: 'shut-b', Payload: Buffer.from('{"sleepMs":30000}') })).then(
      (r) => `answered ${r.StatusCode}`,
      (e: unknown) => `failed: ${(e as Error).name}`,
    );
    await waitFor('the long invocation to start', () => stratus.output().includes('sleeping 30000'));

    const pids = await stratus.descendants();
    // Each bubblewrap sandbox shows at least two host processes (bwrap and the runtime).
    assert.ok(pids.length >= 6, `expected the processes of 3 sandboxes, saw ${pids.length}: ${pids.join(' ')}`);
    assert.ok(pids.every(isAlive));

    const stopping = stratus.stop();
    s = undefined;
    await stopping;
    assert.ok(!isAlive(stratus.pid), 'Stratus itself is still running');
    // Allow the kernel a moment to reap what was killed; nothing may remain.
    await waitFor('every sandbox process to be gone', () => pids.every((pid) => !isAlive(pid)), 3000)
      .catch(() => assert.fail(`still alive after stop(): ${pids.filter(isAlive).join(' ')}`));
    // The caller of the interrupted invoke gets an answer or an error at once, not a hang.
    const settled = await Promise.race([busy, new Promise((r) => setTimeout(() => r('still waiting'), 5000))]);
    caller.destroy();
    assert.notEqual(settled, 'still waiting', 'the in-flight invoke hangs after Stratus stopped');
  });
});
