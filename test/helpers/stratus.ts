import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { spawnRole, type RoleProcess } from './role-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface StratusProcess {
  url: string;
  port: number;
  /** The internal API (TLS) that `stratus worker` processes join. */
  internalUrl: string;
  /** Its metrics listener, `http://127.0.0.1:PORT/metrics` (an ephemeral port unless `args` name one). */
  metricsUrl: string;
  pid: number;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A LambdaClient pointed at this Stratus (no retries, so errors surface as they are). */
  lambda: LambdaClient;
  /** Everything the process has printed so far. */
  output(): string;
  /** Host pids of every process below Stratus (its sandboxes). */
  descendants(): Promise<number[]>;
  /** SIGKILL, as a crash would stop it; the data directory stays (restart on it with `dataDir`). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  keepAliveMs?: number;
  args?: string[];
  env?: Record<string, string>;
  /** Start on this (existing) data directory, e.g. again after `kill`; the caller removes it. */
  dataDir?: string;
  /** Default: a fresh key pair. Give the same to a restarted Stratus. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Starts a real `stratus up` on an ephemeral port with its own data directory. */
export async function startStratus(opts: StartOptions = {}): Promise<StratusProcess> {
  const ownDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'stratus-test-')));
  const credentials = opts.credentials ?? { accessKeyId: 'AKIASTRATUSTEST', secretAccessKey: `secret-${Math.random().toString(36).slice(2)}` };
  const args = [MAIN, 'up', '--port', '0', '--metrics-port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...(opts.args ?? [])];
  if (opts.keepAliveMs !== undefined) args.push('--keep-alive-ms', String(opts.keepAliveMs));
  const child = spawn(process.execPath, args, {
    env: { ...process.env, STRATUS_ACCESS_KEY_ID: credentials.accessKeyId, STRATUS_SECRET_ACCESS_KEY: credentials.secretAccessKey, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await waitForPort(child, () => output, exited);
  const url = `http://127.0.0.1:${port}`;
  const internalUrl = /Workers join on (https:\/\/\S+)/.exec(output)?.[1] ?? '';
  const metricsUrl = /Metrics \(Prometheus, for operators\) on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
  const lambda = new LambdaClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
  const pid = child.pid ?? 0;
  return {
    url, port, internalUrl, metricsUrl, pid, dataDir, credentials, lambda,
    output: () => output,
    descendants: () => descendantsOf(pid),
    async kill() {
      lambda.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      lambda.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function waitForPort(child: ChildProcess, output: () => string, exited: Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stratus did not start:\n${output()}`)), 20_000);
    const check = () => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(output());
      // The whole banner: the internal API's URL comes a few lines later.
      if (m?.[1] && /Workers join on https:\/\/\S+ /.test(output())) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`stratus exited before listening:\n${output()}`)));
  });
}

/** All live descendants of `root`, found through /proc (never by name). */
export async function descendantsOf(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) if (parent === pid) (out.push(child), walk(child));
  };
  walk(root);
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A `stratus worker` process (see role-process.ts). */
export type WorkerProcess = RoleProcess;

/** Runs `stratus workers <args...>` on this Stratus's data directory (it keeps running); resolves its output. */
export async function workersCommand(stratus: StratusProcess, ...args: string[]): Promise<string> {
  return (await promisify(execFile)(process.execPath, [MAIN, 'workers', ...args, '--data-dir', stratus.dataDir])).stdout;
}

/**
 * Starts a real `stratus worker` that joins `stratus` with the credential bundle at `bundle`
 * (default `<dataDir>.json`, made with `stratus workers add` unless it exists already).
 */
export async function startWorker(
  stratus: StratusProcess, opts: { id: string; memoryMb: number; dataDir: string; heartbeatMs?: number; bundle?: string; args?: string[] },
): Promise<WorkerProcess> {
  const bundle = opts.bundle ?? `${opts.dataDir}.json`;
  if (!existsSync(bundle)) await writeFile(bundle, await workersCommand(stratus, 'add', '--id', opts.id), { mode: 0o600 });
  const args = ['--control-plane', stratus.internalUrl, '--credentials', bundle, '--data-dir', opts.dataDir, '--worker-memory-mb', String(opts.memoryMb),
    '--heartbeat-ms', String(opts.heartbeatMs ?? 300), '--log-level', 'warn', '--function-logs', 'off', ...(opts.args ?? [])];
  return spawnRole('worker', opts.id, args, {});
}
