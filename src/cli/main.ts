import { parseArgs } from 'node:util';
import { resolveConfig } from '../shared/config.js';
import { errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { startSingleMachine } from './single-machine.js';

const USAGE = `Usage: stratus up [--port 9001] [--host 127.0.0.1] [--data-dir .stratus] [--keep-alive-ms 300000]
                 [--log-level info] [--function-logs stdout|off]

Starts Stratus on one machine: the Lambda API on http://HOST:PORT.
Credentials: STRATUS_ACCESS_KEY_ID / STRATUS_SECRET_ACCESS_KEY, or a key pair generated once
and kept in the data directory.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'up') {
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-alive-ms': { type: 'string' },
      'log-level': { type: 'string' },
      'function-logs': { type: 'string' },
    },
  });
  const env = process.env;
  const config = resolveConfig({
    dataDir: values['data-dir'],
    logLevel: values['log-level'],
    frontend: { host: values.host, port: values.port === undefined ? undefined : Number(values.port) },
    assignment: { keepAliveMs: values['keep-alive-ms'] === undefined ? undefined : Number(values['keep-alive-ms']) },
    worker: { functionLogs: values['function-logs'] },
    credentials:
      env.STRATUS_ACCESS_KEY_ID && env.STRATUS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.STRATUS_ACCESS_KEY_ID, secretAccessKey: env.STRATUS_SECRET_ACCESS_KEY }
        : undefined,
  });
  const log = createLogger(config.logLevel);
  const stratus = await startSingleMachine(config, log.child({ component: 'stratus' }));
  const { accessKeyId, secretAccessKey } = stratus.credentials;
  process.stdout.write(
    [
      `Stratus is listening on ${stratus.url} (data directory ${config.dataDir})`,
      `Credentials${stratus.credentialsGenerated ? ' (generated)' : ''}: access key ${accessKeyId}, secret ${secretAccessKey}`,
      'Use them with the AWS CLI:',
      `  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_DEFAULT_REGION=${config.identity.region}`,
      `  /usr/bin/aws lambda list-functions --endpoint-url ${stratus.url}`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write('Stratus is stopping\n');
  await stratus.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`stratus: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
