// Power loss leaves half-written temporary files: readers ignore them, a folder full of them
// does not hide the real tasks, and the cleaner removes only the old ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, readdir, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanTempFiles, cleanMountTempFiles, listTempFiles, TEMP_MAX_AGE_MS } from '../../agents/core/leftovers.ts';
import { ObservedAge } from '../../agents/core/observedAge.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const LEFTOVERS = 5_000;

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

test(`${LEFTOVERS} temporary files: list() still finds the 5 tasks; the cleaner removes the old ones only`, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const queue = paths.folders.queue;
    for (let i = 0; i < 5; i++) await store.write('queue', makeTask({ name: `t${i}` }));

    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    const names = Array.from({ length: LEFTOVERS }, (_, i) => `.b1__x${i}.json.${10_000 + (i % 500)}.${i.toString(16).padStart(8, '0')}.tmp`);
    await inBatches(names, 500, async (n) => {
      const file = join(queue, n);
      await writeFile(file, '{"id": "b1__x');
      await utimes(file, hourAgo, hourAgo);
    });
    // A writer mid-write: its file is fresh. A placeholder a person committed, and the load
    // gate's lock folder, also have dot-names: neither is a leftover.
    const fresh = join(queue, `.b1__t9.json.${process.pid}.0badf00d.tmp`);
    await writeFile(fresh, '{"id":');
    const keep = join(queue, '.gitkeep');
    await writeFile(keep, '');
    await utimes(keep, hourAgo, hourAgo);
    const lockDir = join(paths.gpus, '.model-load.lock');
    await mkdir(lockDir);
    await utimes(lockDir, hourAgo, hourAgo);

    let t0 = performance.now();
    const ids = await store.list('queue');
    const listMs = performance.now() - t0;
    assert.deepEqual(ids.sort(), ['b1__t0', 'b1__t1', 'b1__t2', 'b1__t3', 'b1__t4']);
    const tasks = await store.readAll('queue');
    assert.equal(tasks.length, 5);
    console.log(`TaskStore.list('queue'): 5 tasks among ${LEFTOVERS} old temporary files and a fresh one in ${listMs.toFixed(1)} ms`);

    t0 = performance.now();
    const { removed } = await cleanTempFiles([queue, paths.gpus], TEMP_MAX_AGE_MS, Date.now());
    console.log(`cleanTempFiles: removed ${removed.length} in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(removed.length, LEFTOVERS);
    assert.ok(removed.every((p) => p.startsWith(queue) && p.endsWith('.tmp')));
    const left = (await readdir(queue)).sort();
    assert.deepEqual(left, ['.b1__t9.json.' + process.pid + '.0badf00d.tmp', '.gitkeep', 'b1__t0.json', 'b1__t1.json', 'b1__t2.json', 'b1__t3.json', 'b1__t4.json'].sort());
    assert.deepEqual(await readdir(paths.gpus), ['.model-load.lock']);
    // The fresh one goes once it is old too.
    const later = Date.now() + TEMP_MAX_AGE_MS + 1000;
    assert.deepEqual((await cleanTempFiles([queue], TEMP_MAX_AGE_MS, later)).removed, [fresh]);
  } finally {
    await cleanup();
  }
});

test('two cleaners racing over one folder remove each file once and never throw', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const dir = paths.folders.failed;
    const old = new Date(Date.now() - 60 * 60 * 1000);
    const names = Array.from({ length: 2000 }, (_, i) => `.b1__r${i}.json.1.${i}.tmp`);
    await inBatches(names, 500, async (n) => {
      await writeFile(join(dir, n), 'x');
      await utimes(join(dir, n), old, old);
    });
    const now = Date.now();
    const [a, b] = await Promise.all([cleanTempFiles([dir], TEMP_MAX_AGE_MS, now), cleanTempFiles([dir], TEMP_MAX_AGE_MS, now)]);
    assert.equal(a.removed.length + b.removed.length, names.length);
    assert.equal(new Set([...a.removed, ...b.removed]).size, names.length);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await cleanup();
  }
});

test('cleanMountTempFiles covers the rig folders and leaves plans/ alone', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const old = new Date(Date.now() - 60 * 60 * 1000);
    const archive = join(paths.tasks, 'archive', 'b1');
    const gpu = join(paths.gpus, 'gpu_0');
    const plan = join(paths.plans, 'videos');
    await Promise.all([archive, gpu, plan].map((d) => mkdir(d, { recursive: true })));
    const files = [
      join(paths.root, '.config.json.1.aa.tmp'), join(paths.brain, '.state.json.1.aa.tmp'), join(paths.batches, '.b1.json.1.aa.tmp'),
      join(gpu, '.heartbeat.json.1.aa.tmp'), join(archive, '.b1__a.json.1.aa.tmp'), join(paths.signals, '.gpu-0.stop.1.aa.tmp'),
      join(paths.folders.private, '.b1__a.json.1.aa.tmp'),
    ];
    const personal = join(plan, '.env');
    for (const f of [...files, personal]) {
      await writeFile(f, 'x');
      await utimes(f, old, old);
    }
    const listed = await listTempFiles([paths.root], Date.now());
    assert.deepEqual(listed.map((t) => t.path), [files[0]]);
    // As the brain calls it: with what it has seen, on its own clock. First sight removes nothing.
    let t = 0;
    const ages = new ObservedAge(() => t);
    assert.deepEqual((await cleanMountTempFiles(paths, ages)).removed, []);
    t += TEMP_MAX_AGE_MS;
    const { removed } = await cleanMountTempFiles(paths, ages);
    assert.deepEqual(removed.sort(), [...files].sort());
    assert.deepEqual(await readdir(plan), ['.env']);
  } finally {
    await cleanup();
  }
});

test('with an ObservedAge, a temporary is as old as this process has seen it unchanged: file times, past or future, do not count', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const dir = paths.folders.queue;
    const name = (n: string) => join(dir, `.b1__${n}.json.1.aa.tmp`);
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    const yearAhead = new Date(Date.now() + 365 * 24 * 60 * 60 * 1000);
    // Stamped by hosts whose clocks are far behind, far ahead, and right.
    for (const [n, when] of [['past', hourAgo], ['future', yearAhead], ['now', null], ['busy', null], ['gone', null]] as const) {
      await writeFile(name(n), 'x');
      if (when) await utimes(name(n), when, when);
    }
    let t = 1_000_000;
    const ages = new ObservedAge(() => t);
    const clean = async () => (await cleanTempFiles([dir], TEMP_MAX_AGE_MS, ages)).removed.map((p) => p.slice(dir.length + 1)).sort();
    assert.deepEqual(await clean(), [], 'first sight: nothing is old, whatever its mtime says');
    assert.equal(ages.size, 5);
    t += TEMP_MAX_AGE_MS / 2;
    await appendFile(name('busy'), 'y'); // its writer is alive: a new version starts the count again
    await unlink(name('gone'));
    assert.deepEqual(await clean(), []);
    assert.equal(ages.size, 4, 'a file no longer listed is forgotten');
    t += TEMP_MAX_AGE_MS / 2;
    assert.deepEqual(await clean(), [`.b1__future.json.1.aa.tmp`, `.b1__now.json.1.aa.tmp`, `.b1__past.json.1.aa.tmp`]);
    assert.equal(ages.size, 1);
    t += TEMP_MAX_AGE_MS / 2;
    assert.deepEqual(await clean(), [`.b1__busy.json.1.aa.tmp`]);
    assert.equal(ages.size, 0);
  } finally {
    await cleanup();
  }
});
