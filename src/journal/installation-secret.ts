import { randomBytes, randomUUID } from 'node:crypto';
import type { DocumentStore } from './journal.js';

/**
 * A secret of the installation (no account's key), kept under `name` in `store` (the journal's
 * `clusterSecrets`): made by the first process to need it, create-if-absent, so every process of
 * a cluster, and every restart, uses the same one (the losers of a race read the winner's).
 * Base64url, 32 random bytes.
 */
export async function installationSecret(store: DocumentStore, name: string): Promise<string> {
  const made = randomBytes(32).toString('base64url');
  // A revision of its own: a create is taken as this process's when that revision is stored.
  await store.create(name, { secret: made }, randomUUID());
  const doc = await store.get(name);
  return (doc?.value as { secret?: string } | undefined)?.secret ?? made;
}
