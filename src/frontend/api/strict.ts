import { FUNCTION_ARN } from '../../async/index.js';
import type { FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseFunctionRef, qualifierOf, type Validator, pathParam } from '../http/index.js';

/** Lambda's answer when an operation on the whole function is given a version or an alias. */
export const FUNCTION_ONLY =
  'This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.';

/**
 * The function an operation on the whole function names (path parameter 0): a name, a partial
 * or a full ARN, never qualified (by the name or by ?Qualifier=).
 */
export function unqualifiedName(req: ApiRequest): string {
  const ref = parseFunctionRef(pathParam(req, 0));
  if (qualifierOf(ref, req.query) !== undefined) throw new StratusError('InvalidParameterValue', FUNCTION_ONLY);
  return ref.name;
}

/** Lambda's UnqualifiedFunctionName pattern (the recursion and scaling configs' FunctionName). */
const UNQUALIFIED_NAME_PATTERN = '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)';

/**
 * The function of an operation whose FunctionName is Lambda's UnqualifiedFunctionName: a
 * qualified one fails that shape's pattern, a ValidationException as Lambda's.
 */
export function patternUnqualifiedName(req: ApiRequest): string {
  const raw = pathParam(req, 0);
  const ref = parseFunctionRef(raw);
  if (ref.qualifier !== undefined) {
    throw new StratusError('Validation', `1 validation error detected: Value '${raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${UNQUALIFIED_NAME_PATTERN}`);
  }
  return ref.name;
}

/**
 * Request members that Lambda's API has but Stratus does not implement: refused with
 * InvalidParameterValueException rather than dropped, unless the value given is the one that
 * means "not used" (`unused`: true for it), which Stratus honours by doing nothing.
 */
export interface UnsupportedMember {
  member: string;
  /** What it would take, in a word, for the refusal's message. */
  why: string;
  unused?: (value: unknown) => boolean;
}

/** Throws for the first member of `body` that Stratus does not implement (and is not given as unused). */
export function refuseUnsupported(body: Record<string, unknown>, members: readonly UnsupportedMember[]): void {
  for (const { member, why, unused } of members) {
    const value = body[member];
    if (value === undefined || value === null || unused?.(value)) continue;
    throw new StratusError('InvalidParameterValue', `${member} is not supported by this Stratus installation: ${why}.`);
  }
}

/** PublishTo (LATEST_PUBLISHED): publishing to $LATEST.PUBLISHED, which Stratus does not have. */
export const PUBLISH_TO: UnsupportedMember = { member: 'PublishTo', why: 'there is no $LATEST.PUBLISHED version' };

const isEmptyList = (v: unknown) => Array.isArray(v) && v.length === 0;
const isEmptyString = (v: unknown) => v === '';
const onlyEmptyLists = (v: unknown) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => x === undefined || x === null || isEmptyList(x) || x === false);

/** CreateFunction's and UpdateFunctionConfiguration's members that Stratus does not implement (Layers are not listed here). */
export const UNSUPPORTED_CONFIGURATION: readonly UnsupportedMember[] = [
  { member: 'VpcConfig', why: 'functions reach no VPC (outbound network is the stratus:network=outbound tag)', unused: onlyEmptyLists },
  { member: 'KMSKeyArn', why: 'environment variables are not encrypted with AWS KMS keys', unused: isEmptyString },
  { member: 'TracingConfig', why: 'only Mode PassThrough (X-Ray active tracing is not available; traces go to OTLP)', unused: (v) => (v as { Mode?: unknown }).Mode === 'PassThrough' || Object.keys(v as object).length === 0 },
  { member: 'FileSystemConfigs', why: 'Amazon EFS file systems cannot be mounted', unused: isEmptyList },
  { member: 'CodeSigningConfigArn', why: 'code signing is not available (CreateCodeSigningConfig is refused)' },
  { member: 'Architectures', why: 'only x86_64', unused: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'x86_64' },
  PUBLISH_TO,
  { member: 'TenancyConfig', why: 'tenant isolation mode is not available' },
  { member: 'CapacityProviderConfig', why: 'capacity providers (Lambda Managed Instances) are not available' },
  { member: 'DurableConfig', why: 'durable functions are not available' },
];

/** The Code members of CreateFunction and the body of UpdateFunctionCode that Stratus does not implement. */
export const UNSUPPORTED_CODE: readonly UnsupportedMember[] = [
  { member: 'S3Bucket', why: 'give the package as ZipFile (there is no Amazon S3 to read it from)' },
  { member: 'S3Key', why: 'give the package as ZipFile (there is no Amazon S3 to read it from)' },
  { member: 'S3ObjectVersion', why: 'give the package as ZipFile (there is no Amazon S3 to read it from)' },
  { member: 'SourceKMSKeyArn', why: 'code packages are not encrypted with AWS KMS keys', unused: isEmptyString },
  { member: 'Architectures', why: 'only x86_64', unused: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'x86_64' },
  { member: 'S3ObjectStorageMode', why: 'give the package as ZipFile (there is no Amazon S3 to read it from)' },
  { member: 'DryRun', why: 'every update is applied', unused: (v) => v === false },
  PUBLISH_TO,
];

const DEAD_LETTER_PATTERN = /^(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)?$/;
const NOT_A_FUNCTION: Record<string, string> = { sqs: 'Amazon SQS queue', sns: 'Amazon SNS topic' };

/** DeadLetterConfig { TargetArn }: the ARN, '' to remove it (also for {}), undefined when not given. */
export function readDeadLetter(v: Validator): string | undefined {
  const config = v.object('DeadLetterConfig', 'deadLetterConfig');
  if (!config) return undefined;
  return v.within(config).string('TargetArn', 'deadLetterConfig.targetArn', { pattern: DEAD_LETTER_PATTERN, patternText: '(arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()' }) ?? '';
}

/**
 * A dead-letter target must be a function of this account and region that exists (Stratus has
 * no SQS or SNS): a tenant's failed events never reach another account.
 */
export function checkDeadLetter(registry: FunctionRegistry, arn: string | undefined, self: string): void {
  if (!arn) return;
  const service = arn.split(':')[2] ?? '';
  const kind = NOT_A_FUNCTION[service];
  if (kind) throw new StratusError('InvalidParameterValue', `The dead-letter target ARN ${arn} is not supported: Stratus delivers dead-letter events only to Lambda functions, not to an ${kind}.`);
  const name = FUNCTION_ARN.exec(arn)?.[2];
  if (!name || !arn.startsWith(registry.functionArn(name)) || !registry.has(name)) {
    throw new StratusError('InvalidParameterValue', `The dead-letter target ARN ${arn} is invalid: it must name an existing function of this account.`);
  }
  if (name === self) throw new StratusError('InvalidParameterValue', "You can't specify the function as a dead-letter target for itself.");
}
