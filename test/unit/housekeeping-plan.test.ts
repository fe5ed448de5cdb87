// The housekeeping plan: what is rotated and pruned, and what is kept, on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import {
  type HousekeepingAction, type HousekeepingSeen, describeAction, nextRunAt, planHousekeeping,
} from '../../agents/brain/housekeepingPlan.ts';
import { eventTimeOfName, noteTime } from '../../agents/brain/housekeeping.ts';

const cfg = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] }).housekeeping;
const NOW = Date.parse('2026-03-01T00:00:00.000Z');
const DAY = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

function seen(over: Partial<HousekeepingSeen> = {}): HousekeepingSeen {
  return { now: NOW, decisionLogBytes: 10, trainingSamplesBytes: null, archives: [], lateResults: [], quarantine: [], sent: [], ...over };
}

test('housekeeping defaults: hourly, first run 5 minutes after start, 100 MB decision log, 90 days of archives', () => {
  assert.deepEqual(cfg, {
    enabled: true, interval_s: 3600, first_after_s: 300, decision_log_max_mb: 100, decision_log_keep: 5,
    training_samples_max_mb: 1024, training_samples_keep: 5, archive_keep_days: 90, late_results_keep_days: 30,
    quarantine_keep_days: 30, outbox_sent_keep_days: 30, requests_keep_hours: 24,
  });
});

const cases: { name: string; seen: Partial<HousekeepingSeen>; want: HousekeepingAction[] }[] = [
  { name: 'nothing big or old: nothing done', seen: {}, want: [] },
  {
    name: 'a decision log over its size is rotated; one at the limit is not',
    seen: { decisionLogBytes: 101 * MiB, trainingSamplesBytes: 1024 * MiB },
    want: [{ kind: 'rotate', log: 'decisions', bytes: 101 * MiB, keep: 5, why: 'logs/brain_decisions.log is 101.0 MB, over housekeeping.decision_log_max_mb (100 MB)' }],
  },
  {
    name: 'training samples over their size are rotated; an absent decision log is not',
    seen: { decisionLogBytes: null, trainingSamplesBytes: 2000 * MiB },
    want: [{ kind: 'rotate', log: 'samples', bytes: 2000 * MiB, keep: 5, why: 'logs/training_samples.jsonl is 2000.0 MB, over housekeeping.training_samples_max_mb (1024 MB)' }],
  },
  {
    name: "an old finished batch's archive is removed; a young one, an unfinished one and one without a record are kept",
    seen: {
      archives: [
        { batch: 'old', finishedAt: ago(91), active: false, retryAsked: false },
        { batch: 'young', finishedAt: ago(89), active: false, retryAsked: false },
        { batch: 'unfinished', finishedAt: null, active: false, retryAsked: false },
        { batch: 'garbled', finishedAt: 'not a time', active: false, retryAsked: false },
      ],
    },
    want: [{ kind: 'prune', what: 'archive', names: ['old'], kept: 3, why: 'batches finished over housekeeping.archive_keep_days (90 day(s)) ago: they can no longer be retried (forge retry)' }],
  },
  {
    name: "an active batch's archive and one asked to retry are kept, however old",
    seen: {
      archives: [
        { batch: 'active', finishedAt: ago(400), active: true, retryAsked: false },
        { batch: 'retrying', finishedAt: ago(400), active: false, retryAsked: true },
        { batch: 'old', finishedAt: ago(400), active: false, retryAsked: false },
      ],
    },
    want: [{ kind: 'prune', what: 'archive', names: ['old'], kept: 2, why: 'batches finished over housekeeping.archive_keep_days (90 day(s)) ago: they can no longer be retried (forge retry); 2 as old kept: active or asked to retry' }],
  },
  {
    name: 'only active and retried old archives: nothing removed',
    seen: { archives: [{ batch: 'active', finishedAt: ago(400), active: true, retryAsked: false }] },
    want: [],
  },
  {
    name: 'a late result is aged by how long the brain has seen it: one with an old mtime first seen now is kept',
    seen: { lateResults: [{ name: 'seen-long.json', time: null, seenMs: 31 * DAY }, { name: 'first-seen-now.json', time: null, seenMs: 0 }] },
    want: [{ kind: 'prune', what: 'late_results', names: ['seen-long.json'], kept: 1, why: 'late results seen unchanged older than housekeeping.late_results_keep_days (30 day(s))' }],
  },
  {
    name: "a quarantined file is aged by its note's time, not by how long it was seen; one without a note by how long it was seen",
    seen: {
      quarantine: [
        { name: 'logs/1-a', time: NOW - 31 * DAY, seenMs: 0 },
        { name: 'logs/2-b', time: NOW - 29 * DAY, seenMs: 40 * DAY },
        { name: 'spool/3-c', time: null, seenMs: 30 * DAY },
        { name: 'spool/4-d', time: NOW + 40 * DAY, seenMs: 0 },
      ],
    },
    want: [{ kind: 'prune', what: 'quarantine', names: ['logs/1-a', 'spool/3-c'], kept: 2, why: 'quarantined files older than housekeeping.quarantine_keep_days (30 day(s))' }],
  },
  {
    name: 'delivered events older than their days are removed from outbox/sent/',
    seen: { sent: [{ name: 'old.json', time: NOW - 30 * DAY, seenMs: 0 }, { name: 'new.json', time: NOW - DAY, seenMs: 0 }] },
    want: [{ kind: 'prune', what: 'outbox_sent', names: ['old.json'], kept: 1, why: 'delivered events older than housekeeping.outbox_sent_keep_days (30 day(s))' }],
  },
];

for (const c of cases) {
  test(`housekeeping plan: ${c.name}`, () => {
    assert.deepEqual(planHousekeeping(seen(c.seen), cfg), c.want);
  });
}

test('housekeeping plan: enabled false does nothing, however big or old', () => {
  const s = seen({ decisionLogBytes: 10_000 * MiB, archives: [{ batch: 'old', finishedAt: ago(1000), active: false, retryAsked: false }] });
  assert.deepEqual(planHousekeeping(s, { ...cfg, enabled: false }), []);
});

test('housekeeping runs first first_after_s after the start, then every interval_s after the last run', () => {
  assert.equal(nextRunAt(null, 1000, cfg), 1000 + 300_000);
  assert.equal(nextRunAt(5_000_000, 1000, cfg), 5_000_000 + 3_600_000);
});

test('the HOUSEKEEPING lines: one per action, counts and the first names', () => {
  const [rot, arch] = planHousekeeping(seen({
    decisionLogBytes: 150 * MiB,
    archives: Array.from({ length: 12 }, (_, i) => ({ batch: `b${String(i).padStart(2, '0')}`, finishedAt: ago(100), active: false, retryAsked: false })),
  }), cfg);
  assert.equal(describeAction(rot!, 1), 'rotated logs/brain_decisions.log to brain_decisions.log.1 (logs/brain_decisions.log is 150.0 MB, over housekeeping.decision_log_max_mb (100 MB)); keeping 5 rotated file(s), a new brain_decisions.log started');
  assert.equal(describeAction(arch!, 12), 'removed the archives of 12 batch(es) from tasks/archive/, batches finished over housekeeping.archive_keep_days (90 day(s)) ago: they can no longer be retried (forge retry); 0 kept; removed: b00, b01, b02, b03, b04, b05, b06, b07, b08, b09 and 2 more');
});

test("times read from names and notes: an event file's name, a quarantine note's first line", () => {
  assert.equal(eventTimeOfName('20260102T030405.678Z-batch_failed.b1.x.json'), Date.parse('2026-01-02T03:04:05.678Z'));
  assert.equal(eventTimeOfName('.20260102T030405.678Z-x.json.123.abc.tmp'), null);
  assert.equal(eventTimeOfName('notes.txt'), null);
  assert.equal(noteTime('2026-01-02T03:04:05.678Z /m/logs/brain_decisions.log\nwas a FIFO\n'), Date.parse('2026-01-02T03:04:05.678Z'));
  assert.equal(noteTime('garbage\n'), null);
});
