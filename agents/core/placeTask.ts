// The two looks a recovering reader makes when it finishes a replace() whose process died
// (store.ts, recoverTaken): put a file in place only where no copy is, and ask whether the task
// is in any folder at all. Each placing is a link, which fails rather than replace a copy that
// is there, so processes racing to do this make one copy.
import { link, lstat, mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { batchOfTaskId } from './batch.ts';
import { errorCode, isGone } from './errors.ts';
import { type MountPaths, TASK_FOLDERS, childPath, isSafeName } from './paths.ts';

/** Links `file` in as `target` unless something is there, then removes `file`. gone: `file` itself is gone. */
export async function placeUnlessThere(file: string, target: string): Promise<'placed' | 'exists' | 'gone'> {
  try {
    await link(file, target);
  } catch (err) {
    if (isGone(err)) return 'gone';
    if (errorCode(err) !== 'EEXIST') throw err;
    await unlink(file).catch(() => {});
    return 'exists';
  }
  await unlink(file).catch(() => {});
  return 'placed';
}

/**
 * Whether <id>.json is in a task folder or its batch's archive. Looked for twice: a task moving
 * back a folder (a retry) between two looks at the first pass is seen at the second.
 */
export async function isInAFolder(paths: MountPaths, id: string): Promise<boolean> {
  const batch = batchOfTaskId(id);
  const dirs = [...TASK_FOLDERS.map((f) => paths.folders[f]), ...(batch !== id && isSafeName(batch) ? [archiveDir(paths, batch)] : [])];
  for (let pass = 0; pass < 2; pass++) {
    for (const dir of dirs) {
      try {
        await stat(join(dir, `${id}.json`));
        return true;
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
  }
  return false;
}

/** tasks/archive/<batch>/: where a finished batch's task files go (TaskStore.archive). */
export function archiveDir(paths: MountPaths, batch: string): string {
  return childPath(join(paths.tasks, 'archive'), batch, 'batch id');
}

/** Folders made once and then trusted, so a move into one costs no mkdir each time (a round trip on NFS). */
export class MadeFolders {
  private readonly made = new Set<string>();

  async ensure(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.made.size > 1000) this.made.clear();
    this.made.add(dir);
  }

  /** After a move into dir failed as gone: true when dir itself is gone (removed since it was made), to make and try again. */
  async lost(dir: string): Promise<boolean> {
    if (!this.made.delete(dir)) return false;
    return lstat(dir).then(() => false, () => true);
  }
}
