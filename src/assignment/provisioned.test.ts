import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { environmentKey, type FunctionVersion } from '../registry/index.js';
import { fakeFunction } from '../../test/helpers/fake-worker.js';
import type { EnvironmentEntry, EnvironmentState } from './environments.js';
import { ProvisionedConcurrency } from './provisioned.js';

const version = (name: string, v: string): FunctionVersion => ({ ...fakeFunction(name), version: v });

function setup(room = Infinity) {
  const envs: EnvironmentEntry[] = [];
  const started: string[] = [];
  const destroyed: string[] = [];
  const add = (fn: FunctionVersion, id: string, state: EnvironmentState, provisioned = true) => {
    envs.push({ id, key: environmentKey(fn), functionArn: fn.functionArn, version: fn.version, workerId: 'w1', memoryMb: 128, state, retired: false, provisioned });
  };
  const provisioned = new ProvisionedConcurrency({
    environments: () => envs,
    startOne: (fn) => {
      if (started.length >= room) return false;
      started.push(`${fn.name}:${fn.version}`);
      return true;
    },
    destroy: (env) => destroyed.push(env.id),
  });
  return { provisioned, envs, started, destroyed, add };
}

describe('ProvisionedConcurrency', () => {
  it('starts the missing environments of a target, as many as there is room for', () => {
    const { provisioned, started, add } = setup(2);
    const v1 = version('f', '1');
    add(v1, 'have', { kind: 'idle', sinceMs: 0 });
    provisioned.set(v1, 4);
    assert.deepEqual(started, ['f:1', 'f:1'], 'one existed; room for two more');
  });

  it('counts only initialized provisioned environments of the version', () => {
    const { provisioned, add } = setup();
    const v1 = version('f', '1');
    add(v1, 'a', { kind: 'idle', sinceMs: 0 });
    add(v1, 'b', { kind: 'busy' });
    add(v1, 'c', { kind: 'initializing' });
    add(v1, 'd', { kind: 'idle', sinceMs: 0 }, false);
    add(version('f', '2'), 'e', { kind: 'idle', sinceMs: 0 });
    assert.equal(provisioned.count(v1), 2);
  });

  it('lowering a target destroys idle surplus and unmarks busy surplus, which then ages out like any other', () => {
    const { provisioned, envs, destroyed, add } = setup();
    const v1 = version('f', '1');
    add(v1, 'keep', { kind: 'idle', sinceMs: 0 });
    add(v1, 'idle', { kind: 'idle', sinceMs: 0 });
    add(v1, 'busy', { kind: 'busy' });
    provisioned.set(v1, 1);
    assert.deepEqual(destroyed, ['idle']);
    assert.deepEqual(envs.map((e) => [e.id, e.provisioned]), [['keep', true], ['idle', true], ['busy', false]]);
  });

  it('a retired version loses its target (the current one stays), so a sweep no longer tops it up', () => {
    const { provisioned, started } = setup();
    const v1 = version('f', '1');
    const v2 = version('f', '2');
    const g = version('g', '1');
    for (const fn of [v1, v2, g]) provisioned.set(fn, 1);
    started.length = 0;
    provisioned.retire(fakeFunction('f').functionArn, undefined, environmentKey(v2));
    provisioned.reconcileAll();
    assert.deepEqual(started.sort(), ['f:2', 'g:1']);
    started.length = 0;
    provisioned.retire(fakeFunction('g').functionArn, '2', undefined);
    provisioned.reconcileAll();
    assert.deepEqual(started.sort(), ['f:2', 'g:1'], 'another version of g: its target stays');
  });
});
