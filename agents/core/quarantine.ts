// quarantine/<where>/: where readers move what they cannot use, each with a note of why, so
// one bad file never blocks a folder again and a person can see what was there.
import { lstat, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, join, relative } from 'node:path';
import { type WriteOptions, writeJsonAtomic } from './atomic.ts';
import { isGone } from './errors.ts';
import { kindOf } from './mountRead.ts';
import type { MountPaths } from './paths.ts';

/** Moves any file (or FIFO, symlink, directory) into <shared>/quarantine/<where>/ with <name>.why.txt beside it. */
export async function quarantine(paths: MountPaths, where: string, src: string, name: string, reason: string): Promise<void> {
  const dir = join(paths.quarantine, where.replace(/[^A-Za-z0-9_-]/g, '_'));
  await mkdir(dir, { recursive: true });
  // Unique per call: two racers of one process must not share (and unlink) one reason note.
  const stamp = `${Date.now()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 200);
  const dest = join(dir, `${stamp}-${safe}`);
  // The reason first: a process killed between the two leaves a reason without its file (the
  // file stays where it was, to be quarantined again), never a quarantined file without one.
  await writeFile(`${dest}.why.txt`, `${new Date().toISOString()} ${src}\n${reason}\n`).catch(() => {});
  try {
    await rename(src, dest);
  } catch (err) {
    await unlink(`${dest}.why.txt`).catch(() => {});
    if (isGone(err)) return; // someone else moved or quarantined it first
    throw err;
  }
}

/**
 * Writes a file that only this process writes (brain/state.json and batch records for the
 * brain, an agent's own heartbeat, the brain's escalation records). A directory in its place
 * would make every write fail (a rename cannot replace a directory), so it is moved to
 * quarantine/<where>/ and the file written again; a FIFO or symlink there is simply replaced
 * by the rename. Returns what was moved aside, in words, or null when nothing was.
 */
export async function writeOwnJson(paths: MountPaths, where: string, target: string, value: unknown, o: WriteOptions = {}): Promise<string | null> {
  try {
    await writeJsonAtomic(target, value, o);
    return null;
  } catch (err) {
    const st = await lstat(target).catch(() => null);
    if (!st || st.isFile()) throw err;
    const why = `${relative(paths.root, target)} was ${kindOf(st.mode)}, not a regular file: moved to quarantine/${where}/ and written again`;
    await quarantine(paths, where, target, basename(target), why);
    await writeJsonAtomic(target, value, o);
    return why;
  }
}
