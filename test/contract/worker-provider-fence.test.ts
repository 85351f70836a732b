import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { canMakeHosts, LocalHostsProvider } from '../../src/placement/index.js';
import { silentLogger, type Logger } from '../../src/shared/log.js';
import { fakeHostsOptions } from '../helpers/fake-hosts-options.js';
import { until } from '../helpers/wait.js';

/**
 * `local-hosts` fencing and supervision between placement replicas that overlap: a deposed
 * replica tears down nothing, a host another live replica is starting is left to it, a host that
 * cannot be removed holds up neither the leadership nor the others, a failed close leaves its
 * remains to the next replica.
 */
const run = promisify(execFile);
const can = await canMakeHosts();
const skip = can.ok ? undefined : can.reason;
const dirs: string[] = [];
const mounts: string[] = [];
after(async () => {
  for (const m of mounts) await run('umount', [m]).catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

type Host = ReturnType<typeof LocalHostsProvider.recorded>['hosts'][number];
const fenced = (err: Error & { code?: string }) => err.code === 'Fenced';

/** A credential issuer that, once `hold()` is called, waits (asked) until released: a start paused midway, its host half made. */
function gate() {
  let held = false;
  let asked: (() => void) | undefined;
  let release: (() => void) | undefined;
  const askedP = new Promise<void>((r) => (asked = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    hold: () => void (held = true),
    asked: askedP,
    release: () => release?.(),
    issueCredential: async (workerId: string) => {
      if (held) {
        asked?.();
        await released;
      }
      return { workerId, secret: 's', caCertificate: '' };
    },
  };
}

const options = (revoked: string[] = []) => fakeHostsOptions(dirs, revoked);

/** A logger that counts the warnings with `message`. */
function counting(message: string): { log: Logger; count: () => number } {
  const log = silentLogger();
  let n = 0;
  log.warn = ((obj: unknown, msg?: string) => void ((msg === message || obj === message) && n++)) as Logger['warn'];
  return { log, count: () => n };
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};
const netnsExists = async (name: string) => (await run('ip', ['netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === name);
const linkExists = async (name: string) => run('ip', ['link', 'show', name]).then(() => true, () => false);
const hosts = (stateDir: string) => LocalHostsProvider.recorded(stateDir).hosts;

async function leftovers(h: Host): Promise<string[]> {
  const left: string[] = [];
  if (alive(h.pid)) left.push(`process ${h.pid}`);
  if (await netnsExists(h.netns)) left.push(`netns ${h.netns}`);
  if (await linkExists(h.veth)) left.push(`veth ${h.veth}`);
  if (existsSync(h.dir)) left.push(`dir ${h.dir}`);
  for (const c of h.cgroups) if (existsSync(c)) left.push(`cgroup ${c}`);
  return left;
}

/** A tmpfs mounted in the host's directory: removing the directory fails (EBUSY) until it is unmounted. */
async function pin(h: Host): Promise<string> {
  const m = join(h.dir, 'data', 'pinned');
  await mkdir(m, { recursive: true });
  await run('mount', ['-t', 'tmpfs', 'none', m]);
  mounts.push(m);
  return m;
}

describe('LocalHostsProvider between overlapping replicas', { skip }, () => {
  it('a deposed replica whose supervision still runs tears down nothing of a host its successor is starting', async () => {
    const opts = await options();
    let aLeads = true;
    const aLog = counting('local-hosts: supervising the hosts failed');
    const a = await LocalHostsProvider.open({ ...opts, log: aLog.log, superviseMs: 20, mayAct: () => aLeads });
    a.setControlPlane(`https://${a.address}:${a.port}`);
    await a.lead();
    const g = gate();
    const b = await LocalHostsProvider.open({ ...opts, issueCredential: g.issueCredential, mayAct: () => true });
    b.setControlPlane(`https://${b.address}:${b.port}`);
    try {
      // a is paused (its supervision's timer armed) while b takes over and starts a host.
      aLeads = false;
      await b.lead();
      g.hold();
      const starting = b.start({ zone: 'a' });
      await g.asked;
      const [rec] = hosts(opts.stateDir);
      assert.ok(rec && !rec.pid, 'recorded, its worker not started yet');
      const seen = aLog.count();
      await until(() => aLog.count() >= seen + 2, 'the deposed replica looked at the hosts, twice', 20_000);
      assert.deepEqual((await leftovers(rec)).filter((l) => !l.startsWith('process')).length, 3 + rec.cgroups.length, 'its netns, veth, directory and cgroups are all there');
      g.release();
      const h = await starting;
      assert.ok(alive(hosts(opts.stateDir)[0]?.pid), `${h.id} started`);
      await b.stop(h.id);
    } finally {
      g.release();
      await a.close();
      await b.close();
    }
  });

  it('a new leader leaves a host its deposed starter is still starting to that starter, which removes it once fenced', async () => {
    const revoked: string[] = [];
    const opts = await options(revoked);
    let aLeads = true;
    const g = gate();
    const a = await LocalHostsProvider.open({ ...opts, issueCredential: g.issueCredential, mayAct: () => aLeads });
    a.setControlPlane(`https://${a.address}:${a.port}`);
    await a.lead();
    const b = await LocalHostsProvider.open({ ...opts, superviseMs: 20, mayAct: () => true });
    b.setControlPlane(`https://${b.address}:${b.port}`);
    try {
      g.hold();
      const starting = a.start({ zone: 'a' });
      await g.asked;
      const [rec] = hosts(opts.stateDir);
      assert.ok(rec && !rec.pid);
      aLeads = false;
      await b.lead(); // its first look is done
      assert.deepEqual(hosts(opts.stateDir).map((h) => h.id), [rec.id], 'the half-made host is still recorded');
      assert.ok(await netnsExists(rec.netns) && existsSync(join(rec.dir, 'data')), 'and nothing of it removed');
      g.release();
      await assert.rejects(starting, fenced, 'its starter, deposed, cannot finish it');
      assert.deepEqual(await leftovers(rec), [], 'its starter removed what it made');
      assert.deepEqual(hosts(opts.stateDir), [], 'and forgot it');
      assert.deepEqual(revoked, [rec.id]);
    } finally {
      g.release();
      await a.close();
      await b.close();
    }
  });

  it('a host that cannot be removed holds up neither a new leadership nor the supervision of the others; it is removed once it can be', async () => {
    const opts = await options();
    const a = await LocalHostsProvider.open(opts);
    a.setControlPlane(`https://${a.address}:${a.port}`);
    await a.lead();
    const b = await LocalHostsProvider.open({ ...opts, superviseMs: 20 });
    b.setControlPlane(`https://${b.address}:${b.port}`);
    const gone: string[] = [];
    b.onGone((w) => gone.push(w.id));
    try {
      await a.start({ zone: 'a' });
      await a.start({ zone: 'b' });
      const [h1, h2] = hosts(opts.stateDir);
      assert.ok(h1?.pid && h2?.pid);
      const pinned = await pin(h1);
      await a.standDown();
      process.kill(h1.pid, 'SIGKILL');
      await until(() => !alive(h1.pid), `${h1.id}'s worker dead`);
      await b.lead();
      process.kill(h2.pid, 'SIGKILL');
      await until(() => gone.includes(h2.id), `${h2.id} (its worker killed after the takeover) reported gone`, 20_000);
      assert.deepEqual(await leftovers(h2), []);
      assert.deepEqual(hosts(opts.stateDir).map((h) => h.id), [h1.id], 'the host that cannot be removed stays recorded');
      await run('umount', [pinned]);
      await until(() => gone.includes(h1.id), `${h1.id} removed at a later look`, 20_000);
      assert.deepEqual(await leftovers(h1), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a close that fails leaves what is left to the next replica to open, which removes it', async () => {
    const opts = await options();
    const a = await LocalHostsProvider.open(opts);
    a.setControlPlane(`https://${a.address}:${a.port}`);
    await a.lead();
    await a.start({ zone: 'a' });
    const [h] = hosts(opts.stateDir);
    assert.ok(h);
    const pinned = await pin(h);
    const bridge = LocalHostsProvider.recorded(opts.stateDir).net?.bridge ?? '';
    await assert.rejects(a.close(), /EBUSY/);
    await run('umount', [pinned]);
    assert.ok(LocalHostsProvider.recorded(opts.stateDir).garbage.some((g) => g.key === `host:${h.id}`), 'what is left is recorded');
    const b = await LocalHostsProvider.open(opts);
    try {
      assert.deepEqual(await leftovers(h), [], 'the next replica removed it');
      assert.equal(await linkExists(bridge), false, 'and the old bridge');
    } finally {
      await b.close();
    }
    const recorded = LocalHostsProvider.recorded(opts.stateDir);
    assert.deepEqual([recorded.net, recorded.hosts, recorded.garbage], [undefined, [], []]);
  });
});
