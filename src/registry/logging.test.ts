// LoggingConfig in the registry: Lambda's defaults and merge rules, functions stored before it
// existed, and a published version keeping its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { makeZip } from '../../test/helpers/zip.js';
import { FunctionRegistry } from './functions.js';
import { applyLogging, defaultLogging, loggingOf } from './logging.js';

const TEXT_WITH_LEVELS = /^LogLevel is not supported when LogFormat is set to "Text"\. Remove LogLevel from your request or change the LogFormat to "Json" and try again\.$/;

describe('LoggingConfig', () => {
  it('defaults to Text to /aws/lambda/<name>; JSON gets INFO for both levels', () => {
    assert.deepEqual(applyLogging(defaultLogging('f'), {}), { logFormat: 'Text', logGroup: '/aws/lambda/f' });
    assert.deepEqual(applyLogging(defaultLogging('f'), { logFormat: 'JSON' }), { logFormat: 'JSON', applicationLogLevel: 'INFO', systemLogLevel: 'INFO', logGroup: '/aws/lambda/f' });
    assert.deepEqual(applyLogging(defaultLogging('f'), { logFormat: 'JSON', applicationLogLevel: 'ERROR', logGroup: '/mine' }), {
      logFormat: 'JSON', applicationLogLevel: 'ERROR', systemLogLevel: 'INFO', logGroup: '/mine',
    });
  });

  it('refuses levels with Text; a change to Text drops them; fields not given keep their values', () => {
    for (const given of [{ applicationLogLevel: 'DEBUG' as const }, { logFormat: 'Text' as const, systemLogLevel: 'WARN' as const }]) {
      assert.throws(() => applyLogging(defaultLogging('f'), given), (err: unknown) => err instanceof StratusError && err.code === 'InvalidParameterValue' && TEXT_WITH_LEVELS.test(err.message));
    }
    const json = applyLogging(defaultLogging('f'), { logFormat: 'JSON', applicationLogLevel: 'DEBUG', systemLogLevel: 'WARN', logGroup: '/g' });
    assert.deepEqual(applyLogging(json, { systemLogLevel: 'DEBUG' }), { ...json, systemLogLevel: 'DEBUG' });
    assert.deepEqual(applyLogging(json, { logFormat: 'Text' }), { logFormat: 'Text', logGroup: '/g' });
  });

  it('a function stored before LoggingConfig reads as the default; a published version keeps its own', async () => {
    const registry = new FunctionRegistry({
      journal: new MemoryJournal(), code: new MemoryCodeStore(), clock: new ManualClock(), zipLimits: { maxUnzippedBytes: 1 << 20 },
      accountId: '000000000000', region: 'us-east-1', reservedEnvKeys: [], quota: () => ({ maxFunctions: 10, totalCodeBytes: 1e9 }),
    });
    const settings = { runtime: 'nodejs20.x' as const, role: 'r', handler: 'index.handler', description: '', timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {} };
    await registry.create('old', settings, await makeZip({ 'index.js': '' }));
    assert.equal(registry.get('old').loggingConfig, undefined);
    assert.deepEqual(loggingOf(registry.get('old')), { logFormat: 'Text', logGroup: '/aws/lambda/old' });
    const json = applyLogging(loggingOf(registry.get('old')), { logFormat: 'JSON' });
    await registry.updateSettings('old', { loggingConfig: json });
    const v1 = await registry.publish('old');
    await registry.updateSettings('old', { loggingConfig: applyLogging(json, { logFormat: 'Text' }) });
    assert.deepEqual(loggingOf(registry.resolve('old', '1')), json);
    assert.equal(v1.loggingConfig?.logFormat, 'JSON');
    assert.equal(loggingOf(registry.resolve('old', undefined)).logFormat, 'Text');
  });
});
