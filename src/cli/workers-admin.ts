import { mkdir, readFile } from 'node:fs/promises';
import type { Journal } from '../journal/index.js';
import { loadClusterSecrets, WorkerCredentials, type WorkerBundle } from '../placement/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import { StratusError } from '../shared/errors.js';
import { WORKER_ID_PATTERN } from '../shared/tls.js';
import { openJournal } from './cluster.js';
import { openLocalJournal } from './single-machine.js';

/**
 * `stratus workers add|revoke|list`: the operator's commands for per-worker credentials, run
 * against the cluster's etcd like the control-plane roles, or (without --etcd) against the SQLite
 * journal in `stratus up`'s data directory, which may be running: it reads the credentials on
 * every request. `add` prints the worker's bundle (JSON: id, secret, the CA's certificate,
 * never its key); only a hash of the secret is kept.
 */
export async function workersCommand(action: string | undefined, workerId: string | undefined, config: StratusConfig, clock: Clock): Promise<string> {
  const journal: Journal & { close(): Promise<void> } = config.cluster.etcdEndpoints.length > 0
    ? openJournal(config)
    : (await mkdir(config.dataDir, { recursive: true, mode: 0o700 }), openLocalJournal(config.dataDir));
  try {
    const credentials = new WorkerCredentials(journal.workerCredentials);
    if (action === 'list') {
      const rows = await credentials.list();
      return rows.map((r) => `${r.workerId}\t${r.revokedAtMs === undefined ? 'active' : `revoked ${new Date(r.revokedAtMs).toISOString()}`}\tadded ${new Date(r.createdAtMs).toISOString()}`).join('\n');
    }
    if (!workerId) throw new StratusError('InvalidParameterValue', `stratus workers ${action ?? ''} needs --id WORKER`);
    if (action === 'add') {
      const secrets = await loadClusterSecrets(journal.clusterSecrets, clock.now());
      const { secret } = await credentials.add(workerId, clock.now());
      const bundle: WorkerBundle = { workerId, secret, caCertificate: secrets.ca.certPem };
      return JSON.stringify(bundle, null, 2);
    }
    if (action === 'revoke') {
      await credentials.revoke(workerId, clock.now());
      return `revoked the credential of worker ${workerId}`;
    }
    throw new StratusError('InvalidParameterValue', `unknown action ${JSON.stringify(action)}: stratus workers add|revoke|list`);
  } finally {
    await journal.close();
  }
}

/** A worker's bundle, as `stratus workers add` printed it. */
export async function readWorkerBundle(path: string): Promise<WorkerBundle> {
  let bundle: Partial<WorkerBundle>;
  try {
    bundle = JSON.parse(await readFile(path, 'utf8')) as Partial<WorkerBundle>;
  } catch (err) {
    throw new Error(`${path} is not a worker credential bundle (stratus workers add prints one): ${err instanceof Error ? err.message : String(err)}`);
  }
  const { workerId, secret, caCertificate } = bundle;
  if (typeof workerId !== 'string' || !WORKER_ID_PATTERN.test(workerId) || typeof secret !== 'string' || typeof caCertificate !== 'string') {
    throw new Error(`${path} is not a worker credential bundle: it needs workerId, secret and caCertificate`);
  }
  return { workerId, secret, caCertificate };
}
