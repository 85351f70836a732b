// SnapStart on one machine: a version still Pending when `stratus up` stops, gracefully
// (SIGTERM) or not (SIGKILL), while its snapshot is being made, does not stay Pending: the next
// start makes it, and it becomes Active with OptimizationStatus On (Lambda: a version is Pending,
// then Active or Failed). A stop that cuts the snapshot short does not record it as Off.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { createInput } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

/** An initialization of a few seconds: the snapshot is under way long enough to stop Stratus during it. */
const SLOW_INIT = `
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
const initId = require('node:crypto').randomUUID();
exports.handler = async () => ({ initId, initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE });
`;

/** Whether a process below Stratus is a checkpointable sandbox's init (a snapshot being made). */
async function snapshotUnderWay(s: StratusProcess): Promise<boolean> {
  for (const pid of await s.descendants()) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('stratus-init') && cmdline.includes('--checkpoint')) return true;
  }
  return false;
}

describe('SnapStart: a version Pending when stratus up stops', () => {
  const started: StratusProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const s of started) await s.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  for (const how of ['stop', 'kill'] as const) {
    test(`is snapshotted at the next start (${how === 'stop' ? 'SIGTERM' : 'SIGKILL'} while it was being made)`, async () => {
      // A data directory of the test's own: stop() leaves it for the restart.
      const dataDir = await mkdtemp(join(tmpdir(), 'stratus-snap-pending-'));
      dirs.push(dataDir);
      const first = await startStratus({ dataDir });
      started.push(first);
      await first.lambda.send(new CreateFunctionCommand({ ...createInput('slow', await makeZip({ 'index.js': SLOW_INIT })), Timeout: 30, SnapStart: { ApplyOn: 'PublishedVersions' } }));
      const published = await first.lambda.send(new PublishVersionCommand({ FunctionName: 'slow' }));
      assert.equal(published.State, 'Pending');
      await until(() => snapshotUnderWay(first), 'the snapshot sandbox', 60_000);
      const during = await first.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'slow', Qualifier: '1' }));
      assert.equal(during.State, 'Pending', 'still Pending when Stratus stops');
      if (how === 'kill') await first.kill();
      else await first.stop();

      const second = await startStratus({ dataDir, credentials: first.credentials });
      started.push(second);
      const config = await until(async () => {
        const c = await second.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'slow', Qualifier: '1' }));
        return c.State !== 'Pending' && c;
      }, 'the version to leave Pending', 90_000);
      assert.equal(config.State, 'Active', `${config.StateReasonCode}: ${config.StateReason}`);
      assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
      const out = await second.lambda.send(new InvokeCommand({ FunctionName: 'slow', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
      const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
      assert.equal(out.FunctionError, undefined, log);
      assert.match(log, /\tRestore Duration: [\d.]+ ms/);
      assert.equal((JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { initType: string }).initType, 'snap-start');
    });
  }
});
