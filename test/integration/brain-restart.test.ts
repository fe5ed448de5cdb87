// A brain restarted after dying between two file operations finishes what its previous life
// left half done, in-process on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { readBrainState, writeBatchRecord, writeBrainState } from '../../agents/core/batch.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });

for (const listed of [true, false]) {
  test(`a brain killed while archiving a finished batch (${listed ? 'listed in' : 'absent from'} brain/state.json): its next life archives the rest and drops the batch from its state`, async () => {
    const { paths, cleanup } = await tempMount();
    try {
      const B = '20260101-000000-aaaaaa';
      const store = new TaskStore(paths);
      const names = ['a', 'b', 'c', 'batch_summary'];
      for (const name of names) await store.write(name === 'b' ? 'failed' : 'complete', makeTask({ batch: B, name, finished_at: '2026-01-01T00:00:05.000Z' }));
      await writeBatchRecord(paths, {
        id: B, plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'failed', values: {}, submitted_at: '2026-01-01T00:00:00.000Z',
        started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:06.000Z', task_ids: names.map((n) => `${B}__${n}`),
      });
      // The previous life wrote the final record, moved one task to the archive, and died.
      const archive = join(paths.tasks, 'archive', B);
      await mkdir(archive, { recursive: true });
      await rename(store.fileOf('complete', `${B}__a`), join(archive, `${B}__a.json`));
      if (listed) await writeBrainState(paths, { active_batches: [B], updated_at: '2026-01-01T00:00:06.000Z', brain_pid: 1 });

      const brain = new Brain({ paths, config, clock: new ManualClock(Date.parse('2026-01-01T00:00:10.000Z')), say: () => {} });
      await brain.recover();
      await brain.pass();
      assert.deepEqual((await readdir(archive)).sort(), names.map((n) => `${B}__${n}.json`).sort());
      assert.deepEqual(await readdir(paths.folders.complete), []);
      assert.deepEqual(await readdir(paths.folders.failed), []);
      assert.deepEqual((await readBrainState(paths))?.active_batches, []);
      assert.match(await readFile(paths.decisionLog, 'utf8'), new RegExp(`ARCHIVE batch=${B} — failed batch archived after a restart interrupted its archiving`));
    } finally {
      await cleanup();
    }
  });
}

test('a stale doorbell hint never hides where a task is: a task a hint puts in failed/ that is in complete/ is seen complete', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const B = '20260101-000000-bbbbbb';
    const store = new TaskStore(paths);
    const names = ['a', 'batch_summary'];
    await store.write('processing', makeTask({ batch: B, name: 'a', claimed_by: 'gpu-0', attempt: 2 }));
    await store.write('private', makeTask({ batch: B, name: 'batch_summary', depends_on: ['a'] }));
    await writeBatchRecord(paths, {
      id: B, plan: 'p', plan_dir: '/p', batch_path: '/tmp/b', state: 'running', values: {}, submitted_at: '2026-01-01T00:00:00.000Z',
      started_at: '2026-01-01T00:00:00.000Z', finished_at: null, task_ids: names.map((n) => `${B}__${n}`),
    });
    const brain = new Brain({ paths, config, clock: new ManualClock(Date.parse('2026-01-01T00:00:10.000Z')), say: () => {} });
    await brain.recover();
    await brain.pass();
    // The task's first attempt failed long ago (a doorbell still names that move); its second finished now.
    brain.store.hint('failed', `${B}__a`);
    await store.move(`${B}__a`, 'processing', 'complete');
    await brain.pass();
    assert.equal(brain.tasks.get(`${B}__a`)?.folder, 'complete', 'seen where its file is, not where the old hint says');
    // A hint that reads true is taken at once, before the listing shows it.
    await store.move(`${B}__batch_summary`, 'private', 'queue');
    brain.store.hint('queue', `${B}__batch_summary`);
    assert.deepEqual(brain.store.hinted('queue', new Set()), [`${B}__batch_summary`]);
    assert.deepEqual(brain.store.hinted('queue', new Set([`${B}__batch_summary`])), [], 'a hint the listing confirms is dropped');
  } finally {
    await cleanup();
  }
});
