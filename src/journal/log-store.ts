import { EVENT_OVERHEAD_BYTES } from '../shared/cloudwatch-logs.js';
import { isStratusError } from '../shared/errors.js';

/**
 * Function logs as CloudWatch Logs keeps them: per account, named groups of named streams of
 * events. The engines store and select; the CloudWatch semantics on top (stream names, filter
 * patterns, pagination tokens, validation) are `logs/`'s.
 */
export interface LogStore {
  /** Creates an empty group; resolves false (and changes nothing) if it exists. */
  createGroup(accountId: string, group: string, nowMs: number): Promise<boolean>;
  /**
   * Appends events to a stream (in the order given), creating the group and the stream if they
   * do not exist. Every event gets an id, increasing in the order events were appended.
   */
  append(accountId: string, group: string, stream: string, events: NewLogEvent[], ingestionTimeMs: number): Promise<void>;
  /**
   * Appends of a shipment, each as `append`, in order; resolves, per append, undefined when it was
   * stored or the error that refused it. SQLite stores them in one transaction (all or none,
   * one error for all, but that an append refused for good is rolled back alone and answered
   * with a StratusError not retryable); the others append one by one and stop at the first error
   * that may pass (a retry may succeed): it is then the answer of every append not yet tried.
   */
  appendAll(appends: LogAppend[], ingestionTimeMs: number): Promise<(Error | undefined)[]>;
  /** The account's groups, by name. */
  groups(accountId: string, namePrefix?: string): Promise<LogGroupInfo[]>;
  /** The group's streams, by name; undefined when the group does not exist. */
  streams(accountId: string, group: string): Promise<LogStreamInfo[] | undefined>;
  /**
   * The group's events that match `query`, ordered by (timestamp, id), or the reverse with
   * `descending`; undefined when the group does not exist.
   */
  events(accountId: string, group: string, query: LogEventQuery): Promise<StoredLogEvent[] | undefined>;
  /** Sets (or, with undefined, removes) the group's retention; false when it does not exist. */
  setRetention(accountId: string, group: string, days: number | undefined): Promise<boolean>;
  /** Deletes a group with all its streams and events; false when it does not exist. */
  deleteGroup(accountId: string, group: string): Promise<boolean>;
  /** Deletes a stream with its events; false when it (or its group) does not exist. */
  deleteStream(accountId: string, group: string, stream: string): Promise<boolean>;
  /**
   * Deletes events older than their group's retention (by event timestamp), then each account's
   * earliest-appended events until it stores at most `maxBytesPerAccount`. Resolves the bytes removed.
   */
  expire(nowMs: number, maxBytesPerAccount: number): Promise<number>;
}

/** One stream's part of a shipment of function logs (`appendAll`). */
export interface LogAppend {
  accountId: string;
  group: string;
  stream: string;
  events: NewLogEvent[];
}

export interface NewLogEvent {
  timestamp: number;
  message: string;
}

export interface StoredLogEvent extends NewLogEvent {
  /** Unique in the group; ids of one stream increase in the order its events were appended. */
  id: string;
  stream: string;
  ingestionTime: number;
}

export interface LogEventQuery {
  /** Only these streams (all when undefined). */
  streams?: string[];
  streamPrefix?: string;
  /** Inclusive, ms. */
  startTime?: number;
  /** Exclusive, ms. */
  endTime?: number;
  /** Resume after this event (an event of an earlier page, in the same order). */
  after?: { timestamp: number; id: string };
  descending?: boolean;
  limit: number;
}

export interface LogGroupInfo {
  name: string;
  creationTime: number;
  retentionInDays?: number;
  /** What the group's events count for (message bytes plus 26 per event, as CloudWatch counts). */
  storedBytes: number;
}

export interface LogStreamInfo {
  name: string;
  creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
}

export { EVENT_OVERHEAD_BYTES } from '../shared/cloudwatch-logs.js';

export function eventBytes(message: string): number {
  return Buffer.byteLength(message) + EVENT_OVERHEAD_BYTES;
}

/**
 * `appendAll` by one `append` after another: an error that may pass stops it (the retry will
 * bring them all again), one that will not (a StratusError not retryable) is that append's answer.
 */
export async function appendEach(store: LogStore, appends: LogAppend[], ingestionTimeMs: number): Promise<(Error | undefined)[]> {
  const answers: (Error | undefined)[] = [];
  for (const a of appends) {
    try {
      await store.append(a.accountId, a.group, a.stream, a.events, ingestionTimeMs);
      answers.push(undefined);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (!isStratusError(err) || err.retryable) return answers.concat(appends.slice(answers.length).map(() => error));
      answers.push(error);
    }
  }
  return answers;
}

export const DAY_MS = 24 * 60 * 60 * 1000;
