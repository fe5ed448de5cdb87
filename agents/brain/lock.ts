// One brain per mount. proper-lockfile gives the mkdir-based lock; a pid file beside it lets
// a restarted brain on the same host take over at once from a predecessor that was SIGKILLed,
// instead of waiting for the lock to go stale.
import lockfile from 'proper-lockfile';
import { constants } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { readMountFile } from '../core/mountRead.ts';
import type { MountPaths } from '../core/paths.ts';
import { quarantine } from '../core/quarantine.ts';

export interface BrainLock {
  release(): Promise<void>;
  /** A dead previous brain of this host, when there was one. */
  previousPid: number | null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class BrainLockedError extends Error {}

// Written in place (no rename: the brain holds the lock already, and a new brain reads the file
// only when the lock is held). O_NONBLOCK and O_NOFOLLOW: a FIFO in its place fails the open
// instead of blocking the brain for ever, a symlink is not followed; either (or a directory)
// is moved to quarantine/brain/ and the file written again.
const OWNER_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK | constants.O_NOFOLLOW;

async function writeOwner(paths: MountPaths, text: string, retry = true): Promise<void> {
  const file = `${paths.brainLock}.owner`;
  let handle;
  try {
    handle = await open(file, OWNER_FLAGS, 0o644);
    if ((await handle.stat()).isFile()) {
      await handle.writeFile(text);
      return;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!retry || (code !== 'ENXIO' && code !== 'ELOOP' && code !== 'EISDIR')) throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
  if (!retry) throw new Error(`${file} is not a regular file`);
  await quarantine(paths, 'brain', file, 'brain.owner', `${file} was not a regular file: moved aside and written again`);
  await writeOwner(paths, text, false);
}

/** brain/brain.owner: who holds the lock; null when absent or not a small JSON file of that shape (never a hang on a FIFO). */
export async function readLockOwner(paths: MountPaths): Promise<{ pid: number; host: string } | null> {
  const r = await readMountFile(`${paths.brainLock}.owner`, { maxBytes: 4096 });
  if (!r.ok) return null;
  try {
    const raw = JSON.parse(r.text) as { pid?: unknown; host?: unknown } | null;
    return raw && typeof raw.pid === 'number' && typeof raw.host === 'string' ? { pid: raw.pid, host: raw.host } : null;
  } catch {
    return null;
  }
}

export async function acquireBrainLock(paths: MountPaths, onCompromised: (err: Error) => void): Promise<BrainLock> {
  await mkdir(paths.brain, { recursive: true });
  // The previous brain on this host, whatever became of it: its half-done task moves are finished at start.
  const before = await readLockOwner(paths);
  const previousPid = before && before.host === hostname() && before.pid !== process.pid && !isAlive(before.pid) ? before.pid : null;
  const target = paths.brain;
  const lockfilePath = `${paths.brainLock}.lock`;
  const ownerFile = `${paths.brainLock}.owner`;
  const opts = { lockfilePath, realpath: false, stale: 30_000, update: 5_000, onCompromised };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    const owner = await readLockOwner(paths);
    if (owner && owner.host === hostname() && !isAlive(owner.pid)) {
      // proper-lockfile only unlocks its own locks: the dead owner's lock folder is removed by hand.
      await rm(lockfilePath, { recursive: true, force: true });
      release = await lockfile.lock(target, opts);
    } else {
      const who = owner ? `pid ${owner.pid} on ${owner.host}` : 'another process';
      throw new BrainLockedError(
        `another brain holds ${lockfilePath} (${who}); only one brain may run per mount. Stop it first, or remove the lock if that process is gone on another host.`,
      );
    }
  }
  await writeOwner(paths, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
  return { release: () => release(), previousPid };
}
