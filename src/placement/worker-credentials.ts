import { randomBytes } from 'node:crypto';
import type { DocumentStore } from '../journal/index.js';
import { bearerToken, secretHash, secretMatchesHash } from '../shared/bearer.js';
import type { Authentication } from '../shared/cluster-api.js';
import { StratusError } from '../shared/errors.js';
import { WORKER_ID_PATTERN } from '../shared/tls.js';

/** A worker's credential as the journal keeps it: never the secret, only its sha256. */
export interface WorkerCredentialRecord {
  workerId: string;
  secretHash: string;
  createdAtMs: number;
  revokedAtMs?: number;
}

/** What `stratus workers add` prints and `stratus worker --credentials FILE` is started with. */
export interface WorkerBundle {
  workerId: string;
  secret: string;
  /** The cluster CA (PEM) the worker checks the control plane against. */
  caCertificate: string;
}

const TOKEN = /^stratus-worker\.([a-z0-9-]{1,63})\.([A-Za-z0-9_-]{43})$/;

/** The `Authorization` value of a worker's credential. */
export function workerAuthorization(bundle: Pick<WorkerBundle, 'workerId' | 'secret'>): string {
  return `Bearer stratus-worker.${bundle.workerId}.${bundle.secret}`;
}

/**
 * Per-worker credentials, kept in the journal (`workerCredentials`, by worker id): added and
 * revoked by the operator (`stratus workers add|revoke|list`), checked by placement on every
 * request of a worker. A check reads the journal, so a revocation holds from the moment it is
 * committed.
 */
export class WorkerCredentials {
  constructor(private readonly store: DocumentStore) {}

  /** A new credential for `workerId` (one that was revoked may be replaced); ResourceConflict if it has a live one. */
  async add(workerId: string, nowMs: number): Promise<{ workerId: string; secret: string }> {
    if (!WORKER_ID_PATTERN.test(workerId)) {
      throw new StratusError('InvalidParameterValue', `worker id ${JSON.stringify(workerId)} must be one DNS label: a-z, 0-9 and inner '-', at most 63`);
    }
    const secret = randomBytes(32).toString('base64url');
    const record: WorkerCredentialRecord = { workerId, secretHash: secretHash(secret), createdAtMs: nowMs };
    const revision = randomBytes(8).toString('hex');
    const existing = await this.store.get(workerId);
    const written = !existing
      ? await this.store.create(workerId, record, revision)
      : (existing.value as WorkerCredentialRecord).revokedAtMs !== undefined && (await this.store.replace(workerId, record, revision, existing.revision));
    if (!written) throw new StratusError('ResourceConflict', `worker ${workerId} has a credential already (revoke it first)`);
    return { workerId, secret };
  }

  /** Revokes `workerId`'s credential: from now on every request with it is refused. */
  async revoke(workerId: string, nowMs: number): Promise<void> {
    const existing = await this.store.get(workerId);
    if (!existing) throw new StratusError('ResourceNotFound', `worker ${workerId} has no credential`);
    const record = existing.value as WorkerCredentialRecord;
    if (record.revokedAtMs !== undefined) return;
    const ok = await this.store.replace(workerId, { ...record, revokedAtMs: nowMs }, randomBytes(8).toString('hex'), existing.revision);
    if (!ok) throw new StratusError('ResourceConflict', `worker ${workerId}'s credential changed meanwhile; try again`);
  }

  async list(): Promise<WorkerCredentialRecord[]> {
    return (await this.store.list()).map((d) => d.value as WorkerCredentialRecord);
  }

  /** The worker a request's `Authorization` is the live credential of; 401 for anything else. */
  async authenticate(authorization: string | undefined): Promise<Authentication> {
    const m = TOKEN.exec(bearerToken(authorization) ?? '');
    const refused = { refused: 401, message: 'unknown or revoked worker credential' } as const;
    if (!m?.[1] || !m[2]) return refused;
    const doc = await this.store.get(m[1]);
    const record = doc?.value as WorkerCredentialRecord | undefined;
    if (!record || record.revokedAtMs !== undefined || !secretMatchesHash(m[2], record.secretHash)) return refused;
    return { kind: 'worker', workerId: record.workerId };
  }

  /**
   * Calls `listener` for each change of a worker's credential from now on: revoked (or removed),
   * or active again (`stratus workers add` after a revocation).
   */
  watch(listener: (workerId: string, active: boolean) => void): Promise<() => void> {
    return this.store.watch((key, doc) => {
      const record = doc?.value as WorkerCredentialRecord | undefined;
      listener(key, record !== undefined && record.revokedAtMs === undefined);
    });
  }
}
