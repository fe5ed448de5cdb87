// The brain's housekeeping on a real temporary mount, driven by a manual clock: the decision
// log rotated by rename while the brain goes on appending, old archives and sent events
// removed, young ones and waiting events kept, late results aged by how long they were seen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { writeBatchRecord } from '../../agents/core/batch.ts';
import { writeControl } from '../../agents/core/controls.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { tempMount } from '../helpers/mount.ts';

const NOW = Date.parse('2026-03-01T00:00:00.000Z');
const DAY = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
const config = Config.parse({
  gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }],
  housekeeping: { decision_log_max_mb: 1, decision_log_keep: 2, archive_keep_days: 30, outbox_sent_keep_days: 7, late_results_keep_days: 14 },
});

async function finishedBatch(paths: Parameters<typeof writeBatchRecord>[0], id: string, finishedDaysAgo: number): Promise<string> {
  const at = new Date(NOW - finishedDaysAgo * DAY).toISOString();
  await writeBatchRecord(paths, {
    id, plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'complete', values: {}, submitted_at: at,
    started_at: at, finished_at: at, task_ids: [`${id}__a`],
  });
  const dir = join(paths.tasks, 'archive', id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${id}__a.json`), '{}');
  return dir;
}

const eventName = (daysAgo: number, id: string) => `${new Date(NOW - daysAgo * DAY).toISOString().replace(/[-:]/g, '')}-${id}.json`;

test('housekeeping: the decision log over its size is renamed aside and the brain appends to a new one; a reader holding the old file reads it to its end', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // 1.5 MiB of 64-byte lines.
    const old = `${'2026-02-28T00:00:00.000Z brain  START - filler'.padEnd(63, '.')}\n`.repeat((1.5 * MiB) / 64);
    await writeFile(paths.decisionLog, old);
    const clock = new ManualClock(NOW);
    const brain = new Brain({ paths, config, clock, say: () => {} });
    const reader = await open(paths.decisionLog, 'r'); // a tail -f holding the file
    try {
      await brain.pass();
      assert.ok((await readFile(paths.decisionLog, 'utf8')).startsWith(old), 'nothing rotated before first_after_s');
      assert.ok(!(await readdir(paths.logs)).includes('brain_decisions.log.1'));
      clock.advance(301_000);
      await brain.pass();
      const rotated = await readFile(`${paths.decisionLog}.1`, 'utf8');
      assert.ok(rotated.startsWith(old), 'the old lines, whole, under the .1 name');
      const fresh = await readFile(paths.decisionLog, 'utf8');
      assert.match(fresh, /^\S+ brain  HOUSEKEEPING — rotated logs\/brain_decisions\.log to brain_decisions\.log\.1 \(logs\/brain_decisions\.log is 1\.5 MB, over housekeeping\.decision_log_max_mb \(1 MB\)\); keeping 2 rotated file\(s\), a new brain_decisions\.log started\n$/);
      assert.equal((await reader.stat()).size, (await stat(`${paths.decisionLog}.1`)).size, 'the open reader still has the whole old file');
      await brain.note('CLEANUP', 'after the rotation');
      assert.match(await readFile(paths.decisionLog, 'utf8'), /CLEANUP — after the rotation\n$/);
    } finally {
      await reader.close();
    }
  } finally {
    await cleanup();
  }
});

test("housekeeping: an old finished batch's archive is removed, a young one and one asked to retry kept; old sent events removed, waiting ones kept", async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await finishedBatch(paths, '20260101-000000-aaaaaa', 40);
    const youngDir = await finishedBatch(paths, '20260201-000000-bbbbbb', 10);
    await finishedBatch(paths, '20260102-000000-cccccc', 40);
    await writeControl(paths, 'retry', '20260102-000000-cccccc__a');
    const sent = join(paths.outbox, 'sent');
    await writeFile(join(sent, eventName(8, 'batch_finished.old')), '{}');
    await writeFile(join(sent, eventName(1, 'batch_finished.new')), '{}');
    const waiting = join(paths.outbox, eventName(100, 'batch_failed.undelivered'));
    await writeFile(waiting, '{}');

    const clock = new ManualClock(NOW);
    const brain = new Brain({ paths, config, clock, say: () => {} });
    await brain.recover();
    clock.advance(301_000);
    // Only the housekeeping run: the retry control would otherwise reopen the retried batch in this pass.
    await brain.pass();

    const archives = (await readdir(join(paths.tasks, 'archive'))).sort();
    assert.ok(!archives.includes('20260101-000000-aaaaaa'), 'old archive removed');
    assert.ok(archives.includes('20260201-000000-bbbbbb') && (await readdir(youngDir)).length === 1, 'young archive kept');
    assert.ok(archives.includes('20260102-000000-cccccc'), 'archive of a batch asked to retry kept');
    assert.deepEqual(await readdir(sent), [eventName(1, 'batch_finished.new')]);
    assert.equal(await readFile(waiting, 'utf8'), '{}', 'an undelivered event is never removed, however old');
    const log = await readFile(paths.decisionLog, 'utf8');
    assert.match(log, /HOUSEKEEPING — removed the archives of 1 batch\(es\) from tasks\/archive\/, batches finished over housekeeping\.archive_keep_days \(30 day\(s\)\) ago: they can no longer be retried \(forge retry\); 1 as old kept: active or asked to retry; 2 kept; removed: 20260101-000000-aaaaaa\n/);
    assert.match(log, /HOUSEKEEPING — removed 1 item\(s\) from outbox\/sent\/, delivered events older than housekeeping\.outbox_sent_keep_days \(7 day\(s\)\); 1 kept; removed: 20260221T000000\.000Z-batch_finished\.old\.json\n/);
    // The batch record stays: forge history reads it.
    assert.ok((await readdir(paths.batches)).includes('20260101-000000-aaaaaa.json'));
  } finally {
    await cleanup();
  }
});

test('housekeeping: a late result with an old mtime is kept when first seen, and removed once the brain has seen it unchanged for late_results_keep_days', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const dir = join(paths.tasks, 'late_results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'b1__t1.attempt1.gpu-0.json');
    await writeFile(file, '{}');
    await utimes(file, new Date('2020-01-01'), new Date('2020-01-01'));
    const clock = new ManualClock(NOW);
    const brain = new Brain({ paths, config, clock, say: () => {} });
    clock.advance(301_000);
    await brain.pass();
    assert.deepEqual(await readdir(dir), ['b1__t1.attempt1.gpu-0.json'], 'first seen now: kept, whatever its mtime');
    clock.advance(14 * DAY);
    await brain.pass();
    assert.deepEqual(await readdir(dir), []);
    assert.match(await readFile(paths.decisionLog, 'utf8'), /HOUSEKEEPING — removed 1 item\(s\) from tasks\/late_results\/, late results seen unchanged older than housekeeping\.late_results_keep_days \(14 day\(s\)\); 0 kept; removed: b1__t1\.attempt1\.gpu-0\.json\n/);
  } finally {
    await cleanup();
  }
});
