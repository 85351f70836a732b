/**
 * A restart that is itself killed: `stratus up` on the data directory, SIGKILLed after `delayMs`
 * whether or not it is listening yet (during its start-up cleanup, its journal replay, its first
 * sandboxes). What it leaves must be cleaned by the next start like anything else.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { snapshotCgroups, snapshotProcesses, type ProcessSnapshot } from './orphans.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

export interface AbortedStart {
  pid: number;
  /** Its processes at the kill (itself included). */
  processes: ProcessSnapshot[];
  /** Whether it was listening when killed. */
  listening: boolean;
  /** All it printed (function output included: it may have delivered events). */
  output: string;
}

export async function abortedStart(dataDir: string, credentials: { accessKeyId: string; secretAccessKey: string }, args: string[], delayMs: number): Promise<AbortedStart> {
  const child = spawn(process.execPath, [MAIN, 'up', '--port', '0', '--metrics-port', '0', '--data-dir', dataDir, '--log-level', 'warn', ...args], {
    env: { ...process.env, STRATUS_ACCESS_KEY_ID: credentials.accessKeyId, STRATUS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid ?? 0;
  await Promise.race([new Promise((r) => setTimeout(r, delayMs)), exited]);
  const processes = await snapshotProcesses(pid);
  child.kill('SIGKILL');
  await exited;
  processes.push(...(await snapshotCgroups(pid)));
  return { pid, processes, listening: /listening on http/.test(output), output };
}
