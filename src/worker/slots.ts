import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import type { ColdStartKind } from '../shared/metrics.js';
import type { Leases } from './cache-leases.js';
import type { Environment, EnvironmentParams } from './environment.js';
import { RuntimeApiServer, type RuntimeApiHandler } from './runtime-api.js';
import type { TelemetryRelay } from './telemetry-relay.js';

/** The largest response a runtime may post (Lambda's 6 MB, plus slack for the JSON framing). */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** Who an environment runs for, as its log lines and REPORT name it. */
export type EnvironmentIdentity = Pick<EnvironmentParams, 'functionName' | 'log' | 'version' | 'runtime' | 'memoryMb' | 'timeoutMs' | 'logging'>;

/** One environment on this worker: its state machine, its Runtime API server and its run directories. */
export interface Slot {
  /** The environment id; a warm-pool stem takes its environment's id when specialized. */
  id: string;
  env: Environment;
  api: RuntimeApiServer;
  /** Telemetry deliveries into its sandbox (see telemetry-relay.ts). */
  relay: TelemetryRelay;
  controlDir: string;
  memoryMb: number;
  /** A stem's /var/task, empty until it is given a function. */
  stemTaskDir?: string;
  /** A stem just given a function: the pool boots its replacement once its first invoke is answered (or it is gone). */
  refillsPool?: boolean;
  /** The function this environment runs, for good (absent: a warm-pool stem not given one yet). */
  owner?: SlotOwner;
  /** What its init counts as in the metrics once it completes (absent: a stem not given a function yet). */
  coldStart?: ColdStart;
  /** The worker cache entries its sandbox uses (code, layers, image, snapshot): released once it is gone. */
  leases: Leases;
}

/** The function version an environment's init is counted for, and how it started. */
export interface ColdStart {
  fn: { account: string; function: string; version: string };
  kind: ColdStartKind;
  /** The span its environment was created under (a W3C traceparent): its init is traced there. */
  trace?: string;
}

/** Whose function an environment runs: set once, when it is created or a stem is specialized. */
export interface SlotOwner {
  accountId: string;
  functionName: string;
}

const FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:(\d{12}):function:([^:]+)(?::[^:]+)?$/;

/**
 * Why environment `envId`, running `owner`'s function, must not run an invocation of
 * `invokedFunctionArn` (undefined: it may): an environment runs only its own function of its own
 * account, and a stem none. Assignment never asks otherwise; this makes sure a mistake there
 * cannot hand one account's sandbox (its memory, its /tmp) to another's invocation.
 */
export function invocationRefusal(envId: string, owner: SlotOwner | undefined, invokedFunctionArn: string): StratusError | undefined {
  if (!owner) return new StratusError('Internal', `environment ${envId} runs no function yet`, { details: { kind: 'other-function' } });
  const [, accountId, functionName] = FUNCTION_ARN.exec(invokedFunctionArn) ?? [];
  if (accountId === owner.accountId && functionName === owner.functionName) return undefined;
  return new StratusError(
    'Internal',
    `environment ${envId} runs function ${owner.functionName} of account ${owner.accountId}; it does not run invocations of ${invokedFunctionArn}`,
    { details: { kind: 'other-function' } },
  );
}

/**
 * A sandbox's control directory in the run directory: its Runtime API socket, and the
 * environment file the driver writes beside it.
 */
export async function makeControlDir(runRoot: string, id: string): Promise<string> {
  const dir = join(runRoot, id.slice(0, 12));
  await mkdir(dir, { mode: 0o755 });
  return dir;
}

/** A warm-pool stem's /var/task: bound into its sandbox empty, filled when it is specialized. */
export async function makeStemTaskDir(runRoot: string, id: string): Promise<string> {
  const dir = join(runRoot, `${id.slice(0, 12)}-task`);
  await mkdir(dir, { mode: 0o755 });
  return dir;
}

/** The Runtime API for `handler` on the control directory's socket (listening once `serveRuntimeApi` resolves). */
export function runtimeApiIn(controlDir: string, handler: RuntimeApiHandler): RuntimeApiServer {
  return new RuntimeApiServer(join(controlDir, 'runtime.sock'), handler, MAX_RESPONSE_BYTES);
}

/** Starts the Runtime API; its socket is open to the sandbox's uid. */
export async function serveRuntimeApi(api: RuntimeApiServer, controlDir: string): Promise<void> {
  await api.listen();
  await chmod(join(controlDir, 'runtime.sock'), 0o666);
}

/** Ends a slot: its sandbox, its Runtime API server and its directories. */
export async function closeSlot(slot: Slot): Promise<void> {
  await slot.env.destroy();
  slot.leases.releaseAll();
  slot.relay.close();
  await slot.api.close();
  await removeDir(slot.controlDir);
  if (slot.stemTaskDir) await removeDir(slot.stemTaskDir);
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
