import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StratusError } from '../shared/errors.js';
import { pollUntil, readOr } from './cgroups.js';

const run = promisify(execFile);

/** Prints the sandboxes' filter as a BPF program (native/stratus-seccomp.c, built by scripts/setup.sh). */
export const SECCOMP_PROGRAM = fileURLToPath(new URL('../../native/stratus-seccomp', import.meta.url));

/**
 * The seccomp filter every sandbox runs under: an allow-list after Docker's default profile,
 * without namespaces, mounts, keyrings, bpf, modules and the like (the list and the reasons are
 * in native/stratus-seccomp.c). bwrap loads it just before it executes the sandbox's pid 1; a
 * SnapStart clone gets it back from its snapshot (CRIU dumps and restores seccomp filters).
 */
export interface SeccompFilter {
  /** The compiled classic-BPF program (8 bytes an instruction), for bwrap's `--seccomp FD`. */
  readonly bpf: Buffer;
}

/**
 * Runs the filter program once (a worker does at start). Rejects when it is missing or fails:
 * a worker must not start sandboxes without their filter.
 */
export async function loadSeccompFilter(program = SECCOMP_PROGRAM): Promise<SeccompFilter> {
  if (!existsSync(program)) {
    throw new StratusError('SandboxCreateFailed', `The sandbox seccomp filter program ${program} is missing (run scripts/setup.sh)`);
  }
  let bpf: Buffer;
  try {
    ({ stdout: bpf } = await run(program, [], { encoding: 'buffer', timeout: 10_000 }));
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new StratusError('SandboxCreateFailed', `The sandbox seccomp filter could not be made: ${stderr || String(err)}`, { cause: err });
  }
  // The kernel takes at most 4,096 instructions; bwrap insists on whole instructions.
  if (bpf.length === 0 || bpf.length % 8 !== 0 || bpf.length > 4096 * 8) {
    throw new StratusError('SandboxCreateFailed', `${program} printed ${bpf.length} bytes, not a BPF program`);
  }
  return { bpf };
}

/** Where the filter goes on bwrap's command line: the program is read from descriptor `fd`. */
export function seccompArgs(fd: number): string[] {
  return ['--seccomp', String(fd)];
}

/**
 * The first process of the tree below `rootPid` (itself included) with a thread that runs
 * without a seccomp filter, or undefined when every one has one. A SnapStart clone gets its
 * filter back from its snapshot's images, not from bwrap: it is checked before it is used.
 */
export function unfilteredProcess(rootPid: number): number | undefined {
  const pending = [rootPid];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      const status = readOr(`/proc/${pid}/task/${tid}/status`);
      if (status && !/^Seccomp:\s*2$/m.test(status)) return pid;
      pending.push(...readOr(`/proc/${pid}/task/${tid}/children`).split(' ').filter(Boolean).map(Number));
    }
  }
  return undefined;
}

/** Resolves once every process of the tree below `rootPid` has a seccomp filter; rejects after `timeoutMs`. */
export function untilFiltered(rootPid: number, timeoutMs: number): Promise<void> {
  return pollUntil(() => unfilteredProcess(rootPid) === undefined, timeoutMs, `a process of the tree of ${rootPid} has no seccomp filter`);
}
