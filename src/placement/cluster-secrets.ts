import { randomBytes } from 'node:crypto';
import type { DocumentStore } from '../journal/index.js';
import { secretHash } from '../shared/bearer.js';
import { StratusError } from '../shared/errors.js';
import type { InternalCredential } from '../shared/internal-client.js';
import { createCertificateAuthority, type CertificateAuthority } from '../shared/tls.js';

/** What every control-plane process of a cluster shares, and no worker holds. */
export interface ClusterSecrets {
  /** The cluster CA; its key signs every server certificate of the cluster. */
  ca: CertificateAuthority;
  /** The control-plane credential: what frontends and assignment present to assignment and to workers. */
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
  if (await store.create(KEY, made, '1')) return made;
  const winner = await store.get(KEY);
  if (!winner) throw new StratusError('JournalUnavailable', 'the cluster CA was created and is gone again');
  return parse(winner.value);
}

/** How a control-plane process calls the others and the workers. */
export function controlPlaneCredential(secrets: ClusterSecrets): InternalCredential {
  return { authorization: `Bearer ${secrets.controlPlaneKey}`, ca: secrets.ca.certPem };
}

/** What a worker is told of the control-plane credential: enough to check it, not to present it. */
export function controlPlaneKeyHash(secrets: ClusterSecrets): string {
  return secretHash(secrets.controlPlaneKey);
}

function parse(value: unknown): ClusterSecrets {
  const v = value as Partial<ClusterSecrets> | undefined;
  if (typeof v?.controlPlaneKey !== 'string' || typeof v.ca?.certPem !== 'string' || typeof v.ca.keyPem !== 'string') {
    throw new StratusError('Internal', 'the cluster CA document in the journal is malformed');
  }
  return { ca: { certPem: v.ca.certPem, keyPem: v.ca.keyPem }, controlPlaneKey: v.controlPlaneKey };
}
