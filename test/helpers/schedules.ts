// EventBridge Scheduler against a real Stratus: the real AWS CLI v2 (`aws scheduler ...`), and
// requests signed as the SDK signs them for members this CLI's model predates.
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { aws, type CliResult } from './aws-cli.js';
import type { Key } from './accounts.js';
import type { StratusProcess } from './stratus.js';

export const SCHEDULER_ROLE = 'arn:aws:iam::000000000000:role/scheduler';

export function functionArn(account: string, name: string): string {
  return `arn:aws:lambda:us-east-1:${account}:function:${name}`;
}

/** `aws scheduler <args>` as `key` (default: the administrator); the parsed JSON output on success. */
export async function scheduler(s: StratusProcess, args: string[], key?: Key): Promise<CliResult & { json: Record<string, unknown> }> {
  const r = await aws(s, ['scheduler', ...args, '--output', 'json'], key ? { credentials: key } : {});
  let json: Record<string, unknown> = {};
  if (r.code === 0 && r.stdout.trim()) json = JSON.parse(r.stdout) as Record<string, unknown>;
  return { ...r, json };
}

/** Runs `aws scheduler <args>` and asserts it succeeded. */
export async function schedulerOk(s: StratusProcess, args: string[], key?: Key): Promise<Record<string, unknown>> {
  const r = await scheduler(s, args, key);
  assert.equal(r.code, 0, `aws scheduler ${args.join(' ')} failed: ${r.stderr}`);
  return r.json;
}

/** Asserts the CLI reported `type` with `message` (as the CLI prints a service error). */
export async function schedulerFails(s: StratusProcess, args: string[], type: string, message: string | RegExp, key?: Key): Promise<void> {
  const r = await scheduler(s, args, key);
  assert.notEqual(r.code, 0, `aws scheduler ${args.join(' ')} succeeded: ${r.stdout}`);
  assert.match(r.stderr, new RegExp(`\\(${type}\\)`), `error type: ${r.stderr}`);
  if (typeof message === 'string') assert.ok(r.stderr.includes(message), `message ${JSON.stringify(message)} in: ${r.stderr}`);
  else assert.match(r.stderr, message);
}

/** A Scheduler request signed for the service `scheduler`, sent with fetch. */
export async function signedScheduler(s: Pick<StratusProcess, 'url' | 'credentials'>, method: string, path: string, body?: unknown, key?: Key): Promise<{ status: number; type: string | null; json: Record<string, unknown> }> {
  const signer = new SignatureV4({ credentials: key ?? s.credentials, region: 'us-east-1', service: 'scheduler', sha256: Sha256 });
  const url = new URL(s.url);
  const text = body === undefined ? undefined : JSON.stringify(body);
  const request = new HttpRequest({
    method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path,
    headers: { host: url.host, ...(text !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(text !== undefined ? { body: text } : {}),
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== 'host'));
  const res = await fetch(`${s.url}${path}`, { method, headers, ...(text !== undefined ? { body: text } : {}) });
  const raw = await res.text();
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), json: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
}
