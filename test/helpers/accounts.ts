// Accounts of a real Stratus, managed with the real `stratus accounts` command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { CliResult } from './aws-cli.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface AccountKey {
  AccountId: string;
  AccessKeyId: string;
  SecretAccessKey: string;
}

export interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Runs `stratus accounts ...` against `url`, signed with `key`. */
export function stratusAccounts(url: string, key: Key, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'accounts', ...args, '--endpoint-url', url], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey },
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** `stratus accounts create`: the new account's id and first key. */
export async function createAccount(url: string, admin: Key, name: string, flags: string[] = []): Promise<AccountKey> {
  const r = await stratusAccounts(url, admin, ['create', '--name', name, ...flags]);
  assert.equal(r.code, 0, `accounts create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as AccountKey;
}

export function keyOf(account: AccountKey): Key {
  return { accessKeyId: account.AccessKeyId, secretAccessKey: account.SecretAccessKey };
}

/** A LambdaClient signing with `key` (no retries, so errors surface as they are). */
export function clientFor(url: string, key: Key, extra: { region?: string; systemClockOffset?: number } = {}): LambdaClient {
  return new LambdaClient({ endpoint: url, region: extra.region ?? 'us-east-1', credentials: key, maxAttempts: 1, systemClockOffset: extra.systemClockOffset });
}
