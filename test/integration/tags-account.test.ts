// Tags and GetAccountSettings through the real SDK v3 and AWS CLI v2 against a real `stratus up`:
// tags on create, TagResource / UntagResource / ListTags, Tags in GetFunction, a tag change
// retiring the function's environments, and account limits and usage.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand, GetAccountSettingsCommand, GetFunctionCommand, InvokeCommand, ListTagsCommand, PublishVersionCommand, TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

const PROBE = `const sandbox = require('crypto').randomUUID();\nexports.handler = async () => ({ sandbox });\n`;

async function cliJson<T>(s: StratusProcess, args: string[]): Promise<T> {
  const r = await aws(s, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as T) : (undefined as T);
}

async function sandboxOf(s: StratusProcess, name: string, qualifier?: string): Promise<string> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier }));
  return (JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as { sandbox: string }).sandbox;
}

describe('tags', () => {
  let stratus: StratusProcess;
  let zip: Buffer;
  const arn = `${ARN_PREFIX}tagged`;
  before(async () => {
    stratus = await startStratus();
    zip = await makeZip({ 'index.js': PROBE });
    await stratus.lambda.send(new CreateFunctionCommand(createInput('tagged', zip, { Tags: { team: 'core', stage: 'dev' } })));
  });
  after(() => stratus?.stop());

  it('tags given on CreateFunction show in GetFunction and ListTags (SDK and CLI)', async () => {
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'tagged' }));
    assert.deepEqual(got.Tags, { team: 'core', stage: 'dev' });
    assert.deepEqual((await stratus.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'core', stage: 'dev' });
    assert.deepEqual((await cliJson<{ Tags: Record<string, string> }>(stratus, ['list-tags', '--resource', arn])).Tags, { team: 'core', stage: 'dev' });
  });

  it('CLI tag-resource merges, untag-resource removes (unknown keys ignored); no tags, no Tags in GetFunction', async () => {
    await cliJson(stratus, ['tag-resource', '--resource', arn, '--tags', 'stage=prod,owner=ops']);
    assert.deepEqual((await stratus.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'core', stage: 'prod', owner: 'ops' });
    await cliJson(stratus, ['untag-resource', '--resource', arn, '--tag-keys', 'stage', 'nope']);
    assert.deepEqual((await stratus.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'core', owner: 'ops' });
    await stratus.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team', 'owner'] }));
    assert.deepEqual((await stratus.lambda.send(new ListTagsCommand({ Resource: arn }))).Tags, {});
    assert.equal((await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'tagged' }))).Tags, undefined);
  });

  it('a tag change retires every environment of the function (a version\'s too) and keeps RevisionId', async () => {
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'tagged' }));
    const latest = await sandboxOf(stratus, 'tagged');
    const v1 = await sandboxOf(stratus, 'tagged', '1');
    assert.equal(await sandboxOf(stratus, 'tagged'), latest, 'warm before the change');
    const revision = (await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'tagged' }))).Configuration?.RevisionId;
    const tagged = await stratus.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { sandbox: 'rebuild' } }));
    assert.equal(tagged.$metadata.httpStatusCode, 204);
    assert.notEqual(await sandboxOf(stratus, 'tagged'), latest);
    assert.notEqual(await sandboxOf(stratus, 'tagged', '1'), v1);
    assert.equal((await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'tagged' }))).Configuration?.RevisionId, revision);
  });

  it('answers bad tag requests as Lambda does', async () => {
    await expectLambdaError(stratus.lambda.send(new TagResourceCommand({ Resource: `${arn}:1`, Tags: { a: 'b' } })), 'InvalidParameterValueException', 400,
      'Tags on function aliases and versions are not supported. Please specify a function ARN.');
    await expectLambdaError(stratus.lambda.send(new ListTagsCommand({ Resource: `${ARN_PREFIX}missing` })), 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}missing`);
    await expectLambdaError(stratus.lambda.send(new ListTagsCommand({ Resource: 'arn:aws:lambda:us-east-1:000000000000:foobar:x' })), 'ValidationException', 400,
      /^1 validation error detected: Value 'arn:aws:lambda:us-east-1:000000000000:foobar:x' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: /);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, `v${i}`]));
    await expectLambdaError(stratus.lambda.send(new TagResourceCommand({ Resource: arn, Tags: many })), 'InvalidParameterValueException', 400, 'Number of tags exceeds resource tag limit.');
    await expectLambdaError(stratus.lambda.send(new CreateFunctionCommand(createInput('too-many-tags', zip, { Tags: many }))), 'InvalidParameterValueException', 400,
      'Number of tags exceeds resource tag limit.');
    await expectLambdaError(stratus.lambda.send(new TagResourceCommand({ Resource: arn, Tags: {} })), 'InvalidParameterValueException', 400,
      'An error occurred and the request cannot be processed.');
  });
});

describe('account settings', () => {
  let stratus: StratusProcess;
  before(async () => {
    stratus = await startStratus();
  });
  after(() => stratus?.stop());

  it('GetAccountSettings (SDK and CLI) reports limits, and usage from the functions and versions stored', async () => {
    const empty = await stratus.lambda.send(new GetAccountSettingsCommand({}));
    assert.deepEqual(empty.AccountUsage, { TotalCodeSize: 0, FunctionCount: 0 });
    assert.deepEqual([empty.AccountLimit?.CodeSizeZipped, empty.AccountLimit?.CodeSizeUnzipped, empty.AccountLimit?.TotalCodeSize], [52428800, 262144000, 80530636800]);
    assert.ok((empty.AccountLimit?.ConcurrentExecutions ?? 0) >= 8, 'the worker holds several 128 MB environments');
    assert.equal(empty.AccountLimit?.UnreservedConcurrentExecutions, empty.AccountLimit?.ConcurrentExecutions);
    const zip = await makeZip({ 'index.js': PROBE });
    await stratus.lambda.send(new CreateFunctionCommand(createInput('acct-a', zip)));
    await stratus.lambda.send(new CreateFunctionCommand(createInput('acct-b', zip)));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'acct-a' }));
    const cli = await cliJson<{ AccountUsage: { TotalCodeSize: number; FunctionCount: number } }>(stratus, ['get-account-settings']);
    assert.deepEqual(cli.AccountUsage, { TotalCodeSize: 3 * zip.length, FunctionCount: 2 });
  });
});
