// LogType=Tail from a real sandbox: the last 4 KB of an invocation's output, whatever the size
// of the pipe reads it came in, and nothing of it carried into the next invocation's tail.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
// One large write (it outgrows the pipe, so the runtime's stdout finishes it asynchronously), then a last line.
const CODE = "exports.handler = async (e) => { process.stdout.write(e.fill.repeat(e.n) + '\\n'); console.log(`last line ${e.n} ✓`); return e.n; };";

let stratus: StratusProcess;
before(async () => {
  stratus = await startStratus({ args: ['--function-logs', 'off'] });
  await stratus.lambda.send(new CreateFunctionCommand({ FunctionName: 'tail', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': CODE }) } }));
});
after(async () => stratus?.stop());

async function tailOf(n: number, fill: string): Promise<string> {
  const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'tail', Payload: Buffer.from(JSON.stringify({ n, fill })), LogType: 'Tail' }));
  assert.equal(out.FunctionError, undefined);
  return Buffer.from(out.LogResult ?? '', 'base64').toString();
}

test('the tail ends with the invocation\'s last line after output of any size, and the next tail starts clean', async () => {
  for (const n of [10, 70_000, 150_000, 300_000, 1_000_000, 10]) {
    const tail = await tailOf(n, n > 10 ? 'x' : 'y');
    const lines = tail.split('\n');
    assert.match(lines.at(-4) ?? '', new RegExp(`\\tINFO\\tlast line ${n} ✓$`), `${n} bytes: ${JSON.stringify(tail.slice(-400))}`);
    assert.match(lines.at(-3) ?? '', /^END RequestId: /);
    assert.match(lines.at(-2) ?? '', /^REPORT RequestId: /);
    if (n === 10) assert.doesNotMatch(tail, /xxx/, 'nothing of an earlier invocation\'s output');
    if (n > 10) assert.equal(Buffer.byteLength(tail), 4096);
  }
});
