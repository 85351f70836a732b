import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../shared/log.js';
import { processStartTime } from './host-network.js';
import { freeHostSlot, LocalHostsProvider, workerEnvironment } from './local-hosts.js';

describe('LocalHostsProvider', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('refuses a state directory whose recording process is alive, and leaves its records alone', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'stratus-lh-'));
    dirs.push(stateDir);
    const hostDir = join(stateDir, 'lh-other-1');
    const state = {
      owner: { pid: process.pid, startTime: processStartTime(process.pid) }, bridge: 'stb-zzzzzz', cgroups: [],
      hosts: [{ id: 'lh-other-1', zone: 'a', netns: 'stratus-zzzzzz-1', veth: 'sv-zzzzzz-1', address: '10.250.0.2', dir: hostDir, cgroups: [] }],
    };
    await writeFile(join(stateDir, 'state.json'), JSON.stringify(state));
    await writeFile(hostDir, 'the other replica\'s worker');
    const revoked: string[] = [];
    await assert.rejects(LocalHostsProvider.open({
      stateDir, command: ['true'], log: silentLogger(),
      issueCredential: () => Promise.reject(new Error('not used')), revokeCredential: async (id) => void revoked.push(id),
    }), (err: Error & { code?: string }) => err.code === 'InvalidConfig' && /one placement replica/.test(err.message));
    assert.deepEqual(revoked, [], 'no credential of the live owner revoked');
    assert.equal(await readFile(hostDir, 'utf8'), 'the other replica\'s worker', 'its host directory is still there');
    assert.deepEqual(JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')), state);
  });

  it('reuses the lowest free host slot, so a long run never runs out of addresses', () => {
    assert.equal(freeHostSlot([]), 1);
    assert.equal(freeHostSlot([1, 2, 4]), 3);
    assert.equal(freeHostSlot([2, 3]), 1);
    const all = Array.from({ length: 250 }, (_, i) => i + 1);
    assert.equal(freeHostSlot(all), undefined, 'all 250 in use at once');
    assert.equal(freeHostSlot(all.filter((n) => n !== 17)), 17, 'one freed after 250 starts is reused');
  });

  it('gives a worker only an allowlist of placement\'s environment', () => {
    const env = workerEnvironment({
      PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', NODE_OPTIONS: '--enable-source-maps', STRATUS_SECRET_ACCESS_KEY: 's', STRATUS_ACCESS_KEY_ID: 'k',
      AWS_SECRET_ACCESS_KEY: 'aws', ETCDCTL_PASSWORD: 'p', SOME_TOKEN: 't',
    });
    assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', NODE_OPTIONS: '--enable-source-maps' });
  });
});
