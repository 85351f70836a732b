// Resource limits, each attempted from inside a real sandbox: memory (OOM), pids (fork bomb),
// /tmp size, CPU weight and cap, and cleanup of every cgroup Stratus made.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const V1 = existsSync('/sys/fs/cgroup/memory/cgroup.procs') && existsSync('/sys/fs/cgroup/pids/cgroup.procs');

const CODE = `
const fs = require('fs'), cp = require('child_process');
exports.handler = async (event) => {
  switch (event.action) {
    case 'allocate': { const keep = []; for (let i = 0; i < event.mb; i++) keep.push(Buffer.alloc(1024 * 1024, 1)); return { allocated: keep.length }; }
    case 'forkbomb': {
      const r = cp.spawnSync('/bin/sh', ['-c', 'n=0; while [ $n -lt 3000 ]; do sleep 30 & n=$((n+1)); done; echo started $n'], { encoding: 'utf8', timeout: 20000 });
      return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr.slice(0, 200) };
    }
    case 'fill-tmp': {
      const chunk = Buffer.alloc(1024 * 1024, 7); let written = 0;
      try { const fd = fs.openSync('/tmp/fill', 'w'); for (;;) { fs.writeSync(fd, chunk); written++; } }
      catch (e) { fs.rmSync('/tmp/fill', { force: true }); return { code: e.code, writtenMb: written }; }
    }
    default: return { ok: true, pid: process.pid };
  }
};`;

async function invoke(s: StratusProcess, name: string, event: unknown) {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
  return {
    error: out.FunctionError,
    body: JSON.parse(Buffer.from(out.Payload ?? []).toString() || 'null') as Record<string, unknown>,
    log: Buffer.from(out.LogResult ?? '', 'base64').toString(),
  };
}

/** Stratus's cgroups for one controller (v1): stratus-<pid>/<sandbox id>/ */
function sandboxCgroups(controllerRoot: string, stratusPid: number): string[] {
  const base = join(controllerRoot, `stratus-${stratusPid}`);
  return existsSync(base) ? readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(base, e.name)) : [];
}

function ownCgroup(controller: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  return join('/sys/fs/cgroup', controller, line?.split(':')[2] ?? '/');
}

describe('sandbox resource limits', { skip: V1 ? false : 'needs cgroup v1 memory and pids controllers (v2 is handled by the same code, untested here)' }, () => {
  let s: StratusProcess;
  const create = async (name: string, memory: number, extra: Record<string, unknown> = {}) =>
    s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: memory, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) }, ...extra,
    }));

  before(async () => {
    s = await startStratus();
    await create('small', 128);
    await create('big', 1024, { EphemeralStorage: { Size: 512 } });
    await create('other', 128);
  });
  after(async () => {
    const pid = s.pid;
    await s.stop();
    for (const c of ['memory', 'cpu', 'pids']) {
      assert.equal(existsSync(join(ownCgroup(c), `stratus-${pid}`)), false, `${c} cgroup subtree removed at shutdown`);
    }
  });

  test('going over MemorySize kills the sandbox with Runtime.OutOfMemory, and the next invoke works', async () => {
    const r = await invoke(s, 'small', { action: 'allocate', mb: 300 });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'Runtime.OutOfMemory');
    assert.match(String(r.body.errorMessage), /Runtime exited with error: signal: killed/);
    assert.match(r.log, /Max Memory Used: 1[0-9]{2} MB/, 'the REPORT shows the peak, close to the 128 MB limit');
    const next = await invoke(s, 'small', { action: 'allocate', mb: 10 });
    assert.equal(next.error, undefined);
    assert.equal(next.body.allocated, 10);
  });

  test('Max Memory Used reflects what the function really used', async () => {
    const r = await invoke(s, 'big', { action: 'allocate', mb: 200 });
    assert.equal(r.body.allocated, 200);
    const used = Number(/Max Memory Used: (\d+) MB/.exec(r.log)?.[1]);
    assert.ok(used >= 200 && used < 1024, `Max Memory Used ${used} MB`);
  });

  test('a fork bomb hits the pids limit inside its own sandbox only', async () => {
    const bomb = invoke(s, 'small', { action: 'forkbomb' });
    const meanwhile = await invoke(s, 'other', {});
    assert.equal(meanwhile.body.ok, true, 'another function is served while the bomb runs');
    const r = await bomb;
    const started = Number(/started (\d+)/.exec(String(r.body.stdout))?.[1] ?? 0);
    assert.ok(started < 3000, `the sandbox could not start 3000 processes (got ${JSON.stringify(r.body)})`);
    const pids = sandboxCgroups(ownCgroup('pids'), s.pid).map((d) => Number(readFileSync(join(d, 'pids.max'), 'utf8')));
    assert.ok(pids.length > 0 && pids.every((max) => max === 1024), `pids.max per sandbox: ${pids}`);
  });

  test('filling /tmp fails the writer with ENOSPC at the EphemeralStorage size', async () => {
    const r = await invoke(s, 'big', { action: 'fill-tmp' });
    assert.equal(r.body.code, 'ENOSPC');
    assert.ok(Number(r.body.writtenMb) >= 500 && Number(r.body.writtenMb) <= 512, `wrote ${r.body.writtenMb} MB`);
    assert.equal((await invoke(s, 'big', {})).body.ok, true, 'the sandbox survives a full /tmp');
  });

  test('CPU weight and cap follow memory (1,769 MB = one vCPU) and memory limits are set per sandbox', async () => {
    await Promise.all([invoke(s, 'small', {}), invoke(s, 'big', {})]);
    const settings = sandboxCgroups(ownCgroup('memory'), s.pid).map((d) => Number(readFileSync(join(d, 'memory.limit_in_bytes'), 'utf8')) / 1024 / 1024);
    assert.ok(settings.includes(128) && settings.includes(1024), `memory limits: ${settings}`);
    const shares = sandboxCgroups(ownCgroup('cpu'), s.pid).map((d) => Number(readFileSync(join(d, 'cpu.shares'), 'utf8')));
    assert.ok(shares.includes(Math.round((1024 * 128) / 1769)) && shares.includes(Math.round((1024 * 1024) / 1769)), `cpu.shares: ${shares}`);
  });
});
