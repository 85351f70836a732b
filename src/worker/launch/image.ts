import type { EnvironmentSpec, ImagePackage } from '../environment-spec.js';
import { initBinds, initCommand, lambdaVariables, type LaunchContext, type RuntimeLaunch } from './common.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * How a container-image function starts, as Lambda applies an image's settings: ImageConfig's
 * EntryPoint, Command and WorkingDirectory override the image's ENTRYPOINT, CMD and WORKDIR;
 * the process runs ENTRYPOINT + CMD (under stratus-init, which serves the Runtime API at
 * AWS_LAMBDA_RUNTIME_API); its environment is the image's ENV, then the function's variables,
 * then Lambda's own. `_HANDLER` is the first word of the command, as Lambda's base images read it.
 */
export function imageLaunch(spec: EnvironmentSpec, image: ImagePackage, ctx: LaunchContext): RuntimeLaunch {
  const entrypoint = image.overrides?.entryPoint ?? image.config.entrypoint;
  const command = image.overrides?.command ?? image.config.cmd;
  const imageEnv: Record<string, string> = { PATH: DEFAULT_PATH };
  for (const pair of image.config.env) {
    const eq = pair.indexOf('=');
    if (eq > 0) imageEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    binds: initBinds(ctx),
    command: initCommand(ctx, [...entrypoint, ...command]),
    env: { ...imageEnv, ...spec.environment, _HANDLER: command[0] ?? '', ...lambdaVariables(spec, ctx) },
    workingDir: image.overrides?.workingDirectory || image.config.workingDir || '/',
  };
}
