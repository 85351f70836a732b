import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../shared/log.js';
import type { TaskFiles } from './code-cache.js';
import type { EnvironmentSpec, RuntimeId } from './environment-spec.js';
import { WarmPool } from './warm-pool.js';

function spec(runtime: RuntimeId, environment: Record<string, string>): EnvironmentSpec {
  return {
    accountId: '123456789012', functionName: 'f', version: '$LATEST', memoryMb: 128, timeoutSec: 3, ephemeralStorageMb: 512,
    package: { type: 'Zip', code: { sha256: 'a'.repeat(64), size: 1 }, runtime, handler: 'app.handler' },
    environment, sandboxDriver: 'default', network: 'none', logging: { format: 'Text', logGroup: '/aws/lambda/f' },
  };
}

describe('WarmPool.fits (which functions a booted stem can become)', () => {
  const pool = new WarmPool({
    size: 0, runtimes: ['nodejs20.x', 'python3.11'], memoryMb: 128, runRoot: '/nonexistent', taskFiles: {} as TaskFiles, log: silentLogger(),
    boot: () => Promise.reject(new Error('not in this test')), destroy: async () => {},
  });

  it('a function with ordinary variables fits a stem of its runtime', () => {
    for (const runtime of ['nodejs20.x', 'python3.11'] as const) assert.equal(pool.fits(spec(runtime, { GREETING: 'hi', LOG_LEVEL: 'debug' }), true), true);
  });

  it('a variable the loader or glibc reads only at process start (LD_*, GLIBC_TUNABLES, MALLOC_*) gets a runtime of its own, on both runtimes', () => {
    const startOnly: Record<string, string>[] = [
      { LD_PRELOAD: '/var/task/libhook.so' }, { LD_LIBRARY_PATH: '/var/task/lib' }, { LD_BIND_NOW: '1' },
      { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, { MALLOC_ARENA_MAX: '2' }, { MALLOC_TRIM_THRESHOLD_: '0' },
    ];
    for (const runtime of ['nodejs20.x', 'python3.11'] as const) {
      for (const variables of startOnly) assert.equal(pool.fits(spec(runtime, variables), true), false, `${runtime} ${JSON.stringify(variables)}`);
    }
    assert.equal(pool.fits(spec('nodejs20.x', { NODE_OPTIONS: '--max-old-space-size=100' }), true), false, 'the interpreters\' own still count');
    assert.equal(pool.fits(spec('python3.11', { PYTHONPATH: '/var/task/vendor' }), true), false);
  });
});
