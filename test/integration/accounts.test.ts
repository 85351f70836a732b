// Accounts and keys of a real `stratus up`, managed with the real `stratus accounts` command and
// used through the real SDK and AWS CLI: only the administrator manages accounts, keys rotate,
// quotas hold per account, bad input changes nothing, and all of it survives a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { rm } from 'node:fs/promises';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetAccountSettingsCommand, GetFunctionCommand, ListFunctionsCommand,
  ListProvisionedConcurrencyConfigsCommand, PublishVersionCommand, PutFunctionConcurrencyCommand, PutProvisionedConcurrencyConfigCommand,
  UpdateFunctionCodeCommand,
  ListLayerVersionsCommand, PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, stratusAccounts, type AccountKey, type Key } from '../helpers/accounts.js';
import { aws } from '../helpers/aws-cli.js';
import { createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

interface Listed {
  AccountId: string;
  Name: string;
  Administrator: boolean;
  AccessKeyIds: string[];
  FunctionCount: number;
  Quotas: { Concurrency: number; MaxFunctions: number; CodeStorageBytes: number };
}

describe('accounts and keys', () => {
  let stratus: StratusProcess;
  let admin: Key;
  let zip: Buffer;
  let restartedDir: string | undefined;
  const list = async (): Promise<Listed[]> => {
    const r = await stratusAccounts(stratus.url, admin, ['list']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { Accounts: Listed[] }).Accounts;
  };
  before(async () => {
    stratus = await startStratus();
    admin = stratus.credentials;
    zip = await makeZip({ 'index.js': 'exports.handler = async () => "ok";\n' });
  });
  after(async () => {
    await stratus?.stop();
    if (restartedDir) await rm(restartedDir, { recursive: true, force: true });
  });

  it('the key printed at first start is the administrator\'s; accounts create prints a new 12-digit account and its key', async () => {
    assert.match(stratus.output(), /of the administrative account 000000000000: access key AKIASTRATUSTEST/);
    const team = await createAccount(stratus.url, admin, 'team-a');
    assert.match(team.AccountId, /^\d{12}$/);
    assert.notEqual(team.AccountId, '000000000000');
    assert.match(team.AccessKeyId, /^AKIA[0-9A-F]{16}$/);
    assert.ok(team.SecretAccessKey.length >= 30);
    const listed = await list();
    assert.deepEqual(listed.map((a) => [a.AccountId, a.Name, a.Administrator]), [['000000000000', 'admin', true], [team.AccountId, 'team-a', false]]);
    assert.deepEqual(listed[1]?.AccessKeyIds, [team.AccessKeyId]);
    assert.equal(JSON.stringify(listed).includes(team.SecretAccessKey), false, 'a listing never shows a secret');
    const fn = await clientFor(stratus.url, keyOf(team)).send(new CreateFunctionCommand(createInput('hello', zip)));
    assert.equal(fn.FunctionArn, `arn:aws:lambda:us-east-1:${team.AccountId}:function:hello`);
  });

  it('only the administrator manages accounts: another account gets AccessDeniedException and nothing changes', async () => {
    const team = await createAccount(stratus.url, admin, 'team-x');
    const before = await list();
    for (const args of [['create', '--name', 'sneaky'], ['list'], ['delete', team.AccountId], ['keys', 'create', '000000000000'], ['keys', 'delete', team.AccountId, team.AccessKeyId]]) {
      const r = await stratusAccounts(stratus.url, keyOf(team), args);
      assert.equal(r.code, 1, `accounts ${args.join(' ')} by a tenant must fail`);
      assert.match(r.stderr, /^AccessDeniedException: Account \d{12} is not authorized to manage accounts/);
    }
    assert.deepEqual(await list(), before);
  });

  it('bad input gets an error and changes nothing: an unknown account, a deleted key, a duplicate name, a bad quota', async () => {
    const before = await list();
    const expectFail = async (args: string[], pattern: RegExp) => {
      const r = await stratusAccounts(stratus.url, admin, args);
      assert.equal(r.code, 1, `accounts ${args.join(' ')} must fail`);
      assert.match(r.stderr, pattern);
    };
    await expectFail(['delete', '123412341234'], /^ResourceNotFoundException: Account 123412341234 not found\./);
    await expectFail(['keys', 'create', '123412341234'], /^ResourceNotFoundException: Account 123412341234 not found\./);
    await expectFail(['keys', 'delete', '000000000000', 'AKIA0000000000000000'], /^ResourceNotFoundException: Access key AKIA0000000000000000 of account 000000000000 not found\./);
    await expectFail(['create', '--name', 'team-a'], /^ResourceConflictException: An account named team-a already exists\./);
    await expectFail(['create', '--name', 'q', '--concurrency', '0'], /^ValidationException: /);
    await expectFail(['create', '--name', 'bad/name'], /^ValidationException: Account name 'bad\/name'/);
    await expectFail(['delete', '000000000000'], /^InvalidParameterValueException: The administrative account cannot be deleted\./);
    await expectFail(['keys', 'delete', '000000000000', admin.accessKeyId], /^InvalidParameterValueException: The last access key of the administrative account/);
    assert.deepEqual(await list(), before);
  });

  it('keys rotate: a second key works alongside the first, a deleted key is refused at once', async () => {
    const team = await createAccount(stratus.url, admin, 'rotating');
    const r = await stratusAccounts(stratus.url, admin, ['keys', 'create', team.AccountId]);
    assert.equal(r.code, 0, r.stderr);
    const second = JSON.parse(r.stdout) as AccountKey;
    assert.equal(second.AccountId, team.AccountId);
    await clientFor(stratus.url, keyOf(team)).send(new ListFunctionsCommand({}));
    await clientFor(stratus.url, keyOf(second)).send(new ListFunctionsCommand({}));
    assert.equal((await stratusAccounts(stratus.url, admin, ['keys', 'delete', team.AccountId, team.AccessKeyId])).code, 0);
    await expectLambdaError(clientFor(stratus.url, keyOf(team)).send(new ListFunctionsCommand({})), 'UnrecognizedClientException', 403,
      'The security token included in the request is invalid.');
    const cli = await aws(stratus, ['lambda', 'list-functions'], { credentials: keyOf(team) });
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /UnrecognizedClientException/);
    await clientFor(stratus.url, keyOf(second)).send(new ListFunctionsCommand({}));
  });

  it('an account with functions cannot be deleted; once they are gone it can, and its keys stop working', async () => {
    const team = await createAccount(stratus.url, admin, 'leaving');
    const client = clientFor(stratus.url, keyOf(team));
    await client.send(new CreateFunctionCommand(createInput('last', zip)));
    const refused = await stratusAccounts(stratus.url, admin, ['delete', team.AccountId]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ResourceConflictException: Account \d{12} still has 1 function\(s\); delete them first\./);
    await client.send(new DeleteFunctionCommand({ FunctionName: 'last' }));
    assert.equal((await stratusAccounts(stratus.url, admin, ['delete', team.AccountId])).code, 0);
    await expectLambdaError(client.send(new ListFunctionsCommand({})), 'UnrecognizedClientException', 403);
    assert.equal((await list()).some((a) => a.AccountId === team.AccountId), false);
  });

  it('layer versions count against a function\'s code storage too: with the quota held by a layer, a version or a bigger package is refused', async () => {
    const layered = await createAccount(stratus.url, admin, 'layered', ['--code-storage-bytes', String(zip.length * 2)]);
    const client = clientFor(stratus.url, keyOf(layered));
    await client.send(new PublishLayerVersionCommand({ LayerName: 'held', Content: { ZipFile: zip } }));
    await client.send(new CreateFunctionCommand(createInput('uses-the-rest', zip)));
    assert.equal((await client.send(new GetAccountSettingsCommand({}))).AccountUsage?.TotalCodeSize, zip.length * 2);
    await expectLambdaError(client.send(new PublishVersionCommand({ FunctionName: 'uses-the-rest' })), 'CodeStorageExceededException', 400, 'Code storage limit exceeded.');
    await expectLambdaError(client.send(new CreateFunctionCommand(createInput('one-more', zip))), 'CodeStorageExceededException', 400, 'Code storage limit exceeded.');
    const bigger = await makeZip({ 'index.js': 'exports.handler = async () => "a bigger package than before";\n' });
    await expectLambdaError(client.send(new UpdateFunctionCodeCommand({ FunctionName: 'uses-the-rest', ZipFile: bigger })), 'CodeStorageExceededException', 400,
      'Code storage limit exceeded.');
    assert.equal((await client.send(new GetAccountSettingsCommand({}))).AccountUsage?.TotalCodeSize, zip.length * 2, 'nothing refused was kept');
  });

  it('quotas are per account: concurrency, function count and code storage, and get-account-settings reports the caller\'s own', async () => {
    const small = await createAccount(stratus.url, admin, 'small', ['--concurrency', '150', '--max-functions', '1', '--code-storage-bytes', String(zip.length * 2)]);
    const client = clientFor(stratus.url, keyOf(small));
    await client.send(new CreateFunctionCommand(createInput('one', zip)));
    await expectLambdaError(client.send(new CreateFunctionCommand(createInput('two', zip))), 'ServiceQuotaExceededException', 400,
      'The account has reached its quota of 1 functions; delete one first.');
    await client.send(new PublishVersionCommand({ FunctionName: 'one' }));
    const settings = await client.send(new GetAccountSettingsCommand({}));
    assert.deepEqual(settings.AccountUsage, { TotalCodeSize: zip.length * 2, FunctionCount: 1 });
    assert.equal(settings.AccountLimit?.ConcurrentExecutions, 150);
    assert.equal(settings.AccountLimit?.TotalCodeSize, zip.length * 2);
    const bigger = await makeZip({ 'index.js': 'exports.handler = async () => "a bigger package than before";\n' });
    await expectLambdaError(client.send(new UpdateFunctionCodeCommand({ FunctionName: 'one', ZipFile: bigger })), 'CodeStorageExceededException', 400,
      'Code storage limit exceeded.');
    assert.equal((await client.send(new GetFunctionCommand({ FunctionName: 'one' }))).Configuration?.CodeSize, zip.length, 'the refused update changed nothing');
    // Layer versions count against the same storage: a tenant cannot fill the code store by publishing them.
    await expectLambdaError(client.send(new PublishLayerVersionCommand({ LayerName: 'filler', Content: { ZipFile: zip } })), 'CodeStorageExceededException', 400,
      'Code storage limit exceeded.');
    assert.deepEqual((await client.send(new ListLayerVersionsCommand({ LayerName: 'filler' }))).LayerVersions, []);
    // Reserved and provisioned concurrency come out of the account's own quota (Lambda's rules).
    await client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'one', ReservedConcurrentExecutions: 20 }));
    await expectLambdaError(client.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'one', Qualifier: '1', ProvisionedConcurrentExecutions: 21 })),
      'InvalidParameterValueException', 400, 'Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function');
    await expectLambdaError(client.send(new PutFunctionConcurrencyCommand({ FunctionName: 'one', ReservedConcurrentExecutions: 51 })), 'InvalidParameterValueException', 400,
      "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].");
    const tiny = clientFor(stratus.url, keyOf(await createAccount(stratus.url, admin, 'tiny', ['--concurrency', '10'])));
    await tiny.send(new CreateFunctionCommand(createInput('t', zip)));
    await tiny.send(new PublishVersionCommand({ FunctionName: 't' }));
    await expectLambdaError(tiny.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 't', Qualifier: '1', ProvisionedConcurrentExecutions: 1 })),
      'InvalidParameterValueException', 400, "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10].");
    await tiny.send(new PutFunctionConcurrencyCommand({ FunctionName: 't', ReservedConcurrentExecutions: 0 }));
    assert.deepEqual((await tiny.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 't' }))).ProvisionedConcurrencyConfigs, []);
    tiny.destroy();
    const own = await clientFor(stratus.url, admin).send(new GetAccountSettingsCommand({}));
    assert.equal(own.AccountLimit?.ConcurrentExecutions, 1000, 'the administrator keeps the installation\'s default');
    assert.equal(own.AccountUsage?.FunctionCount, 0);
    assert.deepEqual((await client.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName), ['one'], 'the refused create left nothing');
  });

  it('accounts and keys are journaled: they survive a restart', async () => {
    const team = await createAccount(stratus.url, admin, 'durable');
    await clientFor(stratus.url, keyOf(team)).send(new CreateFunctionCommand(createInput('kept', zip)));
    const { dataDir } = stratus;
    restartedDir = dataDir;
    await stratus.kill();
    stratus = await startStratus({ dataDir, credentials: admin });
    const client = clientFor(stratus.url, keyOf(team));
    assert.deepEqual((await client.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionArn), [`arn:aws:lambda:us-east-1:${team.AccountId}:function:kept`]);
    assert.ok((await list()).some((a) => a.AccountId === team.AccountId && a.Name === 'durable'));
  });
});
