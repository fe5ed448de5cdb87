// Leftovers of writers that died mid-write. writeFileAtomic writes `.<name>.<pid>.<hex>.tmp`
// and renames it; power loss between the two leaves the temporary behind. Every lister
// skips temporary names, so they are harmless to readers; this module removes them once
// they are old enough that no live writer can still own them (a write takes milliseconds,
// and a writer's own file has a fresh modification time).
import type { Dirent } from 'node:fs';
import { lstat, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName } from './atomic.ts';
import { errorCode } from './errors.ts';
import { type MountPaths, TASK_FOLDERS } from './paths.ts';

/** Temporary files older than this are leftovers (ms): ten minutes, far above any write. */
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
  /** now minus the file's modification time, in ms (negative when the file is from the future: clock skew). */
  ageMs: number;
}

function isGone(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ESTALE' || code === 'ENOTDIR';
}

async function readEntries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
}

/**
 * Temporary files (plain files with a temporary name) directly inside each folder, with
 * their age. Folders are not descended into, and directories with a temporary name (the
 * load gate's `.model-load.lock`) are never listed: they are locks, not leftovers.
 */
export async function listTempFiles(dirs: string[], now: number): Promise<TempFile[]> {
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
            return st.isFile() ? { path, ageMs: now - st.mtimeMs } : null;
          } catch (err) {
            if (isGone(err)) return null; // renamed into place or removed meanwhile
            throw err;
          }
        }),
      );
      for (const s of stats) if (s) out.push(s);
    }
  }
  return out;
}

/**
 * Removes one temporary file if it is still older than the limit. Checks again right before
 * unlinking, so a file that a writer touched since the listing survives. False when it was
 * too young or already gone (renamed into place, or removed by another cleaner).
 */
export async function removeTempFile(path: string, olderThanMs: number, now: number): Promise<boolean> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || now - st.mtimeMs < olderThanMs) return false;
    await unlink(path);
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

/** Removes the temporary files older than olderThanMs in the given folders. Tolerates every ENOENT race. */
export async function cleanTempFiles(dirs: string[], olderThanMs: number, now: number): Promise<{ removed: string[] }> {
  const removed: string[] = [];
  const old = (await listTempFiles(dirs, now)).filter((f) => f.ageMs >= olderThanMs);
  for (let i = 0; i < old.length; i += STAT_BATCH) {
    const done = await Promise.all(old.slice(i, i + STAT_BATCH).map((f) => removeTempFile(f.path, olderThanMs, now)));
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
 * logs/ and its spool folders, and quarantine/.
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
  ];
  return [...new Set(dirs)]; // private_tasks/ is both a task folder and a brain folder
}

/** What the brain and agents call at start and every few minutes: removes old temporaries in the rig's folders. */
export async function cleanMountTempFiles(paths: MountPaths, now: number, olderThanMs = TEMP_MAX_AGE_MS): Promise<{ removed: string[] }> {
  return cleanTempFiles(await rigFolders(paths), olderThanMs, now);
}
