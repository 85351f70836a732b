import { run } from './flatten.js';

/** A fixed filesystem UUID and timestamps: the same tree always gives the same bytes. */
const FIXED_UUID = '00000000-0000-0000-0000-000000000000';

/** Builds a read-only EROFS image of `rootfs`, byte-for-byte deterministic (uncompressed, so reads need no decompression). */
export async function buildErofs(mkfsPath: string, rootfs: string, out: string): Promise<void> {
  await run(mkfsPath, ['--quiet', '-T0', `-U${FIXED_UUID}`, out, rootfs]);
}
