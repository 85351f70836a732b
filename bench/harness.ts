/**
 * Process and resource bookkeeping for the bench: every child process and temp dir the bench
 * makes is registered here and released by pid/path on the way out, even after a failure.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];

/** Registers a cleanup; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(fn: Cleanup): () => Promise<void> {
  let running: Promise<void> | undefined;
  // Every caller waits for the one run (a scenario's finally and a signal may both call it).
  const run = (): Promise<void> => {
    running ??= (async () => {
      const i = cleanups.indexOf(run);
      if (i >= 0) cleanups.splice(i, 1);
      await fn();
    })();
    return running;
  };
  cleanups.push(run);
  return run;
}

/** A mark for `cleanupTo`: how many cleanups are registered now. */
export function cleanupMark(): number {
  return cleanups.length;
}

/** Runs every registered cleanup, newest first, down to `mark`; failures are printed, not thrown. */
export async function cleanupAll(mark = 0): Promise<void> {
  while (cleanups.length > mark) {
    const fn = cleanups.pop() as Cleanup;
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`bench: cleanup failed: ${String(err)}\n`);
    }
  }
}

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `stratus-bench-${prefix}-`));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Tracked {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a child process that is killed (by its pid) at cleanup if still running. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): Tracked {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = keepTail(out + d.toString())));
  child.stderr?.on('data', (d: Buffer) => (out = keepTail(out + d.toString())));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  let gone = false;
  let stopGrace = 5000;
  void exited.then(() => (gone = true));
  const stop = onCleanup(async () => {
    if (gone || !child.pid) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopGrace);
    await exited;
    clearTimeout(timer);
  });
  return {
    child,
    pid: child.pid ?? 0,
    output: () => out,
    exited,
    stop: (graceMs = 5000) => ((stopGrace = graceMs), stop()),
  };
}

function keepTail(text: string): string {
  return text.length > 200_000 ? text.slice(-100_000) : text;
}

/** Resolves once `pattern` appears in the tracked process's output; rejects on exit or timeout. */
export function waitForOutput(p: Tracked, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${p.output().slice(-2000)}`)), timeoutMs);
    const check = () => {
      const m = pattern.exec(p.output());
      if (m) finish(undefined, m);
    };
    const finish = (err?: Error, m?: RegExpExecArray) => {
      clearTimeout(timer);
      p.child.stdout?.off('data', check);
      p.child.stderr?.off('data', check);
      if (err) reject(err);
      else resolve(m as RegExpExecArray);
    };
    p.child.stdout?.on('data', check);
    p.child.stderr?.on('data', check);
    void p.exited.then((code) => finish(new Error(`exited (${code}) before ${pattern}; output:\n${p.output().slice(-2000)}`)));
    check();
  });
}

/** Runs a command to completion; returns the wall time from spawn to exit in ms. */
export function timeCommand(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')}... exited ${code ?? signal}: ${err.trim().slice(0, 500)}`));
    });
  });
}

/** Runs a command and returns its stdout; rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err = keepTail(err + d.toString())));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    let running = true;
    const release = onCleanup(() => {
      if (running) child.kill('SIGKILL');
    });
    child.once('error', (e) => (clearTimeout(timer), (running = false), void release(), reject(e)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running = false;
      void release();
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code ?? signal}: ${err.trim().slice(-1500)}`));
    });
  });
}

/**
 * The environment baseline processes run with: PATH only, like the sandbox's runtime. (This
 * machine's own environment sets NODE_EXTRA_CA_CERTS, which makes every node start read and
 * parse the CA bundle.)
 */
export const CLEAN_ENV: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin' };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 50 ms until it is true; false on timeout. */
export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...); 0 if the process is gone. */
export async function procStatusKb(pid: number, field = 'VmRSS'): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'latin1');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size (shared pages divided among their sharers) in kB; 0 if unknown. */
export async function pssKb(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'latin1');
    const m = /^Pss:\s+(\d+) kB/m.exec(text);
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface ProcInfo {
  ppid: number;
  comm: string;
  /** User + system CPU time so far, in clock ticks (USER_HZ, 100 per second on Linux). */
  ticks: number;
}

export const TICK_MS = 10;

/** One pass over /proc: every live process with its parent, name and CPU time. */
export async function procSnapshot(): Promise<Map<number, ProcInfo>> {
  const out = new Map<number, ProcInfo>();
  const entries = await readdir('/proc');
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'latin1');
        const close = stat.lastIndexOf(')');
        const fields = stat.slice(close + 2).split(' ');
        out.set(Number(entry), {
          ppid: Number(fields[1]),
          comm: stat.slice(stat.indexOf('(') + 1, close),
          ticks: Number(fields[11]) + Number(fields[12]),
        });
      } catch {
        /* exited meanwhile */
      }
    }),
  );
  return out;
}

/** All descendants of `root` in a snapshot. */
export function descendantsIn(snapshot: Map<number, ProcInfo>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, info] of snapshot) children.set(info.ppid, [...(children.get(info.ppid) ?? []), pid]);
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU time used so far by `pid` itself (all its threads) and by its live descendants, in ms. */
export async function cpuSplitMs(pid: number): Promise<{ self: number; descendants: number }> {
  const snap = await procSnapshot();
  let ticks = 0;
  for (const d of descendantsIn(snap, pid)) ticks += snap.get(d)?.ticks ?? 0;
  return { self: (snap.get(pid)?.ticks ?? 0) * TICK_MS, descendants: ticks * TICK_MS };
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
