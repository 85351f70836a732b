// `stratus cluster up`: a whole local cluster for trying Stratus (3-member etcd, placement with
// local-hosts workers, assignment replicas, frontends) that the AWS CLI can use with the
// endpoint and credentials it prints, and that SIGINT stops entirely.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { canMakeHosts } from '../../src/placement/index.js';
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

describe('stratus cluster up', { skip: can.ok ? undefined : can.reason }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('brings up a cluster the AWS CLI uses with what it prints, and SIGINT stops every process and removes every host', async () => {
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
      const state = JSON.parse(readFileSync(join(dataDir, runDir ?? '', 'placement', 'local-hosts', 'state.json'), 'utf8')) as { bridge: string; hosts: { netns: string }[] };
      assert.equal(state.hosts.length, 2, 'two worker hosts');
      const pids = await descendantsOf(child.pid ?? 0);
      assert.ok(pids.length >= 10, `etcd, control plane and workers: ${pids.length} processes`);
      child.kill('SIGINT');
      assert.equal(await exited, 0, output);
      assert.deepEqual(pids.filter(running), [], 'every process of the cluster stopped');
      const netns = (await run('ip', ['netns', 'list'])).stdout;
      assert.deepEqual(state.hosts.filter((h) => netns.includes(h.netns)), []);
      assert.equal(await run('ip', ['link', 'show', state.bridge]).then(() => true, () => false), false);
      assert.equal(existsSync(join(dataDir, runDir ?? '')), false, 'the run directory is removed');
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await exited;
      }
    }
  });
});
