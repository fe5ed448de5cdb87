// Reading by change: a file is read again only when its stat shows a new version, or when its
// last read is old enough that a stale stat (a network mount's attribute cache) could hide one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ReadByChange, mustRead, versionOf } from '../../agents/core/readByChange.ts';
import { tempMount } from '../helpers/mount.ts';

test('mustRead: never read, another version, no version, or a last read maxAgeMs old (or from a clock that went back)', () => {
  const last = { version: 'v1', at: 1000 };
  assert.equal(mustRead(undefined, 'v1', 1000, 500), true, 'never read');
  assert.equal(mustRead(last, 'v1', 1499, 500), false, 'unchanged and recent');
  assert.equal(mustRead(last, 'v2', 1001, 500), true, 'another version');
  assert.equal(mustRead(last, null, 1001, 500), true, 'not stat-able: read, and let the read say why');
  assert.equal(mustRead(last, 'v1', 1500, 500), true, 'read anyway at maxAgeMs');
  assert.equal(mustRead(last, 'v1', 999, 500), true, 'a clock that went back');
});

test('ReadByChange on real files: an unchanged file is not read again; one appended to, or replaced with the same size, is', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const reads = new ReadByChange<string>({ maxAgeMs: 10_000, now: () => now });
    const f = join(paths.root, 'f.log');
    await writeFile(f, 'one\n');
    const first = await reads.look('f', f);
    assert.equal(first.changed, true, 'never read');
    reads.noteRead('f', first.version, 'read 1');
    assert.deepEqual(await reads.look('f', f), { changed: false, version: first.version, value: 'read 1' });
    await appendFile(f, 'two\n');
    const grown = await reads.look('f', f);
    assert.equal(grown.changed, true, 'appended to');
    reads.noteRead('f', grown.version, 'read 2');
    // Removed and written again, the same size: a new inode, or the same one with new times.
    const before = await stat(f);
    await rm(f);
    await writeFile(f, 'ONE\nTWO\n');
    // A coarse clock could give the same times: set them apart, as a later write would.
    await utimes(f, before.atime, new Date(before.mtimeMs + 5000));
    assert.equal((await stat(f)).size, before.size);
    const replaced = await reads.look('f', f);
    assert.equal(replaced.changed, true, 'replaced with the same size');
    reads.noteRead('f', replaced.version, 'read 3');
    now += 9_999;
    assert.equal((await reads.look('f', f)).changed, false);
    now += 1;
    assert.equal((await reads.look('f', f)).changed, true, 'read anyway once the last read is maxAgeMs old');
    await rm(f);
    const gone = await reads.look('f', f);
    assert.deepEqual(gone, { changed: true, version: null }, 'gone: read, and the read says so');
    reads.noteRead('f', null, 'x');
    assert.equal(reads.size, 0, 'a read without a version is not noted');
    assert.equal(await versionOf(join(paths.root, 'none')), null);
  } finally {
    await cleanup();
  }
});

test('ReadByChange: keepOnly and forget bound what it holds', async () => {
  const versions = new Map([['a', 'v'], ['b', 'v']]);
  const reads = new ReadByChange<number>({ maxAgeMs: 1000, now: () => 0, stat: async (p) => versions.get(p) ?? null });
  for (const k of ['a', 'b']) reads.noteRead(k, 'v', 1);
  reads.keepOnly(new Set(['a']));
  assert.equal(reads.size, 1);
  assert.equal((await reads.look('a', 'a')).changed, false);
  assert.equal((await reads.look('b', 'b')).changed, true, 'dropped by keepOnly');
  reads.forget('a');
  assert.equal((await reads.look('a', 'a')).changed, true);
});
