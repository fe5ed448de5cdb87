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

test('the agent\'s queue reader judges a known file by its last read between sweeps, and checks it before a claim', async () => {
  const { QueueReader, SWEEP_MS } = await import('../../agents/gpu/queueReader.ts');
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    let now = 1_000_000;
    const q = new QueueReader({ paths, store, name: 'gpu-0', now: () => now });
    const a = makeTask({ name: 'a', vram_estimate_mb: 100 });
    await store.write('queue', a);
    assert.equal((await q.read([a.id]))[0]?.task.vram_estimate_mb, 100);
    // Replaced under the same name between two passes.
    await store.write('queue', { ...a, vram_estimate_mb: 900 });
    now += 10;
    assert.equal((await q.read([a.id]))[0]?.task.vram_estimate_mb, 100, 'no stat between sweeps: the version last read');
    assert.equal((await q.verify(a.id))?.task.vram_estimate_mb, 900, 'checked before a claim: the file as it is now');
    await store.write('queue', { ...a, vram_estimate_mb: 300 });
    now += SWEEP_MS;
    assert.equal((await q.read([a.id]))[0]?.task.vram_estimate_mb, 300, 'a sweep looks at every file again');
    await unlink(store.fileOf('queue', a.id));
    assert.equal(await q.verify(a.id), null, 'gone (claimed elsewhere): nothing to claim');
  } finally {
    await cleanup();
  }
});
