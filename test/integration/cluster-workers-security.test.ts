// `stratus up`'s extra workers join as a cluster's do: TLS from the CA in its SQLite journal, a
// credential of each worker's own (`stratus workers add --data-dir`, a separate process, while
// `stratus up` runs), and the control plane calling each worker with a key derived for it alone.
// The internal API is on its own TLS port, not on the Lambda API's.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { installationSecret, SqliteJournal } from '../../src/journal/index.js';
import { controlPlaneCredential, loadClusterSecrets, sendHeartbeat, workerApiCredential, workerAuthorization, type WorkerBundle } from '../../src/placement/index.js';
import { CLUSTER_API } from '../../src/shared/cluster-api.js';
import { isStratusError } from '../../src/shared/errors.js';
import { LogGrants } from '../../src/shared/log-grants.js';
import { InternalClient, type InternalCredential } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME, workerServerName } from '../../src/shared/tls.js';
import { startStratus, startWorker, workersCommand, type StratusProcess, type WorkerProcess } from '../helpers/stratus.js';
import { plainHttpAttempt } from '../helpers/test-trust.js';

const WORKER_API = '/worker/v1';
const status = (id: string) => ({ id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] });
const refused = (code: 401 | 403) => (err: unknown) =>
  isStratusError(err) && err.code === 'Forbidden' && err.details.reason === (code === 401 ? 'UnknownCredential' : 'NotPermitted');

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("stratus up's extra workers: per-worker credentials over TLS", () => {
  let s: StratusProcess;
  let dir: string;
  let a: WorkerProcess;
  let b: WorkerProcess;
  let bundleA: WorkerBundle;
  let bundleB: WorkerBundle;
  const clients: InternalClient[] = [];
  const client = (credential: InternalCredential) => {
    const c = new InternalClient(credential);
    clients.push(c);
    return c;
  };
  const asWorker = (bundle: WorkerBundle) => client({ authorization: workerAuthorization(bundle), ca: bundle.caCertificate });
  /** What the control plane sends worker `id` (read from the journal, as only the control plane can). */
  const derivedKey = async (id: string) => {
    const journal = new SqliteJournal(join(s.dataDir, 'journal.db'));
    try {
      return workerApiCredential(await loadClusterSecrets(journal.clusterSecrets, Date.now()), id);
    } finally {
      await journal.close();
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-workers-security-'));
    s = await startStratus({ args: ['--worker-memory-mb', '128', '--lease-ms', '1500'] });
    a = await startWorker(s, { id: 'wa', memoryMb: 256, dataDir: join(dir, 'wa') });
    b = await startWorker(s, { id: 'wb', memoryMb: 256, dataDir: join(dir, 'wb') });
    bundleA = JSON.parse(await readFile(join(dir, 'wa.json'), 'utf8')) as WorkerBundle;
    bundleB = JSON.parse(await readFile(join(dir, 'wb.json'), 'utf8')) as WorkerBundle;
  });
  after(async () => {
    for (const c of clients) c.close();
    await a?.stop();
    await b?.stop();
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the internal API is TLS on its own port: a plain-HTTP request gets no answer; workers serve TLS too', async () => {
    assert.match(s.internalUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(s.internalUrl).port, String(s.port));
    assert.match(s.output(), /npx stratus workers add --id W --data-dir .+ > W\.json/);
    for (const url of [s.internalUrl, a.url]) {
      assert.match(url, /^https:\/\//);
      assert.equal(await plainHttpAttempt(`${url}${CLUSTER_API}/workers`, workerAuthorization(bundleA)), 'ECONNRESET');
    }
  });

  test('the Lambda API port no longer serves the internal routes: 404, even with a valid credential', async () => {
    const headers = { authorization: workerAuthorization(bundleA), 'content-type': 'application/json' };
    const heartbeat = await fetch(`${s.url}${CLUSTER_API}/workers`, { method: 'POST', headers, body: JSON.stringify({ id: 'wa', url: a.url, status: status('wa') }) });
    assert.equal(heartbeat.status, 404);
    const download = await fetch(`${s.url}${CLUSTER_API}/images/sha256:${'a'.repeat(64)}`, { headers });
    assert.equal(download.status, 404);
  });

  test("worker A's credential cannot heartbeat as B, as a new worker, nor as stratus up's own worker", async () => {
    const asA = asWorker(bundleA);
    await sendHeartbeat(asA, s.internalUrl, { id: 'wa', url: a.url, status: status('wa') }, 5000);
    for (const id of ['wb', 'w-new', 'worker-1']) {
      await assert.rejects(sendHeartbeat(asA, s.internalUrl, { id, url: a.url, status: status(id) }, 5000), refused(403), id);
    }
    // Even a credential issued for the in-process worker's id cannot take its place.
    const own = JSON.parse(await workersCommand(s, 'add', '--id', 'worker-1')) as WorkerBundle;
    await assert.rejects(sendHeartbeat(asWorker(own), s.internalUrl, { id: 'worker-1', url: a.url, status: status('worker-1') }, 5000), refused(403));
  });

  test("A's derived key opens A's API only: not B's; A's credential opens neither", async () => {
    const seenByA = client(await derivedKey('wa'));
    const ofA = (await seenByA.json(`${a.url}${WORKER_API}/status`, workerServerName('wa'), 'GET')) as { id: string };
    assert.equal(ofA.id, 'wa');
    await assert.rejects(seenByA.json(`${b.url}${WORKER_API}/status`, workerServerName('wb'), 'GET'), refused(401));
    await assert.rejects(seenByA.json(`${b.url}${WORKER_API}/fence`, workerServerName('wb'), 'POST', {}), refused(401));
    await assert.rejects(asWorker(bundleA).json(`${b.url}${WORKER_API}/status`, workerServerName('wb'), 'GET'), refused(401));
    const ofB = (await client(await derivedKey('wb')).json(`${b.url}${WORKER_API}/status`, workerServerName('wb'), 'GET')) as { id: string };
    assert.equal(ofB.id, 'wb');
  });

  test("function logs: only a worker's credential may post them, only in their wire shape, only under its grant, and what it posts is stored", async () => {
    const url = `${s.internalUrl}${CLUSTER_API}/logs`;
    // The grant assignment gives worker wa with an environment of the function (the installation's secret is the control plane's).
    const journal = new SqliteJournal(join(s.dataDir, 'journal.db'));
    const grants = new LogGrants(Buffer.from(await installationSecret(journal.clusterSecrets, 'log-grants'), 'base64url'));
    const unsigned = { accountId: '000000000000', group: '/aws/lambda/posted', stream: '2026/12/07/[$LATEST]feed', events: [{ timestamp: Date.now(), message: 'from worker wa' }] };
    const batch = { ...unsigned, grant: grants.grant('wa', unsigned.accountId, unsigned.group) };
    // A worker cannot write into a group it runs no environment for: no grant, another group's, another account's, another worker's.
    for (const stray of [unsigned, { ...batch, group: '/aws/lambda/other' }, { ...batch, accountId: '111111111111' }, { ...unsigned, grant: grants.grant('wb', unsigned.accountId, unsigned.group) }, { ...batch, grant: 'forged' }]) {
      await assert.rejects(asWorker(bundleA).json(url, CONTROL_PLANE_NAME, 'POST', [batch, stray]), refused(403), JSON.stringify(stray));
    }
    await asWorker(bundleA).json(url, CONTROL_PLANE_NAME, 'POST', [batch]);
    try {
      const events = await journal.logs.events('000000000000', '/aws/lambda/posted', { limit: 10 });
      assert.deepEqual(events?.map((e) => [e.stream, e.message]), [[batch.stream, 'from worker wa']]);
    } finally {
      await journal.close();
    }
    const journalSecrets = new SqliteJournal(join(s.dataDir, 'journal.db'));
    const controlPlane = client(controlPlaneCredential(await loadClusterSecrets(journalSecrets.clusterSecrets, Date.now())));
    await journalSecrets.close();
    // The internal API knows workers only: the control plane's own credential is nobody there.
    await assert.rejects(controlPlane.json(url, CONTROL_PLANE_NAME, 'POST', [batch]), refused(401));
    await assert.rejects(client({ authorization: 'Bearer nobody', ca: bundleA.caCertificate }).json(url, CONTROL_PLANE_NAME, 'POST', [batch]), refused(401));
    for (const bad of [[{ ...batch, accountId: '../other' }], [{ ...batch, events: [] }], [{ ...batch, events: [{ timestamp: -1, message: 'x' }] }], { not: 'a list' }]) {
      await assert.rejects(asWorker(bundleA).json(url, CONTROL_PLANE_NAME, 'POST', bad), (err: unknown) => isStratusError(err) && err.code === 'Validation', JSON.stringify(bad));
    }
  });

  test('a credential revoked by another process is refused from its next request, and its worker drops out', async () => {
    const asB = asWorker(bundleB);
    await sendHeartbeat(asB, s.internalUrl, { id: 'wb', url: b.url, status: status('wb') }, 5000);
    assert.match(await workersCommand(s, 'revoke', '--id', 'wb'), /revoked/);
    await assert.rejects(sendHeartbeat(asB, s.internalUrl, { id: 'wb', url: b.url, status: status('wb') }, 5000), refused(401));
    await assert.rejects(asB.json(`${s.internalUrl}${CLUSTER_API}/images/sha256:${'a'.repeat(64)}`, CONTROL_PLANE_NAME, 'GET'), refused(401));
    // The worker's own heartbeats are refused too, so its lease runs out.
    await until(() => /unknown or revoked worker credential/.test(b.output()), "worker wb's heartbeats to be refused");
    assert.match(await workersCommand(s, 'list'), /^wb\trevoked /m);
    assert.match(await workersCommand(s, 'list'), /^wa\tactive/m);
    await sendHeartbeat(asWorker(bundleA), s.internalUrl, { id: 'wa', url: a.url, status: status('wa') }, 5000);
  });
});
