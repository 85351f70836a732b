import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstDue, nextDue, parseExpression, type Expression } from './expressions.js';

const parse = (text: string): Expression => {
  const e = parseExpression(text);
  assert.ok(e, `${text} parses`);
  return e;
};
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (text: string) => Date.parse(text);
/** The next `n` due times of a recurring expression after `from`. */
function series(text: string, zone: string, from: string, n: number): (string | undefined)[] {
  const e = parse(text);
  const out: (string | undefined)[] = [];
  let after = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextDue(e, zone, {}, at(from), after);
    out.push(iso(next));
    if (next === undefined) break;
    after = next;
  }
  return out;
}

describe('schedule expressions', () => {
  it('refuses what EventBridge Scheduler refuses', () => {
    for (const bad of [
      'rate(0 minutes)', 'rate(5 seconds)', 'rate(-1 hours)', 'rate(5minutes)', 'cron(* * * * *)', 'cron(0 12 * * * *)', 'cron(0 12 ? * ? *)',
      'cron(60 * * * ? *)', 'cron(0 24 * * ? *)', 'cron(0 0 32 * ? *)', 'cron(0 0 ? * 8 *)', 'cron(0 0 ? 13 MON *)', 'cron(0 0 1 * ? 2300)',
      'at(2030-02-30T00:00:00)', 'at(2030-01-01 00:00:00)', 'at(2030-01-01T24:00:00)', 'every day', 'rate(1 minute', '',
    ]) assert.equal(parseExpression(bad), undefined, bad);
  });

  it('rate() counts periods from its anchor', () => {
    assert.deepEqual(series('rate(5 minutes)', 'UTC', '2030-01-01T00:00:00Z', 3), ['2030-01-01T00:05:00.000Z', '2030-01-01T00:10:00.000Z', '2030-01-01T00:15:00.000Z']);
    assert.deepEqual(series('rate(1 day)', 'UTC', '2030-01-01T10:30:00Z', 2), ['2030-01-02T10:30:00.000Z', '2030-01-03T10:30:00.000Z']);
    const e = parse('rate(2 hours)');
    assert.equal(iso(firstDue(e, 'UTC', { startMs: at('2030-06-01T00:00:00Z') }, at('2030-01-01T00:00:00Z'))), '2030-06-01T00:00:00.000Z', 'from a future StartDate');
    assert.equal(iso(firstDue(e, 'UTC', { endMs: at('2030-01-01T01:00:00Z') }, at('2030-01-01T00:00:00Z'))), undefined, 'nothing before EndDate');
  });

  it('cron() runs on wall-clock time in its time zone, across daylight-saving changes', () => {
    // 09:00 in New York: 14:00 UTC in winter, 13:00 UTC after the change of 2030-03-10.
    assert.deepEqual(series('cron(0 9 * * ? *)', 'America/New_York', '2030-03-08T15:00:00Z', 3), [
      '2030-03-09T14:00:00.000Z', '2030-03-10T13:00:00.000Z', '2030-03-11T13:00:00.000Z',
    ]);
    // 02:30 does not exist in Paris on 2030-03-31: it runs when the clocks show 03:30.
    assert.deepEqual(series('cron(30 2 * * ? *)', 'Europe/Paris', '2030-03-30T12:00:00Z', 2), ['2030-03-31T01:30:00.000Z', '2030-04-01T00:30:00.000Z']);
    assert.deepEqual(series('cron(0/20 8-9 ? * MON-FRI *)', 'UTC', '2030-01-04T09:30:00Z', 4), [
      '2030-01-04T09:40:00.000Z', '2030-01-07T08:00:00.000Z', '2030-01-07T08:20:00.000Z', '2030-01-07T08:40:00.000Z',
    ]);
  });

  it('cron() knows L, W, # and years', () => {
    assert.deepEqual(series('cron(0 0 L * ? *)', 'UTC', '2030-01-15T00:00:00Z', 3), ['2030-01-31T00:00:00.000Z', '2030-02-28T00:00:00.000Z', '2030-03-31T00:00:00.000Z']);
    // 2030-06-01 is a Saturday: W stays within the month, so its nearest weekday is Monday 3 June.
    assert.deepEqual(series('cron(0 0 1W * ? *)', 'UTC', '2030-05-15T00:00:00Z', 1), ['2030-06-03T00:00:00.000Z']);
    // 6 is Friday (1 is Sunday): the third Friday.
    assert.deepEqual(series('cron(0 12 ? * 6#3 *)', 'UTC', '2030-01-01T00:00:00Z', 2), ['2030-01-18T12:00:00.000Z', '2030-02-15T12:00:00.000Z']);
    assert.deepEqual(series('cron(0 12 ? * 2L *)', 'UTC', '2030-01-01T00:00:00Z', 1), ['2030-01-28T12:00:00.000Z']);
    assert.deepEqual(series('cron(0 0 1 JAN ? 2031-2032)', 'UTC', '2030-01-01T00:00:00Z', 3), ['2031-01-01T00:00:00.000Z', '2032-01-01T00:00:00.000Z', undefined]);
  });

  it('at() is one time in its time zone', () => {
    const e = parse('at(2030-07-01T12:00:00)');
    assert.equal(iso(firstDue(e, 'Asia/Tokyo', {}, at('2030-01-01T00:00:00Z'))), '2030-07-01T03:00:00.000Z');
    assert.equal(iso(firstDue(e, 'UTC', {}, at('2031-01-01T00:00:00Z'))), '2030-07-01T12:00:00.000Z', 'a time passed fires at once');
    assert.equal(firstDue(e, 'UTC', {}, at('2031-01-01T00:00:00Z'), false), undefined, 'unless it is an update');
    assert.equal(iso(firstDue(e, 'UTC', { startMs: at('2030-08-01T00:00:00Z'), endMs: at('2030-06-01T00:00:00Z') }, at('2030-01-01T00:00:00Z'))), '2030-07-01T12:00:00.000Z', 'StartDate and EndDate do not apply');
    assert.equal(nextDue(e, 'UTC', {}, 0, at('2030-07-01T12:00:00Z')), undefined);
  });
});
