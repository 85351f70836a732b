// Two accounts on one real `stratus up`, through the real SDK and AWS CLI: every API route
// refuses the other account's function exactly as it refuses one that does not exist; same-named
// functions of two accounts are separate functions in separate sandboxes; a resource policy is
// the only way in (by full ARN, or through an AWS_IAM function URL); SigV4 is checked as Lambda does.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteAliasCommand, DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand, DeleteFunctionUrlConfigCommand, GetAliasCommand, GetFunctionCommand, GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand, GetFunctionEventInvokeConfigCommand, GetFunctionUrlConfigCommand, GetPolicyCommand,
  GetProvisionedConcurrencyConfigCommand, InvokeCommand, InvokeWithResponseStreamCommand, LambdaClient, ListAliasesCommand,
  ListFunctionEventInvokeConfigsCommand, ListFunctionsCommand, ListFunctionUrlConfigsCommand, ListProvisionedConcurrencyConfigsCommand, ListTagsCommand,
  ListVersionsByFunctionCommand, PublishVersionCommand, PutFunctionConcurrencyCommand, PutFunctionEventInvokeConfigCommand,
  PutProvisionedConcurrencyConfigCommand, RemovePermissionCommand, TagResourceCommand, UntagResourceCommand, UpdateAliasCommand,
  UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { clientFor, createAccount, keyOf, type AccountKey, type Key } from '../helpers/accounts.js';
import { aws } from '../helpers/aws-cli.js';
import { createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

/** Reports its account's view: which code it is, and whether this sandbox saw a marker before. */
const PROBE = (tag: string) => `const fs = require('fs');
exports.handler = async (event) => {
  const seen = fs.existsSync('/tmp/marker');
  if (event.mark) fs.writeFileSync('/tmp/marker', ${JSON.stringify(tag)});
  return { tag: ${JSON.stringify(tag)}, seen, marker: seen ? fs.readFileSync('/tmp/marker', 'utf8') : null, arn: process.env.AWS_LAMBDA_FUNCTION_NAME };
};\n`;

/** Every operation on one function, as account `client` would call it on `ref`. */
function operations(client: LambdaClient, ref: string, zip: Buffer): [string, () => Promise<unknown>][] {
  const F = { FunctionName: ref };
  return [
    ['GetFunction', () => client.send(new GetFunctionCommand(F))],
    ['GetFunctionConfiguration', () => client.send(new GetFunctionConfigurationCommand(F))],
    ['UpdateFunctionConfiguration', () => client.send(new UpdateFunctionConfigurationCommand({ ...F, Description: 'mine now' }))],
    ['UpdateFunctionCode', () => client.send(new UpdateFunctionCodeCommand({ ...F, ZipFile: zip }))],
    ['PublishVersion', () => client.send(new PublishVersionCommand(F))],
    ['ListVersionsByFunction', () => client.send(new ListVersionsByFunctionCommand(F))],
    ['CreateAlias', () => client.send(new CreateAliasCommand({ ...F, Name: 'evil', FunctionVersion: '$LATEST' }))],
    ['GetAlias', () => client.send(new GetAliasCommand({ ...F, Name: 'live' }))],
    ['UpdateAlias', () => client.send(new UpdateAliasCommand({ ...F, Name: 'live', Description: 'x' }))],
    ['DeleteAlias', () => client.send(new DeleteAliasCommand({ ...F, Name: 'live' }))],
    ['ListAliases', () => client.send(new ListAliasesCommand(F))],
    ['PutFunctionConcurrency', () => client.send(new PutFunctionConcurrencyCommand({ ...F, ReservedConcurrentExecutions: 0 }))],
    ['GetFunctionConcurrency', () => client.send(new GetFunctionConcurrencyCommand(F))],
    ['DeleteFunctionConcurrency', () => client.send(new DeleteFunctionConcurrencyCommand(F))],
    ['CreateFunctionUrlConfig', () => client.send(new CreateFunctionUrlConfigCommand({ ...F, AuthType: 'NONE' }))],
    ['GetFunctionUrlConfig', () => client.send(new GetFunctionUrlConfigCommand(F))],
    ['ListFunctionUrlConfigs', () => client.send(new ListFunctionUrlConfigsCommand(F))],
    ['DeleteFunctionUrlConfig', () => client.send(new DeleteFunctionUrlConfigCommand(F))],
    ['PutFunctionEventInvokeConfig', () => client.send(new PutFunctionEventInvokeConfigCommand({ ...F, MaximumRetryAttempts: 0 }))],
    ['GetFunctionEventInvokeConfig', () => client.send(new GetFunctionEventInvokeConfigCommand(F))],
    ['ListFunctionEventInvokeConfigs', () => client.send(new ListFunctionEventInvokeConfigsCommand(F))],
    ['PutProvisionedConcurrencyConfig', () => client.send(new PutProvisionedConcurrencyConfigCommand({ ...F, Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }))],
    ['GetProvisionedConcurrencyConfig', () => client.send(new GetProvisionedConcurrencyConfigCommand({ ...F, Qualifier: 'live' }))],
    ['ListProvisionedConcurrencyConfigs', () => client.send(new ListProvisionedConcurrencyConfigsCommand(F))],
    ['AddPermission', () => client.send(new AddPermissionCommand({ ...F, StatementId: 'me', Action: 'lambda:InvokeFunction', Principal: '*' }))],
    ['GetPolicy', () => client.send(new GetPolicyCommand(F))],
    ['RemovePermission', () => client.send(new RemovePermissionCommand({ ...F, StatementId: 'owner' }))],
    ['Invoke', () => client.send(new InvokeCommand(F))],
    ['InvokeWithResponseStream', () => client.send(new InvokeWithResponseStreamCommand(F))],
    ['ListTags', () => client.send(new ListTagsCommand({ Resource: ref }))],
    ['TagResource', () => client.send(new TagResourceCommand({ Resource: ref, Tags: { owner: 'me' } }))],
    ['UntagResource', () => client.send(new UntagResourceCommand({ Resource: ref, TagKeys: ['team'] }))],
    ['DeleteFunction', () => client.send(new DeleteFunctionCommand(F))],
  ];
}

async function failure(call: () => Promise<unknown>): Promise<[string, number | undefined, string]> {
  try {
    await call();
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return [err.name, err.$metadata?.httpStatusCode, err.message];
  }
  return ['succeeded', 200, ''];
}

describe('accounts are isolated', () => {
  let stratus: StratusProcess;
  let a: AccountKey;
  let b: AccountKey;
  let clientA: LambdaClient;
  let clientB: LambdaClient;
  let zipA: Buffer;
  let zipB: Buffer;
  const arnOf = (account: AccountKey, name: string) => `arn:aws:lambda:us-east-1:${account.AccountId}:function:${name}`;
  before(async () => {
    stratus = await startStratus();
    [a, b] = [await createAccount(stratus.url, stratus.credentials, 'team-a'), await createAccount(stratus.url, stratus.credentials, 'team-b')];
    [clientA, clientB] = [clientFor(stratus.url, keyOf(a)), clientFor(stratus.url, keyOf(b))];
    [zipA, zipB] = [await makeZip({ 'index.js': PROBE('a') }), await makeZip({ 'index.js': PROBE('b') })];
    await clientA.send(new CreateFunctionCommand(createInput('hello', zipA, { Tags: { team: 'a' } })));
    await clientA.send(new PublishVersionCommand({ FunctionName: 'hello' }));
    await clientA.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '1' }));
    await clientA.send(new AddPermissionCommand({ FunctionName: 'hello', StatementId: 'owner', Action: 'lambda:GetFunction', Principal: a.AccountId }));
    // B has a function of the same name: naming A's by ARN must never reach B's own either.
    await clientB.send(new CreateFunctionCommand(createInput('hello', zipB)));
  });
  after(() => {
    clientA?.destroy();
    clientB?.destroy();
    return stratus?.stop();
  });

  it('every route refuses the other account\'s function with the ResourceNotFoundException of a function that does not exist, and changes nothing', async () => {
    const before = await clientA.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    const bBefore = await clientB.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    const policy = await clientA.send(new GetPolicyCommand({ FunctionName: 'hello' }));
    const theirs = operations(clientB, arnOf(a, 'hello'), zipB);
    const missing = operations(clientB, arnOf(a, 'nope'), zipB);
    for (const [i, [op, call]] of theirs.entries()) {
      const [name, status, message] = await failure(call);
      assert.deepEqual([op, name, status], [op, 'ResourceNotFoundException', 404], `${op} on another account's function: ${message}`);
      const [otherName, otherStatus, otherMessage] = await failure(missing[i]![1]);
      assert.deepEqual([name, status, message.replace('hello', 'nope')], [otherName, otherStatus, otherMessage], `${op}: the answer must not tell a function exists`);
    }
    const after = await clientA.send(new GetFunctionCommand({ FunctionName: 'hello' }));
    assert.deepEqual(after.Configuration, before.Configuration);
    assert.deepEqual(after.Tags, { team: 'a' });
    assert.deepEqual((await clientA.send(new GetPolicyCommand({ FunctionName: 'hello' }))).Policy, policy.Policy);
    assert.deepEqual((await clientA.send(new ListAliasesCommand({ FunctionName: 'hello' }))).Aliases?.map((x) => x.Name), ['live']);
    assert.deepEqual((await clientB.send(new GetFunctionCommand({ FunctionName: 'hello' }))).Configuration, bBefore.Configuration, 'nor was B\'s own hello touched');
  });

  it('Code.Location serves each account its own package; a link is good for its own account only', async () => {
    const locA = new URL((await clientA.send(new GetFunctionCommand({ FunctionName: 'hello' }))).Code?.Location ?? '');
    const locB = new URL((await clientB.send(new GetFunctionCommand({ FunctionName: 'hello' }))).Code?.Location ?? '');
    assert.ok(Buffer.from(await (await fetch(locA)).arrayBuffer()).equals(zipA));
    assert.ok(Buffer.from(await (await fetch(locB)).arrayBuffer()).equals(zipB));
    // B's own signed link, pointed at A's account and package: refused.
    const shaA = locA.pathname.split('/').at(-1) ?? '';
    const forged = new URL(locB);
    forged.pathname = `/_stratus/code/${a.AccountId}/${shaA}`;
    assert.equal((await fetch(forged)).status, 403);
    forged.pathname = `/_stratus/code/${b.AccountId}/${shaA}`;
    assert.equal((await fetch(forged)).status, 403, 'nor under B\'s own account');
  });

  it('an account cannot make another\'s function the destination of its events', async () => {
    await expectLambdaError(clientB.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'hello', DestinationConfig: { OnFailure: { Destination: arnOf(a, 'hello') } },
    })), 'InvalidParameterValueException', 400, `The destination ARN ${arnOf(a, 'hello')} is invalid.`);
    await expectLambdaError(clientB.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello' })), 'ResourceNotFoundException', 404);
  });

  it('by name, an account sees only its own functions: list-functions (CLI) shows nothing of the other', async () => {
    const listed = await aws(stratus, ['lambda', 'list-functions'], { credentials: keyOf(b) });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { Functions: { FunctionArn: string }[] }).Functions.map((f) => f.FunctionArn), [arnOf(b, 'hello')]);
    await expectLambdaError(clientB.send(new GetFunctionCommand({ FunctionName: 'only-a' })), 'ResourceNotFoundException', 404,
      `Function not found: ${arnOf(b, 'only-a')}`);
    const mine = await clientA.send(new ListFunctionsCommand({}));
    assert.deepEqual(mine.Functions?.map((f) => f.FunctionArn), [arnOf(a, 'hello')]);
  });

  it('two accounts\' same-named functions are two functions, each in its own sandboxes', async () => {
    assert.equal((await clientB.send(new GetFunctionCommand({ FunctionName: 'hello' }))).Configuration?.FunctionArn, arnOf(b, 'hello'));
    const invoke = async (client: LambdaClient, payload: unknown) => {
      const out = await client.send(new InvokeCommand({ FunctionName: 'hello', Payload: Buffer.from(JSON.stringify(payload)) }));
      return JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as { tag: string; seen: boolean; marker: string | null };
    };
    assert.deepEqual(await invoke(clientA, { mark: true }), { tag: 'a', seen: false, marker: null, arn: 'hello' });
    assert.deepEqual(await invoke(clientA, {}), { tag: 'a', seen: true, marker: 'a', arn: 'hello' }, 'A\'s warm sandbox keeps its /tmp');
    assert.deepEqual(await invoke(clientB, {}), { tag: 'b', seen: false, marker: null, arn: 'hello' }, 'B never gets A\'s sandbox');
    const dir = await mkdtemp(join(tmpdir(), 'stratus-accounts-'));
    try {
      const cli = await aws(stratus, ['lambda', 'invoke', '--function-name', 'hello', join(dir, 'out.json')], { credentials: keyOf(b) });
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')).tag, 'b');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a resource policy lets the other account invoke by full ARN, and only what it names', async () => {
    const invokeAsB = (ref: string) => clientB.send(new InvokeCommand({ FunctionName: ref }));
    await expectLambdaError(invokeAsB(arnOf(a, 'hello:live')), 'ResourceNotFoundException', 404);
    const added = await aws(stratus, ['lambda', 'add-permission', '--function-name', 'hello', '--qualifier', 'live', '--statement-id', 'team-b',
      '--action', 'lambda:InvokeFunction', '--principal', b.AccountId], { credentials: keyOf(a) });
    assert.equal(added.code, 0, added.stderr);
    const out = await invokeAsB(arnOf(a, 'hello:live'));
    assert.equal(JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()).tag, 'a');
    assert.equal(out.ExecutedVersion, '1');
    // The alias's statement does not cover $LATEST.
    await expectLambdaError(invokeAsB(arnOf(a, 'hello')), 'ResourceNotFoundException', 404, `Function not found: ${arnOf(a, 'hello')}`);
    await expectLambdaError(clientB.send(new GetFunctionCommand({ FunctionName: arnOf(a, 'hello:live') })), 'ResourceNotFoundException', 404);
    const third = await createAccount(stratus.url, stratus.credentials, 'team-c');
    await expectLambdaError(clientFor(stratus.url, keyOf(third)).send(new InvokeCommand({ FunctionName: arnOf(a, 'hello:live') })), 'ResourceNotFoundException', 404);
    await clientA.send(new RemovePermissionCommand({ FunctionName: 'hello', Qualifier: 'live', StatementId: 'team-b' }));
    await expectLambdaError(invokeAsB(arnOf(a, 'hello:live')), 'ResourceNotFoundException', 404);
  });

  it('an AWS_IAM function URL admits its own account, and another only as the policy allows with lambda:FunctionUrlAuthType', async () => {
    const url = (await clientA.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'hello', AuthType: 'AWS_IAM' }))).FunctionUrl ?? '';
    assert.equal(url, `${stratus.url}/lambda-url/${a.AccountId}/hello/`);
    const signedGet = async (key: Key) => {
      const u = new URL(url);
      const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', credentials: key, sha256: Sha256 });
      const req = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname, headers: { host: u.host } }));
      return fetch(url, { headers: req.headers });
    };
    assert.equal((await signedGet(keyOf(a))).status, 200);
    assert.equal((await signedGet(keyOf(b))).status, 403);
    assert.equal((await fetch(url)).status, 403);
    await clientA.send(new AddPermissionCommand({
      FunctionName: 'hello', StatementId: 'url-b-none', Action: 'lambda:InvokeFunctionUrl', Principal: b.AccountId, FunctionUrlAuthType: 'NONE',
    }));
    assert.equal((await signedGet(keyOf(b))).status, 403, 'a statement conditioned on NONE does not open an AWS_IAM URL');
    await clientA.send(new AddPermissionCommand({
      FunctionName: 'hello', StatementId: 'url-b', Action: 'lambda:InvokeFunctionUrl', Principal: b.AccountId, FunctionUrlAuthType: 'AWS_IAM',
    }));
    const res = await signedGet(keyOf(b));
    assert.equal(res.status, 200);
    assert.equal((await res.json() as { tag: string }).tag, 'a');
    assert.equal((await fetch(`${stratus.url}/lambda-url/${b.AccountId}/hello/`)).status, 404, 'B\'s function has no URL of A\'s');
    assert.equal((await fetch(`${stratus.url}/lambda-url/123456789012/hello/`)).status, 404);
  });

  it('SigV4 as Lambda checks it: another region\'s scope and a clock more than 5 minutes off are refused', async () => {
    await expectLambdaError(clientFor(stratus.url, keyOf(a), { region: 'eu-west-1' }).send(new ListFunctionsCommand({})), 'InvalidSignatureException', 403,
      "Credential should be scoped to a valid region, not 'eu-west-1'. ");
    await expectLambdaError(clientFor(stratus.url, keyOf(a), { systemClockOffset: -6 * 60_000 }).send(new ListFunctionsCommand({})), 'InvalidSignatureException', 403,
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    await clientFor(stratus.url, keyOf(a), { systemClockOffset: -4 * 60_000 }).send(new ListFunctionsCommand({}));
  });
});
