// `stratus up --keep-alive-policy histogram` with real sandboxes: once a function's idle times
// are learnt, its environment is unloaded after each invoke and a new one is pre-warmed (booted
// through the normal path, before any invoke asks for it) just ahead of the next invoke.
// Bins of 1 s instead of a minute, so the pattern is learnt in under a minute.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `const initAt = Date.now(); const id = require('node:crypto').randomUUID();
exports.handler = async () => ({ initAt, id });`;
/** Idle times of the invokes it learns from: two clusters, 2 s and 6 s (head 2 s, tail 6 s). */
const GAPS_MS = [1000, 3000, 1000, 3000, 1000, 3000, 1000, 3000, 1000, 3000];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keep-alive: the histogram policy with real sandboxes', () => {
  let s: StratusProcess;
  let labels: Record<string, string>;
  before(async () => {
    s = await startStratus({ keepAliveMs: 600_000, args: ['--keep-alive-policy', 'histogram', '--keep-alive-bin-ms', '500', '--keep-alive-min-samples', '10'] });
    const created = await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'ka', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler',
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
    labels = { account: created.FunctionArn?.split(':')[4] ?? '', function: 'ka', version: '$LATEST', kind: 'boot' };
  });
  after(() => s.stop());

  const invoke = async () => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'ka' }));
    assert.equal(out.FunctionError, undefined);
    return JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { initAt: number; id: string };
  };
  const sandboxes = async () => (await s.descendants()).length;
  /** Environments of the function whose init completed (the first, then each pre-warmed one). */
  const inits = async () => new Scrape(await parseExposition(await (await fetch(s.metricsUrl)).text())).value('stratus_cold_starts_total', labels);

  test('an environment is unloaded after the invoke, pre-warmed before the next, and serves it warm', async () => {
    const first = await invoke();
    for (const gap of GAPS_MS) {
      await sleep(gap);
      assert.equal((await invoke()).id, first.id, 'while learning: kept by the fixed keep-alive (600 s)');
    }
    // The last invoke recorded the tenth idle time (--keep-alive-min-samples): the histogram is representative now, so its
    // environment was unloaded when it ended; a new one is booted 0.9 s (0.9 x 1 s) later and kept
    // to 3.85 s (1.1 x 3.5 s: idle times in 500 ms bins).
    await until(async () => (await sandboxes()) === 0, 'the environment to be unloaded after the invoke');
    assert.equal(await inits(), 1);
    await until(async () => (await inits()) === 2, 'an environment to be pre-warmed (its init done) with no invoke asking for it');
    const sentAt = Date.now();
    const next = await invoke();
    assert.notEqual(next.id, first.id, 'a new environment');
    assert.ok(next.initAt < sentAt, `initialized before the invoke was sent (${next.initAt} < ${sentAt})`);
    assert.equal(await inits(), 2, 'the invoke started no environment');
    await until(async () => (await sandboxes()) === 0, 'the pre-warmed environment to be unloaded after its invoke');
  });
});
