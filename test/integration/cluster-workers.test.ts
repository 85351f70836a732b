// Several worker agents, each its own `stratus worker` process: they join with a lease,
// environments spread over them by memory, and a worker killed with SIGKILL is noticed when its
// lease runs out; its in-flight invoke fails cleanly and nothing of it is left once it restarts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { descendantsOf, isAlive, startStratus, startWorker, type StratusProcess, type WorkerProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, e.sleep ?? 0)); return { ok: true }; };`;

describe('worker agents in their own processes', () => {
  let s: StratusProcess;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const invoke = (sleep: number) =>
    s.lambda.send(new InvokeCommand({ FunctionName: 'spread', Payload: Buffer.from(JSON.stringify({ sleep })) }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-workers-'));
    s = await startStratus({ args: ['--worker-memory-mb', '128', '--lease-ms', '1500'] });
    for (const id of ['wa', 'wb']) workers.push(await startWorker(s, { id, memoryMb: 256, dataDir: join(dir, id) }));
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'spread', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a burst spreads over every worker, bounded by each one\'s memory, and all of it succeeds', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => invoke(1500)));
    assert.ok(results.every((r) => r.FunctionError === undefined && r.StatusCode === 200));
    const [a, b] = workers;
    const onA = (await descendantsOf(a?.pid ?? 0)).length;
    const onB = (await descendantsOf(b?.pid ?? 0)).length;
    assert.ok(onA > 0 && onB > 0, `sandboxes on both workers (wa ${onA}, wb ${onB} processes)`);
  });

  test('a worker killed with SIGKILL: its in-flight invoke fails with a service error, the others carry on, nothing is orphaned', async () => {
    const victim = workers[0];
    assert.ok(victim);
    await Promise.all(Array.from({ length: 5 }, () => invoke(0)));
    const sandboxPids = await descendantsOf(victim.pid);
    assert.ok(sandboxPids.length > 0);
    const inFlight = Array.from({ length: 5 }, () => invoke(4000).then(() => 'ok', (err: Error) => err.name));
    await new Promise((r) => setTimeout(r, 700));
    await victim.kill();
    const outcomes = await Promise.all(inFlight);
    assert.ok(outcomes.includes('ServiceException'), `an invoke on the killed worker failed cleanly: ${outcomes}`);
    assert.ok(outcomes.includes('ok'), 'invokes on the other workers completed');
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(sandboxPids.filter(isAlive), [], "the killed worker's sandboxes died with it");
    const after = await Promise.all(Array.from({ length: 3 }, () => invoke(0)));
    assert.ok(after.every((r) => r.FunctionError === undefined), 'new invokes go to the remaining workers');

    const restarted = await startWorker(s, { id: 'wa', memoryMb: 256, dataDir: join(dir, 'wa') });
    workers[0] = restarted;
    for (const controller of ['memory', 'pids', 'cpu']) {
      assert.equal(existsSync(join(ownCgroup(controller), `stratus-${victim.pid}`)), false, `${controller} cgroups of the dead worker were removed on restart`);
    }
  });

  test('a worker with a credential nobody added is refused', async () => {
    const real = JSON.parse(await readFile(join(dir, 'wb.json'), 'utf8')) as { caCertificate: string };
    const forged = join(dir, 'intruder.json');
    await writeFile(forged, JSON.stringify({ workerId: 'intruder', secret: 'A'.repeat(43), caCertificate: real.caCertificate }));
    await assert.rejects(startWorker(s, { id: 'intruder', memoryMb: 256, dataDir: join(dir, 'x'), bundle: forged }), /UnknownCredential|unknown or revoked/);
  });
});

function ownCgroup(controller: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  return join('/sys/fs/cgroup', controller, line?.split(':')[2] ?? '/');
}
