import { fileURLToPath } from 'node:url';
import { SANDBOX_INIT, SANDBOX_INIT_DIR } from '../../sandbox/index.js';
import type { EnvironmentSpec } from '../environment-spec.js';

/** How to start a function's runtime inside its sandbox. */
export interface RuntimeLaunch {
  /** Host directory bound at /var/runtime (none for `provided` runtimes). */
  runtimeDir?: string;
  /** Extra host directories bound read-only. */
  binds: { source: string; target: string }[];
  /** Command as seen inside the sandbox; stratus-init runs it as its child. */
  command: string[];
  env: Record<string, string>;
  /** Working directory inside the sandbox (default /var/task). */
  workingDir?: string;
}

/** Host directories of the runtime clients and of stratus-init, as the worker keeps them (see run-root.ts). */
export interface RuntimeFiles {
  nodejs: string;
  python: string;
  /** The Java runtime client (lib/stratus-java-runtime.jar), bound at /var/runtime for java17. */
  java: string;
  /** The host's OpenJDK 17 (under /usr, bound read-only in every sandbox); absent: no java17 here. */
  javaHome?: string;
  /** The directory holding stratus-init, bound at /var/rapid. */
  init: string;
  /** The sandboxes' /etc/hosts (SANDBOX_HOSTS, written into the run directory, whose path no sandbox sees). */
  hosts: string;
}

/** Every sandbox's /etc/hosts: its own loopback is localhost and, as in Lambda, sandbox.localdomain; no name of the host. */
export const SANDBOX_HOSTS = '127.0.0.1\tlocalhost sandbox.localdomain\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export interface LaunchContext {
  region: string;
  files: RuntimeFiles;
  nodePath: string;
  pythonPath: string;
  /** Where stratus-init serves the Runtime API over TCP inside the sandbox. */
  runtimeApiHost: string;
  runtimeApiPort: number;
  /** Path of the worker's Runtime API socket inside the sandbox. */
  runtimeApiSocket: string;
  logStreamName: string;
  /** Lambda's AWS_LAMBDA_INITIALIZATION_TYPE; 'snap-start' for a SnapStart snapshot boot. */
  initType: 'on-demand' | 'provisioned-concurrency' | 'snap-start';
}

/** Where the runtime clients are built (the worker serves copies of them, see run-root.ts). */
export const RUNTIME_SOURCES = {
  nodejs: fileURLToPath(new URL('../../runtimes/nodejs/', import.meta.url)),
  python: fileURLToPath(new URL('../../../../src/runtimes/python/', import.meta.url)),
  /** Built by scripts/setup.sh (javac + jar of src/runtimes/java). */
  java: fileURLToPath(new URL('../../../runtimes/java/', import.meta.url)),
};

/** stratus-init's directory, bound read-only into every sandbox. */
export function initBinds(ctx: LaunchContext): RuntimeLaunch['binds'] {
  return [{ source: ctx.files.init, target: SANDBOX_INIT_DIR }];
}

/** stratus-init (the sandbox's pid 1) relaying the Runtime API, then the runtime's own argv. */
export function initCommand(ctx: LaunchContext, argv: string[]): string[] {
  return [SANDBOX_INIT, ctx.runtimeApiHost, String(ctx.runtimeApiPort), ctx.runtimeApiSocket, '--', ...argv];
}

/**
 * The variables Lambda sets for every function, zip or image (over the function's own). The
 * LoggingConfig decides the runtime's log format and, with JSON, its level: a function's own
 * AWS_LAMBDA_LOG_FORMAT never changes its format, nor its AWS_LAMBDA_LOG_LEVEL a JSON function's
 * ApplicationLogLevel (with Text, which has no level, Lambda leaves that variable to the function).
 */
export function lambdaVariables(spec: Pick<EnvironmentSpec, 'functionName' | 'memoryMb' | 'version' | 'logging'>, ctx: LaunchContext): Record<string, string> {
  const { format, applicationLogLevel, logGroup } = spec.logging;
  return {
    AWS_LAMBDA_LOG_FORMAT: format,
    ...(format === 'JSON' ? { AWS_LAMBDA_LOG_LEVEL: applicationLogLevel ?? 'INFO' } : {}),
    AWS_REGION: ctx.region,
    AWS_DEFAULT_REGION: ctx.region,
    AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: spec.version,
    AWS_LAMBDA_INITIALIZATION_TYPE: ctx.initType,
    AWS_LAMBDA_LOG_GROUP_NAME: logGroup,
    AWS_LAMBDA_LOG_STREAM_NAME: ctx.logStreamName,
    ...runtimeApiVariables(ctx),
  };
}

/** Where the runtime finds its Runtime API, and Lambda's fixed directories. */
export function runtimeApiVariables(ctx: LaunchContext): Record<string, string> {
  return {
    AWS_LAMBDA_RUNTIME_API: `${ctx.runtimeApiHost}:${ctx.runtimeApiPort}`,
    // A checkpointable sandbox's runtime goes through stratus-init's relay (never an open host
    // socket), over its Unix socket on the sandbox's tmpfs: no TCP connection at the checkpoint.
    STRATUS_RUNTIME_API_SOCKET: ctx.initType === 'snap-start' ? '/run/rapid/runtime.sock' : ctx.runtimeApiSocket,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
  };
}
