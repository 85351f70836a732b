import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CACHE = fileURLToPath(new URL('../../../.cache/aws-lambda-ric-3/', import.meta.url));
const PACKAGE = join(CACHE, 'node_modules', 'aws-lambda-ric');

/**
 * The official AWS Node.js runtime interface client, npm aws-lambda-ric 3.x, built once per
 * checkout into .cache/ (its native build needs autoconf, automake, libtool, cmake and a C++
 * compiler, which scripts/setup.sh installs; it takes one to three minutes).
 * Returns the files a function package needs to run it: bin, dist (with the native addon).
 */
export async function awsLambdaRic(): Promise<Record<string, Buffer>> {
  if (!existsSync(join(PACKAGE, 'dist', 'rapid-client.node'))) {
    await mkdir(CACHE, { recursive: true });
    await run('npm', ['install', '--prefix', CACHE, '--no-audit', '--no-fund', '--no-save', 'aws-lambda-ric@3'], { maxBuffer: 64 * 1024 * 1024 });
  }
  const files: Record<string, Buffer> = {};
  for (const path of ['package.json', 'bin/index.mjs', 'dist/index.mjs', 'dist/rapid-client.node']) {
    files[`ric/${path}`] = await readFile(join(PACKAGE, path));
  }
  return files;
}
