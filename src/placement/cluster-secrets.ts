import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { DocumentStore } from '../journal/index.js';
import { secretHash } from '../shared/bearer.js';
import { StratusError } from '../shared/errors.js';
import type { InternalCredential } from '../shared/internal-client.js';
import { createCertificateAuthority, type CertificateAuthority } from '../shared/tls.js';

/** What every control-plane process of a cluster shares, and no worker holds. */
export interface ClusterSecrets {
  /** The cluster CA; its key signs every server certificate of the cluster. */
  ca: CertificateAuthority;
  /**
   * The control-plane credential: what frontends present to assignment. Workers never see it:
   * the control plane reaches each worker with a key derived from it for that worker alone.
   */
  controlPlaneKey: string;
}

const KEY = 'authority';

/**
 * The cluster's CA and control-plane credential, made by the first control-plane process to
 * start (create-if-absent in the journal): every other one, and the losers of a race, read the
 * winner's. The journal (etcd) is therefore as secret as the CA key: see docs/cluster-security.md.
 */
export async function loadClusterSecrets(store: DocumentStore, nowMs: number): Promise<ClusterSecrets> {
  const existing = await store.get(KEY);
  if (existing) return parse(existing.value);
  const made: ClusterSecrets = { ca: createCertificateAuthority(nowMs), controlPlaneKey: randomBytes(32).toString('base64url') };
  // A revision of its own: a create is taken as this process's when that revision is stored, so
  // with a shared one ('1') the loser of a race took the winner's CA for its own and kept its own.
  if (await store.create(KEY, made, randomUUID())) return made;
  const winner = await store.get(KEY);
  if (!winner) throw new StratusError('JournalUnavailable', 'the cluster CA was created and is gone again');
  return parse(winner.value);
}

/** How a control-plane process calls the others (the assignment API). Never sent to a worker. */
export function controlPlaneCredential(secrets: ClusterSecrets): InternalCredential {
  return { authorization: `Bearer ${secrets.controlPlaneKey}`, ca: secrets.ca.certPem };
}

/** What the assignment API is told of the control-plane credential: enough to check it. */
export function controlPlaneKeyHash(secrets: ClusterSecrets): string {
  return secretHash(secrets.controlPlaneKey);
}

/**
 * How the control plane calls worker `workerId`'s API: a key derived from the control-plane
 * key for that worker alone (an HMAC of its id). A worker sees only its own, which opens its own
 * API and nothing else: not another worker's, not the assignment API.
 */
export function workerApiCredential(secrets: ClusterSecrets, workerId: string): InternalCredential {
  return { authorization: `Bearer ${workerApiKey(secrets, workerId)}`, ca: secrets.ca.certPem };
}

/** What worker `workerId` is told of the key its API admits (with its certificate): enough to check it. */
export function workerApiKeyHash(secrets: ClusterSecrets, workerId: string): string {
  return secretHash(workerApiKey(secrets, workerId));
}

/**
 * The key worker `workerId` presents to the workers of its zone (peer chunk fetches): derived for
 * it alone. Its peers are told only its hash, by placement, while it holds a lease in their zone.
 */
export function workerPeerKey(secrets: ClusterSecrets, workerId: string): string {
  return createHmac('sha256', secrets.controlPlaneKey).update(`worker-peer:${workerId}`).digest('base64url');
}

export function workerPeerKeyHash(secrets: ClusterSecrets, workerId: string): string {
  return secretHash(workerPeerKey(secrets, workerId));
}

function workerApiKey(secrets: ClusterSecrets, workerId: string): string {
  return createHmac('sha256', secrets.controlPlaneKey).update(`worker-api:${workerId}`).digest('base64url');
}

function parse(value: unknown): ClusterSecrets {
  const v = value as Partial<ClusterSecrets> | undefined;
  if (typeof v?.controlPlaneKey !== 'string' || typeof v.ca?.certPem !== 'string' || typeof v.ca.keyPem !== 'string') {
    throw new StratusError('Internal', 'the cluster CA document in the journal is malformed');
  }
  return { ca: { certPem: v.ca.certPem, keyPem: v.ca.keyPem }, controlPlaneKey: v.controlPlaneKey };
}
