// etcd over TLS (docs/cluster-security.md): real etcd members that serve https and require client
// certificates of their CA, and real `stratus` processes with --etcd-ca/--etcd-cert/--etcd-key.
// With the client certificate the operator's commands and a placement process work; without it,
// or trusting another CA, they fail and change nothing. The quorum probe (its own clients) reaches
// the members over TLS too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EtcdQuorumProbe } from '../../src/journal/etcd-probe.js';
import { workerAuthorization, type WorkerBundle } from '../../src/placement/index.js';
import { CLUSTER_API } from '../../src/shared/cluster-api.js';
import type { EtcdTls } from '../../src/shared/etcd.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../../src/shared/tls.js';
import { freshPrefix, startEtcdCluster, type EtcdCluster, type EtcdTestTls } from '../helpers/etcd.js';
import { spawnRole, type RoleProcess } from '../helpers/role-process.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

/** The PEM files of a throwaway etcd CA, the members' certificate, a client's, and an unrelated CA. */
interface TestPki extends EtcdTestTls {
  otherCaFile: string;
}

/** Makes the certificates with openssl, as docs/cluster-security.md shows an operator doing it. */
async function makePki(dir: string): Promise<TestPki> {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args);
  const ca = async (name: string) => openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.pem`), '-days', '1', '-subj', `/CN=${name}`);
  const leaf = async (name: string, extensions: string) => {
    await writeFile(f(`${name}.ext`), extensions);
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    await openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('etcd-ca.pem'), '-CAkey', f('etcd-ca-key.pem'), '-CAcreateserial',
      '-out', f(`${name}.pem`), '-days', '1', '-extfile', f(`${name}.ext`));
  };
  await Promise.all([ca('etcd-ca'), ca('other-ca')]);
  // etcd's gRPC gateway dials the member itself with the server certificate, hence clientAuth as well.
  await leaf('etcd-server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  await leaf('etcd-client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: f('etcd-ca.pem'), certFile: f('etcd-server.pem'), keyFile: f('etcd-server-key.pem'),
    clientCertFile: f('etcd-client.pem'), clientKeyFile: f('etcd-client-key.pem'), otherCaFile: f('other-ca.pem'),
  };
}

/** A finished `stratus` command: its exit code and output (a non-zero exit is not thrown). */
interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function stratus(args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('etcd over TLS with client certificates', () => {
  let dir: string;
  let pki: TestPki;
  let etcd: EtcdCluster;
  const prefix = freshPrefix('etcd-tls');
  const roles: RoleProcess[] = [];
  const etcdArgs = (tls: { ca?: string; cert?: boolean }) => [
    '--etcd', etcd.endpoints.join(','), '--etcd-prefix', prefix,
    ...(tls.ca ? ['--etcd-ca', tls.ca] : []),
    ...(tls.cert ? ['--etcd-cert', pki.clientCertFile, '--etcd-key', pki.clientKeyFile] : []),
  ];
  const workers = (action: string[], tls: { ca?: string; cert?: boolean }) => stratus(['workers', ...action, ...etcdArgs(tls)]);
  const listed = async () => {
    const list = await workers(['list'], { ca: pki.caFile, cert: true });
    assert.equal(list.code, 0, list.stderr);
    return list.stdout.split('\n').filter(Boolean).map((line) => line.split('\t')[0]);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-etcd-tls-'));
    pki = await makePki(dir);
    etcd = await startEtcdCluster({ members: 3, tls: pki });
    assert.ok(etcd.endpoints.every((e) => e.startsWith('https://127.0.0.1:')));
  });

  after(async () => {
    for (const role of roles) await role.stop();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let bundle: WorkerBundle;

  test('with the CA and a client certificate, workers add succeeds and workers list shows it', async () => {
    const add = await workers(['add', '--id', 'w1'], { ca: pki.caFile, cert: true });
    assert.equal(add.code, 0, add.stderr);
    bundle = JSON.parse(add.stdout) as WorkerBundle;
    assert.equal(bundle.workerId, 'w1');
    assert.match(bundle.caCertificate, /BEGIN CERTIFICATE/);
    assert.deepEqual(await listed(), ['w1']);
  });

  test('without the client certificate, etcd refuses: workers add fails and adds nothing', async () => {
    const add = await workers(['add', '--id', 'w2'], { ca: pki.caFile });
    assert.notEqual(add.code, 0, `stratus workers add succeeded without a client certificate:\n${add.stdout}`);
    assert.match(add.stderr, /etcd [\s\S]*bad certificate/);
    assert.deepEqual(await listed(), ['w1']);
  });

  test('trusting another CA, the members are not believed: workers add fails and adds nothing', async () => {
    const add = await workers(['add', '--id', 'w3'], { ca: pki.otherCaFile, cert: true });
    assert.notEqual(add.code, 0, `stratus workers add succeeded trusting the wrong CA:\n${add.stdout}`);
    assert.match(add.stderr, /etcd [\s\S]*unable to verify/);
    assert.deepEqual(await listed(), ['w1']);
  });

  test('without TLS options at all, an https etcd is not reachable', async () => {
    const add = await workers(['add', '--id', 'w4'], {});
    assert.notEqual(add.code, 0, `stratus workers add succeeded without TLS options:\n${add.stdout}`);
    assert.deepEqual(await listed(), ['w1']);
  });

  test('a client certificate without --etcd-ca is refused, not silently dropped', async () => {
    const add = await workers(['add', '--id', 'w5'], { cert: true });
    assert.notEqual(add.code, 0);
    assert.match(add.stderr, /--etcd-ca/);
    assert.deepEqual(await listed(), ['w1']);
  });

  test('a placement process starts against the TLS etcd and serves code and chunks from it', async () => {
    const placement = await spawnRole('placement', 'p1', [...etcdArgs({ ca: pki.caFile, cert: true }), '--id', 'p1', '--host', '127.0.0.1', '--port', '0'], {});
    roles.push(placement);
    assert.match(placement.output(), /Stratus placement p1 is serving on https:\/\/127\.0\.0\.1:\d+/);
    // A worker's request: the worker credential is checked against etcd, the server against the cluster CA kept
    // there (the one `workers add` printed), and the code and chunk stores (clients of their own) read etcd.
    const client = new InternalClient({ authorization: workerAuthorization(bundle), ca: bundle.caCertificate });
    try {
      const missing = '0'.repeat(64);
      for (const path of [`code/${missing}?size=1`, `chunks/${missing}`, `images/sha256:${missing}`]) {
        const reply = await client.exchange(`${placement.url}${CLUSTER_API}/${path}`, CONTROL_PLANE_NAME, { method: 'GET' });
        assert.equal(reply.status, 404, `${path}: ${reply.body.toString()}`);
        assert.match(reply.body.toString(), /ResourceNotFound/);
      }
    } finally {
      client.close();
    }
    await placement.stop();
    assert.match(placement.output(), /Stratus is stopping/);
  });

  test('a placement process without the client certificate does not start', async () => {
    const placement = await stratus(['placement', ...etcdArgs({ ca: pki.caFile }), '--id', 'p2', '--host', '127.0.0.1', '--port', '0']);
    assert.equal(placement.code, 1, `placement did not fail:\n${placement.stdout}${placement.stderr}`);
    assert.doesNotMatch(placement.stdout, /serving on/);
    assert.match(placement.stderr, /etcd [\s\S]*bad certificate/);
  });

  // Last: it stops members. The probe has its own clients (one per member), so it must be given the TLS material too.
  test('the quorum probe reaches the members over TLS: with two of three stopped it sees no quorum', async () => {
    const tls: EtcdTls = { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile };
    const probe = new EtcdQuorumProbe({ endpoints: etcd.endpoints, tls });
    const withoutTls = new EtcdQuorumProbe({ endpoints: etcd.endpoints });
    try {
      assert.equal(await probe.noQuorum(2000), false, 'a healthy cluster has a leader');
      await Promise.all(etcd.members.slice(1).map((m) => m.stop()));
      let noQuorum = false;
      for (let i = 0; i < 100 && !noQuorum; i++) {
        noQuorum = await probe.noQuorum(1000);
        if (!noQuorum) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(noQuorum, true, 'the remaining member answered the probe over TLS and reported no leader');
      // Control: a probe without the TLS material gets no answer at all, which means "cut off", not "no quorum".
      assert.equal(await withoutTls.noQuorum(1000), false);
    } finally {
      probe.close();
      withoutTls.close();
    }
  });
});
