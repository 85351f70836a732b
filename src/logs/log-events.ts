import { DAY_MS, eventBytes, type LogStore, type NewLogEvent, type StoredLogEvent } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { MAX_PATTERN_LENGTH, parseFilterPattern } from './filter-pattern.js';
import { groupNotFound, requestedGroup, streamNotFound } from './groups.js';
import { GROUP_NAME, invalidParameter, STREAM_NAME, type Params } from './params.js';
import { positionIn, type EventPosition, type PageTokens, type TokenScope } from './tokens.js';

/** GetLogEvents and FilterLogEvents answer at most 10,000 events and 1 MB. */
const MAX_EVENTS = 10_000;
const MAX_RESPONSE_BYTES = 1_048_576;
/** PutLogEvents: at most 10,000 events and 1 MB (messages plus 26 bytes each) per call. */
const MAX_BATCH_BYTES = 1_048_576;
/** Events are read from the store in batches of this many while FilterLogEvents scans. */
const SCAN_BATCH = 100;
/** Events GetLogEvents reads from the store at a time. */
const READ_PAGE = 100;
/**
 * How much matching one FilterLogEvents call may do: scanned bytes times the pattern's size.
 * A call that reaches it answers what it found so far with a nextToken, as CloudWatch may.
 */
const SCAN_BUDGET = 16 * 1024 * 1024;
const FOURTEEN_DAYS_MS = 14 * DAY_MS;
const TWO_HOURS_MS = 2 * 60 * 60 * 1000;
const TIME = { min: 0, max: Number.MAX_SAFE_INTEGER };

interface Deps {
  store: LogStore;
  tokens: PageTokens;
  clock: Clock;
}

/** Where a GetLogEvents token continues: forward after an event (from the head without one), backward before one (from the end without one). */
interface LogCursor {
  direction: 'f' | 'b';
  at?: EventPosition;
}

const position = (e: StoredLogEvent): EventPosition => ({ timestamp: e.timestamp, id: e.id });

/** The events of at most `maxBytes` (at least one), in the order given. */
function withinBytes(events: StoredLogEvent[], maxBytes: number): StoredLogEvent[] {
  let total = 0;
  const out: StoredLogEvent[] = [];
  for (const e of events) {
    total += eventBytes(e.message);
    if (out.length > 0 && total > maxBytes) break;
    out.push(e);
  }
  return out;
}

/** Reading and writing events: GetLogEvents, FilterLogEvents, PutLogEvents. */
export class LogEvents {
  constructor(private readonly deps: Deps) {}

  async getLogEvents(accountId: string, p: Params): Promise<Record<string, unknown>> {
    const stream = p.required('logStreamName', STREAM_NAME);
    const startTime = p.integer('startTime', TIME.min, TIME.max);
    const endTime = p.integer('endTime', TIME.min, TIME.max);
    const limit = p.integer('limit', 1, MAX_EVENTS) ?? MAX_EVENTS;
    const startFromHead = p.boolean('startFromHead') ?? false;
    const nextToken = p.string('nextToken', { min: 1 });
    p.boolean('unmask');
    const group = requestedGroup(p, accountId, { identifier: true });
    const streams = await this.deps.store.streams(accountId, group);
    if (!streams) throw groupNotFound();
    if (!streams.some((s) => s.name === stream)) throw streamNotFound();
    const scope: TokenScope = { operation: 'GetLogEvents', accountId, group, query: { stream } };
    const cursor: LogCursor = nextToken === undefined ? { direction: startFromHead ? 'f' : 'b' } : this.readLogCursor(scope, nextToken);
    const forward = cursor.direction === 'f';
    // Read in pages, so a request for many large events never holds more than a page past 1 MB.
    const found: StoredLogEvent[] = [];
    let [after, bytes] = [cursor.at, 0];
    while (found.length < limit && bytes < MAX_RESPONSE_BYTES) {
      const want = Math.min(READ_PAGE, limit - found.length);
      const page = await this.deps.store.events(accountId, group, { streams: [stream], startTime, endTime, after, descending: !forward, limit: want });
      if (!page) throw groupNotFound();
      found.push(...page);
      bytes += page.reduce((n, e) => n + Buffer.byteLength(e.message), 0);
      if (page.length < want) break;
      after = position(page[page.length - 1]!);
    }
    const page = withinBytes(found, MAX_RESPONSE_BYTES);
    const events = forward ? page : page.reverse();
    const first = events[0];
    const last = events[events.length - 1];
    const token = (c: LogCursor) => `${c.direction}/${this.deps.tokens.issue(scope, c.at ? { d: c.direction, at: c.at } : { d: c.direction })}`;
    const same = nextToken !== undefined && events.length === 0;
    return {
      events: events.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: same && forward ? nextToken : token(last ? { direction: 'f', at: position(last) } : { direction: 'f' }),
      nextBackwardToken: same && !forward ? nextToken : token(first ? { direction: 'b', at: position(first) } : { direction: 'b' }),
    };
  }

  private readLogCursor(scope: TokenScope, token: string): LogCursor {
    const direction = token.startsWith('f/') ? 'f' : token.startsWith('b/') ? 'b' : undefined;
    if (direction === undefined) throw invalidParameter('The specified nextToken is invalid.');
    return this.deps.tokens.read(scope, token.slice(2), (c) => {
      if (c.d !== direction) return undefined;
      if (c.at === undefined) return { direction };
      const at = positionIn(c.at);
      return at && { direction, at };
    });
  }

  async filterLogEvents(accountId: string, p: Params): Promise<Record<string, unknown>> {
    const streams = p.stringList('logStreamNames', 1, 100, STREAM_NAME);
    const streamPrefix = p.string('logStreamNamePrefix', STREAM_NAME);
    const startTime = p.integer('startTime', TIME.min, TIME.max);
    const endTime = p.integer('endTime', TIME.min, TIME.max);
    const patternText = p.string('filterPattern', { min: 0, max: MAX_PATTERN_LENGTH }) ?? '';
    const limit = p.integer('limit', 1, MAX_EVENTS) ?? MAX_EVENTS;
    const nextToken = p.string('nextToken', { min: 1 });
    p.boolean('interleaved');
    p.boolean('unmask');
    const group = requestedGroup(p, accountId, { identifier: true });
    if (streams !== undefined && streamPrefix !== undefined) throw invalidParameter('Cannot specify both logStreamNames and logStreamNamePrefix.');
    const pattern = parseFilterPattern(patternText);
    const scope: TokenScope = { operation: 'FilterLogEvents', accountId, group, query: { streams, streamPrefix, startTime, endTime, patternText } };
    let after = nextToken === undefined ? undefined : this.deps.tokens.read(scope, nextToken, (c) => positionIn(c.at));
    const matched: StoredLogEvent[] = [];
    let [budget, bytes, exhausted] = [SCAN_BUDGET, 0, false];
    scan: while (true) {
      // FilterLogEvents leaves out only events later than endTime (the store's end is exclusive).
      const batch = await this.deps.store.events(accountId, group, { streams, streamPrefix, startTime, endTime: endTime === undefined ? undefined : endTime + 1, after, limit: SCAN_BATCH });
      if (!batch) throw groupNotFound();
      for (const [i, e] of batch.entries()) {
        const size = eventBytes(e.message);
        if (pattern.matches(e.message)) {
          if (matched.length > 0 && bytes + size > MAX_RESPONSE_BYTES) break scan;
          matched.push(e);
          bytes += size;
        }
        after = position(e);
        budget -= size * pattern.cost;
        if (i === batch.length - 1 && batch.length < SCAN_BATCH) exhausted = true;
        if (matched.length >= limit || budget <= 0) break scan;
      }
      if (batch.length < SCAN_BATCH) {
        exhausted = true;
        break;
      }
    }
    return {
      events: matched.map((e) => ({ logStreamName: e.stream, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, eventId: e.id })),
      searchedLogStreams: [],
      ...(exhausted || after === undefined ? {} : { nextToken: this.deps.tokens.issue(scope, { at: after }) }),
    };
  }

  async putLogEvents(accountId: string, p: Params): Promise<Record<string, unknown>> {
    const group = p.required('logGroupName', GROUP_NAME);
    const stream = p.required('logStreamName', STREAM_NAME);
    p.string('sequenceToken');
    const events = this.newEvents(p);
    p.done();
    const streams = await this.deps.store.streams(accountId, group);
    if (!streams) throw groupNotFound();
    if (!streams.some((s) => s.name === stream)) throw streamNotFound();
    const now = this.deps.clock.now();
    const tooOld = events.filter((e) => e.timestamp < now - FOURTEEN_DAYS_MS).length;
    const firstTooNew = events.findIndex((e) => e.timestamp > now + TWO_HOURS_MS);
    const tooNewStart = firstTooNew < 0 ? events.length : firstTooNew;
    await this.deps.store.append(accountId, group, stream, events.slice(tooOld, Math.max(tooOld, tooNewStart)), now);
    const rejected = {
      ...(tooOld > 0 ? { tooOldLogEventEndIndex: tooOld } : {}),
      ...(tooNewStart < events.length ? { tooNewLogEventStartIndex: tooNewStart } : {}),
    };
    return Object.keys(rejected).length > 0 ? { rejectedLogEventsInfo: rejected } : {};
  }

  /** PutLogEvents' events, checked as CloudWatch checks them. */
  private newEvents(p: Params): NewLogEvent[] {
    const raw = p.raw('logEvents');
    if (!Array.isArray(raw)) return p.reject(raw, 'logEvents', 'Member must not be null') ?? [];
    if (raw.length < 1 || raw.length > MAX_EVENTS) {
      return p.reject('[...]', 'logEvents', `Member must have length ${raw.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_EVENTS}`}`) ?? [];
    }
    const events: NewLogEvent[] = [];
    for (const [i, item] of raw.entries()) {
      const { timestamp, message } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
        return p.reject(timestamp, `logEvents.${i + 1}.member.timestamp`, 'Member must not be null') ?? [];
      }
      if (typeof message !== 'string' || message.length < 1) {
        return p.reject(message, `logEvents.${i + 1}.member.message`, 'Member must have length greater than or equal to 1') ?? [];
      }
      events.push({ timestamp, message });
    }
    p.done();
    const size = events.reduce((sum, e) => sum + eventBytes(e.message), 0);
    if (size > MAX_BATCH_BYTES) throw invalidParameter(`Upload too large: ${size} bytes exceeds limit of ${MAX_BATCH_BYTES}`);
    if (events.some((e, i) => i > 0 && e.timestamp < (events[i - 1] as NewLogEvent).timestamp)) {
      throw invalidParameter('Log events in a single PutLogEvents request must be in chronological order.');
    }
    if (events.length > 0 && (events[events.length - 1] as NewLogEvent).timestamp - (events[0] as NewLogEvent).timestamp > DAY_MS) {
      throw invalidParameter('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
    }
    return events;
  }
}
