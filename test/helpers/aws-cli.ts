import { execFile } from 'node:child_process';
import type { StratusProcess } from './stratus.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real AWS CLI v2 (/usr/bin/aws) against a Stratus process. */
export function aws(
  stratus: StratusProcess, args: string[],
  opts: { secret?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const credentials = opts.credentials ?? stratus.credentials;
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/aws',
      ['--endpoint-url', stratus.url, '--region', 'us-east-1', '--no-cli-pager', '--cli-binary-format', 'raw-in-base64-out', ...args],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: opts.secret ?? credentials.secretAccessKey,
          AWS_MAX_ATTEMPTS: '1',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          ...opts.env,
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
