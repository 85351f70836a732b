/**
 * Scenario 12 — the function-log store on SQLite (the journal of `stratus up`): append
 * throughput in batches of 50 events (as a worker's log shipper sends them), then reads of one
 * group of 100,000 events as the CloudWatch Logs API makes them (one stream, a stream prefix,
 * a time window, newest first, a page after a cursor), then one expiry down to a byte cap.
 */
import { join } from 'node:path';
import { SqliteJournal, type LogEventQuery, type LogStore } from '../../src/journal/index.js';
import { log, tempDir } from '../harness.js';
import { ms, Series, type Scenario } from '../scenario.js';

const ACCOUNT = '123456789012';
const GROUP = '/aws/lambda/bench-logs';
const STREAMS = 10;
const BATCH = 50;
const T0 = 1_700_000_000_000;
const line = (i: number) => `2026-12-07T03:00:00.000Z\t${String(i).padStart(8, '0')}-aaaa-bbbb\tINFO\tprocessed item ${i} of the batch, all fine`;
const streamName = (s: number) => `2026/12/07/[$LATEST]${String(s).padStart(32, '0')}`;

/** The event store's queries, each sampled READS times per round. */
function queries(events: number): Record<string, (i: number) => LogEventQuery> {
  const span = events; // one event per ms of timestamp
  const at = (i: number) => T0 + ((i * 7919) % (span - 1000));
  return {
    'one stream, window, 100 (GetLogEvents)': (i) => ({ streams: [streamName(i % STREAMS)], startTime: at(i), limit: 100 }),
    'whole group, window, 100 (FilterLogEvents)': (i) => ({ startTime: at(i), endTime: at(i) + 5000, limit: 100 }),
    '3 streams by name, 100': (i) => ({ streams: [0, 1, 2].map((k) => streamName((i + k) % STREAMS)), startTime: at(i), limit: 100 }),
    'stream prefix, 100': (i) => ({ streamPrefix: '2026/12/07/', startTime: at(i), limit: 100 }),
    'newest first, 100': () => ({ descending: true, limit: 100 }),
    'whole group, page of 1,000 after a cursor': (i) => ({ after: { timestamp: at(i), id: '0' }, limit: 1000 }),
  };
}

async function appendAll(logs: LogStore, batches: number): Promise<number> {
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) {
    const events = Array.from({ length: BATCH }, (_, k) => ({ timestamp: T0 + b * BATCH + k, message: line(b * BATCH + k) }));
    await logs.append(ACCOUNT, GROUP, streamName(b % STREAMS), events, T0 + b * BATCH);
  }
  return performance.now() - t0;
}

export const logStore: Scenario = {
  id: 'log-store',
  title: '12. Function logs on SQLite: append and read',
  standalone: true,
  async run(ctx) {
    const events = ctx.quick ? 20_000 : 100_000;
    const batches = events / BATCH;
    const reads = ctx.quick ? 50 : 300;
    const appendRate = new Series();
    const expireMs = new Series();
    const readMs = new Map<string, Series>();
    let dbBytes = 0;
    for (let round = 0; round < ctx.rounds; round++) {
      const dir = await tempDir('logs');
      const journal = new SqliteJournal(join(dir, 'journal.db'));
      try {
        const elapsed = await appendAll(journal.logs, batches);
        appendRate.add(round, (events / elapsed) * 1000);
        log(`log-store: round ${round}: ${events} events appended in ${elapsed.toFixed(0)} ms`);
        for (const [name, query] of Object.entries(queries(events))) {
          const series = readMs.get(name) ?? new Series();
          readMs.set(name, series);
          for (let i = 0; i < reads; i++) {
            const t0 = performance.now();
            const got = await journal.logs.events(ACCOUNT, GROUP, query(i));
            series.add(round, performance.now() - t0);
            if (!got || got.length === 0) throw new Error(`query "${name}" found nothing`);
          }
        }
        const [group] = await journal.logs.groups(ACCOUNT, GROUP);
        dbBytes = group?.storedBytes ?? 0;
        const t0 = performance.now();
        await journal.logs.expire(T0, Math.floor(dbBytes * 0.9));
        expireMs.add(round, performance.now() - t0);
      } finally {
        await journal.close();
      }
    }
    return {
      method: [
        `In the bench process: a fresh SqliteJournal per round (WAL, synchronous=NORMAL) in a temp dir; ${ctx.rounds} rounds.`,
        `Append: ${batches} sequential appends of ${BATCH} events (~${line(0).length}-byte lines) round-robin over ${STREAMS} streams of one group: ${events} events.`,
        `Reads over that group (${(dbBytes / 1e6).toFixed(1)} MB stored): ${reads} queries of each kind per round, at start times spread over the group.`,
        'Expire: one sweep with the account cap at 90% of what it stores (removes the earliest-appended 10%).',
      ],
      tables: [
        { title: 'Append', rows: [appendRate.row('SqliteLogStore', `${BATCH}-event batches`, 'events/s')] },
        { title: `Reads of a group of ${events.toLocaleString('en')} events`, rows: [...readMs].map(([name, s]) => s.row(name, 'latency', 'ms')) },
        { title: 'Expiry', rows: [expireMs.row('expire to 90% of the cap', 'one sweep', 'ms')] },
      ],
      checks: [],
      notes: [`Median append: ${Math.round(appendRate.summary().median).toLocaleString('en')} events/s; the slowest read median ${ms(Math.max(...[...readMs.values()].map((s) => s.summary().median)))}.`],
    };
  },
};
