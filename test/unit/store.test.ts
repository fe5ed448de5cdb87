import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile, readFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskStore } from '../../agents/core/store.ts';
import { writeFileAtomic } from '../../agents/core/atomic.ts';
import { childPath } from '../../agents/core/paths.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

test('write then read returns the same task; the folder holds no temporary file', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask();
    await store.write('private', t);
    const r = await store.read('private', t.id);
    assert.ok(r.ok);
    assert.deepEqual(r.task, t);
    assert.deepEqual(await readdir(paths.folders.private), [`${t.id}.json`]);
  } finally {
    await cleanup();
  }
});

test('move is one rename; a second mover loses with false, not an exception', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask();
    await store.write('queue', t);
    assert.equal(await store.claim(t.id), true);
    assert.equal(await store.claim(t.id), false);
    assert.equal(await store.locate(t.id), 'processing');
  } finally {
    await cleanup();
  }
});

test('listing skips temporary files and quarantines foreign and broken files with a reason', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // No grace: a file that does not parse is given up on at the first look (the grace is tested in test/attacks).
    const store = new TaskStore(paths, { unreadableGraceMs: 0 });
    const good = makeTask();
    await store.write('queue', good);
    await writeFile(join(paths.folders.queue, '.half.json.123.tmp'), '{"id":');
    await writeFile(join(paths.folders.queue, 'README.txt'), 'hello');
    await writeFile(join(paths.folders.queue, 'b1__broken.json'), '{"id": "b1__bro');
    await writeFile(join(paths.folders.queue, 'b1__wrong.json'), JSON.stringify({ id: 'b1__wrong', name: 'x' }));
    const ids = await store.list('queue');
    assert.deepEqual(ids.sort(), ['b1__broken', 'b1__t1', 'b1__wrong']);
    assert.equal((await store.read('queue', 'b1__broken')).ok, false);
    assert.equal((await store.read('queue', 'b1__wrong')).ok, false);
    const all = await store.readAll('queue');
    assert.deepEqual(all.map((t) => t.id), ['b1__t1']);
    const q = await readdir(join(paths.quarantine, 'queue'));
    const notes = q.filter((n) => n.endsWith('.why.txt'));
    assert.equal(notes.length, 3);
    const texts = await Promise.all(notes.map((n) => readFile(join(paths.quarantine, 'queue', n), 'utf8')));
    assert.ok(texts.some((t) => t.includes('not a task file')));
    assert.ok(texts.some((t) => t.includes('not valid JSON')));
    assert.ok(texts.some((t) => t.includes('not a valid task')));
    // The temporary file of a writer mid-rename is left alone.
    assert.ok((await readdir(paths.folders.queue)).includes('.half.json.123.tmp'));
  } finally {
    await cleanup();
  }
});

test('a failed atomic write leaves the old file intact and no temporary behind', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const target = join(paths.root, 'x.json');
    await writeFileAtomic(target, 'old');
    await chmod(paths.root, 0o500);
    if (process.getuid?.() === 0) {
      // root ignores permissions; use a missing folder instead to make the write fail
      await chmod(paths.root, 0o700);
      await assert.rejects(writeFileAtomic(join(paths.root, 'missing', 'x.json'), 'new'));
    } else {
      await assert.rejects(writeFileAtomic(target, 'new'));
      await chmod(paths.root, 0o700);
    }
    assert.equal(await readFile(target, 'utf8'), 'old');
    assert.deepEqual((await readdir(paths.root)).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    await cleanup();
  }
});

test('ids and names cannot leave their folder', () => {
  for (const bad of ['../x', 'a/b', '..', '.hidden', '-rf', '', 'a\0b', 'x'.repeat(300)]) {
    assert.throws(() => childPath('/tmp/q', bad), /not a safe name/, bad);
  }
  assert.equal(childPath('/tmp/q', 'b1__t.1.json'), '/tmp/q/b1__t.1.json');
});
