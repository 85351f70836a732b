import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { systemClock } from '../shared/clock.js';
import { deploy } from './deploy.js';
import { forTerminal } from './terminal.js';
import { logGroupOf, tailLogs } from './logs-tail.js';
import { top } from './top.js';

export const USER_USAGE = `  stratus invoke NAME [--payload JSON | --payload-file FILE] [--qualifier Q]
  stratus deploy DIR --name NAME [--runtime nodejs20.x] [--handler index.handler] [--memory-mb 128] [--timeout 3]
  stratus logs tail NAME|LOG_GROUP [--follow] [--since 10m] [--filter PATTERN]
  stratus top [--interval-ms 2000] [--once]
                 (each takes --endpoint-url, default $STRATUS_ENDPOINT or http://127.0.0.1:9001, --region, default
                  $AWS_REGION or us-east-1, and the caller's key: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`;

const OPTIONS = {
  'endpoint-url': { type: 'string' },
  region: { type: 'string' },
  payload: { type: 'string' },
  'payload-file': { type: 'string' },
  qualifier: { type: 'string' },
  name: { type: 'string' },
  runtime: { type: 'string' },
  handler: { type: 'string' },
  'memory-mb': { type: 'string' },
  timeout: { type: 'string' },
  follow: { type: 'boolean' },
  since: { type: 'string' },
  filter: { type: 'string' },
  'interval-ms': { type: 'string' },
  once: { type: 'boolean' },
} as const;

/** Where the commands' AWS SDK clients go, and as whom (the SDK's own credential chain: the environment, a profile). */
function clientConfig(values: { 'endpoint-url'?: string; region?: string }, env: NodeJS.ProcessEnv) {
  return {
    endpoint: (values['endpoint-url'] ?? env.STRATUS_ENDPOINT ?? 'http://127.0.0.1:9001').replace(/\/$/, ''),
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
  };
}

/**
 * The commands for people using Stratus (not operating it): `invoke`, `deploy` and `logs tail`
 * over the Lambda and CloudWatch Logs APIs with the AWS SDK, as any client would call them, and
 * `top` over what the web console reads. Resolves the exit status; `signal` ends a
 * `logs tail --follow` or a `top`.
 */
export async function userCommand(command: string, args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  // Stratus runs on Node.js 20 by design: the SDK's advice to move to 22 is not the user's to act on.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = clientConfig(values, env);
  const lambda = new LambdaClient(config);
  try {
    if (command === 'invoke' && positionals.length === 1) {
      const payload = values['payload-file'] !== undefined ? await readFile(values['payload-file']) : Buffer.from(values.payload ?? '{}');
      const out = await lambda.send(new InvokeCommand({ FunctionName: positionals[0], Qualifier: values.qualifier, Payload: payload, LogType: 'Tail' }));
      if (out.LogResult) process.stderr.write(forTerminal(Buffer.from(out.LogResult, 'base64').toString(), process.stderr.isTTY));
      process.stdout.write(`${forTerminal(Buffer.from(out.Payload ?? new Uint8Array()).toString(), process.stdout.isTTY)}\n`);
      return out.FunctionError ? 1 : 0;
    }
    if (command === 'deploy' && positionals.length === 1 && values.name) {
      const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const arn = await deploy(lambda, positionals[0] ?? '.', {
        name: values.name, runtime: values.runtime, handler: values.handler, memoryMb: number(values['memory-mb']), timeoutSec: number(values.timeout),
      }, process.stderr);
      process.stdout.write(`${arn}\n`);
      return 0;
    }
    if (command === 'logs' && positionals[0] === 'tail' && positionals.length === 2) {
      const logs = new CloudWatchLogsClient(config);
      try {
        const group = await logGroupOf(lambda, positionals[1] ?? '');
        await tailLogs(logs, group, { clock: systemClock, follow: values.follow ?? false, since: values.since ?? '10m', filterPattern: values.filter, signal }, process.stdout);
        return 0;
      } finally {
        logs.destroy();
      }
    }
    if (command === 'top' && positionals.length === 0) {
      const key = { accessKeyId: env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? '' };
      await top({ endpoint: config.endpoint, key, clock: systemClock, intervalMs: Number(values['interval-ms'] ?? 2000), once: values.once ?? false, signal }, process.stdout);
      return 0;
    }
    process.stderr.write(`Usage:\n${USER_USAGE}\n`);
    return 2;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    process.stderr.write(`${e.name ?? 'Error'}: ${e.message ?? String(err)}\n`);
    return 1;
  } finally {
    lambda.destroy();
  }
}
