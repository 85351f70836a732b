// The cluster's internal connections are TLS with its own CA, and each worker has its own
// credential: plain HTTP and clients that do not trust the CA get nowhere; a worker's credential
// cannot pass for another worker, reach the assignment API, another worker's API or anything
// administrative; unknown and revoked credentials are refused, and a revoked worker drops out.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdJournal } from '../../src/journal/index.js';
import { requestWorkerCertificate, sendHeartbeat, workerAuthorization, type WorkerBundle } from '../../src/placement/index.js';
import { CLUSTER_API } from '../../src/shared/cluster-api.js';
import { isStratusError } from '../../src/shared/errors.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME, createCsr, newKeyPair, workerServerName } from '../../src/shared/tls.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { plainHttpAttempt, testTrust } from '../helpers/test-trust.js';

/** Polls until `check` resolves true (or fails after 30 s). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

const ASSIGNMENT_API = '/_stratus/assignment/v1';
const WORKER_API = '/worker/v1';
const status = (id: string) => ({ id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] });
const refused = (status: 401 | 403) => (err: unknown) =>
  isStratusError(err) && err.code === 'Forbidden' && err.details.reason === (status === 401 ? 'UnknownCredential' : 'NotPermitted');

describe('cluster security: TLS and per-worker credentials', () => {
  let cluster: Cluster;
  let journal: EtcdJournal;
  let bundleA: WorkerBundle;
  let asA: InternalClient;
  const clients: InternalClient[] = [];
  /** A client with `authorization` that trusts `ca` (default: the cluster's, from worker A's bundle). */
  const client = (authorization: string, ca: string = bundleA.caCertificate) => {
    const c = new InternalClient({ authorization, ca });
    clients.push(c);
    return c;
  };
  const worker = (i: number) => {
    const w = cluster.workers[i];
    assert.ok(w);
    return w;
  };
  const directoryUrl = async (id: string) => ((await journal.workers.get(id))?.value as { url?: string } | undefined)?.url;

  before(async () => {
    cluster = await startCluster({ frontends: 1, replicas: 1, workers: 2 });
    journal = new EtcdJournal({ endpoints: cluster.etcd.endpoints, prefix: cluster.prefix });
    bundleA = JSON.parse(await readFile(join(cluster.dir, 'worker-0.json'), 'utf8')) as WorkerBundle;
    asA = client(workerAuthorization(bundleA));
    await until(async () => (await directoryUrl('worker-1')) !== undefined, 'worker-1 in the directory');
  });
  after(async () => {
    for (const c of clients) c.close();
    await journal?.close();
    await cluster?.stop();
  });

  test('every internal port serves TLS only: a plain-HTTP request gets no answer', async () => {
    for (const url of [cluster.placement.url, cluster.assignment[0]?.url ?? '', worker(0).url]) {
      assert.match(url, /^https:\/\//);
      assert.equal(await plainHttpAttempt(`${url}/anything`, cluster.controlPlane.authorization), 'ECONNRESET');
    }
  });

  test('a client that does not trust the cluster CA is refused before it sends anything', async () => {
    // The system's roots: the cluster's CA is not among them.
    const systemRoots = await new Promise<string | undefined>((resolve, reject) => {
      httpsGet(`${cluster.placement.url}${CLUSTER_API}/workers`, { servername: CONTROL_PLANE_NAME }, () => reject(new Error('answered')))
        .on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    });
    assert.match(systemRoots ?? '', /CERT|VERIFY|ISSUER/);
    // Another cluster's CA, with this cluster's real control-plane credential.
    const other = client(cluster.controlPlane.authorization, testTrust().ca.certPem);
    await assert.rejects(other.json(`${cluster.assignment[0]?.url}${ASSIGNMENT_API}/status`, CONTROL_PLANE_NAME, 'GET'), /certificate/i);
    // The right CA, but worker A's server asked to be worker B: its certificate names only A.
    const cp = client(cluster.workerApi('worker-0').authorization, cluster.controlPlane.ca);
    await assert.rejects(cp.json(`${worker(0).url}${WORKER_API}/status`, workerServerName('worker-1'), 'GET'), /altnames|does not match/i);
    assert.equal(((await cp.json(`${worker(0).url}${WORKER_API}/status`, workerServerName('worker-0'), 'GET')) as { id: string }).id, 'worker-0');
  });

  test('what a worker\'s API receives from the control plane opens only that worker: not another worker, not the assignment API', async () => {
    // Everything the control plane ever sends worker A: the key derived for A alone.
    const seenByA = client(cluster.workerApi('worker-0').authorization, cluster.controlPlane.ca);
    assert.equal(((await seenByA.json(`${worker(0).url}${WORKER_API}/status`, workerServerName('worker-0'), 'GET')) as { id: string }).id, 'worker-0');
    await assert.rejects(seenByA.json(`${worker(1).url}${WORKER_API}/status`, workerServerName('worker-1'), 'GET'), refused(401));
    await assert.rejects(seenByA.json(`${cluster.assignment[0]?.url}${ASSIGNMENT_API}/status`, CONTROL_PLANE_NAME, 'GET'), refused(401));
    await assert.rejects(seenByA.json(`${cluster.assignment[0]?.url}${ASSIGNMENT_API}/acquire`, CONTROL_PLANE_NAME, 'POST', { fn: {} }), refused(401));
    // The control-plane key itself is not what any worker admits (it is never sent to one).
    const cp = client(cluster.controlPlane.authorization, cluster.controlPlane.ca);
    await assert.rejects(cp.json(`${worker(0).url}${WORKER_API}/status`, workerServerName('worker-0'), 'GET'), refused(401));
  });

  test("worker A cannot register or heartbeat as worker B, nor as a new worker: refused, the directory unchanged", async () => {
    const before = await directoryUrl('worker-1');
    await assert.rejects(sendHeartbeat(asA, cluster.placement.url, { id: 'worker-1', url: worker(0).url, status: status('worker-1') }, 5000), refused(403));
    await assert.rejects(sendHeartbeat(asA, cluster.placement.url, { id: 'worker-9', url: worker(0).url, status: status('worker-9') }, 5000), refused(403));
    assert.equal(await directoryUrl('worker-1'), before);
    assert.equal(await journal.workers.get('worker-9'), undefined);
  });

  test("worker A is given a certificate for its own id only, and never the CA's key", async () => {
    const { keyPem, publicKeyPem } = newKeyPair();
    const issued = await requestWorkerCertificate(asA, cluster.placement.url, createCsr(keyPem, publicKeyPem), 10_000);
    const cert = new X509Certificate(issued.certificate);
    assert.equal(cert.subjectAltName, `DNS:${workerServerName('worker-0')}`);
    assert.ok(cert.checkIssued(new X509Certificate(bundleA.caCertificate)));
    assert.doesNotMatch(JSON.stringify(issued) + JSON.stringify(bundleA), /PRIVATE KEY/);
  });

  test("worker A's credential opens neither the assignment API, nor worker B's API, nor the Lambda API", async () => {
    const assignment = cluster.assignment[0]?.url ?? '';
    await assert.rejects(asA.json(`${assignment}${ASSIGNMENT_API}/status`, CONTROL_PLANE_NAME, 'GET'), refused(401));
    await assert.rejects(asA.json(`${assignment}${ASSIGNMENT_API}/acquire`, CONTROL_PLANE_NAME, 'POST', { fn: {} }), refused(401));
    await assert.rejects(asA.json(`${worker(1).url}${WORKER_API}/status`, workerServerName('worker-1'), 'GET'), refused(401));
    await assert.rejects(asA.json(`${worker(1).url}${WORKER_API}/fence`, workerServerName('worker-1'), 'POST', {}), refused(401));
    const lambda = await fetch(`${cluster.frontends[0]?.url}/2015-03-31/functions/`, { headers: { authorization: workerAuthorization(bundleA) } });
    assert.equal(lambda.status, 403);
    // Nor is the control plane's credential a worker's: it cannot register.
    const cp = client(cluster.controlPlane.authorization, cluster.controlPlane.ca);
    await assert.rejects(sendHeartbeat(cp, cluster.placement.url, { id: 'worker-8', url: worker(0).url, status: status('worker-8') }, 5000), refused(401));
  });

  test('an unknown credential is refused everywhere a worker goes, and changes nothing', async () => {
    const forged = client(workerAuthorization({ workerId: 'worker-1', secret: 'A'.repeat(43) }));
    const ghost = client(workerAuthorization({ workerId: 'ghost', secret: bundleA.secret }));
    for (const c of [forged, ghost]) {
      await assert.rejects(sendHeartbeat(c, cluster.placement.url, { id: 'worker-1', url: worker(0).url, status: status('worker-1') }, 5000), refused(401));
      await assert.rejects(c.json(`${cluster.placement.url}${CLUSTER_API}/images/sha256:${'a'.repeat(64)}`, CONTROL_PLANE_NAME, 'GET'), refused(401));
    }
    assert.equal(await directoryUrl('worker-1'), worker(1).url);
    assert.equal(await journal.workers.get('ghost'), undefined);
  });

  test('a revoked worker is refused from then on and drops out of the cluster', async () => {
    const revokee = await cluster.addWorker('worker-r');
    await until(async () => (await directoryUrl('worker-r')) === revokee.url, 'worker-r in the directory');
    const bundle = JSON.parse(await readFile(join(cluster.dir, 'worker-r.json'), 'utf8')) as WorkerBundle;
    const asR = client(workerAuthorization(bundle));
    assert.match(await cluster.workersCommand('revoke', '--id', 'worker-r'), /revoked/);
    await assert.rejects(sendHeartbeat(asR, cluster.placement.url, { id: 'worker-r', url: revokee.url, status: status('worker-r') }, 5000), refused(401));
    await assert.rejects(asR.json(`${cluster.placement.url}${CLUSTER_API}/images/sha256:${'a'.repeat(64)}`, CONTROL_PLANE_NAME, 'GET'), refused(401));
    await until(async () => (await directoryUrl('worker-r')) === undefined, 'the revoked worker to leave the directory');
    assert.match(await cluster.workersCommand('list'), /^worker-r\trevoked /m);
    assert.match(await cluster.workersCommand('list'), /^worker-0\tactive/m);
    await assert.rejects(cluster.workersCommand('add', '--id', 'worker-0'), /credential already/);
    await revokee.stop();
  });
});
