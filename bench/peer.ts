/**
 * The peer: serverless-offline 13 on serverless 3, installed into bench/work/peer (git-ignored)
 * with npm, idempotently. Its Lambda-compatible invoke endpoint listens on port 3002. A missing
 * or broken peer is reported, never fatal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, log, portIsFree, runCommand, spawnTracked, waitForOutput, type Tracked } from './harness.js';

/** bench/work/peer in the source tree (this file runs from dist/bench). */
export const PEER_DIR = fileURLToPath(new URL('../../bench/work/peer/', import.meta.url));
export const PEER_LAMBDA_PORT = 3002;
export const PEER_FUNCTION = 'bench-dev-noop';

export interface PeerInfo {
  ok: boolean;
  versions?: { serverless: string; serverlessOffline: string };
  installedNow?: boolean;
  error?: string;
}

function installedVersion(pkg: string): string | undefined {
  try {
    const file = join(PEER_DIR, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Installs serverless@3 and serverless-offline@13 unless they already are; writes the service. */
export async function ensurePeer(): Promise<PeerInfo> {
  try {
    await mkdir(PEER_DIR, { recursive: true });
    const current = () => ({ serverless: installedVersion('serverless') ?? '', serverlessOffline: installedVersion('serverless-offline') ?? '' });
    let versions = current();
    let installedNow = false;
    if (!versions.serverless.startsWith('3.') || !versions.serverlessOffline.startsWith('13.')) {
      log('peer: installing serverless@3 and serverless-offline@13 with npm (once)');
      if (!existsSync(join(PEER_DIR, 'package.json'))) {
        await writeFile(join(PEER_DIR, 'package.json'), `${JSON.stringify({ name: 'stratus-bench-peer', private: true }, null, 2)}\n`);
      }
      await runCommand('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'serverless@3', 'serverless-offline@13'], {
        cwd: PEER_DIR,
        timeoutMs: 10 * 60_000,
      });
      versions = current();
      installedNow = true;
    }
    await writeFile(join(PEER_DIR, 'serverless.yml'), SERVICE);
    await writeFile(join(PEER_DIR, 'handler.js'), "'use strict';\nexports.noop = async () => ({});\n");
    return { ok: true, versions, installedNow };
  } catch (err) {
    return { ok: false, error: String(err instanceof Error ? err.message : err).slice(0, 1000) };
  }
}

const SERVICE = `# Written by bench/peer.ts: the peer's no-op function.
service: bench
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
  region: us-east-1
  stage: dev
functions:
  noop:
    handler: handler.noop
plugins:
  - serverless-offline
`;

export interface RunningPeer {
  pid: number;
  url: string;
  startMs: number;
  stop(): Promise<void>;
}

/** Starts a fresh `serverless offline start`; resolves once its invoke endpoint listens. */
export async function startPeer(): Promise<RunningPeer> {
  if (!(await portIsFree(PEER_LAMBDA_PORT))) throw new Error(`port ${PEER_LAMBDA_PORT} is already in use`);
  const [httpPort, wsPort] = [await freePort(), await freePort()];
  const t0 = Date.now();
  const proc: Tracked = spawnTracked(
    process.execPath,
    [join(PEER_DIR, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'offline', 'start', '--host', '127.0.0.1',
      '--lambdaPort', String(PEER_LAMBDA_PORT), '--httpPort', String(httpPort), '--websocketPort', String(wsPort)],
    { cwd: PEER_DIR, env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_DEPRECATION_DISABLE: '*' } },
  );
  try {
    await waitForOutput(proc, /listening on http:\/\/127\.0\.0\.1:3002/, 90_000);
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  return {
    pid: proc.pid,
    url: `http://127.0.0.1:${PEER_LAMBDA_PORT}`,
    startMs: Date.now() - t0,
    stop: async () => {
      await proc.stop(5000);
      // The next start needs the port back.
      for (let i = 0; i < 100 && !(await portIsFree(PEER_LAMBDA_PORT)); i++) await new Promise((r) => setTimeout(r, 50));
    },
  };
}
