// Symbolic links inside a function package, as Lambda accepts them: a link to a file and a link
// to a directory, both inside the package, work in a real sandbox; the package's files stay read-only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const LINK = 0o120777;

let stratus: StratusProcess;
before(async () => {
  stratus = await startStratus();
});
after(async () => stratus?.stop());

test('a package whose handler and a directory are symbolic links inside it runs, and the links cannot be written through', async () => {
  const code = await makeZip({
    'src/handler.js': `const fs = require('fs');
exports.handler = async () => {
  let wrote = 'no';
  try { fs.writeFileSync('/var/task/lib/util.js', 'changed'); wrote = 'yes'; } catch (e) { wrote = e.code; }
  return { util: require('./lib/util.js').name, link: fs.readlinkSync('/var/task/index.js'), wrote };
};`,
    'src/lib/util.js': "exports.name = 'util from src/lib';",
    'index.js': 'src/handler.js',
    lib: 'src/lib',
  }, { 'index.js': LINK, lib: LINK });
  await stratus.lambda.send(new CreateFunctionCommand({ FunctionName: 'linked', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: code } }));
  const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'linked' }));
  assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
  const body = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, string>;
  assert.deepEqual(body, { util: 'util from src/lib', link: 'src/handler.js', wrote: 'EROFS' });
});
