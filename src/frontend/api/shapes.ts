import { lambdaTimestamp } from '../../shared/ids.js';
import { loggingOf, type AliasRecord, type FunctionRecord, type FunctionUrlRecord, type LoggingConfig, type VersionSnapshot } from '../../registry/index.js';

/** Lambda's FunctionConfiguration document for $LATEST or (with `version`) a published version. */
export function functionConfiguration(fn: FunctionRecord & { version?: string }, arn: string, region: string): Record<string, unknown> {
  const config: Record<string, unknown> = {
    FunctionName: fn.name,
    FunctionArn: arn,
    Runtime: fn.runtime,
    Role: fn.role,
    Handler: fn.handler,
    CodeSize: fn.code.size,
    Description: fn.description,
    Timeout: fn.timeoutSec,
    MemorySize: fn.memoryMb,
    LastModified: lambdaTimestamp(fn.lastModifiedMs),
    CodeSha256: Buffer.from(fn.code.sha256, 'hex').toString('base64'),
    Version: fn.version ?? '$LATEST',
    TracingConfig: { Mode: 'PassThrough' },
    RevisionId: fn.revisionId,
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: ['x86_64'],
    EphemeralStorage: { Size: fn.ephemeralStorageMb },
    ...snapStartFields(fn),
    RuntimeVersionConfig: { RuntimeVersionArn: `arn:aws:lambda:${region}::runtime:stratus-${fn.runtime}` },
    LoggingConfig: loggingConfiguration(loggingOf(fn)),
  };
  if (Object.keys(fn.environment).length > 0 || fn.environmentShown) config.Environment = { Variables: fn.environment };
  if (fn.layers?.length) config.Layers = fn.layers.map((l) => ({ Arn: l.arn, CodeSize: l.code.size }));
  if (fn.deadLetterTargetArn) config.DeadLetterConfig = { TargetArn: fn.deadLetterTargetArn };
  return fn.image ? imageConfiguration(config, fn) : config;
}

/** Lambda's LoggingConfig: the levels only with the JSON format. */
function loggingConfiguration(c: LoggingConfig): Record<string, unknown> {
  const levels = c.logFormat === 'JSON' ? { ApplicationLogLevel: c.applicationLogLevel, SystemLogLevel: c.systemLogLevel } : {};
  return { LogFormat: c.logFormat, ...levels, LogGroup: c.logGroup };
}

/** An image function shows no Runtime or Handler, CodeSize 0, its digest, and ImageConfigResponse when ImageConfig is set. */
function imageConfiguration(config: Record<string, unknown>, fn: FunctionRecord): Record<string, unknown> {
  const { Runtime: _r, Handler: _h, RuntimeVersionConfig: _v, ...rest } = config;
  const out: Record<string, unknown> = { ...rest, CodeSize: 0, CodeSha256: fn.code.sha256, PackageType: 'Image' };
  const c = fn.imageConfig;
  if (c && Object.keys(c).length > 0) {
    const ImageConfig: Record<string, unknown> = {};
    if (c.entryPoint) ImageConfig.EntryPoint = c.entryPoint;
    if (c.command) ImageConfig.Command = c.command;
    if (c.workingDirectory !== undefined) ImageConfig.WorkingDirectory = c.workingDirectory;
    out.ImageConfigResponse = { ImageConfig };
  }
  return out;
}

/**
 * SnapStart and State: a version whose snapshot is being made is Pending, one whose snapshot
 * failed to initialize is Failed; OptimizationStatus is On only for a version with a snapshot.
 */
function snapStartFields(fn: FunctionRecord & { snapshot?: VersionSnapshot }): Record<string, unknown> {
  const snapshot = fn.snapshot;
  const fields: Record<string, unknown> = {
    SnapStart: { ApplyOn: fn.snapStart ?? 'None', OptimizationStatus: snapshot?.status === 'ready' ? 'On' : 'Off' },
  };
  if (snapshot?.status === 'pending') Object.assign(fields, { State: 'Pending', StateReason: 'The function is being created.', StateReasonCode: 'Creating' });
  else if (snapshot?.status === 'failed') Object.assign(fields, { State: 'Failed', StateReason: snapshot.reason, StateReasonCode: snapshot.reasonCode });
  else if (snapshot?.status === 'off') Object.assign(fields, { StateReason: snapshot.reason, StateReasonCode: snapshot.reasonCode });
  return fields;
}

/** ListFunctions / ListVersionsByFunction items leave out the state fields. */
export function listItem(config: Record<string, unknown>): Record<string, unknown> {
  const { State, StateReason, StateReasonCode, LastUpdateStatus, LastUpdateStatusReason, LastUpdateStatusReasonCode, RuntimeVersionConfig, ...rest } = config;
  return rest;
}

/** Lambda's AliasConfiguration; RoutingConfig only when the alias splits traffic. */
export function aliasConfiguration(alias: AliasRecord, aliasArn: string): Record<string, unknown> {
  const config: Record<string, unknown> = {
    AliasArn: aliasArn, Name: alias.name, FunctionVersion: alias.functionVersion, Description: alias.description, RevisionId: alias.revisionId,
  };
  if (Object.keys(alias.additionalVersionWeights).length > 0) config.RoutingConfig = { AdditionalVersionWeights: alias.additionalVersionWeights };
  return config;
}

/** Lambda's FunctionUrlConfig (Get/List); Create and Update answer a subset of it. */
export function functionUrlConfiguration(config: FunctionUrlRecord, functionUrl: string, functionArn: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    FunctionUrl: functionUrl, FunctionArn: functionArn, AuthType: config.authType,
    CreationTime: lambdaTimestamp(config.creationTimeMs), LastModifiedTime: lambdaTimestamp(config.lastModifiedMs), InvokeMode: config.invokeMode,
  };
  if (config.cors) out.Cors = config.cors;
  return out;
}

/** Lambda's Runtime enum: values outside it are ValidationExceptions, unsupported ones are not. */
export const LAMBDA_RUNTIMES = [
  'nodejs', 'nodejs4.3', 'nodejs6.10', 'nodejs8.10', 'nodejs10.x', 'nodejs12.x', 'nodejs14.x', 'nodejs16.x',
  'java8', 'java8.al2', 'java11', 'python2.7', 'python3.6', 'python3.7', 'python3.8', 'python3.9',
  'dotnetcore1.0', 'dotnetcore2.0', 'dotnetcore2.1', 'dotnetcore3.1', 'dotnet6', 'dotnet8', 'nodejs4.3-edge',
  'go1.x', 'ruby2.5', 'ruby2.7', 'provided', 'provided.al2', 'nodejs18.x', 'python3.10', 'java17',
  'ruby3.2', 'ruby3.3', 'ruby3.4', 'python3.11', 'nodejs20.x', 'provided.al2023', 'python3.12', 'java21',
  'python3.13', 'nodejs22.x', 'nodejs24.x', 'python3.14', 'java25',
] as const;
