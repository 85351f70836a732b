import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LocalHostsOptions } from '../../src/placement/index.js';
import { silentLogger } from '../../src/shared/log.js';

/** A stand-in worker process for `local-hosts` (it only waits to be stopped). */
export const FAKE_HOST = fileURLToPath(new URL('./fake-host.js', import.meta.url));

/**
 * A `LocalHostsProvider`'s options whose hosts run the fake host, in a new state directory (added
 * to `dirs`, for the caller to remove); each revoked credential's worker id goes to `revoked`.
 */
export async function fakeHostsOptions(dirs: string[], revoked: string[] = []): Promise<LocalHostsOptions> {
  const stateDir = await mkdtemp(join(tmpdir(), 'stratus-local-hosts-'));
  dirs.push(stateDir);
  return {
    stateDir, command: [process.execPath, FAKE_HOST], log: silentLogger(),
    issueCredential: async (workerId) => ({ workerId, secret: 's', caCertificate: '' }),
    revokeCredential: async (id) => void revoked.push(id),
  };
}
