import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type ScheduleStore } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { Schedules } from './schedules.js';

const A = '111111111111';
const REGION = 'us-east-1';
const body = {
  ScheduleExpression: 'rate(1 hour)', FlexibleTimeWindow: { Mode: 'OFF' }, GroupName: 'g',
  Target: { Arn: `arn:aws:lambda:${REGION}:${A}:function:fn`, RoleArn: `arn:aws:iam::${A}:role/scheduler` },
};

describe('schedule groups', () => {
  it('a DeleteScheduleGroup racing a CreateSchedule in that group leaves no schedule behind, whichever wins', async () => {
    for (const deleteWhen of ['before the schedule is written', 'after it is written'] as const) {
      const journal = new MemoryJournal();
      const clock = new ManualClock(Date.parse('2030-01-06T12:00:00Z'));
      let schedules!: Schedules;
      let raced: Promise<void> | undefined;
      // The group goes while the create is between its check of the group and its commit (or just after it).
      const store: ScheduleStore = Object.create(journal.schedules, {
        create: {
          value: async (...args: Parameters<ScheduleStore['create']>) => {
            if (deleteWhen === 'before the schedule is written') await schedules.groups.delete(A, 'g');
            const created = await journal.schedules.create(...args);
            if (deleteWhen === 'after it is written') raced = schedules.groups.delete(A, 'g');
            return created;
          },
        },
      });
      schedules = new Schedules({ store, groups: journal.scheduleGroups, clock, region: REGION });
      await schedules.groups.create(A, 'g', {});
      const created = schedules.create(A, 's', body);
      // Deleted before the write: the create fails. After it: either may finish first.
      if (deleteWhen === 'before the schedule is written') await assert.rejects(created, { code: 'ResourceNotFound' });
      else await created.catch(() => undefined);
      await raced;
      assert.deepEqual(await journal.schedules.list(`${A}/`), [], `no orphan schedule (group deleted ${deleteWhen})`);
    }
  });
});

describe('schedule group quota', () => {
  it('an account has at most 500 groups, the default included; another account is not counted', async () => {
    const journal = new MemoryJournal();
    const schedules = new Schedules({ store: journal.schedules, groups: journal.scheduleGroups, clock: new ManualClock(0), region: REGION });
    for (let i = 0; i < 499; i++) await schedules.groups.create(A, `g${i}`, {});
    await assert.rejects(schedules.groups.create(A, 'one-more', {}), { code: 'QuotaExceeded' });
    await schedules.groups.create('222222222222', 'theirs', {});
    await schedules.groups.delete(A, 'g0');
    await schedules.groups.create(A, 'one-more', {});
  });
});
