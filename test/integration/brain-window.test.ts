// A foreach over more items than config foreach.window, in-process on real files: never more
// than a window of unfinished children, every item done once, a restart mid-way resumes without
// duplicates or gaps, a failing child fails the batch, and status counts the items right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { readBatchRecord, writeBatchRecord } from '../../agents/core/batch.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { closeAttempt } from '../../agents/core/attempt.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const W = 8;
const N = 50;
const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], foreach: { window: W } });

async function setup(B: string, batchPath: string, paths: Awaited<ReturnType<typeof tempMount>>['paths']): Promise<TaskStore> {
  const store = new TaskStore(paths);
  await mkdir(batchPath, { recursive: true });
  await writeFile(join(batchPath, 'manifest.json'), JSON.stringify({ items: Array.from({ length: N }, (_, i) => ({ n: i })) }));
  await store.write('complete', makeTask({ batch: B, name: 'scan', batch_path: batchPath }));
  await store.write('private', makeTask({
    batch: B, name: 'work', batch_path: batchPath, depends_on: [`${B}__scan`], max_attempts: 1,
    foreach: { path: join(batchPath, 'manifest.json'), key: 'items' },
  }));
  await store.write('private', makeTask({ batch: B, name: 'batch_summary', batch_path: batchPath, executor: 'brain', type: 'batch_summary', depends_on: [`${B}__work`] }));
  await writeBatchRecord(paths, {
    id: B, plan: 'p', plan_dir: '/p', batch_path: batchPath, state: 'running', values: {}, submitted_at: '2026-01-01T00:00:00.000Z',
    started_at: '2026-01-01T00:00:00.000Z', finished_at: null, task_ids: ['scan', 'work', 'batch_summary'].map((n) => `${B}__${n}`),
  });
  return store;
}

/** An agent's round: claims what is queued, ends what it holds (item `failIndex` fails for good). */
async function agentRound(store: TaskStore, B: string, failIndex: number | null, ran: string[]): Promise<void> {
  for (const id of await store.list('processing')) {
    const r = await store.read('processing', id);
    if (!r.ok) continue;
    const t = r.task;
    const fail = t.item_index === failIndex;
    const now = '2026-01-01T00:00:05.000Z';
    const result = {
      task_id: id, attempt: 1, outcome: fail ? 'failed' as const : 'success' as const, failure_kind: fail ? 'app' as const : null, exit_code: fail ? 1 : 0,
      signal: null, reason: fail ? 'exit 1' : null, started_at: now, finished_at: now, duration_ms: 1, stdout_path: null, stderr_path: null,
    };
    await store.write('processing', closeAttempt({ ...t, claimed_by: 'gpu-0', claimed_at: now }, result, { agent: 'gpu-0' }));
    await store.move(id, 'processing', fail ? 'failed' : 'complete');
  }
  for (const id of await store.list('queue')) {
    if (!id.startsWith(`${B}__work.`)) continue;
    if (await store.claim(id)) ran.push(id);
  }
}

/** Children of the template in the live folders that are not finished. */
async function unfinished(store: TaskStore): Promise<number> {
  let n = 0;
  for (const f of ['private', 'queue', 'processing'] as const) n += (await store.list(f)).filter((id) => id.includes('__work.')).length;
  return n;
}

// Window 40: wider than CHILDREN_PER_PASS (32), so a window is made over two passes.
for (const { failIndex, W, B } of [
  { failIndex: null, W: 8, B: '20260101-000000-wwwwww' },
  { failIndex: 37, W: 8, B: '20260101-000000-wwfail' },
  { failIndex: null, W: 40, B: '20260101-000000-wwwide' },
]) {
  const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], foreach: { window: W } });
  test(`a foreach of ${N} items with window ${W}${failIndex === null ? '' : ', one failing child'}: at most ${W} unfinished, each item once, a restart resumes`, async () => {
    const { paths, cleanup } = await tempMount();
    try {
      const batchPath = join(paths.root, 'plans', 'p', 'batches', B);
      const store = await setup(B, batchPath, paths);
      const clock = new ManualClock(Date.parse('2026-01-01T00:00:10.000Z'));
      let brain = new Brain({ paths, config, clock, say: () => {} });
      await brain.recover();
      const ran: string[] = [];
      let maxUnfinished = 0;
      let checkedStatus = false;
      for (let round = 0; round < 200; round++) {
        if (round === 9) {
          // A new life mid-way: everything it knows comes from the mount.
          brain = new Brain({ paths, config, clock, say: () => {} });
          await brain.recover();
        }
        clock.advance(1000);
        await brain.pass();
        maxUnfinished = Math.max(maxUnfinished, await unfinished(store));
        const rec = await readBatchRecord(paths, B);
        if (!rec || rec.state !== 'running') break;
        assert.ok(rec.task_ids.length === 3, 'the children stay out of task_ids');
        assert.ok(brain.tasks.size <= 3 + W * 2, `the brain holds a window, not every item (${brain.tasks.size})`);
        if (!checkedStatus && rec.windows[`${B}__work`]?.created) {
          const w = rec.windows[`${B}__work`]!;
          assert.equal(w.items, N);
          checkedStatus = true;
        }
        await agentRound(store, B, failIndex, ran);
      }
      const rec = await readBatchRecord(paths, B);
      assert.equal(rec?.state, failIndex === null ? 'complete' : 'failed');
      assert.ok(maxUnfinished <= W, `never more than ${W} unfinished (saw ${maxUnfinished})`);
      assert.equal(new Set(ran).size, ran.length, 'no item ran twice');
      assert.deepEqual([...ran].sort(), Array.from({ length: N }, (_, i) => `${B}__work.${i + 1}`).sort(), 'every item ran');
      const archived = (await readdir(join(paths.tasks, 'archive', B))).filter((n) => /__work\.\d+\.json$/.test(n));
      assert.equal(archived.length, N);
      assert.deepEqual(rec?.final_counts, {
        total: N + 3, waiting: 0, queued: 0, processing: 0,
        complete: failIndex === null ? N + 3 : N + 1, failed: failIndex === null ? 0 : 2, skipped: 0,
      });
      for (const f of ['private', 'queue', 'processing', 'complete', 'failed'] as const) assert.deepEqual(await store.list(f), [], `${f}/ is empty`);
    } finally {
      await cleanup();
    }
  });
}

test('a live child of a windowed foreach whose file vanishes is taken back, and its window goes on', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const B = '20260101-000000-wwgone';
    const batchPath = join(paths.root, 'plans', 'p', 'batches', B);
    const store = await setup(B, batchPath, paths);
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:10.000Z'));
    const brain = new Brain({ paths, config, clock, say: () => {} });
    await brain.recover();
    let gone: string | undefined;
    for (let round = 0; round < 10 && !gone; round++) {
      clock.advance(1000);
      await brain.pass();
      gone = (await store.list('queue')).find((id) => id.startsWith(`${B}__work.`));
    }
    assert.ok(gone, 'a child was released');
    await rm(join(paths.folders.queue, `${gone}.json`));
    // Missing for a minute of the brain's clock: put back into queue/ as it was (never claimed).
    for (let i = 0; i < 4; i++) {
      clock.advance(30_000);
      await brain.pass();
    }
    assert.ok((await store.list('queue')).includes(gone), `${gone} is back in queue/`);
    const ran: string[] = [];
    for (let round = 0; round < 200; round++) {
      clock.advance(1000);
      await brain.pass();
      const rec = await readBatchRecord(paths, B);
      if (!rec || rec.state !== 'running') break;
      await agentRound(store, B, null, ran);
    }
    assert.equal((await readBatchRecord(paths, B))?.state, 'complete');
    assert.equal(new Set(ran).size, N, 'every item ran once');
    assert.equal(ran.length, N);
  } finally {
    await cleanup();
  }
});

test('a pass that made children asks for the next pass at once (followUp): nothing on the mount would start it', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const B = '20260101-000000-wwfoll';
    const batchPath = join(paths.root, 'plans', 'p', 'batches', B);
    const store = await setup(B, batchPath, paths);
    const brain = new Brain({ paths, config, clock: new ManualClock(Date.parse('2026-01-01T00:00:10.000Z')), say: () => {} });
    await brain.recover();
    await brain.pass();
    assert.equal(brain.followUp, true, 'the pass expanded the foreach and made its first window');
    assert.deepEqual(await store.list('queue'), [], 'made, not yet released');
    await brain.pass();
    assert.equal((await store.list('queue')).length, W, 'the next pass released them');
    assert.equal(brain.followUp, false, 'a full window: nothing made, no follow-up');
  } finally {
    await cleanup();
  }
});
