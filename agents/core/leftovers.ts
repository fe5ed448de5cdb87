// Leftovers of writers that died mid-write. writeFileAtomic writes `.<name>.<pid>.<hex>.tmp`
// and renames it; power loss between the two leaves the temporary behind. Every lister
// skips temporary names, so they are harmless to readers; this module removes them once
// they are old enough that no live writer can still own them (a write takes milliseconds).
//
// How old is judged one of two ways, never by comparing a file's time with this host's
// Date.now() (the mount is shared by hosts whose clocks differ):
// - a daemon passes an ObservedAge: a file is as old as this process has seen it unchanged
//   (inode, size, times), on its own clock, over its passes;
// - the doctor, a one-shot command that cannot watch for ten minutes, passes a time read from
//   the mount's own clock (doctor/mountClock.ts): the file's mtime and that time were both
//   stamped by the file server.
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName } from './atomic.ts';
import { isGone } from './errors.ts';
import { ObservedAge } from './observedAge.ts';
import { type MountPaths, TASK_FOLDERS } from './paths.ts';
import { statsVersion } from './unreadable.ts';

/** Temporary files this old (ms; see the top of this file for how age is judged) are leftovers: ten minutes, far above any write. */
export const TEMP_MAX_AGE_MS = 10 * 60 * 1000;

/** How many files are stat'ed at once: keeps a folder of 10^5 leftovers from opening 10^5 handles. */
const STAT_BATCH = 256;

/**
 * Dot-names that are not ours although isTempName matches them: git placeholders a person
 * may commit into the skeleton, and NFS "silly rename" files (a deleted file still held open
 * by some client; the NFS client removes them itself, and unlinking them only makes a new one).
 */
function isKeptDotName(name: string): boolean {
  return name === '.gitkeep' || name === '.keep' || name === '.gitignore' || name.startsWith('.nfs');
}

/** A name this module may delete once old: a temporary name of a writer (core/atomic.ts). */
export function isLeftoverTempName(name: string): boolean {
  // A taken file of an interrupted store.replace() may be a task's only copy: TaskStore.list()
  // recovers it, never this cleanup. (Its fresh partner may go: the old version is then restored.)
  return isTempName(name) && !isKeptDotName(name) && !name.endsWith('.taken.tmp');
}

export interface TempFile {
  path: string;
  /**
   * How old the file is, in ms: with an ObservedAge, how long this process has seen it
   * unchanged; with a time on the mount's clock, that time minus the file's modification time.
   */
  ageMs: number;
}

/**
 * What a file's age is judged by: an ObservedAge (daemons: this process's own observations),
 * or a time in ms on the mount's own clock (the doctor: see the top of this file).
 */
export type TempAgeJudge = ObservedAge | number;

function ageOf(path: string, st: Stats, judge: TempAgeJudge): number {
  return typeof judge === 'number' ? judge - st.mtimeMs : judge.observe(path, statsVersion(st));
}

/** A folder's entries, or none when the folder is gone. */
export async function readEntries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
}

/**
 * Temporary files (plain files with a temporary name) directly inside each folder, with
 * their age (see TempAgeJudge). Folders are not descended into, and directories with a
 * temporary name (the load gate's `.model-load.lock`) are never listed: they are locks, not
 * leftovers. An ObservedAge forgets every file of these folders that this listing did not find.
 */
export async function listTempFiles(dirs: string[], judge: TempAgeJudge): Promise<TempFile[]> {
  const out: TempFile[] = [];
  for (const dir of dirs) {
    const names = (await readEntries(dir))
      .filter((e) => !e.isDirectory() && isLeftoverTempName(e.name))
      .map((e) => join(dir, e.name));
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      const stats = await Promise.all(
        names.slice(i, i + STAT_BATCH).map(async (path) => {
          try {
            const st = await lstat(path);
            return st.isFile() ? { path, ageMs: ageOf(path, st, judge) } : null;
          } catch (err) {
            if (isGone(err)) return null; // renamed into place or removed meanwhile
            throw err;
          }
        }),
      );
      for (const s of stats) if (s) out.push(s);
    }
  }
  if (typeof judge !== 'number') {
    const live = new Set(out.map((f) => f.path));
    for (const dir of dirs) judge.keepOnly(join(dir, '/'), live);
  }
  return out;
}

/**
 * Removes one temporary file if it is still older than the limit. Checks again right before
 * unlinking, so a file that a writer touched since the listing survives (with an ObservedAge,
 * any change of its version starts its count again). False when it was too young or already
 * gone (renamed into place, or removed by another cleaner).
 */
export async function removeTempFile(path: string, olderThanMs: number, judge: TempAgeJudge): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || ageOf(path, st, judge) < olderThanMs) return false;
    await unlink(path);
    if (typeof judge !== 'number') judge.forget(path);
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

/** Removes the temporary files older than olderThanMs in the given folders. Tolerates every ENOENT race. */
export async function cleanTempFiles(dirs: string[], olderThanMs: number, judge: TempAgeJudge): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  const old = (await listTempFiles(dirs, judge)).filter((f) => f.ageMs >= olderThanMs);
  for (let i = 0; i < old.length; i += STAT_BATCH) {
    const done = await Promise.all(old.slice(i, i + STAT_BATCH).map((f) => removeTempFile(f.path, olderThanMs, judge)));
    done.forEach((ok, j) => {
      if (ok) removed.push(old[i + j]!.path);
    });
  }
  return { removed };
}

/**
 * The rig's own folders, where every dot-name or .tmp file is a writer's temporary:
 * the mount root, the task folders and their late_results/ and archive/<batch>/, brain/ and
 * its folders (private_tasks/, batches/, inbox/, ...), every gpus/gpu_<id>/, signals/, approvals/,
 * logs/ and its spool folders, quarantine/, and adapters/ (not its version folders).
 * plans/ is left out on purpose: it holds people's files, where a dot-file is theirs.
 */
export async function rigFolders(paths: MountPaths): Promise<string[]> {
  const subdirs = async (dir: string, pick: (name: string) => boolean = () => true): Promise<string[]> =>
    (await readEntries(dir)).filter((e) => e.isDirectory() && pick(e.name)).map((e) => join(dir, e.name));
  const archive = join(paths.tasks, 'archive');
  const dirs = [
    paths.root,
    paths.tasks,
    ...TASK_FOLDERS.map((f) => paths.folders[f]),
    join(paths.tasks, 'late_results'),
    archive,
    ...(await subdirs(archive)),
    paths.brain,
    // batches/, inbox/, escalations/, interventions/ and whatever the brain keeps next; not its lock folder.
    ...(await subdirs(paths.brain, (n) => !n.endsWith('.lock'))),
    paths.inboxRejected,
    paths.gpus,
    ...(await subdirs(paths.gpus, (n) => /^gpu_\d+$/.test(n))),
    paths.signals,
    paths.approvals,
    paths.logs,
    paths.spool,
    paths.spoolDecisions,
    paths.spoolSamples,
    paths.quarantine,
    ...(await subdirs(paths.quarantine)),
    // current.json's writers' temporaries (core/adapters.ts); the version folders below are people's and trainers'.
    join(paths.root, 'adapters'),
  ];
  return [...new Set(dirs)]; // private_tasks/ is both a task folder and a brain folder
}

/**
 * What the brain calls every few minutes, with the ObservedAge it keeps: removes the
 * temporaries in the rig's folders that it has seen unchanged for olderThanMs (so nothing at
 * its first call: a file is judged over two passes at least, on the brain's own clock).
 */
export async function cleanMountTempFiles(paths: MountPaths, judge: TempAgeJudge, olderThanMs = TEMP_MAX_AGE_MS): Promise<{ removed: string[] }> {
  return cleanTempFiles(await rigFolders(paths), olderThanMs, judge);
}
