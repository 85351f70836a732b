import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processStartTime } from './host-network.js';
import { HostsState, type Proc } from './local-hosts-state.js';
import { hostRecordProblem } from './local-hosts-net.js';
import { freeHostSlot, workerEnvironment } from './local-hosts.js';

/** A process that ran and is gone (reaped): a replica that crashed. */
async function deadProcess(): Promise<Proc> {
  const child = spawn('sleep', ['30']);
  const startTime = processStartTime(child.pid ?? 0) ?? '';
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  return { pid: child.pid ?? 0, startTime, token: 'dead' };
}

describe('LocalHostsProvider', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('shares one record among replicas: one makes the net while the others wait, a dead replica is forgotten, the last one out gets everything to remove', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'stratus-lh-'));
    dirs.push(stateDir);
    const db = new HostsState(stateDir);
    try {
      const me = (token: string) => ({ pid: process.pid, startTime: processStartTime(process.pid) ?? '', token });
      const dead = await deadProcess();
      const net = { run: 'abc123', bridge: 'stb-abc123', subnet: '10.213.9', port: 4000, cgroups: [] };
      assert.equal(db.join(me('a')).role, 'maker');
      assert.equal(db.join(me('b')).role, 'wait', 'the net is being made by a live replica');
      db.made(net);
      assert.deepEqual(db.join(me('b')), { role: 'joiner', slot: 1, net });
      assert.deepEqual(db.join(dead), { role: 'joiner', slot: 2, net });
      assert.deepEqual(db.replicas().map((r) => r.slot), [0, 1], 'a dead replica is forgotten');
      const host = (id: string) => (slot: number) => ({ id, slot, zone: 'a', netns: `n-${id}`, veth: `v-${id}`, address: `10.213.9.${slot + 1}`, dir: `/nowhere/${id}`, cgroups: [] });
      const ga = db.lead(me('a'));
      db.addHost(ga, host('h1'));
      const gb = db.lead(me('b'));
      assert.ok(gb > ga);
      assert.throws(() => db.addHost(ga, host('h2')), (err: Error & { code?: string }) => err.code === 'Fenced', 'a deposed leader records nothing');
      assert.throws(() => db.deleteHost(ga, 'h1'), (err: Error & { code?: string }) => err.code === 'Fenced');
      assert.equal(db.addHost(gb, host('h2')).slot, 2, 'the lowest free address slot');
      assert.equal(db.leave(me('a')), undefined, 'another replica lives: nothing to remove');
      assert.deepEqual(db.hosts().map((h) => h.id), ['h1', 'h2']);
      const garbage = db.leave(me('b'));
      assert.deepEqual(garbage?.map((g) => g.key), ['host:h1', 'host:h2', 'net:abc123'], 'the last one out removes the hosts, then the net');
      assert.equal(db.join(me('c')).role, 'wait', 'while it removes them, nobody joins');
      for (const g of garbage ?? []) db.removed(g.key);
      db.left(me('b'));
      assert.deepEqual(db.join(me('c')), { role: 'maker', garbage: [] });
    } finally {
      db.close();
    }
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

  it('acts on a recorded host only if its record names what this net made: a tampered hosts.db names nothing else to remove', () => {
    const net = { run: 'abc123', cgroups: ['/sys/fs/cgroup/x/stratus-hosts-abc123'] };
    const good = {
      id: 'lh-abc123-1z', slot: 1, zone: 'a', netns: 'stratus-abc123-1z', veth: 'sv-abc123-1z', address: '10.213.9.2',
      dir: '/var/lib/stratus/local-hosts/lh-abc123-1z', cgroups: ['/sys/fs/cgroup/x/stratus-hosts-abc123/lh-abc123-1z'],
    };
    const problem = (change: Partial<typeof good>) => hostRecordProblem({ ...good, ...change }, '/var/lib/stratus/local-hosts', net);
    assert.equal(problem({}), undefined);
    assert.equal(hostRecordProblem(good, '/var/lib/stratus/local-hosts/', net), undefined, 'a trailing slash is the same directory');
    for (const [what, change] of Object.entries({
      'a directory elsewhere': { dir: '/etc' },
      'the state directory itself': { dir: '/var/lib/stratus/local-hosts' },
      'a directory out by ..': { dir: '/var/lib/stratus/local-hosts/../../../../etc' },
      'another host\'s directory': { dir: '/var/lib/stratus/local-hosts/lh-abc123-2' },
      'a cgroup elsewhere': { cgroups: ['/sys/fs/cgroup/system.slice'] },
      'the cgroup root itself': { cgroups: ['/sys/fs/cgroup/x/stratus-hosts-abc123'] },
      'a cgroup out by ..': { cgroups: ['/sys/fs/cgroup/x/stratus-hosts-abc123/../../system.slice/lh-abc123-1z'] },
      'another namespace': { netns: 'stratus-abc123-2' },
      'a namespace of another kind': { netns: 'cni-1234' },
      'another link': { veth: 'eth0' },
      'an id of another run': { id: 'lh-def456-1z', netns: 'stratus-def456-1z', veth: 'sv-def456-1z', dir: '/var/lib/stratus/local-hosts/lh-def456-1z', cgroups: ['/sys/fs/cgroup/x/stratus-hosts-abc123/lh-def456-1z'] },
      'an id with a path in it': { id: 'lh-abc123-1/../..' },
    })) assert.ok(problem(change), `refused: ${what}`);
    assert.ok(hostRecordProblem(good, '/var/lib/stratus/local-hosts', undefined), 'refused: no net recorded');
  });
});
