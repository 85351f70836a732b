// SnapStart: a version published with SnapStart={ApplyOn=PublishedVersions} is checkpointed
// with CRIU after its init; cold starts restore clones (REPORT: Restore Duration), each clone
// with its own randomness and its own memory limit. Where CRIU is unavailable the version
// reports OptimizationStatus Off with a reason and cold starts boot as usual.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand, UpdateFunctionConfigurationCommand,
  type GetFunctionConfigurationCommandOutput,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

const NODE_CODE = `
const crypto = require('node:crypto');
const initId = crypto.randomUUID();
require('node:fs').writeFileSync('/tmp/from-init.txt', initId);
const table = new Map();
for (let i = 0; i < 20000; i++) table.set('k' + i, { i, text: 'row ' + i });
let restored = 0;
let closedBeforeSnapshot = false;
awslambda.registerBeforeSnapshot(() => { closedBeforeSnapshot = true; });
awslambda.registerAfterRestore(async () => { restored++; });
exports.handler = async (event) => {
  if (event.allocateMb) { const keep = []; for (let i = 0; i < event.allocateMb; i++) keep.push(Buffer.alloc(1024 * 1024, 1)); return keep.length; }
  await new Promise((r) => setTimeout(r, event.holdMs || 0));
  return {
    initId, tmpFile: require('node:fs').readFileSync('/tmp/from-init.txt', 'utf8'), rows: table.size, row: table.get('k123').text, restored, closedBeforeSnapshot,
    initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,
    uuid: crypto.randomUUID(), bytes: crypto.randomBytes(16).toString('hex'), math: Math.random(),
  };
};`;

const PY_CODE = `
import os, random, uuid
from snapshot_restore_py import register_before_snapshot, register_after_restore
STATE = {"before": 0, "after": 0, "init_random": random.random()}
@register_before_snapshot
def before():
    STATE["before"] += 1
@register_after_restore
def after():
    STATE["after"] += 1
def handler(event, context):
    return {"state": STATE, "random": random.random(), "uuid": str(uuid.uuid4()), "urandom": os.urandom(8).hex()}
`;

interface Clone {
  initId: string; tmpFile: string; rows: number; row: string; restored: number; closedBeforeSnapshot: boolean; initType: string;
  uuid: string; bytes: string; math: number;
}

async function untilActive(s: StratusProcess, name: string, version: string): Promise<GetFunctionConfigurationCommandOutput> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: version }));
    if (config.State !== 'Pending') return config;
    if (Date.now() > deadline) throw new Error('the version stayed Pending');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function invoke(s: StratusProcess, name: string, qualifier: string, payload: unknown = {}) {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, LogType: 'Tail', Payload: Buffer.from(JSON.stringify(payload)) }));
  return { body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as unknown, log: Buffer.from(out.LogResult ?? '', 'base64').toString(), error: out.FunctionError };
}

async function createSnapStartFunction(s: StratusProcess, name: string, files: Record<string, string>, runtime: 'nodejs20.x' | 'python3.11', handler: string, memory = 256) {
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: runtime, Role: ROLE, Handler: handler, MemorySize: memory, Timeout: 30,
    Code: { ZipFile: await makeZip(files) }, SnapStart: { ApplyOn: 'PublishedVersions' },
  }));
  const published = await s.lambda.send(new PublishVersionCommand({ FunctionName: name }));
  return published;
}

describe('SnapStart with CRIU', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 60_000 });
  });
  after(() => s.stop());

  test('publish checkpoints the version; clones restore with init state, their own randomness and a Restore Duration', async () => {
    const published = await createSnapStartFunction(s, 'snap', { 'index.js': NODE_CODE }, 'nodejs20.x', 'index.handler');
    assert.equal(published.State, 'Pending');
    assert.deepEqual(published.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });
    await assert.rejects(s.lambda.send(new InvokeCommand({ FunctionName: 'snap', Qualifier: '1' })), {
      name: 'ResourceConflictException', message: 'The operation cannot be performed at this time. The function is currently in the following state: Pending',
    });
    const config = await untilActive(s, 'snap', '1');
    assert.equal(config.State, 'Active', `${config.StateReasonCode}: ${config.StateReason}`);
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    const latest = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snap' }));
    assert.deepEqual(latest.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });

    // Three at once: three clones of the one snapshot.
    const runs = await Promise.all([1, 2, 3].map(() => invoke(s, 'snap', '1', { holdMs: 300 })));
    const clones = runs.map((r) => r.body as Clone);
    for (const [i, run] of runs.entries()) {
      assert.equal(run.error, undefined, run.log);
      assert.match(run.log, /RESTORE_START Runtime Version/);
      assert.match(run.log, /REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB\tRestore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms\t\n/);
      assert.doesNotMatch(run.log, /Init Duration/);
      const clone = clones[i] as Clone;
      assert.equal(clone.rows, 20000);
      assert.equal(clone.tmpFile, clone.initId, '/tmp written during init is in the snapshot');
      assert.equal(clone.row, 'row 123');
      assert.equal(clone.restored, 1, 'the after-restore hook ran once');
      assert.equal(clone.closedBeforeSnapshot, true, 'the before-snapshot hook ran');
      assert.equal(clone.initType, 'snap-start');
    }
    assert.equal(new Set(clones.map((c) => c.initId)).size, 1, 'state from init is the snapshot\'s');
    assert.equal(new Set(clones.map((c) => c.uuid)).size, 3, 'randomUUID differs across clones');
    assert.equal(new Set(clones.map((c) => c.bytes)).size, 3, 'randomBytes differ across clones');
    assert.equal(new Set(clones.map((c) => c.math)).size, 3, 'Math.random differs across clones');

    // A warm invoke of a clone: no restore reported.
    const warm = await invoke(s, 'snap', '1');
    assert.doesNotMatch(warm.log, /Restore Duration|Init Duration/);
  });

  test('each clone has its function\'s memory limit', async () => {
    const over = await invoke(s, 'snap', '1', { allocateMb: 400 });
    assert.equal(over.error, 'Unhandled');
    assert.match(JSON.stringify(over.body), /Runtime\.OutOfMemory|Runtime exited/);
    const fine = await invoke(s, 'snap', '1', { allocateMb: 64 });
    assert.equal(fine.error, undefined, fine.log);
  });

  test('Python: hooks of snapshot_restore_py run, random is reseeded', async () => {
    await createSnapStartFunction(s, 'snappy', { 'app.py': PY_CODE }, 'python3.11', 'app.handler');
    const config = await untilActive(s, 'snappy', '1');
    assert.equal(config.SnapStart?.OptimizationStatus, 'On', `${config.StateReasonCode}: ${config.StateReason}`);
    const runs = await Promise.all([1, 2].map(() => invoke(s, 'snappy', '1')));
    const bodies = runs.map((r) => r.body as { state: { before: number; after: number; init_random: number }; random: number; uuid: string; urandom: string });
    for (const [i, run] of runs.entries()) {
      assert.equal(run.error, undefined, run.log);
      assert.match(run.log, /Restore Duration: /);
      assert.equal(bodies[i]?.state.before, 1);
      assert.equal(bodies[i]?.state.after, 1);
    }
    assert.equal(bodies[0]?.state.init_random, bodies[1]?.state.init_random);
    assert.notEqual(bodies[0]?.random, bodies[1]?.random);
    assert.notEqual(bodies[0]?.uuid, bodies[1]?.uuid);
  });

  test('an initialization that fails makes the version Failed', async () => {
    await createSnapStartFunction(s, 'snapfail', { 'index.js': 'throw new Error("no init for you");' }, 'nodejs20.x', 'index.handler');
    const config = await untilActive(s, 'snapfail', '1');
    assert.equal(config.State, 'Failed');
    assert.equal(config.StateReasonCode, 'FunctionError');
    assert.match(config.StateReason ?? '', /no init for you/);
  });

  test('a bad ApplyOn is a ValidationException', async () => {
    await assert.rejects(s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'snap', SnapStart: { ApplyOn: 'Always' as 'None' } })), {
      name: 'ValidationException',
      message: "1 validation error detected: Value 'Always' at 'snapStart.applyOn' failed to satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]",
    });
  });
});

/** A provided.al2023 runtime knows nothing of SnapStart: it is checkpointed at its first GET next. */
const PROVIDED_BOOTSTRAP = `#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
INIT_ID=$(cat /proc/sys/kernel/random/uuid)
while true; do
  HEADERS=$(mktemp)
  curl -sS -LD "$HEADERS" "$API/invocation/next" >/dev/null
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  sleep 2  # two invokes at once need two clones
  curl -sS -X POST -d "{\\"init\\":\\"$INIT_ID\\",\\"now\\":\\"$(cat /proc/sys/kernel/random/uuid)\\"}" "$API/invocation/$REQUEST_ID/response" >/dev/null
done
`;

describe('SnapStart with the AWS CLI and a provided runtime', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus();
  });
  after(() => s.stop());

  test('a sh + curl bootstrap is checkpointed at its first /next and restored', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'snapsh', Runtime: 'provided.al2023', Role: ROLE, Handler: 'x',
      Code: { ZipFile: await makeZip({ bootstrap: PROVIDED_BOOTSTRAP }, { bootstrap: 0o100755 }) },
    }));
    const update = await aws(s, ['lambda', 'update-function-configuration', '--function-name', 'snapsh', '--snap-start', 'ApplyOn=PublishedVersions']);
    assert.equal(update.code, 0, update.stderr);
    assert.deepEqual(JSON.parse(update.stdout).SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });
    const published = await aws(s, ['lambda', 'publish-version', '--function-name', 'snapsh']);
    assert.equal(published.code, 0, published.stderr);
    assert.equal(JSON.parse(published.stdout).State, 'Pending');
    const config = await untilActive(s, 'snapsh', '1');
    assert.equal(config.SnapStart?.OptimizationStatus, 'On', `${config.StateReasonCode}: ${config.StateReason}`);
    const shown = await aws(s, ['lambda', 'get-function-configuration', '--function-name', 'snapsh', '--qualifier', '1', '--query', 'SnapStart']);
    assert.deepEqual(JSON.parse(shown.stdout), { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    const dir = await mkdtemp(join(tmpdir(), 'snapsh-'));
    try {
      const runs = await Promise.all([1, 2].map(async (i) => {
        const out = await aws(s, ['lambda', 'invoke', '--function-name', 'snapsh', '--qualifier', '1', '--log-type', 'Tail', join(dir, `out${i}.json`)]);
        assert.equal(out.code, 0, out.stderr);
        return { body: JSON.parse(await readFile(join(dir, `out${i}.json`), 'utf8')) as { init: string; now: string }, meta: JSON.parse(out.stdout) as { LogResult: string } };
      }));
      assert.equal(runs[0]?.body.init, runs[1]?.body.init, 'both clones carry the init state of the snapshot');
      assert.notEqual(runs[0]?.body.now, runs[1]?.body.now);
      for (const run of runs) assert.match(Buffer.from(run.meta.LogResult, 'base64').toString(), /Restore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SnapStart where CRIU is unavailable', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ args: ['--snapstart', 'off'] });
  });
  after(() => s.stop());

  test('the version is Active with OptimizationStatus Off and a reason; cold starts boot as usual', async () => {
    await createSnapStartFunction(s, 'nosnap', { 'index.js': NODE_CODE }, 'nodejs20.x', 'index.handler');
    const config = await untilActive(s, 'nosnap', '1');
    assert.equal(config.State, 'Active');
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });
    assert.equal(config.StateReasonCode, 'SnapStartUnavailable');
    assert.match(config.StateReason ?? '', /turned off on this host/);
    const run = await invoke(s, 'nosnap', '1');
    assert.equal(run.error, undefined, run.log);
    assert.match(run.log, /Init Duration: /);
    assert.doesNotMatch(run.log, /Restore Duration/);
    assert.equal((run.body as Clone).rows, 20000);
  });
});
