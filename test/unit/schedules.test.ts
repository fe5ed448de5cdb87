// Schedules, pure: reading `schedule:`/`timezone:`/`catch_up:` from front matter, and which
// scheduled plans fire given the records, the brain's start and the time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSchedule, firesBetween, nextFire, type ScheduleSpec } from '../../agents/plan/schedule.ts';
import { decideSchedules, type FireRecord, type ScheduleAction } from '../../agents/brain/schedules.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { validatePlan } from '../../agents/plan/validate.ts';

const T = (iso: string) => Date.parse(iso);
const NIGHTLY: ScheduleSpec = { cron: '0 2 * * *', timezone: 'UTC', catchUp: true };

test('readSchedule: a good schedule, defaults, and no schedule at all', () => {
  assert.deepEqual(readSchedule({ schedule: '0 2 * * *', timezone: 'UTC' }), { spec: NIGHTLY, problems: [] });
  assert.deepEqual(readSchedule({ schedule: ' */15 * * * 1-5 ', timezone: 'Europe/Berlin', catch_up: false }).spec, { cron: '*/15 * * * 1-5', timezone: 'Europe/Berlin', catchUp: false });
  assert.deepEqual(readSchedule({ model: 'm' }), { spec: null, problems: [] });
});

test('readSchedule: a bad cron, a missing or unknown time zone, a bad catch_up, each refused with its message', () => {
  const rows: Array<[Record<string, unknown>, Array<[string, string]>]> = [
    [{ schedule: '0 2 * * * *', timezone: 'UTC' }, [['schedule', `schedule: '0 2 * * * *' has 6 fields; a schedule is a cron expression of 5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day`]]],
    [{ schedule: '@daily', timezone: 'UTC' }, [['schedule', `schedule: '@daily' has 1 field; a schedule is a cron expression of 5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day`]]],
    [{ schedule: '61 2 * * *', timezone: 'UTC' }, [['schedule', `schedule: '61 2 * * *' is not a valid cron expression (Invalid value for minute: 61); write 5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day`]]],
    [{ schedule: 2, timezone: 'UTC' }, [['schedule', `schedule: expected a cron expression in quotes, 5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day; found 2`]]],
    [{ schedule: '0 2 * * *' }, [['timezone', `timezone: missing; a plan with a schedule names the time zone its times are in, an IANA time zone name, e.g. timezone: "UTC" or timezone: "Europe/Berlin"`]]],
    [{ schedule: '0 2 * * *', timezone: 'Mars/Olympus' }, [['timezone', `timezone: 'Mars/Olympus' is not a known time zone; write an IANA time zone name, e.g. timezone: "UTC" or timezone: "Europe/Berlin"`]]],
    [{ schedule: '0 2 * * *', timezone: 'UTC', catch_up: 'yes' }, [['catch_up', `catch_up: expected true or false (default true: a run missed while the brain was down runs once when it starts; false: it is skipped); found 'yes'`]]],
  ];
  for (const [front, want] of rows) {
    const got = readSchedule(front);
    assert.equal(got.spec, null, JSON.stringify(front));
    assert.deepEqual(got.problems.map((p) => [p.key, p.message]), want, JSON.stringify(front));
  }
});

test('the time zone is respected: 02:00 Europe/Berlin is 01:00Z in winter and 00:00Z in summer', () => {
  const berlin = { ...NIGHTLY, timezone: 'Europe/Berlin' };
  assert.equal(nextFire(berlin, T('2026-01-10T00:00:00Z')), T('2026-01-10T01:00:00Z'));
  assert.equal(nextFire(berlin, T('2026-07-10T00:30:00Z')), T('2026-07-11T00:00:00Z'));
  assert.equal(nextFire(NIGHTLY, T('2026-01-10T00:00:00Z')), T('2026-01-10T02:00:00Z'));
});

test('firesBetween: the count and the latest in (after, until], the end included', () => {
  assert.deepEqual(firesBetween(NIGHTLY, T('2026-01-01T00:00:00Z'), T('2026-01-04T02:00:00Z')), { count: 4, latest: T('2026-01-04T02:00:00Z') });
  assert.deepEqual(firesBetween(NIGHTLY, T('2026-01-01T02:00:00Z'), T('2026-01-02T01:59:59Z')), { count: 0, latest: null });
  // Past the cap the count stops, the latest is still found.
  const minutely = { ...NIGHTLY, cron: '* * * * *' };
  assert.deepEqual(firesBetween(minutely, T('2026-01-01T00:00:00Z'), T('2026-01-10T00:00:30Z')), { count: 1000, latest: T('2026-01-10T00:00:00Z') });
});

const START = T('2026-01-05T12:00:00Z');
const rec = (lastFire: string | null, knownSince = '2026-01-01T00:00:00Z'): FireRecord => ({ lastFire: lastFire === null ? null : T(lastFire), knownSince: T(knownSince) });

test('decideSchedules: on time, not before, catch-up once, catch_up false skips, new schedules tracked', () => {
  const rows: Array<[string, ScheduleSpec, FireRecord | undefined, string, ScheduleAction[]]> = [
    ['not seen before: tracked from now, nothing fires', NIGHTLY, undefined, '2026-01-06T02:00:00Z', [{ kind: 'track', plan: 'p', since: T('2026-01-06T02:00:00Z') }]],
    ['a second before the fire time: nothing', NIGHTLY, rec('2026-01-05T02:00:00Z'), '2026-01-06T01:59:59Z', []],
    ['at the fire time: fires', NIGHTLY, rec('2026-01-05T02:00:00Z'), '2026-01-06T02:00:00Z', [{ kind: 'fire', plan: 'p', fireAt: T('2026-01-06T02:00:00Z'), missed: 0, catchUp: false }]],
    ['a pass late: fires for the fire time, not the pass', NIGHTLY, rec('2026-01-05T02:00:00Z'), '2026-01-06T02:00:04Z', [{ kind: 'fire', plan: 'p', fireAt: T('2026-01-06T02:00:00Z'), missed: 0, catchUp: false }]],
    ['already fired: nothing', NIGHTLY, rec('2026-01-06T02:00:00Z'), '2026-01-06T02:00:09Z', []],
    ['a new schedule fires after it was first seen', NIGHTLY, rec(null, '2026-01-05T12:00:00Z'), '2026-01-06T02:00:00Z', [{ kind: 'fire', plan: 'p', fireAt: T('2026-01-06T02:00:00Z'), missed: 0, catchUp: false }]],
    ['four runs missed while down: one catch-up run, for the latest', NIGHTLY, rec('2026-01-01T02:00:00Z'), '2026-01-05T12:00:01Z', [{ kind: 'fire', plan: 'p', fireAt: T('2026-01-05T02:00:00Z'), missed: 4, catchUp: true }]],
    ['catch_up false: skipped, anchored at the latest', { ...NIGHTLY, catchUp: false }, rec('2026-01-01T02:00:00Z'), '2026-01-05T12:00:01Z', [{ kind: 'skip', plan: 'p', fireAt: T('2026-01-05T02:00:00Z'), missed: 4 }]],
    ['missed runs before the start fold into the next on-time run', NIGHTLY, rec('2026-01-04T02:00:00Z'), '2026-01-06T02:00:00Z', [{ kind: 'fire', plan: 'p', fireAt: T('2026-01-06T02:00:00Z'), missed: 1, catchUp: false }]],
    ['a clock behind the record: nothing', NIGHTLY, rec('2026-01-07T02:00:00Z'), '2026-01-06T02:00:00Z', []],
  ];
  for (const [name, spec, record, now, want] of rows) {
    const records = new Map(record ? [['p', record]] : []);
    assert.deepEqual(decideSchedules([{ plan: 'p', spec }], records, START, T(now)), want, name);
  }
});

test('decideSchedules: after the catch-up is recorded, the same start fires nothing more', () => {
  const records = new Map([['p', rec('2026-01-05T02:00:00Z')]]);
  assert.deepEqual(decideSchedules([{ plan: 'p', spec: NIGHTLY }], records, START, T('2026-01-05T12:00:05Z')), []);
});

test('forge submit refuses a bad schedule as plan.md:LINE: message, on the key\'s line', () => {
  const text = ['---', 'title: x', 'schedule: "0 25 * * *"', '---', '## Inputs', '- **DAY**: (required)', '## Tasks', '### a', '- **command**: `echo hi`'].join('\n');
  const { plan } = parsePlan(text, '/p/n/plan.md', '/p/n');
  const problems = validatePlan(plan, { DAY: 'mon' });
  assert.deepEqual(problems, [
    `/p/n/plan.md:3: schedule: '0 25 * * *' is not a valid cron expression (Invalid value for hour: 25); write 5 fields: minute hour day-of-month month day-of-week, e.g. schedule: "0 2 * * *" for 02:00 every day`,
    `/p/n/plan.md:3: timezone: missing; a plan with a schedule names the time zone its times are in, an IANA time zone name, e.g. timezone: "UTC" or timezone: "Europe/Berlin"`,
    `/p/n/plan.md:6: input 'DAY' has no default, but the plan has a schedule: the brain submits a scheduled run with the defaults only; give it a default ('- **DAY**: value')`,
  ]);
});
