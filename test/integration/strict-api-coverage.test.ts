// Every operation of the SDK's Lambda client, sent to a real `stratus up`: each either works or
// answers the deliberate error that docs/lambda-api-coverage.md lists for it. A command the SDK
// has and this walk (or the table) does not fails the test, as does any other answer.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import * as sdk from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const CSC = 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg';
const DURABLE = 'arn:aws:lambda:us-east-1:000000000000:function:cov:1/durable-execution/run/0123';
const UUID = '01234567-89ab-cdef-0123-456789abcdef';
const LAYER = 'arn:aws:lambda:us-east-1:000000000000:layer:cov-layer:1';
const CODE = `exports.handler = async (e) => ({ ok: true, e });`;

type Expect = 'works' | 'layers' | `${string}Exception`;
type Step = [op: string, input: Record<string, unknown>, expect: Expect];

/** The walk, in an order where each step finds what it needs. */
function steps(fnArn: string, zip: Uint8Array): Step[] {
  const fn = { FunctionName: 'cov' };
  const RNF = 'ResourceNotFoundException';
  const IPVE = 'InvalidParameterValueException';
  return [
    ['ListFunctions', {}, 'works'],
    ['GetAccountSettings', {}, 'works'],
    ['CreateFunction', { FunctionName: 'cov-2', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: zip } }, 'works'],
    ['GetFunction', fn, 'works'],
    ['GetFunctionConfiguration', fn, 'works'],
    ['UpdateFunctionConfiguration', { ...fn, Description: 'walked' }, 'works'],
    ['UpdateFunctionCode', { ...fn, ZipFile: zip }, 'works'],
    ['PublishVersion', fn, 'works'],
    ['ListVersionsByFunction', fn, 'works'],
    ['CreateAlias', { ...fn, Name: 'live', FunctionVersion: '1' }, 'works'],
    ['GetAlias', { ...fn, Name: 'live' }, 'works'],
    ['UpdateAlias', { ...fn, Name: 'live', Description: 'walked' }, 'works'],
    ['ListAliases', fn, 'works'],
    ['Invoke', { ...fn, Payload: Buffer.from('{"a":1}') }, 'works'],
    ['InvokeWithResponseStream', { ...fn, Payload: Buffer.from('{}') }, 'works'],
    ['InvokeAsync', { ...fn, InvokeArgs: Buffer.from('{}') }, IPVE],
    ['AddPermission', { ...fn, StatementId: 's1', Action: 'lambda:InvokeFunction', Principal: '123456789012' }, 'works'],
    ['GetPolicy', fn, 'works'],
    ['RemovePermission', { ...fn, StatementId: 's1' }, 'works'],
    ['GetResourcePolicy', { ResourceArn: fnArn }, IPVE],
    ['PutResourcePolicy', { ResourceArn: fnArn, Policy: '{}' }, IPVE],
    ['DeleteResourcePolicy', { ResourceArn: fnArn }, IPVE],
    ['TagResource', { Resource: fnArn, Tags: { team: 'walk' } }, 'works'],
    ['ListTags', { Resource: fnArn }, 'works'],
    ['UntagResource', { Resource: fnArn, TagKeys: ['team'] }, 'works'],
    ['PutFunctionConcurrency', { ...fn, ReservedConcurrentExecutions: 5 }, 'works'],
    ['GetFunctionConcurrency', fn, 'works'],
    ['DeleteFunctionConcurrency', fn, 'works'],
    ['PutProvisionedConcurrencyConfig', { ...fn, Qualifier: 'live', ProvisionedConcurrentExecutions: 1 }, 'works'],
    ['GetProvisionedConcurrencyConfig', { ...fn, Qualifier: 'live' }, 'works'],
    ['ListProvisionedConcurrencyConfigs', fn, 'works'],
    ['DeleteProvisionedConcurrencyConfig', { ...fn, Qualifier: 'live' }, 'works'],
    ['PutFunctionEventInvokeConfig', { ...fn, MaximumRetryAttempts: 0 }, 'works'],
    ['UpdateFunctionEventInvokeConfig', { ...fn, MaximumRetryAttempts: 1 }, 'works'],
    ['GetFunctionEventInvokeConfig', fn, 'works'],
    ['ListFunctionEventInvokeConfigs', fn, 'works'],
    ['DeleteFunctionEventInvokeConfig', fn, 'works'],
    ['CreateFunctionUrlConfig', { ...fn, AuthType: 'AWS_IAM' }, 'works'],
    ['GetFunctionUrlConfig', fn, 'works'],
    ['UpdateFunctionUrlConfig', { ...fn, AuthType: 'AWS_IAM' }, 'works'],
    ['ListFunctionUrlConfigs', fn, 'works'],
    ['DeleteFunctionUrlConfig', fn, 'works'],
    ['GetFunctionCodeSigningConfig', fn, 'works'],
    ['PutFunctionCodeSigningConfig', { ...fn, CodeSigningConfigArn: CSC }, 'CodeSigningConfigNotFoundException'],
    ['DeleteFunctionCodeSigningConfig', fn, 'works'],
    ['CreateCodeSigningConfig', { AllowedPublishers: { SigningProfileVersionArns: ['arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/v1'] } }, IPVE],
    ['GetCodeSigningConfig', { CodeSigningConfigArn: CSC }, RNF],
    ['UpdateCodeSigningConfig', { CodeSigningConfigArn: CSC, Description: 'x' }, RNF],
    ['ListCodeSigningConfigs', {}, 'works'],
    ['ListFunctionsByCodeSigningConfig', { CodeSigningConfigArn: CSC }, RNF],
    ['DeleteCodeSigningConfig', { CodeSigningConfigArn: CSC }, RNF],
    ['GetFunctionRecursionConfig', fn, 'works'],
    ['PutFunctionRecursionConfig', { ...fn, RecursiveLoop: 'Allow' }, 'works'],
    ['GetRuntimeManagementConfig', fn, 'works'],
    ['PutRuntimeManagementConfig', { ...fn, UpdateRuntimeOn: 'Auto' }, 'works'],
    ['GetFunctionScalingConfig', { ...fn, Qualifier: '1' }, IPVE],
    ['PutFunctionScalingConfig', { ...fn, Qualifier: '1', FunctionScalingConfig: { MinExecutionEnvironments: 1 } }, IPVE],
    ['CreateEventSourceMapping', { ...fn, EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:queue' }, IPVE],
    ['ListEventSourceMappings', {}, 'works'],
    ['GetEventSourceMapping', { UUID }, RNF],
    ['UpdateEventSourceMapping', { UUID, BatchSize: 5 }, RNF],
    ['DeleteEventSourceMapping', { UUID }, RNF],
    ['CreateCapacityProvider', { CapacityProviderName: 'cp', VpcConfig: { SubnetIds: ['subnet-0'], SecurityGroupIds: [] }, PermissionsConfig: { CapacityProviderOperatorRoleArn: ROLE } }, IPVE],
    ['ListCapacityProviders', {}, 'works'],
    ['GetCapacityProvider', { CapacityProviderName: 'cp' }, RNF],
    ['UpdateCapacityProvider', { CapacityProviderName: 'cp' }, RNF],
    ['ListFunctionVersionsByCapacityProvider', { CapacityProviderName: 'cp' }, RNF],
    ['DeleteCapacityProvider', { CapacityProviderName: 'cp' }, RNF],
    ['ListDurableExecutionsByFunction', fn, 'works'],
    ['GetDurableExecution', { DurableExecutionArn: DURABLE }, RNF],
    ['GetDurableExecutionHistory', { DurableExecutionArn: DURABLE }, RNF],
    ['GetDurableExecutionState', { DurableExecutionArn: DURABLE, CheckpointToken: 't' }, RNF],
    ['CheckpointDurableExecution', { DurableExecutionArn: DURABLE, CheckpointToken: 't' }, RNF],
    ['StopDurableExecution', { DurableExecutionArn: DURABLE }, RNF],
    ['SendDurableExecutionCallbackSuccess', { CallbackId: 'cb', Result: Buffer.from('{}') }, RNF],
    ['SendDurableExecutionCallbackFailure', { CallbackId: 'cb' }, RNF],
    ['SendDurableExecutionCallbackHeartbeat', { CallbackId: 'cb' }, RNF],
    ['PublishLayerVersion', { LayerName: 'cov-layer', Content: { ZipFile: zip } }, 'layers'],
    ['GetLayerVersion', { LayerName: 'cov-layer', VersionNumber: 1 }, 'layers'],
    ['GetLayerVersionByArn', { Arn: LAYER }, 'layers'],
    ['ListLayers', {}, 'layers'],
    ['ListLayerVersions', { LayerName: 'cov-layer' }, 'layers'],
    ['AddLayerVersionPermission', { LayerName: 'cov-layer', VersionNumber: 1, StatementId: 's', Action: 'lambda:GetLayerVersion', Principal: '*' }, 'layers'],
    ['GetLayerVersionPolicy', { LayerName: 'cov-layer', VersionNumber: 1 }, 'layers'],
    ['RemoveLayerVersionPermission', { LayerName: 'cov-layer', VersionNumber: 1, StatementId: 's' }, 'layers'],
    ['DeleteLayerVersion', { LayerName: 'cov-layer', VersionNumber: 1 }, 'layers'],
    ['DeleteAlias', { ...fn, Name: 'live' }, 'works'],
    ['DeleteFunction', { FunctionName: 'cov-2' }, 'works'],
  ];
}

/** The SDK's commands, by operation name. */
function sdkCommands(): Map<string, new (input: never) => unknown> {
  const out = new Map<string, new (input: never) => unknown>();
  for (const [key, value] of Object.entries(sdk)) {
    if (/^[A-Z][A-Za-z]+Command$/.test(key) && typeof value === 'function') out.set(key.slice(0, -'Command'.length), value as new (input: never) => unknown);
  }
  return out;
}

/** Operation → status, from the table in docs/lambda-api-coverage.md. */
async function documented(): Promise<Map<string, string>> {
  const text = await readFile(new URL('../../../docs/lambda-api-coverage.md', import.meta.url), 'utf8');
  const rows = new Map<string, string>();
  for (const m of text.matchAll(/^\| ([A-Z][A-Za-z]+) \| (.+) \|$/gm)) if (m[1] !== 'Operation') rows.set(m[1] ?? '', m[2] ?? '');
  return rows;
}

let s: StratusProcess;
let zip: Uint8Array;

describe('every operation of the SDK Lambda client', () => {
  before(async () => {
    s = await startStratus();
    zip = await makeZip({ 'index.js': CODE });
    await s.lambda.send(new sdk.CreateFunctionCommand({ FunctionName: 'cov', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: zip } }));
  });
  after(() => s.stop());

  test('the walk and the documented table both cover exactly the SDK commands', async () => {
    const commands = [...sdkCommands().keys()].sort();
    assert.ok(commands.length >= 88, `the SDK has ${commands.length} commands`);
    assert.deepEqual(steps('', zip).map(([op]) => op).sort(), commands, 'the walk names every command once');
    assert.deepEqual([...(await documented()).keys()].sort(), commands, 'docs/lambda-api-coverage.md lists every command once');
  });

  test('each command works or answers its documented, deliberate error', async (t) => {
    const commands = sdkCommands();
    const table = await documented();
    const fnArn = (await s.lambda.send(new sdk.GetFunctionCommand({ FunctionName: 'cov' }))).Configuration?.FunctionArn ?? '';
    const wrong: string[] = [];
    for (const [op, input, expect] of steps(fnArn, zip)) {
      const Command = commands.get(op);
      assert.ok(Command, op);
      const status = table.get(op) ?? '';
      let answer: string;
      try {
        const out = (await s.lambda.send(new Command(input as never) as never)) as unknown as Record<string, unknown>;
        const stream = out.EventStream as AsyncIterable<unknown> | undefined;
        if (stream) for await (const _event of stream) { /* drained */ }
        answer = 'works';
      } catch (err) {
        const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        answer = e.name ?? 'Error';
        if (expect === 'layers' && /^No API at /.test(e.message ?? '')) {
          t.diagnostic(`${op}: no layer API in this build (the layers work lands separately)`);
          continue;
        }
        if (answer === expect && expect.endsWith('Exception')) {
          assert.ok((e.$metadata?.httpStatusCode ?? 500) < 500, `${op} answers a 4xx`);
          assert.doesNotMatch(e.message ?? '', /^No API at /, `${op} is answered deliberately`);
        }
      }
      if (expect === 'layers') {
        if (!status.startsWith('layers')) wrong.push(`${op}: the table does not say layers`);
        continue;
      }
      if (answer !== expect) wrong.push(`${op}: answered ${answer}, expected ${expect}`);
      if (expect === 'works' && !/^(works|as Stratus does|empty)/.test(status)) wrong.push(`${op}: works, but the table says "${status}"`);
      if (expect !== 'works' && !status.includes(expect)) wrong.push(`${op}: answers ${expect}, but the table says "${status}"`);
    }
    assert.deepEqual(wrong, []);
  });
});
