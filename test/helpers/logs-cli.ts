// `aws logs ...` against a real Stratus: the CLI's JSON output, and `aws logs tail --follow` as a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { aws, type CliResult } from './aws-cli.js';
import type { StratusProcess } from './stratus.js';
import type { Key } from './accounts.js';

export interface LogEvent {
  timestamp: number;
  message: string;
  logStreamName?: string;
  eventId?: string;
}

/** Runs `aws logs <args>` and parses its JSON output (the call must succeed). */
export async function logsJson<T = Record<string, unknown>>(stratus: StratusProcess, args: string[], key?: Key): Promise<T> {
  const r = await aws(stratus, ['logs', ...args], key ? { credentials: key } : {});
  assert.equal(r.code, 0, `aws logs ${args.join(' ')} failed: ${r.stderr}`);
  return (r.stdout.trim() === '' ? {} : JSON.parse(r.stdout)) as T;
}

/** Runs `aws logs <args>` expecting CloudWatch's error `type` (and message, if given). */
export async function logsError(stratus: StratusProcess, args: string[], type: string, message?: string | RegExp, key?: Key): Promise<CliResult> {
  const r = await aws(stratus, ['logs', ...args], key ? { credentials: key } : {});
  assert.notEqual(r.code, 0, `aws logs ${args.join(' ')} should have failed: ${r.stdout}`);
  assert.match(r.stderr, new RegExp(`An error occurred \\(${type}\\)`), r.stderr);
  if (typeof message === 'string') assert.ok(r.stderr.includes(message), `${r.stderr} should say ${message}`);
  else if (message) assert.match(r.stderr, message);
  return r;
}

/** Asks `probe` again (every 200 ms, at most `attempts` times) until it returns something. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, attempts = 150): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(200);
  }
  assert.fail(`never happened: ${what}`);
}

/** The group's events (FilterLogEvents, all pages) once `done` holds for their messages. */
export function eventsOnce(stratus: StratusProcess, group: string, done: (messages: string[]) => boolean, key?: Key): Promise<LogEvent[]> {
  return eventually(async () => {
    const out = await logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', group], key);
    return done(out.events.map((e) => e.message)) ? out.events : undefined;
  }, `the events of ${group}`);
}

export interface Follower {
  pid: number;
  /** Resolves once the output so far holds every one of `lines`. */
  waitFor(lines: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `aws logs tail <group> --follow` (the real CLI) and collects its output. */
export function follow(stratus: StratusProcess, group: string, extra: string[] = [], key?: Key): Follower {
  const credentials = key ?? stratus.credentials;
  const child = spawn('/usr/bin/aws', ['--endpoint-url', stratus.url, '--region', 'us-east-1', 'logs', 'tail', group, '--follow', '--format', 'short', ...extra], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_MAX_ATTEMPTS: '1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (errors += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid ?? 0,
    waitFor: (lines) => eventually(async () => {
      if (child.exitCode !== null) assert.fail(`aws logs tail --follow exited: ${errors}`);
      return lines.every((l) => output.includes(l)) ? output : undefined;
    }, `aws logs tail --follow to print ${lines.join(', ')}`, 300),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid ?? 0, 'SIGTERM');
      await exited;
    },
  };
}
