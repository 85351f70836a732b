import { loggingOf, type FunctionVersion } from '../registry/index.js';
import { StratusError } from '../shared/errors.js';
import type { EnvironmentSpec } from '../worker/index.js';

/**
 * What a worker is given to run an environment of `fn`: its code or image, runtime settings and
 * variables, and the sandbox its tags ask for (stratus:sandbox=gvisor, stratus:network=outbound).
 * A published version's ready SnapStart snapshot goes with it; clones restore from it. With
 * `logGrant`, the worker is given its grant to post the function's logs (`shared/log-grants.ts`).
 */
export function environmentSpec(fn: FunctionVersion, logGrant?: (accountId: string, group: string) => string): EnvironmentSpec {
  return {
    accountId: fn.accountId,
    functionName: fn.name,
    version: fn.version,
    package: packageOf(fn),
    memoryMb: fn.memoryMb,
    timeoutSec: fn.timeoutSec,
    ephemeralStorageMb: fn.ephemeralStorageMb,
    environment: fn.environment,
    sandboxDriver: fn.tags?.['stratus:sandbox'] === 'gvisor' ? 'gvisor' : 'default',
    network: fn.tags?.['stratus:network'] === 'outbound' ? 'outbound' : 'none',
    logging: loggingSpec(fn, logGrant),
    ...(fn.layers?.length && !fn.image ? { layers: fn.layers.map((l) => l.code) } : {}),
    ...(fn.snapshot?.status === 'ready' && fn.snapshot.image ? { snapshot: fn.snapshot.image } : {}),
  };
}

function packageOf(fn: FunctionVersion): EnvironmentSpec['package'] {
  if (fn.image) {
    const overrides = fn.imageConfig;
    return { type: 'Image', code: fn.code, digest: fn.image.digest, config: fn.image.config, ...(overrides ? { overrides } : {}) };
  }
  if (!fn.runtime) throw new StratusError('Internal', `function ${fn.name} has neither a runtime nor an image`);
  return { type: 'Zip', code: fn.code, runtime: fn.runtime, handler: fn.handler };
}

/** The version's LoggingConfig (its own, or Lambda's default for one stored before there was one). */
function loggingSpec(fn: FunctionVersion, logGrant?: (accountId: string, group: string) => string): EnvironmentSpec['logging'] {
  const { logFormat, applicationLogLevel, systemLogLevel, logGroup } = loggingOf(fn);
  const grant = logGrant ? { grant: logGrant(fn.accountId, logGroup) } : {};
  if (logFormat === 'Text') return { format: 'Text', logGroup, ...grant };
  return { format: 'JSON', ...(applicationLogLevel ? { applicationLogLevel } : {}), ...(systemLogLevel ? { systemLogLevel } : {}), logGroup, ...grant };
}
