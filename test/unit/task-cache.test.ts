import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { TaskStore } from '../../agents/core/store.ts';
import { TaskCache } from '../../agents/core/taskCache.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

test('TaskCache parses a file once while it is unchanged, and again once it is replaced or gone', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    let reads = 0;
    const read = store.read.bind(store);
    store.read = (folder, id) => (reads++, read(folder, id));
    const cache = new TaskCache(store, 'queue');
    const a = makeTask({ name: 'a', vram_estimate_mb: 100 });
    const b = makeTask({ name: 'b' });
    await store.write('queue', a);
    await store.write('queue', b);
    assert.equal((await cache.read(a.id))?.vram_estimate_mb, 100);
    assert.equal((await cache.read(a.id))?.vram_estimate_mb, 100);
    await cache.read(b.id);
    assert.equal(reads, 2, 'the second read of an unchanged file is served from the cache');
    // Rewritten (a new file renamed over it): read again, the new version.
    await store.write('queue', { ...a, vram_estimate_mb: 700 });
    assert.equal((await cache.read(a.id))?.vram_estimate_mb, 700);
    assert.equal(reads, 3);
    // Gone (claimed by another agent): null, and forgotten.
    await unlink(store.fileOf('queue', b.id));
    assert.equal(await cache.read(b.id), null);
    assert.equal(cache.size, 1);
    // A listing without a task drops it even when nobody read it again.
    cache.keepOnly([]);
    assert.equal(cache.size, 0);
  } finally {
    await cleanup();
  }
});
