// store.replace(): the update-and-move that racing processes use on the same task, and the
// recovery of a replace whose process was killed halfway, on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskStore } from '../../agents/core/store.ts';
import { isLeftoverTempName } from '../../agents/core/leftovers.ts';
import { TASK_FOLDERS, type MountPaths } from '../../agents/core/paths.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

/** Every folder holding <id>.json, in folder order. */
async function whereIs(paths: MountPaths, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of TASK_FOLDERS) if ((await readdir(paths.folders[f])).includes(`${id}.json`)) out.push(f);
  return out;
}

test('replace applies the change and moves the task; a missing task is gone, a refused change leaves it untouched', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask({ attempt: 1, claimed_by: 'gpu-0' });
    await store.write('processing', t);
    const declined = await store.replace('processing', t.id, () => null, 'complete');
    assert.deepEqual(declined, { ok: false, reason: 'declined' });
    assert.deepEqual(await whereIs(paths, t.id), ['processing']);
    const r = await store.replace('processing', t.id, (cur) => ({ ...cur, finished_at: '2026-01-01T00:01:00.000Z' }), 'complete');
    assert.ok(r.ok);
    assert.deepEqual(await whereIs(paths, t.id), ['complete']);
    const back = await store.read('complete', t.id);
    assert.ok(back.ok);
    assert.equal(back.task.finished_at, '2026-01-01T00:01:00.000Z');
    assert.deepEqual(await store.replace('processing', t.id, (cur) => cur, 'queue'), { ok: false, reason: 'gone' });
    // No temporary of any of these calls is left in any folder.
    for (const f of TASK_FOLDERS) assert.deepEqual((await readdir(paths.folders[f])).filter((n) => n.startsWith('.')), [], f);
  } finally {
    await cleanup();
  }
});

test('two processes finishing and returning the same 40 tasks at once leave each task in exactly one folder', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // Two stores stand for the agent finishing its task and the brain returning it as lost.
    const agent = new TaskStore(paths);
    const brain = new TaskStore(paths);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const t = makeTask({ name: `t${i}`, attempt: 1, claimed_by: 'gpu-0' });
      await agent.write('processing', t);
      ids.push(t.id);
    }
    const outcomes = await Promise.all(
      ids.flatMap((id) => [
        agent.replace('processing', id, (cur) => ({ ...cur, finished_at: '2026-01-01T00:01:00.000Z' }), 'complete').then((r) => ['agent', id, r.ok] as const),
        brain.replace('processing', id, (cur) => ({ ...cur, claimed_by: null }), 'queue').then((r) => ['brain', id, r.ok] as const),
      ]),
    );
    for (const id of ids) {
      const won = outcomes.filter((o) => o[1] === id && o[2]);
      assert.equal(won.length, 1, `${id}: exactly one of the two replaces wins`);
      const where = await whereIs(paths, id);
      assert.deepEqual(where, [won[0]![0] === 'agent' ? 'complete' : 'queue'], id);
    }
  } finally {
    await cleanup();
  }
});

/**
 * Leaves the files a replace() of `id` from `from` to `to` leaves when its process is killed
 * between its take and its publish: the new version in `to` and the taken file in `from`.
 */
async function killedMidReplace(paths: MountPaths, id: string, from: 'processing', to: 'complete', pid: number, freshText: string | null) {
  const pair = `.${id}.json.${pid}.0badc0de`;
  if (freshText !== null) await writeFile(join(paths.folders[to], `${pair}.fresh.tmp`), freshText);
  await rename(join(paths.folders[from], `${id}.json`), join(paths.folders[from], `${pair}.taken.tmp`));
  return pair;
}

test('a replace killed between its take and its publish is finished by the next listing once stale, with its new version', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const t = makeTask({ attempt: 1, claimed_by: 'gpu-0' });
    await new TaskStore(paths).write('processing', t);
    const done = { ...t, finished_at: '2026-01-01T00:01:00.000Z' };
    await killedMidReplace(paths, t.id, 'processing', 'complete', 999_999, JSON.stringify(done));
    assert.deepEqual(await whereIs(paths, t.id), []);
    // Not yet stale: it may belong to a live replace that is about to publish.
    const patient = new TaskStore(paths, { takenStaleMs: 60_000 });
    assert.deepEqual(await patient.list('processing'), []);
    assert.deepEqual(await whereIs(paths, t.id), []);
    // Stale: the listing of processing/ finishes it; the new version lands in complete/.
    const store = new TaskStore(paths, { takenStaleMs: 0 });
    assert.deepEqual(await store.list('processing'), []);
    assert.deepEqual(await whereIs(paths, t.id), ['complete']);
    const r = await store.read('complete', t.id);
    assert.ok(r.ok);
    assert.equal(r.task.finished_at, '2026-01-01T00:01:00.000Z');
    assert.deepEqual((await readdir(paths.folders.processing)).concat(await readdir(paths.folders.complete)).filter((n) => n.startsWith('.')), []);
  } finally {
    await cleanup();
  }
});

test('a taken file is stale once this process has seen it unchanged for takenStaleMs on its own clock, not by its ctime', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const store = new TaskStore(paths, { takenStaleMs: 30_000, now: () => now });
    const t = makeTask({ attempt: 1, claimed_by: 'gpu-0' });
    await store.write('processing', t);
    await killedMidReplace(paths, t.id, 'processing', 'complete', 999_997, JSON.stringify(t));
    assert.deepEqual(await store.list('processing'), [], 'first sight starts the count');
    now += 29_000;
    assert.deepEqual(await store.list('processing'), []);
    assert.deepEqual(await whereIs(paths, t.id), []);
    // 30 s on this process's clock, whatever the file's ctime says (it is milliseconds old here).
    now += 1_000;
    assert.deepEqual(await store.list('processing'), []);
    assert.deepEqual(await whereIs(paths, t.id), ['complete']);
  } finally {
    await cleanup();
  }
});

test('a taken file whose new version is lost goes back where it was taken from, unless the task is already in a folder', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths, { takenStaleMs: 0 });
    // The taken file is the only copy: it is restored to processing/ and listed there.
    const only = makeTask({ name: 'only', attempt: 1, claimed_by: 'gpu-0' });
    await store.write('processing', only);
    await killedMidReplace(paths, only.id, 'processing', 'complete', 999_998, null);
    // The replace had published (the task is in complete/) and only the unlink was missing.
    const twice = makeTask({ name: 'twice', attempt: 1, claimed_by: 'gpu-0' });
    await store.write('processing', twice);
    await killedMidReplace(paths, twice.id, 'processing', 'complete', 999_998, null);
    await store.write('complete', { ...twice, finished_at: '2026-01-01T00:01:00.000Z' });
    assert.deepEqual(await store.list('processing'), [only.id]);
    assert.deepEqual(await whereIs(paths, only.id), ['processing']);
    assert.deepEqual(await whereIs(paths, twice.id), ['complete']);
    assert.deepEqual((await readdir(paths.folders.processing)).filter((n) => n.startsWith('.')), []);
  } finally {
    await cleanup();
  }
});

test('recoverInterrupted(pid) finishes that dead process\'s replaces at once and leaves other processes\' alone', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths, { takenStaleMs: 60_000 });
    const mine = makeTask({ name: 'mine', attempt: 1, claimed_by: 'gpu-0' });
    const other = makeTask({ name: 'other', attempt: 1, claimed_by: 'gpu-1' });
    await store.write('processing', mine);
    await store.write('processing', other);
    await killedMidReplace(paths, mine.id, 'processing', 'complete', 4242, JSON.stringify({ ...mine, finished_at: '2026-01-01T00:01:00.000Z' }));
    const otherPair = await killedMidReplace(paths, other.id, 'processing', 'complete', 4343, JSON.stringify(other));
    assert.deepEqual(await store.recoverInterrupted(4242), [mine.id]);
    assert.deepEqual(await whereIs(paths, mine.id), ['complete']);
    assert.deepEqual(await whereIs(paths, other.id), []);
    assert.ok((await readdir(paths.folders.processing)).includes(`${otherPair}.taken.tmp`));
  } finally {
    await cleanup();
  }
});

test('the leftover cleaner never deletes a taken file (it may be a task\'s only copy) but may delete its new version', () => {
  assert.equal(isLeftoverTempName('.b1__t1.json.4242.0badc0de.taken.tmp'), false);
  assert.equal(isLeftoverTempName('.b1__t1.json.4242.0badc0de.fresh.tmp'), true);
  assert.equal(isLeftoverTempName('.b1__t1.json.4242.0badc0de.tmp'), true);
});

test('a quarantine that loses its file to another process leaves no reason note behind', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths, { unreadableGraceMs: 0 });
    await writeFile(join(paths.folders.queue, 'b1__junk.json'), '{"id": "b1__ju');
    // Two readers race to quarantine the same broken file: one moves it, one finds it gone.
    await Promise.all([store.read('queue', 'b1__junk'), store.read('queue', 'b1__junk')]);
    const q = await readdir(join(paths.quarantine, 'queue'));
    const files = q.filter((n) => !n.endsWith('.why.txt'));
    const notes = q.filter((n) => n.endsWith('.why.txt'));
    assert.equal(files.length, 1);
    assert.deepEqual(notes, [`${files[0]}.why.txt`]);
    assert.match(await readFile(join(paths.quarantine, 'queue', notes[0]!), 'utf8'), /not valid JSON/);
  } finally {
    await cleanup();
  }
});
