// Scheduled plans on real files: the brain (ManualClock) submits plans/nightly at its fire time,
// catches up once after downtime, and a brain killed around a fire never makes two batches of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { readBatchRecord } from '../../agents/core/batch.ts';
import { writeSubmission } from '../../agents/core/inbox.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { readScheduleRecords, scheduleFilePath } from '../../agents/core/scheduleFile.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { scheduledBatchId } from '../../agents/brain/scheduler.ts';
import { tempMount } from '../helpers/mount.ts';
import { readSnapshot } from '../../agents/status/snapshot.ts';
import { toStatusJson } from '../../agents/status/json.ts';
import { renderStatus } from '../../agents/status/text.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
const T = (iso: string) => Date.parse(iso);
const FIRE = T('2026-01-01T02:00:00Z');
const ID = scheduledBatchId('nightly', FIRE);

async function mountWithNightly(): Promise<{ paths: MountPaths; cleanup: () => Promise<void> }> {
  const m = await tempMount();
  await cp(fileURLToPath(new URL('../../plans/nightly', import.meta.url)), join(m.paths.plans, 'nightly'), { recursive: true });
  return m;
}

const brainAt = (paths: MountPaths, clock: ManualClock) => new Brain({ paths, config, clock, say: () => {} });

/** Passes (the plan check runs in a worker thread) until check holds. */
async function passUntil(brain: Brain, check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    await brain.pass();
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never: ${what}`);
}

const batchesOf = (paths: MountPaths) => readdir(join(paths.plans, 'nightly', 'batches')).catch(() => [] as string[]);
const inboxFiles = async (paths: MountPaths) => (await readdir(paths.inbox)).filter((f) => f.endsWith('.json'));
const hasBatch = (paths: MountPaths, id: string) => async () => (await readBatchRecord(paths, id)) !== null && (await inboxFiles(paths)).length === 0;
const log = (paths: MountPaths) => readFile(paths.decisionLog, 'utf8').catch(() => '');

/** A few more passes, some after the re-read of the plans: no second batch appears. */
async function settle(brain: Brain, clock: ManualClock): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await brain.pass();
    clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a scheduled plan fires at its time, not before, and its batch appears with the default inputs', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await mountWithNightly();
  try {
    const clock = new ManualClock(T('2026-01-01T01:59:00Z'));
    const brain = brainAt(paths, clock);
    await brain.recover();
    await brain.pass();
    clock.advance(59_000); // 01:59:59
    await brain.pass();
    assert.deepEqual(await inboxFiles(paths), [], 'nothing before the fire time');
    clock.advance(2_000); // 02:00:01
    await passUntil(brain, hasBatch(paths, ID), 'the 02:00 batch is made');
    const rec = await readBatchRecord(paths, ID);
    assert.deepEqual([rec?.plan, rec?.submitted_at, rec?.values], ['nightly', '2026-01-01T02:00:00.000Z', {}]);
    const records = await readScheduleRecords(paths);
    assert.ok(records.ok);
    assert.deepEqual(records.value.nightly, {
      last_fire: '2026-01-01T02:00:00.000Z', known_since: '2026-01-01T01:59:00.000Z', batch: ID,
      // What status shows, so that it reads no plan.md: the schedule as the brain read it, and its next run.
      schedule: '0 2 * * *', timezone: 'UTC', catch_up: true, next_run: '2026-01-02T02:00:00.000Z',
    });
    assert.match(await log(paths), new RegExp(`SCHEDULE batch=${ID} — plan nightly: the run of 2026-01-01T02:00:00.000Z \\(schedule "0 2 \\* \\* \\*" UTC\\) submitted with the default inputs; next run 2026-01-02T02:00:00.000Z`));
    await settle(brain, clock);
    assert.deepEqual(await batchesOf(paths), [ID]);
    // forge status lists the schedule with its next run and the last fire.
    const snap = await readSnapshot(paths.root, clock.now());
    assert.deepEqual(toStatusJson(snap).schedules, [
      { plan: 'nightly', schedule: '0 2 * * *', timezone: 'UTC', catch_up: true, next_run: '2026-01-02T02:00:00.000Z', last_fire: '2026-01-01T02:00:00.000Z' },
    ]);
    assert.match(renderStatus(snap), /\nSchedules \(1\)\n  nightly  "0 2 \* \* \*" UTC  next 2026-01-02T02:00:00.000Z  last 2026-01-01T02:00:00.000Z\n/);
  } finally {
    await cleanup();
  }
});

test('after three days down, the brain runs the missed nightly once at start, and a restart does not run it again', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await mountWithNightly();
  try {
    const clock = new ManualClock(T('2025-12-29T12:00:00Z'));
    const first = brainAt(paths, clock);
    await first.pass(); // sees the schedule; then the brain is down until 2026-01-01 12:00
    clock.advance(3 * 86_400_000);
    const second = brainAt(paths, clock);
    await second.recover();
    await passUntil(second, hasBatch(paths, ID), 'the catch-up batch is made');
    assert.match(await log(paths), /SCHEDULE batch=\S+ — plan nightly: catch-up: 3 runs missed while the brain was down, the last at 2026-01-01T02:00:00.000Z .*: one run submitted with the default inputs/);
    const third = brainAt(paths, clock);
    await third.recover();
    await settle(third, clock);
    assert.deepEqual(await batchesOf(paths), [ID], 'one batch for the three missed runs');
  } finally {
    await cleanup();
  }
});

test('catch_up: false: runs missed while down are skipped, and the log says so', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await mountWithNightly();
  try {
    const plan = join(paths.plans, 'nightly', 'plan.md');
    await writeFile(plan, (await readFile(plan, 'utf8')).replace('catch_up: true', 'catch_up: false'));
    const clock = new ManualClock(T('2025-12-31T12:00:00Z'));
    await brainAt(paths, clock).pass();
    clock.advance(86_400_000);
    const brain = brainAt(paths, clock);
    await settle(brain, clock);
    assert.deepEqual(await batchesOf(paths), []);
    assert.match(await log(paths), /SCHEDULE_SKIP +— plan nightly: 1 run missed while the brain was down, the last at 2026-01-01T02:00:00.000Z .*not run \(catch_up: false\); next run 2026-01-02T02:00:00.000Z/);
  } finally {
    await cleanup();
  }
});

// The brain killed around the fire: after it submitted and before it recorded (the submission
// still in the inbox, or already made into a batch), or after it recorded. A fresh brain on the
// same mount stands for the next life.
for (const crash of ['submitted, not yet a batch', 'made into a batch', 'recorded'] as const) {
  test(`a brain killed around the fire (${crash}) never makes two batches of it`, { timeout: 120_000 }, async () => {
    const { paths, cleanup } = await mountWithNightly();
    try {
      const clock = new ManualClock(T('2026-01-01T01:59:00Z'));
      const first = brainAt(paths, clock);
      await first.pass();
      const beforeFire = await readFile(scheduleFilePath(paths), 'utf8');
      clock.advance(61_000);
      if (crash === 'submitted, not yet a batch') {
        // What the scheduler writes, then the brain dies before recording it.
        await writeSubmission(paths, { plan: 'nightly', config: {}, batch_id: ID, submitted_at: '2026-01-01T02:00:00.000Z' });
      } else {
        await passUntil(first, hasBatch(paths, ID), 'the first life makes the batch');
        // Died before the record reached the mount: the file as it was before the fire.
        if (crash === 'made into a batch') await writeFile(scheduleFilePath(paths), beforeFire);
      }
      clock.advance(30_000);
      const next = brainAt(paths, clock);
      await next.recover();
      await passUntil(next, hasBatch(paths, ID), 'the batch is there');
      await settle(next, clock);
      assert.deepEqual(await batchesOf(paths), [ID]);
      const records = await readScheduleRecords(paths);
      assert.equal(records.ok && records.value.nightly?.last_fire, '2026-01-01T02:00:00.000Z');
      if (crash === 'made into a batch') assert.match(await log(paths), /plan nightly: the run of 2026-01-01T02:00:00.000Z .* was submitted before the brain restarted; recorded, not submitted again/);
      assert.equal((await log(paths)).match(/ SUBMIT /g)?.length, 1, 'one SUBMIT in the log');
    } finally {
      await cleanup();
    }
  });
}
