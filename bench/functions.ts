/** The functions the bench deploys, and the few management calls it makes on Stratus. */
import {
  CreateFunctionCommand,
  UpdateFunctionConfigurationCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { makeZip } from '../test/helpers/zip.js';

export const ROLE = 'arn:aws:iam::000000000000:role/stratus-bench';

/** A no-op handler: returns {} straight away. */
export function noopZip(): Promise<Buffer> {
  return makeZip({ 'index.js': "'use strict';\nexports.handler = async () => ({});\n" });
}

export function helloZip(): Promise<Buffer> {
  return makeZip({ 'index.js': "'use strict';\nexports.handler = async () => ({ message: 'hello world' });\n" });
}

/**
 * A function whose init loads `modules` CommonJS modules of generated code (~35 KB each: 200
 * small functions and a frozen 300-key table), i.e. real parse/compile/fs work rather than a
 * busy loop. 100 modules take a few hundred ms to load on this class of machine; the bench
 * measures the same files loaded by a plain `node` as the baseline.
 */
export function heavyInitFiles(modules = 100): Record<string, string> {
  const files: Record<string, string> = {};
  const requires: string[] = [];
  for (let i = 0; i < modules; i++) {
    const lines = ["'use strict';"];
    for (let j = 0; j < 200; j++) {
      lines.push(
        `exports.f${j} = function f${j}(a, b) { const x = [a, b, ${i}, ${j}].map((v) => String(v) + '_${i}_${j}'); ` +
          `return x.join('-') + (a > b ? f${(j + 1) % 200}.name : '${'x'.repeat(20)}'); };`,
      );
    }
    const table = Array.from({ length: 300 }, (_, k) => `k${k}: 'v${i}_${k}'`).join(', ');
    lines.push(`exports.table = Object.freeze({ ${table} });`);
    files[`lib/m${i}.js`] = `${lines.join('\n')}\n`;
    requires.push(`require('./lib/m${i}.js');`);
  }
  files['index.js'] = `'use strict';\n${requires.join('\n')}\nexports.handler = async () => ({ loaded: ${modules} });\n`;
  return files;
}

/** The same hello world in Python (python3.11, handler index.handler). */
export function pythonHelloZip(): Promise<Buffer> {
  return makeZip({ 'index.py': "def handler(event, context):\n    return {'message': 'hello world'}\n" });
}

export function heavyZip(modules = 100): Promise<Buffer> {
  return makeZip(heavyInitFiles(modules));
}

export async function createFunction(
  lambda: LambdaClient,
  name: string,
  zip: Buffer,
  opts: { memoryMb?: number; env?: Record<string, string>; timeoutSec?: number; runtime?: 'nodejs20.x' | 'python3.11' } = {},
): Promise<void> {
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: opts.runtime ?? 'nodejs20.x',
      Handler: 'index.handler',
      Role: ROLE,
      Code: { ZipFile: zip },
      MemorySize: opts.memoryMb ?? 128,
      Timeout: opts.timeoutSec ?? 30,
      Environment: { Variables: opts.env ?? {} },
    }),
  );
}

/**
 * Changes an environment variable of the function: Stratus retires every environment of it,
 * so the next invoke needs a new one (a cold start).
 */
export async function forceCold(lambda: LambdaClient, name: string, marker: string): Promise<void> {
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { BENCH_MARKER: marker } } }));
}
