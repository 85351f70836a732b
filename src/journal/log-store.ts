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

/** CloudWatch counts 26 bytes of overhead per event. */
export const EVENT_OVERHEAD_BYTES = 26;

export function eventBytes(message: string): number {
  return Buffer.byteLength(message) + EVENT_OVERHEAD_BYTES;
}

export const DAY_MS = 24 * 60 * 60 * 1000;
