import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { canMakeHosts, LocalHostsProvider, StaticWorkerProvider, type LocalHostsOptions } from '../../src/placement/index.js';
import { silentLogger } from '../../src/shared/log.js';
import { FAKE_HOST, fakeHostsOptions } from '../helpers/fake-hosts-options.js';
import { until } from '../helpers/wait.js';
import { runWorkerProviderContract, type ProviderFixture } from './worker-provider.contract.js';

const run = promisify(execFile);
const LOCAL_HOSTS = fileURLToPath(new URL('../../src/placement/local-hosts.js', import.meta.url));
const can = await canMakeHosts();
const skip = can.ok ? undefined : can.reason;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface RecordedState { bridge: string; cgroups: string[]; hosts: { id: string; netns: string; veth: string; dir: string; cgroups: string[]; pid?: number; startTime?: string; address: string }[] }

const localHostsOptions = (revoked: string[] = []) => fakeHostsOptions(dirs, revoked);

/** What the provider's shared state (`hosts.db`) records now. */
const state = async (stateDir: string): Promise<RecordedState> => {
  const r = LocalHostsProvider.recorded(stateDir);
  return { bridge: r.net?.bridge ?? '', cgroups: r.net?.cgroups ?? [], hosts: r.hosts };
};
/** A process runs (a zombie, dead but not yet reaped by whoever adopted it, does not). */
const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};
const netnsList = async () => (await run('ip', ['netns', 'list'])).stdout;
const linkExists = async (name: string) => run('ip', ['link', 'show', name]).then(() => true, () => false);
const fetchText = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(3000) })).text();

/** What is left of one recorded host: its process, namespace, veth, directory, cgroups. */
async function hostLeftovers(h: RecordedState['hosts'][number]): Promise<string[]> {
  const left: string[] = [];
  if (alive(h.pid)) left.push(`process ${h.pid}`);
  if ((await netnsList()).split('\n').some((l) => l.split(' ')[0] === h.netns)) left.push(`netns ${h.netns}`);
  if (await linkExists(h.veth)) left.push(`veth ${h.veth}`);
  if (existsSync(h.dir)) left.push(`dir ${h.dir}`);
  for (const c of h.cgroups) if (existsSync(c)) left.push(`cgroup ${c}`);
  return left;
}

/**
 * Another placement replica's provider, in a process of its own: it leads, starts `hosts` hosts,
 * says so, and waits (to be SIGKILLed as a crashing placement).
 */
async function replicaProcess(opts: LocalHostsOptions, hosts: number): Promise<ChildProcessByStdio<null, Readable, null>> {
  const script = `
    const { LocalHostsProvider } = await import(${JSON.stringify(LOCAL_HOSTS)});
    const p = await LocalHostsProvider.open({ stateDir: ${JSON.stringify(opts.stateDir)}, command: [process.execPath, ${JSON.stringify(FAKE_HOST)}],
      issueCredential: async (workerId) => ({ workerId, secret: 's', caCertificate: '' }), revokeCredential: async () => {}, log: { info() {}, warn() {} } });
    p.setControlPlane('https://127.0.0.1:1');
    await p.lead();
    for (let i = 0; i < ${hosts}; i++) await p.start({ zone: 'a' });
    process.stdout.write('started\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
    child.once('exit', (code) => reject(new Error(`the other replica exited early (${code})`)));
  });
  return child;
}

const sigkill = async (child: ChildProcess) => {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
};

/** What the local-hosts provider made, learnt from its state file while it was recorded there. */
async function localHostsFixture(revoked: string[] = []): Promise<ProviderFixture & { provider: LocalHostsProvider; stateDir: string }> {
  const opts = await localHostsOptions(revoked);
  const provider = await LocalHostsProvider.open(opts);
  provider.setControlPlane('https://127.0.0.1:1');
  await provider.lead();
  const { bridge, cgroups } = await state(opts.stateDir);
  const seen = new Map<string, RecordedState['hosts'][number]>();
  const learn = async (id: string) => {
    if (!seen.has(id)) for (const h of (await state(opts.stateDir).catch(() => ({ hosts: [] as RecordedState['hosts'] }))).hosts) seen.set(h.id, h);
    return seen.get(id);
  };
  return {
    provider, stateDir: opts.stateDir,
    async running(id) {
      const h = await learn(id);
      if (!h || !alive(h.pid)) return false;
      return (await until(() => fetchText(`http://${h.address}:8080/`).catch(() => undefined), `worker ${id} serving`, 10_000)) === id;
    },
    async leftovers(id) {
      const h = await learn(id);
      return h ? hostLeftovers(h) : [`no record of ${id}`];
    },
    async leftoversAfterClose() {
      const left: string[] = [];
      if (await linkExists(bridge)) left.push(`bridge ${bridge}`);
      for (const c of cgroups) if (existsSync(c)) left.push(`cgroup ${c}`);
      const recorded = LocalHostsProvider.recorded(opts.stateDir);
      if (recorded.net || recorded.hosts.length || recorded.garbage.length) left.push(`recorded: ${JSON.stringify(recorded)}`);
      return left;
    },
  };
}

runWorkerProviderContract('StaticWorkerProvider', async () => ({
  provider: new StaticWorkerProvider(), running: async () => false, leftovers: async () => [], leftoversAfterClose: async () => [],
}));
runWorkerProviderContract('LocalHostsProvider', localHostsFixture, { skip });

describe('LocalHostsProvider hosts', { skip }, () => {
  it('gives each worker a host of its own: address, port space, cgroup, data directory; hosts reach each other over the bridge and nothing beyond it', async () => {
    const f = await localHostsFixture();
    try {
      const a = await f.provider.start({ zone: 'a' });
      const b = await f.provider.start({ zone: 'b' });
      assert.ok(await f.running(a.id));
      assert.ok(await f.running(b.id));
      assert.notEqual(a.address, b.address);
      // Both listen on port 8080: separate network stacks. From a's host to b's host:
      assert.equal(await fetchText(`http://${a.address}:8080/peer?url=${encodeURIComponent(`http://${b.address}:8080/`)}`), b.id);
      // ...but not to this machine's loopback (a's own loopback is its own):
      const rec = (await state(f.stateDir)).hosts.find((h) => h.id === a.id);
      assert.ok(rec);
      const routes = (await run('ip', ['-n', rec.netns, '-4', 'route', 'show'])).stdout.trim().split('\n');
      assert.equal(routes.length, 1, `one route, the bridge's /24: ${routes.join('; ')}`);
      assert.doesNotMatch(routes[0] ?? '', /default/);
      const unreachable = await run('ip', ['netns', 'exec', rec.netns, process.execPath, '-e', `fetch('http://1.1.1.1/',{signal:AbortSignal.timeout(2000)}).then(()=>process.exit(0),()=>process.exit(3))`]).then(() => 0, (e: { code?: number }) => e.code);
      assert.equal(unreachable, 3, 'no route beyond the bridge');
      const cgroup = await fetchText(`http://${a.address}:8080/cgroup`);
      const own = cgroup.split('\n').filter((l) => l.endsWith(`/${a.id}`) && l.includes('/stratus-hosts-'));
      assert.equal(own.length, rec.cgroups.length, `in its own cgroups (${rec.cgroups.join(', ')}): ${cgroup}`);
      assert.ok(existsSync(join(rec.dir, 'data')));
    } finally {
      await f.provider.close();
    }
  });

  it('a crashed placement\'s hosts are removed by the next start, from its recorded state only', async () => {
    const revoked: string[] = [];
    const opts = await localHostsOptions(revoked);
    // A process that starts two hosts and is then SIGKILLed, as a crashing placement.
    const child = await replicaProcess(opts, 2);
    const left = await state(opts.stateDir);
    assert.equal(left.hosts.length, 2);
    await sigkill(child);
    assert.ok(left.hosts.every((h) => alive(h.pid)), 'its worker hosts outlived it');
    const other = await run('ip', ['netns', 'add', `stratus-${left.hosts[0]?.netns.split('-')[1]}-99`]).then(() => `stratus-${left.hosts[0]?.netns.split('-')[1]}-99`);
    try {
      const next = await LocalHostsProvider.open(opts);
      try {
        for (const h of left.hosts) {
          assert.equal(alive(h.pid), false);
          assert.equal((await netnsList()).includes(h.netns), false);
          assert.equal(await linkExists(h.veth), false);
          assert.equal(existsSync(h.dir), false);
          for (const c of h.cgroups) assert.equal(existsSync(c), false);
        }
        assert.equal(await linkExists(left.bridge), false);
        assert.deepEqual(revoked.sort(), left.hosts.map((h) => h.id).sort(), 'their credentials are revoked');
        assert.ok((await netnsList()).includes(other), 'a namespace it did not record, though named alike, is left alone');
      } finally {
        await next.close();
      }
    } finally {
      await run('ip', ['netns', 'del', other]);
    }
  });
  it('a host whose worker process dies (SIGKILL) is removed, everything recorded for it, and reported gone; the others stay', async () => {
    const revoked: string[] = [];
    const f = await localHostsFixture(revoked);
    try {
      const gone: string[] = [];
      f.provider.onGone((w) => gone.push(w.id));
      const a = await f.provider.start({ zone: 'a' });
      const b = await f.provider.start({ zone: 'b' });
      assert.ok(await f.running(a.id));
      const rec = (await state(f.stateDir)).hosts.find((h) => h.id === a.id);
      assert.ok(rec?.pid);
      process.kill(rec.pid, 'SIGKILL');
      await until(() => gone.includes(a.id), 'the dead host reported gone', 20_000);
      assert.deepEqual(await hostLeftovers(rec), [], 'its process, netns, veth, directory and cgroups are gone');
      assert.deepEqual(f.provider.list().map((w) => w.id), [b.id]);
      assert.deepEqual((await state(f.stateDir)).hosts.map((h) => h.id), [b.id], 'its record is gone');
      assert.ok(await f.running(b.id), 'the other host still runs');
      assert.deepEqual(gone, [a.id]);
      assert.deepEqual(revoked, [a.id], 'its credential is revoked');
      await assert.rejects(f.provider.stop(a.id), /did not start/);
    } finally {
      await f.provider.close();
    }
  });

  it('a crash-looping worker (it exits at once, every time) leaks no host: each one is removed and reported gone', async () => {
    const revoked: string[] = [];
    const opts = { ...(await localHostsOptions(revoked)), command: [process.execPath, '-e', 'process.exit(3)'] };
    const p = await LocalHostsProvider.open(opts);
    p.setControlPlane('https://127.0.0.1:1');
    await p.lead();
    const gone: string[] = [];
    p.onGone((w) => gone.push(w.id));
    try {
      const { cgroups } = await state(opts.stateDir);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { id } = await p.start({ zone: 'a' });
        ids.push(id);
        await until(() => gone.includes(id), `host ${id} reported gone`, 20_000);
        // Its names follow from its id (the record is gone already).
        const tag = id.slice('lh-'.length);
        const h = { id, netns: `stratus-${tag}`, veth: `sv-${tag}`, dir: join(opts.stateDir, id), cgroups: cgroups.map((c) => join(c, id)), address: '' };
        assert.deepEqual(await hostLeftovers(h), [], `nothing of ${id} is left`);
      }
      assert.deepEqual(gone, ids);
      assert.deepEqual(revoked, ids, 'each credential is revoked');
      assert.deepEqual(p.list(), []);
    } finally {
      await p.close();
    }
  });

  it('replicas share the hosts: a follower acts on none, a new leader fences the old one and stops the hosts it started', async () => {
    const opts = await localHostsOptions();
    // By their own clocks (placement's `mayAct`): a leads, then is deposed and b leads.
    let aLeads = true;
    const a = await LocalHostsProvider.open({ ...opts, mayAct: () => aLeads });
    a.setControlPlane(`https://${a.address}:${a.port}`);
    await a.lead();
    const b = await LocalHostsProvider.open({ ...opts, mayAct: () => true });
    try {
      assert.notEqual(b.address, a.address, 'each replica listens at its own address of the bridge');
      assert.equal(b.port, a.port);
      const h = await a.start({ zone: 'a' });
      const rec = (await state(opts.stateDir)).hosts.find((x) => x.id === h.id);
      assert.ok(rec && alive(rec.pid));
      assert.deepEqual(b.list().map((w) => w.id), [h.id], 'the follower sees the recorded host');
      await assert.rejects(b.start({ zone: 'a' }), (err: Error & { code?: string }) => err.code === 'Fenced');
      await assert.rejects(b.stop(h.id), (err: Error & { code?: string }) => err.code === 'Fenced');
      b.setControlPlane(`https://${b.address}:${b.port}`);
      aLeads = false;
      await b.lead();
      // The deposed leader (paused, say, while the other took over) can no longer stop or start hosts.
      await assert.rejects(a.stop(h.id), (err: Error & { code?: string }) => err.code === 'Fenced');
      await assert.rejects(a.start({ zone: 'a' }), (err: Error & { code?: string }) => err.code === 'Fenced');
      // ... nor take the fence while deposed by its own clock: its lead waits (and is refused if it stands down first).
      const late = a.lead();
      const h2 = await b.start({ zone: 'b' });
      // If its clock lets it lead again for a moment (it was paused right before its lease ran out), it takes the
      // fence late; the leader takes it back when it next acts.
      aLeads = true;
      await late;
      aLeads = false;
      await assert.rejects(a.stop(h2.id), (err: Error & { code?: string }) => err.code === 'Fenced');
      await b.stop(h2.id);
      await a.standDown();
      aLeads = false;
      const refused = a.lead();
      await a.standDown();
      await assert.rejects(refused, (err: Error & { code?: string }) => err.code === 'Fenced', 'a lead still waiting when it stands down is refused');
      assert.ok(alive(rec.pid), 'the old leader tore nothing down');
      await a.close();
      assert.ok(alive(rec.pid), 'a replica leaving while another lives leaves the hosts');
      await b.stop(h.id);
      assert.deepEqual(await hostLeftovers(rec), []);
    } finally {
      await a.close();
      await b.close();
    }
    const recorded = LocalHostsProvider.recorded(opts.stateDir);
    assert.deepEqual([recorded.net, recorded.hosts, recorded.garbage], [undefined, [], []], 'the last replica out removed everything');
  });

  it('after the leader replica is SIGKILLed its hosts live on; the new leader supervises and stops them, and the last replica out removes everything', async () => {
    const revoked: string[] = [];
    const opts = await localHostsOptions(revoked);
    const old = await replicaProcess(opts, 2);
    let b: LocalHostsProvider | undefined;
    try {
      b = await LocalHostsProvider.open(opts);
      const { bridge, cgroups, hosts } = await state(opts.stateDir);
      assert.equal(hosts.length, 2);
      const [h1, h2] = hosts;
      assert.ok(h1 && h2);
      await sigkill(old);
      assert.ok(alive(h1.pid) && alive(h2.pid), 'its hosts outlive the replica that started them');
      const gone: string[] = [];
      b.onGone((w) => gone.push(w.id));
      b.setControlPlane(`https://${b.address}:${b.port}`);
      await b.lead();
      assert.deepEqual(b.list().map((w) => w.id).sort(), [h1.id, h2.id].sort());
      await b.stop(h1.id);
      assert.deepEqual(await hostLeftovers(h1), [], 'stopped by the new leader: nothing of it is left');
      assert.ok(alive(h2.pid));
      // A host not its child: its death is noticed by the supervision's look, and the host removed.
      process.kill(h2.pid ?? 0, 'SIGKILL');
      await until(() => gone.includes(h2.id), 'the adopted host reported gone', 20_000);
      assert.deepEqual(await hostLeftovers(h2), []);
      assert.deepEqual(revoked.sort(), [h1.id, h2.id].sort(), 'their credentials are revoked');
      await b.close();
      assert.equal(await linkExists(bridge), false, 'the bridge is removed');
      for (const c of cgroups) assert.equal(existsSync(c), false, `cgroup ${c} is removed`);
    } finally {
      await sigkill(old);
      await b?.close();
    }
  });
  it('removeAbandoned (cluster up\'s teardown) leaves a live replica\'s hosts alone and removes them once every replica is dead', async () => {
    const opts = await localHostsOptions();
    const replica = await replicaProcess(opts, 1);
    try {
      const { bridge, hosts: [h] } = await state(opts.stateDir);
      assert.ok(h);
      await LocalHostsProvider.removeAbandoned(opts.stateDir, silentLogger());
      assert.ok(alive(h.pid), 'a live replica\'s host is left alone');
      await sigkill(replica);
      assert.ok(alive(h.pid));
      await LocalHostsProvider.removeAbandoned(opts.stateDir, silentLogger());
      assert.deepEqual(await hostLeftovers(h), []);
      assert.equal(await linkExists(bridge), false);
      const recorded = LocalHostsProvider.recorded(opts.stateDir);
      assert.deepEqual([recorded.net, recorded.hosts, recorded.garbage], [undefined, [], []]);
    } finally {
      await sigkill(replica);
    }
  });
});
