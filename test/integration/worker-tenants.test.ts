// Accounts on one worker, with real sandboxes: two functions identical but for their account
// (same code, same sha256) get separate code images, mounts, sandboxes and warm-pool stems, and
// a function of account B, from inside its sandbox, cannot reach anything of account A's.
// The worker is wired as `stratus up` wires it (startHostWorker): EROFS code images, the warm
// pool, SnapStart snapshots.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHostWorker, type HostWorker } from '../../src/cli/host-worker.js';
import { MemoryChunkStore, MemoryCodeStore, type CodeRef } from '../../src/codestore/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { resolveConfig } from '../../src/shared/config.js';
import { isStratusError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/log.js';
import type { EnvironmentSpec, Invocation, InvocationResult } from '../../src/worker/index.js';
import { makeZip } from '../helpers/zip.js';

const A = '111111111111';
const B = '222222222222';

/**
 * Reports who it runs for and what it sees. Each invocation first leaves a marker in its /tmp
 * (`owner-<account>`); `attack` searches its mountinfo for `needles`, tries to open or list
 * `paths`, and looks into the /tmp of every process it can see.
 */
const CODE = `import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
const initId = randomUUID();
const probe = (p) => {
  try {
    if (statSync(p).isDirectory()) return 'LISTED:' + readdirSync(p).join(',');
    readFileSync(p);
    return 'READ';
  } catch (e) {
    return e.code;
  }
};
export const handler = async (event, context) => {
  const account = context.invokedFunctionArn.split(':')[4];
  writeFileSync('/tmp/owner-' + account, account);
  if (event.do === 'whoami') {
    return { account, initId, tmp: readdirSync('/tmp').sort(), task: readdirSync('/var/task').sort(), taskDev: statSync('/var/task').dev, tmpDev: statSync('/tmp').dev };
  }
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const pids = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  return {
    mentions: event.needles.filter((n) => mountinfo.includes(n)),
    probes: Object.fromEntries(event.paths.map((p) => [p, probe(p)])),
    tmpsOfVisibleProcesses: pids.flatMap((pid) => { try { return readdirSync('/proc/' + pid + '/root/tmp'); } catch { return []; } }),
  };
};
`;

const arnOf = (account: string) => `arn:aws:lambda:us-east-1:${account}:function:twin`;

function invocation(account: string, event: Record<string, unknown>): Invocation {
  return { requestId: randomUUID(), payload: Buffer.from(JSON.stringify(event)), invokedFunctionArn: arnOf(account), traceId: 'Root=1-0-0', tailLog: true };
}

function body(result: InvocationResult): Record<string, unknown> {
  assert.equal(result.outcome.kind, 'success', result.outcome.kind === 'function-error' ? result.outcome.payload.toString() : undefined);
  return result.outcome.kind === 'success' ? (JSON.parse(result.outcome.payload.toString()) as Record<string, unknown>) : {};
}

const logOf = (result: InvocationResult) => Buffer.from(result.logTail ?? '', 'base64').toString();

/** Host pids of every process below this one (sandboxes are bwrap, stratus-init, the runtime). */
function descendants(root = process.pid): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const stat = (() => {
      try {
        return readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        return '';
      }
    })();
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('accounts on one worker (real sandboxes)', () => {
  let dataDir = '';
  let worker: HostWorker;
  let code: CodeRef;
  let runRoot = '';
  const store = new MemoryCodeStore();
  const chunks = new MemoryChunkStore();

  /** The spec of function "twin" of `account`: everything else is the same for both accounts. */
  const spec = (account: string, memoryMb: number, extra: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({
    accountId: account, functionName: 'twin', version: '$LATEST', memoryMb, timeoutSec: 10, ephemeralStorageMb: 512, environment: {},
    package: { type: 'Zip', code, runtime: 'nodejs20.x', handler: 'index.handler' }, sandboxDriver: 'default', network: 'none', ...extra,
  });
  const stemTaskDirs = () => readdirSync(runRoot).filter((n) => n.endsWith('-task'));
  const codeDir = (account: string) => join(dataDir, 'worker', 'code', account, code.sha256);
  /** A stem waits booted in the pool: a sandbox (three processes) beyond the environments' own. */
  const stemBooted = (environments: number) => until(() => descendants().length >= 3 * (environments + 1) && stemTaskDirs().length >= environments + 1, 'a booted warm-pool stem');

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-tenants-'));
    code = await store.put(await makeZip({ 'index.mjs': CODE }));
    const config = resolveConfig({ dataDir, worker: { warmPoolSize: 1, warmPoolMemoryMb: 128, functionLogs: 'off' } });
    const source = { get: (ref: CodeRef) => store.get(ref), getChunk: (sha: string) => chunks.getChunk(sha), getImage: (digest: string) => chunks.getImage(digest) };
    worker = await startHostWorker(config, { id: 'tenants', code: source, shipLogs: async () => {}, clock: systemClock, log: silentLogger() });
    const run = readdirSync(tmpdir()).find((n) => n.startsWith(`stratus-run-${process.pid}-`));
    assert.ok(run, 'the worker has a run directory');
    runRoot = join(tmpdir(), run);
  });
  after(async () => {
    await worker?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('two functions identical but for their account get their own code image, mount and sandbox', async () => {
    await worker.agent.createEnvironment('a-mounted', spec(A, 256));
    await worker.agent.createEnvironment('b-mounted', spec(B, 256));
    const a = body(await worker.agent.invoke('a-mounted', invocation(A, { do: 'whoami' })));
    const b = body(await worker.agent.invoke('b-mounted', invocation(B, { do: 'whoami' })));
    assert.deepEqual([a.account, b.account], [A, B]);
    assert.deepEqual(a.task, ['index.mjs']);
    assert.deepEqual(b.task, ['index.mjs']);
    assert.notEqual(a.taskDev, b.taskDev, "B's /var/task is a filesystem of its own, not A's mount");
    assert.notEqual(a.tmpDev, b.tmpDev);
    assert.deepEqual(b.tmp, [`owner-${B}`], "B's /tmp holds only its own marker");
    for (const account of [A, B]) assert.ok(existsSync(join(codeDir(account), 'code.erofs')), `a code image for account ${account}`);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const account of [A, B]) assert.ok(mounts.includes(` ${join(codeDir(account), 'root')} `), `the image of account ${account} is mounted on its own`);
    assert.deepEqual(readdirSync(join(dataDir, 'worker', 'code')).filter((n) => !n.startsWith('.')).sort(), [A, B], 'nothing is kept by digest alone');
    assert.deepEqual(worker.agent.status().cachedCode, [code.sha256]);
  });

  test("attack: B's function, in its sandbox, searches its mounts for A's code and tries to open A's files and other sandboxes' /var/task and /tmp: all fail", async () => {
    const stem = stemTaskDirs()[0] ?? 'none-task';
    const paths = [
      join(codeDir(A), 'code.erofs'), join(codeDir(A), 'root', 'index.mjs'), join(dataDir, 'worker', 'code', A), join(dataDir, 'worker', 'code'),
      join(runRoot, stem, 'index.mjs'), runRoot, `/var/task/../../${A}/${code.sha256}/root/index.mjs`, `/var/task/../${A}`,
      `/run/stratus/../${stem}`, `/proc/1/root/../${A}`,
    ];
    const needles = [dataDir, A, code.sha256, 'worker/code', runRoot, stem];
    const out = body(await worker.agent.invoke('b-mounted', invocation(B, { do: 'attack', paths, needles })));
    assert.deepEqual(out.mentions, [], "B's mountinfo names no cache path, account or digest");
    for (const [path, result] of Object.entries(out.probes as Record<string, string>)) assert.ok(['ENOENT', 'EACCES'].includes(result), `${path}: ${result}`);
    const tmps = out.tmpsOfVisibleProcesses as string[];
    assert.ok(tmps.includes(`owner-${B}`), 'the probe did look into /tmp of the processes it sees (its own)');
    assert.ok(!tmps.includes(`owner-${A}`), "no process B can see has A's /tmp");
  });

  test('the worker refuses to run an invocation of account B in an environment of account A', async () => {
    await assert.rejects(worker.agent.invoke('a-mounted', invocation(B, { do: 'whoami' })), (err: unknown) => isStratusError(err) && err.code === 'Internal' && /account 111111111111/.test(err.message));
    assert.equal(body(await worker.agent.invoke('a-mounted', invocation(A, { do: 'whoami' }))).account, A, 'and A goes on using it');
    await worker.agent.destroyEnvironment('a-mounted');
    await worker.agent.destroyEnvironment('b-mounted');
  });

  test("a warm-pool stem specialized for A's function is gone with it; B's cold start takes another stem", async () => {
    await stemBooted(0);
    const [stemOfA] = stemTaskDirs();
    await worker.agent.createEnvironment('a-pooled', spec(A, 128));
    const a = await worker.agent.invoke('a-pooled', invocation(A, { do: 'whoami' }));
    assert.match(logOf(a), /Init Source: warm-pool/, "A's cold start took the stem");
    assert.ok(stemOfA && existsSync(join(runRoot, stemOfA, 'index.mjs')), "the stem's /var/task holds A's code");
    await worker.agent.destroyEnvironment('a-pooled');
    assert.ok(!existsSync(join(runRoot, stemOfA)), "A's stem is gone with A's environment");
    await stemBooted(0);
    const [stemOfB] = stemTaskDirs();
    assert.notEqual(stemOfB, stemOfA);
    await worker.agent.createEnvironment('b-pooled', spec(B, 128));
    const b = await worker.agent.invoke('b-pooled', invocation(B, { do: 'whoami' }));
    assert.match(logOf(b), /Init Source: warm-pool/, "B's cold start took a stem too");
    const seen = body(b);
    assert.deepEqual(seen.tmp, [`owner-${B}`], "nothing of A's is in B's sandbox");
    assert.notEqual(seen.initId, body(a).initId);
    assert.ok(stemOfB && existsSync(join(runRoot, stemOfB, 'index.mjs')), "B's code went into the new stem");
    await worker.agent.destroyEnvironment('b-pooled');
  });

  test("SnapStart: B's environment never restores A's snapshot (it holds A's memory); it boots its own function instead", async (t) => {
    const made = await worker.agent.createSnapshot?.(spec(A, 256, { version: '1' })).catch((err: unknown) => err);
    if (!made || !('tar' in (made as object))) return t.skip(`no snapshot on this host: ${String(made)}`);
    const image = await store.put((made as { tar: Buffer }).tar);
    await worker.agent.createEnvironment('a-restored', spec(A, 256, { version: '1', snapshot: image }));
    const a = await worker.agent.invoke('a-restored', invocation(A, { do: 'whoami' }));
    assert.match(logOf(a), /Restore Duration/, 'A restores from its snapshot');
    await worker.agent.createEnvironment('b-given-a-snapshot', spec(B, 256, { version: '1', snapshot: image }));
    const b = await worker.agent.invoke('b-given-a-snapshot', invocation(B, { do: 'whoami' }));
    assert.doesNotMatch(logOf(b), /Restore Duration/);
    assert.match(logOf(b), /Init Duration/, 'B booted instead');
    assert.notEqual(body(b).initId, body(a).initId, "B runs its own init, not A's memory");
    assert.ok(!existsSync(join(dataDir, 'worker', 'snapshots', B)) || readdirSync(join(dataDir, 'worker', 'snapshots', B)).length === 0, "nothing of A's snapshot is kept under B");
    await worker.agent.destroyEnvironment('a-restored');
    await worker.agent.destroyEnvironment('b-given-a-snapshot');
  });
});
