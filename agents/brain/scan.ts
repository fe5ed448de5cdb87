// The scan: where each task of an active batch is now, from the folder listings and the
// doorbell hints of other hosts; a task read only when it is new to the index or has moved.
import type { TaskFolder } from '../core/paths.ts';
import { TASK_FOLDERS } from '../core/paths.ts';
import type { Task } from '../core/task.ts';
import { batchOfTaskId } from '../core/batch.ts';
import type { BrainIndex } from './brainIndex.ts';
import { RIG_BATCH } from './heatManager.ts';
import { ASK_BATCH } from '../core/request.ts';
import type { TaskCache } from '../core/taskCache.ts';

/**
 * Updates the index from the folders and returns where each task of an active batch was seen.
 * `rigTasks` is refilled with the rig's own tasks (heatManager.ts); `onComplete` is called for
 * each task newly seen in complete/. `askTasks`, when given, is refilled with the realtime
 * questions' tasks (brain/requests.ts). `processing`, when given, reads processing/ files for the
 * scan and for the brain's watch over agents alike (taskCache.ts): a running task is read once.
 */
export async function scanFolders(
  ix: BrainIndex, rigTasks: Map<string, TaskFolder>, onComplete: (t: Task) => Promise<void>, askTasks?: Map<string, TaskFolder>, processing?: TaskCache,
): Promise<Map<string, TaskFolder>> {
  const seen = new Map<string, TaskFolder>();
  const listed = new Map<TaskFolder, Set<string>>();
  rigTasks.clear();
  askTasks?.clear();
  for (const folder of TASK_FOLDERS) {
    const ids = await ix.store.list(folder);
    listed.set(folder, new Set(ids));
    for (const id of ids) {
      const batch = batchOfTaskId(id);
      if (ix.batches.has(batch)) seen.set(id, folder);
      else if (batch === RIG_BATCH) rigTasks.set(id, folder);
      else if (batch === ASK_BATCH) askTasks?.set(id, folder);
    }
  }
  const fresh = await readHinted(ix, listed, seen);
  const readIn = (folder: TaskFolder, id: string) => (folder === 'processing' && processing ? processing.outcome(id) : ix.store.read(folder, id));
  for (const [id, folder] of seen) {
    const prev = ix.tasks.get(id);
    if (prev && prev.folder === folder) continue;
    const r = fresh.has(id) ? { ok: true as const, task: fresh.get(id)! } : await readIn(folder, id);
    if (!r.ok) continue;
    ix.tasks.set(id, { folder, task: r.task });
    if (folder === 'complete') await onComplete(r.task);
  }
  return seen;
}

/**
 * Moves other hosts' doorbells named that this host's listings do not show yet. A hint
 * overrides a listing only once the file has been read where it says: a listing may be
 * seconds old, a read by name is not, and a stale hint must never hide where a task is.
 * Updates `seen`; returns the tasks so read.
 */
async function readHinted(ix: BrainIndex, listed: Map<TaskFolder, Set<string>>, seen: Map<string, TaskFolder>): Promise<Map<string, Task>> {
  const fresh = new Map<string, Task>();
  for (const folder of TASK_FOLDERS) {
    for (const id of ix.store.hinted(folder, listed.get(folder)!)) {
      if (!ix.batches.has(batchOfTaskId(id))) continue;
      const r = await ix.store.read(folder, id);
      if (!r.ok) {
        ix.store.dropHint(folder, id);
        continue;
      }
      seen.set(id, folder);
      fresh.set(id, r.task);
    }
  }
  return fresh;
}
