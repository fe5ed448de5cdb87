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
