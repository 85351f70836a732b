// Helpers for tests of the Lambda function management API against a real Stratus process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GetFunctionConfigurationCommand, LambdaClient, InvokeCommand, PublishVersionCommand, type CreateFunctionCommandInput, type FunctionConfiguration } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { startStratus, type StratusProcess } from './stratus.js';
import { until } from './wait.js';
import { makeZip } from './zip.js';

export const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
export const ARN_PREFIX = 'arn:aws:lambda:us-east-1:000000000000:function:';
/** Lambda's LastModified: 2020-04-10T19:06:32.563+0000 */
export const LAST_MODIFIED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/;

/** A nodejs20.x handler that reports what it sees; `tag` tells code versions apart. */
export function handlerZip(tag: string): Promise<Buffer> {
  return makeZip({
    'index.mjs': `export const handler = async (event, context) => ({
  tag: ${JSON.stringify(tag)},
  event,
  memoryLimitInMB: context.memoryLimitInMB,
  memoryEnv: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  remainingMs: context.getRemainingTimeInMillis(),
  greeting: process.env.GREETING ?? null,
  other: process.env.OTHER ?? null,
});\n`,
  });
}

export function createInput(name: string, zip: Buffer, extra: Partial<CreateFunctionCommandInput> = {}): CreateFunctionCommandInput {
  return { FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip }, ...extra };
}

export const sha256b64 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64');

/** Drops the SDK's $metadata so two responses can be compared as documents. */
export function doc<T extends object>(out: T): Omit<T, '$metadata'> {
  const { $metadata: _ignored, ...rest } = out as T & { $metadata?: unknown };
  return rest;
}

interface SdkError {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number };
}

/** Awaits a rejected SDK call and checks the error a Lambda user would see. */
export async function expectLambdaError(call: Promise<unknown>, name: string, status: number, message?: string | RegExp): Promise<SdkError> {
  let err: SdkError | undefined;
  try {
    await call;
  } catch (e) {
    err = e as SdkError;
  }
  assert.ok(err, `expected ${name}, but the call succeeded`);
  assert.equal(err.name, name, `error name (message: ${err.message})`);
  assert.equal(err.$metadata?.httpStatusCode, status, `HTTP status of ${name}`);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  return err;
}

export interface InvokeResult {
  tag: string;
  event: unknown;
  memoryLimitInMB: string;
  memoryEnv: string;
  remainingMs: number;
  greeting: string | null;
  other: string | null;
}

/** Invokes through the SDK and parses the handler's result; a function error fails the test. */
export async function invokeJson(client: LambdaClient, name: string, event: unknown = {}): Promise<InvokeResult> {
  const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, undefined, `function error: ${text}`);
  return JSON.parse(text) as InvokeResult;
}

/** A request signed like the SDK signs it, sent with plain fetch. */
export async function signedFetch(stratus: StratusProcess, method: string, path: string, query: Record<string, string> = {}): Promise<Response> {
  const signer = new SignatureV4({ credentials: stratus.credentials, region: 'us-east-1', service: 'lambda', sha256: Sha256 });
  const url = new URL(stratus.url);
  const request = new HttpRequest({
    method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, query, headers: { host: url.host },
  });
  const signed = (await signer.sign(request)) as HttpRequest;
  const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== 'host'));
  const qs = new URLSearchParams(query).toString();
  return fetch(`${stratus.url}${path}${qs ? `?${qs}` : ''}`, { method, headers });
}

/**
 * A zip with one entry whose name yazl would refuse to write (`../x`, `/abs`): written under a
 * same-length placeholder, then the name bytes are patched in the local and central headers.
 */
export async function zipWithRawEntryName(name: string, content: string): Promise<Buffer> {
  const placeholder = 'Q'.repeat(name.length);
  const zip = await makeZip({ [placeholder]: content });
  const from = Buffer.from(placeholder);
  let patched = 0;
  for (let at = zip.indexOf(from); at >= 0; at = zip.indexOf(from, at + from.length)) {
    Buffer.from(name).copy(zip, at);
    patched++;
  }
  assert.equal(patched, 2, 'entry name appears in the local and the central header');
  return zip;
}

/**
 * Starts Stratus on an existing data directory with given credentials, so a test can stop one
 * process and start another on the same state. The caller owns (and removes) `dataDir`; stop()
 * removes only the helper's own, unused, temp directory.
 */
export async function startOnDataDir(dataDir: string, credentials: StratusProcess['credentials']): Promise<StratusProcess> {
  const inner = await startStratus({
    args: ['--data-dir', dataDir], // the last --data-dir wins over the helper's own
    env: { STRATUS_ACCESS_KEY_ID: credentials.accessKeyId, STRATUS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
  });
  inner.lambda.destroy();
  const lambda = new LambdaClient({ endpoint: inner.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  return {
    ...inner,
    dataDir,
    credentials,
    lambda,
    async stop() {
      lambda.destroy();
      await inner.stop();
    },
  };
}

/** PublishVersion of a SnapStart function: Pending at first, then Active with OptimizationStatus On (asserted); its configuration. */
export async function publishSnapStarted(client: LambdaClient, name: string, timeoutMs: number): Promise<FunctionConfiguration> {
  const published = await client.send(new PublishVersionCommand({ FunctionName: name }));
  assert.equal(published.State, 'Pending');
  const config = await until(async () => {
    const c = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: published.Version }));
    return c.State !== 'Pending' && c;
  }, 'the snapshot', timeoutMs);
  assert.equal(config.State, 'Active', `${config.StateReasonCode}: ${config.StateReason}`);
  assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
  return config;
}
