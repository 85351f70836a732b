import { fileURLToPath } from 'node:url';
import type { FunctionVersion } from '../registry/index.js';

/** How to start a function's runtime inside its sandbox. */
export interface RuntimeLaunch {
  /** Host directory bound at /var/runtime. */
  runtimeDir: string;
  /** Command as seen inside the sandbox. */
  command: string[];
  env: Record<string, string>;
}

export interface LaunchContext {
  region: string;
  nodePath: string;
  /** What AWS_LAMBDA_RUNTIME_API says inside the sandbox. */
  runtimeApiAddress: string;
  /** Path of the Runtime API socket inside the sandbox. */
  runtimeApiSocket: string;
  logStreamName: string;
}

const NODE_RUNTIME_DIR = fileURLToPath(new URL('../runtimes/nodejs/', import.meta.url));

/** Variables Lambda reserves; a function may not set them (see registry validation). */
export const RESERVED_ENV_KEYS = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
];

export function launchFor(fn: FunctionVersion, ctx: LaunchContext): RuntimeLaunch {
  const heapMb = Math.max(64, Math.floor(fn.memoryMb * 0.9));
  return {
    runtimeDir: NODE_RUNTIME_DIR,
    command: [ctx.nodePath, `--max-old-space-size=${heapMb}`, '/var/runtime/bootstrap.mjs'],
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      NODE_PATH: '/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task',
      LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
      ...fn.environment,
      _HANDLER: fn.handler,
      AWS_REGION: ctx.region,
      AWS_DEFAULT_REGION: ctx.region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: fn.version,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: ctx.logStreamName,
      AWS_LAMBDA_RUNTIME_API: ctx.runtimeApiAddress,
      STRATUS_RUNTIME_API_SOCKET: ctx.runtimeApiSocket,
      LAMBDA_TASK_ROOT: '/var/task',
      LAMBDA_RUNTIME_DIR: '/var/runtime',
    },
  };
}
