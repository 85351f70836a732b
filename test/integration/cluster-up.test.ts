// `stratus cluster up`: a whole local cluster for trying Stratus (3-member etcd, two placement
// replicas sharing local-hosts workers, assignment replicas, frontends) that the AWS CLI can use
// with the endpoint and credentials it prints, that survives its placement leader's SIGKILL (the
// other replica adopts the hosts it started), and that SIGINT stops entirely.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { canMakeHosts, LocalHostsProvider } from '../../src/placement/index.js';
import { descendantsOf } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const can = await canMakeHosts();

/** Runs without a zombie counting as alive (the adopted children of a killed parent may linger as zombies). */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};
/** What is left of these hosts: processes, namespaces, veth pairs, cgroups. */
async function leftovers(hosts: ReturnType<typeof LocalHostsProvider.recorded>['hosts']): Promise<string[]> {
  const netns = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
  const left: string[] = [];
  for (const h of hosts) {
    if (h.pid && running(h.pid)) left.push(`process ${h.pid}`);
    if (netns.includes(h.netns)) left.push(`netns ${h.netns}`);
    if (await run('ip', ['link', 'show', h.veth]).then(() => true, () => false)) left.push(`veth ${h.veth}`);
    for (const c of h.cgroups) if (existsSync(c)) left.push(`cgroup ${c}`);
  }
  return left;
}
const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

describe('stratus cluster up', { skip: can.ok ? undefined : can.reason }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('brings up a cluster the AWS CLI uses with what it prints; it survives its placement leader\'s SIGKILL, and SIGINT then stops every process and removes every host, those the dead leader started too', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stratus-cluster-up-'));
    dirs.push(dataDir);
    const child = spawn(process.execPath, [MAIN, 'cluster', 'up', '--workers', '2', '--zones', '2', '--port', '0', '--data-dir', dataDir, '--worker-memory-mb', '512'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRATUS_ACCESS_KEY_ID: '', STRATUS_SECRET_ACCESS_KEY: '' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => /Ctrl-C stops/.test(output) || child.exitCode !== null, 'the cluster to be up', 150_000);
      assert.match(output, /Stratus cluster is up/, output);
      const endpoint = /Lambda API: (\S+)/.exec(output)?.[1] ?? '';
      const keys = /AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(output);
      assert.ok(endpoint && keys, output);
      const zip = join(dataDir, 'fn.zip');
      await writeFile(zip, await makeZip({ 'index.js': 'exports.handler = async (e) => ({ hello: e.name });' }));
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', AWS_ACCESS_KEY_ID: keys[1] ?? '', AWS_SECRET_ACCESS_KEY: keys[2] ?? '', AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
      const awsCli = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', endpoint, '--no-cli-pager', '--cli-binary-format', 'raw-in-base64-out', ...args], { env });
      await awsCli('lambda', 'create-function', '--function-name', 'hi', '--runtime', 'nodejs20.x', '--role', 'arn:aws:iam::123456789012:role/r', '--handler', 'index.handler', '--zip-file', `fileb://${zip}`);
      const out = join(dataDir, 'out.json');
      await awsCli('lambda', 'invoke', '--function-name', 'hi', '--payload', '{"name":"cluster"}', out);
      assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { hello: 'cluster' });

      const [runDir] = (await readdir(dataDir)).filter((d) => d.startsWith('run-'));
      const recorded = LocalHostsProvider.recorded(join(dataDir, runDir ?? '', 'placement', 'local-hosts'));
      const { hosts, net } = recorded;
      assert.equal(hosts.length, 2, 'two worker hosts');
      assert.ok(net);
      const pids = await descendantsOf(child.pid ?? 0);
      assert.ok(pids.length >= 11, `etcd, control plane and workers: ${pids.length} processes`);

      // SIGKILL the placement leader: the other replica leads, adopts the workers and the hosts the dead one started.
      const metrics = /their metrics: (\S+) and ([^\s)]+)/.exec(output)?.slice(1) ?? [];
      assert.equal(metrics.length, 2, output);
      const leads = async (url: string) => /^stratus_placement_leader 1$/m.test(await fetch(url).then((r) => r.text(), () => ''));
      const leader = await until(async () => ((await leads(metrics[0] ?? '')) ? 0 : (await leads(metrics[1] ?? '')) ? 1 : undefined), 'a placement leader');
      const leaderPid = pids.find((pid) => cmdline(pid).includes(`placement-${leader}`));
      assert.ok(leaderPid, 'the leader replica\'s process');
      assert.deepEqual(hosts.map((h) => parentOf(h.pid ?? 0)), [leaderPid, leaderPid], 'both hosts were started by the leader');
      process.kill(leaderPid, 'SIGKILL');
      const successor = metrics[1 - leader] ?? '';
      let seen = '';
      await until(async () => {
        seen = await fetch(successor).then((r) => r.text(), () => '');
        return /^stratus_placement_leader 1$/m.test(seen) && /stratus_fleet_workers\{state="active"\} 2/.test(seen);
      }, 'the other replica to lead the two workers', 60_000).catch((err: Error) => {
        const log = readFileSync(join(dataDir, runDir ?? '', 'logs', `placement-${1 - leader}.log`), 'utf8').slice(-3000);
        throw new Error(`${err.message}\n${seen.split('\n').filter((l) => /^stratus_(placement_leader|workers|fleet_workers)/.test(l)).join('\n')}\n${log}`);
      });
      assert.ok(hosts.every((h) => running(h.pid ?? 0)), 'the hosts outlived the replica that started them');
      const recordedNow = () => LocalHostsProvider.recorded(join(dataDir, runDir ?? '', 'placement', 'local-hosts')).hosts;
      assert.deepEqual(recordedNow().map((h) => h.id), hosts.map((h) => h.id));
      await awsCli('lambda', 'invoke', '--function-name', 'hi', '--payload', '{"name":"after failover"}', out);
      assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { hello: 'after failover' });

      // A worker the dead leader started dies (SIGKILL): the new leader removes its host, and the fleet gets a new one.
      const [victim] = hosts;
      assert.ok(victim?.pid);
      process.kill(victim.pid, 'SIGKILL');
      await until(() => !recordedNow().some((h) => h.id === victim.id), 'the dead worker\'s host removed', 60_000);
      assert.deepEqual(await leftovers([victim]), [], 'nothing recorded for the dead worker\'s host is left');
      await until(async () => /stratus_fleet_workers\{state="active"\} 2/.test(await fetch(successor).then((r) => r.text(), () => '')), 'the replacement to join', 60_000);
      // (One replacement; more if, under load, the other worker's lease ran out meanwhile.)
      const started = await until(() => {
        const r = recordedNow().filter((h) => !hosts.some((o) => o.id === h.id));
        return r.length > 0 && r.every((h) => h.pid) ? r : undefined;
      }, 'the replacement host recorded with its process');
      const successorPid = pids.find((pid) => cmdline(pid).includes(`placement-${1 - leader}`));
      assert.deepEqual(started.map((h) => parentOf(h.pid ?? 0)), started.map(() => successorPid), 'started by the new leader');

      // SIGINT: the surviving replica, the last one out, stops the hosts the dead leader started and removes all.
      const all = [...hosts, ...recordedNow().filter((h) => !hosts.some((o) => o.id === h.id))];
      child.kill('SIGINT');
      assert.equal(await exited, 0, output);
      assert.doesNotMatch(output, /every placement replica exited/);
      assert.deepEqual(pids.filter(running), [], 'every process of the cluster stopped, the hosts\' workers too');
      assert.deepEqual(await leftovers(all), [], 'no process, namespace, veth or cgroup of any host is left');
      assert.equal(await run('ip', ['link', 'show', net.bridge]).then(() => true, () => false), false);
      for (const c of net.cgroups) assert.equal(existsSync(c), false, `cgroup ${c} removed`);
      assert.equal(existsSync(join(dataDir, runDir ?? '')), false, 'the run directory is removed');
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await exited;
      }
    }
  });
});
