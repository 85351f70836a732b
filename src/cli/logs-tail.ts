import { FilterLogEventsCommand, type CloudWatchLogsClient, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../shared/clock.js';
import { forTerminal } from './terminal.js';

/** How late an event may be stored after its timestamp and still be followed. */
const LATE_MS = 10_000;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `10m`, `2h`, `1d`: how far back the tail starts. */
export function parseSince(since: string, nowMs: number): number {
  const m = /^(\d+)([smhdw])$/.exec(since);
  if (!m) throw new Error(`--since wants a number and a unit (s, m, h, d, w), like 10m; got '${since}'`);
  return nowMs - Number(m[1]) * (UNITS[m[2] ?? 'm'] ?? 60_000);
}

/** The log group of a function (its LoggingConfig's, or Lambda's default), or the group named outright. */
export async function logGroupOf(lambda: LambdaClient, nameOrGroup: string): Promise<string> {
  if (nameOrGroup.startsWith('/')) return nameOrGroup;
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: nameOrGroup }));
  return (config as { LoggingConfig?: { LogGroup?: string } }).LoggingConfig?.LogGroup ?? `/aws/lambda/${nameOrGroup}`;
}

export interface TailOptions {
  clock: Clock;
  follow: boolean;
  since: string;
  filterPattern?: string;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Prints a group's events since `since` (`time stream message`, one per line; control
 * characters made harmless on a terminal), and with `follow` keeps polling FilterLogEvents for
 * newer ones until `signal` aborts. Each poll looks back a little before the newest event printed
 * (events arrive late, stream by stream) and remembers by id what it printed there.
 */
export async function tailLogs(logs: CloudWatchLogsClient, group: string, o: TailOptions, out: NodeJS.WritableStream): Promise<void> {
  let startTime = parseSince(o.since, o.clock.now());
  let newest = startTime;
  const seen = new Map<string, number>();
  for (;;) {
    const fresh: FilteredLogEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await logs.send(new FilterLogEventsCommand({ logGroupName: group, startTime, filterPattern: o.filterPattern, nextToken }), { abortSignal: o.signal });
      for (const e of page.events ?? []) if (e.eventId && !seen.has(e.eventId)) fresh.push(e);
      nextToken = page.nextToken;
    } while (nextToken && !o.signal?.aborted);
    for (const e of fresh) {
      seen.set(e.eventId ?? '', e.timestamp ?? 0);
      out.write(forTerminal(`${new Date(e.timestamp ?? 0).toISOString()} ${e.logStreamName ?? ''} ${(e.message ?? '').replace(/\n$/, '')}\n`, (out as NodeJS.WriteStream).isTTY));
      newest = Math.max(newest, e.timestamp ?? 0);
    }
    // Events are stamped when written and stored a little later, each stream on its own: the next
    // poll looks back LATE_MS before the newest printed, and skips the events it printed there.
    startTime = Math.max(startTime, newest - LATE_MS);
    for (const [id, timestamp] of seen) if (timestamp < startTime) seen.delete(id);
    if (!o.follow || o.signal?.aborted) return;
    try {
      await sleep(o.pollMs ?? 1000, undefined, { signal: o.signal });
    } catch {
      return;
    }
  }
}
