import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { readdir } from 'node:fs/promises';
import { TaskStore } from '../../agents/core/store.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const CLAIMERS = 8;
const TASKS = 300;

test(`${CLAIMERS} processes racing on ${TASKS} queued tasks: each task is claimed exactly once`, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    for (let i = 0; i < TASKS; i++) await store.write('queue', makeTask({ name: `t${i}` }));
    const startAt = Date.now() + 4000;
    const runs = await Promise.all(
      Array.from({ length: CLAIMERS }, () => execa(process.execPath, ['--import', 'tsx', 'test/helpers/claimer.ts', paths.root, String(startAt)])),
    );
    const results = runs.map((r) => JSON.parse(r.stdout) as { won: string[]; lost: number });
    const all = results.flatMap((r) => r.won);
    const unique = new Set(all);
    const lostRaces = results.reduce((s, r) => s + r.lost, 0);
    const winners = results.filter((r) => r.won.length > 0).length;
    process.stderr.write(
      `claim race: ${CLAIMERS} processes, ${TASKS} tasks, ${all.length} claims won, ${unique.size} distinct, ${lostRaces} races lost, ${winners} processes won at least one\n`,
    );
    assert.equal(all.length, TASKS, 'every task claimed once in total');
    assert.equal(unique.size, TASKS, 'no task claimed twice');
    assert.deepEqual((await readdir(paths.folders.queue)).length, 0);
    assert.equal((await store.list('processing')).length, TASKS);
  } finally {
    await cleanup();
  }
});

test('4 processes racing with recorded claims (take, then one write): each task claimed once, each file carrying its winner\'s token, no temporary left', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const n = 120;
    for (let i = 0; i < n; i++) await store.write('queue', makeTask({ name: `t${i}` }));
    const startAt = Date.now() + 4000;
    const runs = await Promise.all(
      Array.from({ length: 4 }, (_, k) => execa(process.execPath, ['--import', 'tsx', 'test/helpers/claimer.ts', paths.root, String(startAt), 'recorded', `gpu-${k}`])),
    );
    const results = runs.map((r, k) => ({ agent: `gpu-${k}`, ...(JSON.parse(r.stdout) as { won: string[]; lost: number }) }));
    const all = results.flatMap((r) => r.won);
    assert.equal(all.length, n, 'every task claimed once in total');
    assert.equal(new Set(all).size, n, 'no task claimed twice');
    for (const r of results) {
      for (const id of r.won) {
        const t = await store.read('processing', id);
        assert.ok(t.ok, id);
        assert.equal(t.task.claimed_by, r.agent, `${id} carries its winner's claim`);
        assert.equal(t.task.attempt, 1);
      }
    }
    assert.deepEqual(await readdir(paths.folders.queue), []);
    assert.deepEqual((await readdir(paths.folders.processing)).filter((f) => f.startsWith('.')), []);
  } finally {
    await cleanup();
  }
});
