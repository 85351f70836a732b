import type { EnvironmentSpec, RuntimeId, ZipPackage } from '../environment-spec.js';
import { javaCommand, javaVariables } from './java.js';
import { initBinds, initCommand, lambdaVariables, runtimeApiVariables, type LaunchContext, type RuntimeFiles, type RuntimeLaunch } from './common.js';

interface RuntimeRecipe {
  runtimeDir?(files: RuntimeFiles): string;
  command(memoryMb: number, ctx: LaunchContext): string[];
  env: Record<string, string>;
  /** Variables that depend on the worker (e.g. where its JDK is). */
  hostEnv?(ctx: LaunchContext): Record<string, string>;
}

/** Lambda's Node.js bootstrap sizes the heap from the memory: new space MEM/10, old space the rest. */
function nodeCommand(memoryMb: number, ctx: LaunchContext): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [
    ctx.nodePath, '--expose-gc', '--max-http-header-size', '81920',
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`,
    '/var/runtime/bootstrap.cjs',
  ];
}

const RECIPES: Record<RuntimeId, RuntimeRecipe> = {
  'nodejs20.x': {
    runtimeDir: (files) => files.nodejs,
    command: nodeCommand,
    env: { NODE_PATH: '/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task' },
  },
  'python3.11': {
    runtimeDir: (files) => files.python,
    command: (_memoryMb, ctx) => [ctx.pythonPath, '-u', '/var/runtime/bootstrap.py'],
    // Lambda's: a layer's /opt/python (and its site-packages) is importable.
    env: { LC_CTYPE: 'C.UTF-8', PYTHONPATH: '/opt/python/lib/python3.11/site-packages:/opt/python' },
  },
  java17: {
    runtimeDir: (files) => files.java,
    command: javaCommand,
    env: {},
    hostEnv: javaVariables,
  },
  'provided.al2023': { command: () => ['/var/task/bootstrap'], env: {} },
  'provided.al2': { command: () => ['/var/task/bootstrap'], env: {} },
};

/** A runtime started for no function yet (a warm-pool stem): what it runs before it is given one. */
export interface BareRuntime {
  runtime: RuntimeId;
  memoryMb: number;
}

/**
 * A runtime's own launch: its directory, command and variables (the language's, Lambda's fixed
 * ones and where the Runtime API is), without any function's.
 */
export function runtimeLaunch(bare: BareRuntime, ctx: LaunchContext): RuntimeLaunch {
  const recipe = RECIPES[bare.runtime];
  return {
    runtimeDir: recipe.runtimeDir?.(ctx.files),
    binds: [...initBinds(ctx), { source: ctx.files.hosts, target: '/etc/hosts' }],
    command: initCommand(ctx, recipe.command(bare.memoryMb, ctx)),
    env: {
      ...runtimeVariables(recipe, ctx),
      AWS_EXECUTION_ENV: `AWS_Lambda_${bare.runtime}`,
      AWS_REGION: ctx.region,
      AWS_DEFAULT_REGION: ctx.region,
      AWS_LAMBDA_INITIALIZATION_TYPE: ctx.initType,
      ...runtimeApiVariables(ctx),
    },
  };
}

/**
 * A zip function's launch: its runtime's, with the function's variables over the runtime's, then
 * Lambda's own over both.
 */
export function zipLaunch(spec: EnvironmentSpec, pkg: ZipPackage, ctx: LaunchContext): RuntimeLaunch {
  const recipe = RECIPES[pkg.runtime];
  // Lambda's internal extensions: a managed runtime starts through AWS_LAMBDA_EXEC_WRAPPER, its
  // own command line as the wrapper's arguments (not the provided runtimes, which have none).
  const wrapper = recipe.runtimeDir ? spec.environment?.AWS_LAMBDA_EXEC_WRAPPER : undefined;
  return {
    ...runtimeLaunch({ runtime: pkg.runtime, memoryMb: spec.memoryMb }, ctx),
    ...(wrapper ? { command: initCommand(ctx, [wrapper, ...recipe.command(spec.memoryMb, ctx)]) } : {}),
    env: {
      ...runtimeVariables(recipe, ctx),
      ...spec.environment,
      _HANDLER: pkg.handler,
      AWS_EXECUTION_ENV: `AWS_Lambda_${pkg.runtime}`,
      ...lambdaVariables(spec, ctx),
    },
  };
}

function runtimeVariables(recipe: RuntimeRecipe, ctx: LaunchContext): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/opt/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LD_LIBRARY_PATH: '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
    ...recipe.env,
    ...recipe.hostEnv?.(ctx),
  };
}
