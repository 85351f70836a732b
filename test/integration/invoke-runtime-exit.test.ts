// A runtime that exits between invokes is replaced: the next invoke is a cold start, not an error.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `
const id = Math.random().toString(36).slice(2);
exports.handler = async (event) => {
  if (event.exitAfter) setTimeout(() => process.exit(0), event.exitAfter);
  return { id };
};`;

let s: StratusProcess;
before(async () => {
  s = await startStratus();
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: 'quitter', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler',
    Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
  }));
});
after(() => s.stop());

async function call(event: unknown): Promise<{ error?: string; body: { id?: string } }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'quitter', Payload: Buffer.from(JSON.stringify(event)) }));
  return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { id?: string } };
}

test('a runtime that exits while idle is replaced by a fresh environment on the next invoke', async () => {
  // It exits just after its response, before the idle environment is frozen (50 ms): a frozen one
  // runs its timers only once the next invoke thaws it, as on Lambda.
  const first = await call({ exitAfter: 1 });
  assert.equal(first.error, undefined);
  const deadline = Date.now() + 10_000;
  while ((await s.descendants()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await s.descendants(), [], 'the exited sandbox is gone');
  const second = await call({});
  assert.equal(second.error, undefined, 'no Runtime.ExitError for an invoke that arrives after the exit');
  assert.notEqual(second.body.id, first.body.id);
});
