/** Starting what the scenarios measure: Stratus itself and the floor server, both tracked for cleanup. */
import { fileURLToPath } from 'node:url';
import { startStratus, type StratusProcess } from '../test/helpers/stratus.js';
import { InvokeSigner, invokePath, type Target } from './client.js';
import { descendantsIn, onCleanup, procSnapshot, spawnTracked, waitForOutput } from './harness.js';

/**
 * The options every scenario starts Stratus with (recorded in the report): function logs stored,
 * as `stratus up` stores them by default (its default `stdout` also copies each line to its
 * console, which the bench would only collect), since the issue wants logs, metrics, the freeze
 * and seccomp on in every measured run. A scenario's own `--function-logs` (`logging`) replaces it.
 */
export const STRATUS_ARGS = ['--function-logs', 'store'];
/** Longer than a whole bench run, so no environment is reaped while it is being measured. */
export const STRATUS_KEEP_ALIVE_MS = 60 * 60_000;

export interface BenchStratus {
  proc: StratusProcess;
  signer: InvokeSigner;
  target(fn: string): Target;
  /** Sandboxes alive now: the bwrap processes that are direct children of Stratus. */
  sandboxes(): Promise<SandboxPids[]>;
  stop(): Promise<void>;
}

export interface SandboxPids {
  /** bwrap's monitor process on the host side. */
  bwrap: number;
  /** Host pids below bwrap: the runtime (the sandbox's pid 1) and anything it started. */
  inside: number[];
}

/** A Stratus for the bench; `extraArgs` e.g. `['--warm-pool', '2']`. */
export async function startBenchStratus(extraArgs: string[] = []): Promise<BenchStratus> {
  const proc = await startStratus({ args: withDefaults(extraArgs), keepAliveMs: STRATUS_KEEP_ALIVE_MS });
  const stop = onCleanup(() => proc.stop());
  return {
    proc,
    signer: new InvokeSigner(proc.credentials),
    target: (fn) => ({ host: '127.0.0.1', port: proc.port, path: invokePath(fn) }),
    sandboxes: () => sandboxesOf(proc.pid),
    stop,
  };
}

/** STRATUS_ARGS, less every option `extraArgs` gives itself, then `extraArgs`. */
function withDefaults(extraArgs: string[]): string[] {
  const own = new Set(extraArgs.filter((a) => a.startsWith('--')));
  const out: string[] = [];
  for (let i = 0; i < STRATUS_ARGS.length; i += 2) {
    const [flag, value] = [STRATUS_ARGS[i] as string, STRATUS_ARGS[i + 1] as string];
    if (!own.has(flag)) out.push(flag, value);
  }
  return [...out, ...extraArgs];
}

async function sandboxesOf(root: number): Promise<SandboxPids[]> {
  const snap = await procSnapshot();
  const out: SandboxPids[] = [];
  for (const [pid, info] of snap) {
    if (info.ppid === root && info.comm === 'bwrap') out.push({ bwrap: pid, inside: descendantsIn(snap, pid) });
  }
  return out;
}

export interface Floor {
  port: number;
  pid: number;
  target(path: string): Target;
  stop(): Promise<void>;
}

const FLOOR_SERVER = fileURLToPath(new URL('./floor-server.js', import.meta.url));

/** The bare Node.js HTTP echo server, in its own process like Stratus. */
export async function startFloor(): Promise<Floor> {
  const proc = spawnTracked(process.execPath, [FLOOR_SERVER]);
  const m = await waitForOutput(proc, /floor listening on (\d+)/, 10_000);
  const port = Number(m[1]);
  return { port, pid: proc.pid, target: (path) => ({ host: '127.0.0.1', port, path }), stop: () => proc.stop() };
}
