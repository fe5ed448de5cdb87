// TaskStore.archive: the one way a finished task leaves the live folders (brain, heat manager
// and doctor used to rename it themselves), and the isGone rule every store operation shares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskStore } from '../../agents/core/store.ts';
import { isGone } from '../../agents/core/errors.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

test('archive moves a finished task into tasks/archive/<batch>/ by one rename; a second archiver gets false', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask();
    await store.write('complete', t);
    assert.equal(await store.archive(t.id, 'complete', t.batch), true);
    assert.deepEqual(await readdir(join(paths.tasks, 'archive', t.batch)), [`${t.id}.json`]);
    assert.equal(await store.locate(t.id), null);
    assert.equal(await store.archive(t.id, 'complete', t.batch), false, 'moved on: false, not a throw');
    await assert.rejects(store.archive(t.id, 'complete', '../x'), /batch id/);
  } finally {
    await cleanup();
  }
});

test('archive makes a batch folder once, and again when it was removed since', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const [a, b] = [makeTask({ name: 'a' }), makeTask({ name: 'b' })];
    await store.write('complete', a);
    await store.write('failed', b);
    assert.equal(await store.archive(a.id, 'complete', a.batch), true);
    await rm(join(paths.tasks, 'archive', a.batch), { recursive: true });
    assert.equal(await store.archive(b.id, 'failed', b.batch), true, 'the removed folder is made again, the task archived');
    assert.deepEqual(await readdir(join(paths.tasks, 'archive', b.batch)), [`${b.id}.json`]);
  } finally {
    await cleanup();
  }
});

test('a file is gone for ENOENT, ESTALE and ENOTDIR alike, and not for other errors', async () => {
  for (const code of ['ENOENT', 'ESTALE', 'ENOTDIR']) assert.equal(isGone(Object.assign(new Error(code), { code })), true, code);
  for (const code of ['EACCES', 'EIO', 'EEXIST', undefined]) assert.equal(isGone(Object.assign(new Error('x'), { code })), false, String(code));
  const { paths, cleanup } = await tempMount();
  try {
    // A task folder replaced by a file (ENOTDIR on the way to the task): the store reads it as gone, not as a crash.
    const store = new TaskStore(paths);
    await rm(paths.folders.failed, { recursive: true });
    await writeFile(paths.folders.failed, 'not a folder');
    assert.equal(await store.move('b1__t1', 'failed', 'queue'), false);
    assert.equal(await store.exists('failed', 'b1__t1'), false);
  } finally {
    await cleanup();
  }
});
