// Finishing a replace() (core/store.ts) whose process died between its take and its publish:
// the task is then in no folder, only in its taken file `.<id>.json.<pid>.<hex>.taken.tmp`,
// with its new version (written and synced before the take) as the matching `.fresh.tmp`.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type MountPaths, type TaskFolder, TASK_FOLDERS, childPath, isSafeName } from './paths.ts';
import { isInAFolder, placeUnlessThere } from './placeTask.ts';

/** The two temporary files of a replace() in flight: the new version, and the file it took. */
export const REPLACE_TEMP = /^\.(.+)\.json\.(\d+)\.([0-9a-f]+)\.(fresh|taken)\.tmp$/;

/**
 * Puts the task of the taken file `taken` (in `folder`) back in place. The new version goes
 * into place, as the replace would have done. With no new version left: if the task is in a
 * folder, the replace had published and only the removal of the taken file was missing; if it
 * is nowhere, the taken file is its only copy and goes back where it was taken from. Each
 * placing is a link, which fails rather than replace a copy that is there, so processes racing
 * to do this make one copy. Returns the folder the task is in now when this call put it there,
 * else null.
 */
export async function finishReplace(paths: MountPaths, folder: TaskFolder, taken: string, id: string, pid: string, hex: string): Promise<TaskFolder | null> {
  const fileOf = (f: TaskFolder): string => childPath(paths.folders[f], `${id}.json`, 'task id');
  const fresh = `.${id}.json.${pid}.${hex}.fresh.tmp`;
  for (const f of TASK_FOLDERS) {
    const placed = await placeUnlessThere(join(paths.folders[f], fresh), fileOf(f));
    if (placed === 'gone') continue;
    await unlink(taken).catch(() => {});
    return placed === 'placed' ? f : null;
  }
  if (await isInAFolder(paths, id)) {
    await unlink(taken).catch(() => {});
    return null;
  }
  return (await placeUnlessThere(taken, fileOf(folder))) === 'placed' ? folder : null;
}

/**
 * Finishes at once every replace() that the process `pid` left half done, whatever the age of
 * its taken files: for a daemon starting after its own previous life (its last heartbeat or
 * lock file names the pid), which is dead for sure. Returns the ids put back into a folder.
 */
export async function finishReplacesOf(paths: MountPaths, pid: number): Promise<string[]> {
  const ids: string[] = [];
  for (const folder of TASK_FOLDERS) {
    for (const name of await readdir(paths.folders[folder]).catch(() => [] as string[])) {
      const m = REPLACE_TEMP.exec(name);
      if (m?.[4] !== 'taken' || m[2] !== String(pid) || !isSafeName(m[1]!)) continue;
      if (await finishReplace(paths, folder, join(paths.folders[folder], name), m[1]!, m[2], m[3]!)) ids.push(m[1]!);
    }
  }
  return ids;
}
