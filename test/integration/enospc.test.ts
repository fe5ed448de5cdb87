// A full disk: the write that hits it fails with ENOSPC, the caller hears of it, and every
// file already there is untouched, with no temporary file left behind.
//
// The disk is real: a 1 MiB tmpfs mounted for the test (Linux, root or CAP_SYS_ADMIN, as on
// the rig and in CI), filled with one filler file. Where it cannot be mounted (not Linux,
// not root, a container without the capability) the test is skipped with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic, writeJsonAtomic } from '../../agents/core/atomic.ts';
import { errorCode } from '../../agents/core/errors.ts';
import { ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { makeTask } from '../helpers/mount.ts';

/** Mounts a small tmpfs; returns why it cannot when it cannot. */
async function mountTinyTmpfs(dir: string): Promise<string | null> {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs (run as root, as CI does)';
  const r = await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', dir], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) return `mount -t tmpfs failed (${String(r.stderr || r.message).replace(/\s+/g, ' ').trim()}): no CAP_SYS_ADMIN here?`;
  return null;
}

/** Writes until the file system refuses: afterwards not one more block fits. */
async function fillDisk(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(4096, 0x61);
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    if (errorCode(err) !== 'ENOSPC') throw err;
  } finally {
    await handle.close().catch(() => {});
  }
}

async function snapshotFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.set(path, await readFile(path));
  }
  return out;
}

test('a full disk fails the write that hit it with ENOSPC and leaves every existing file intact', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-enospc-'));
  const why = await mountTinyTmpfs(dir);
  if (why) {
    t.skip(`ENOSPC test skipped: ${why}`);
    await rm(dir, { recursive: true, force: true });
    return;
  }
  try {
    const paths = mountPaths(dir);
    await ensureMount(paths);
    const store = new TaskStore(paths);
    const task = makeTask({ name: 'kept' });
    await store.write('queue', task);
    await writeJsonAtomic(join(paths.brain, 'state.json'), { active_batches: ['b1'], updated_at: 'x', brain_pid: 1 });
    const before = await snapshotFiles(dir);

    await fillDisk(join(paths.logs, 'filler.bin'));
    const filled = await snapshotFiles(dir);

    // Replacing a task in place: the write fails, the old file stays as it was.
    await assert.rejects(
      store.write('queue', { ...task, attempt: 1, claimed_by: 'gpu-0' }),
      (err: unknown) => errorCode(err) === 'ENOSPC',
    );
    // A new task, and a raw atomic write elsewhere: same.
    await assert.rejects(store.write('queue', makeTask({ name: 'new' })), (err: unknown) => errorCode(err) === 'ENOSPC');
    await assert.rejects(writeFileAtomic(paths.brainState, 'x'.repeat(10_000)), (err: unknown) => errorCode(err) === 'ENOSPC');

    const after = await snapshotFiles(dir);
    assert.deepEqual([...after.keys()].sort(), [...filled.keys()].sort(), 'no file appeared or vanished (no temporary left behind)');
    for (const [path, bytes] of before) assert.ok(after.get(path)?.equals(bytes), `${path} is byte-identical`);
    assert.deepEqual(await readdir(paths.folders.queue), [`${task.id}.json`]);
    const r = await store.read('queue', task.id);
    assert.ok(r.ok);
    assert.deepEqual(r.task, task);

    // Space back: the same write goes through.
    await rm(join(paths.logs, 'filler.bin'));
    await store.write('queue', { ...task, attempt: 1, claimed_by: 'gpu-0' });
    const again = await store.read('queue', task.id);
    assert.ok(again.ok && again.task.attempt === 1);
    await writeFile(join(paths.logs, 'ok.txt'), 'fine');
  } finally {
    await execa('umount', [dir], { reject: false });
    await execa('umount', ['-l', dir], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
});
