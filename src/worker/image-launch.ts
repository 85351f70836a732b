import type { FunctionVersion, ImageSource } from '../registry/index.js';
import { SANDBOX_INIT_DIR } from '../sandbox/index.js';
import { initCommand, lambdaVariables, type LaunchContext, type RuntimeLaunch } from './runtimes.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * How a container-image function starts, as Lambda applies an image's settings: ImageConfig's
 * EntryPoint, Command and WorkingDirectory override the image's ENTRYPOINT, CMD and WORKDIR;
 * the process runs ENTRYPOINT + CMD (under stratus-init, which serves the Runtime API at
 * AWS_LAMBDA_RUNTIME_API); its environment is the image's ENV, then the function's variables,
 * then Lambda's own. `_HANDLER` is the first word of the command, as Lambda's base images read it.
 */
export function imageLaunch(fn: FunctionVersion, image: ImageSource, ctx: LaunchContext): RuntimeLaunch {
  const entrypoint = fn.imageConfig?.entryPoint ?? image.config.entrypoint;
  const command = fn.imageConfig?.command ?? image.config.cmd;
  const imageEnv: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const pair of image.config.env) {
    const eq = pair.indexOf('=');
    if (eq > 0) imageEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    binds: [{ source: ctx.files.init, target: SANDBOX_INIT_DIR }],
    command: initCommand(ctx, [...entrypoint, ...command]),
    env: { ...imageEnv, ...fn.environment, _HANDLER: command[0] ?? '', ...lambdaVariables(fn, ctx) },
    workingDir: fn.imageConfig?.workingDirectory || image.config.workingDir || '/',
  };
}
