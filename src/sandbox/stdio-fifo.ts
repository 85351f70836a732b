import { constants, openSync, closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';

/** Where a checkpointable sandbox's init opens its stdout and stderr (inside: /run/stratus/stdio). */
export const STDIO_FIFO = 'stdio';

export interface StdioFifo {
  /** Everything the sandbox writes to stdout and stderr. */
  readonly output: Readable;
  /** Call once the sandbox has gone: the stream then ends after the last bytes. */
  release(): void;
}

/**
 * The stdio of a checkpointable sandbox: a FIFO in its control directory, opened inside the
 * sandbox (CRIU can dump and restore that, unlike a host descriptor). The worker holds a write
 * end itself so the stream does not end before the sandbox has opened the FIFO.
 */
export async function openStdioFifo(controlDir: string): Promise<StdioFifo> {
  const path = join(controlDir, STDIO_FIFO);
  await promisify(execFile)('mkfifo', ['-m', '0666', path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const keepOpen = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const output = new Socket({ fd: readFd, readable: true, writable: false });
  output.on('error', () => {});
  let released = false;
  return {
    output,
    release() {
      if (released) return;
      released = true;
      closeSync(keepOpen);
    },
  };
}
