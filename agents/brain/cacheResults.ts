// The brain's side of the result cache (core/resultCache.ts): when a batch ends, the input key
// and outputs of every task that completed, as its worker reported them, written whole into
// brain/cache/<batch>.json before the batch record says it ended (a brain killed in between
// finishes the batch again and writes the same cache). A task whose result carries no key (a
// rig task, a foreach template, the summary) is not in it: resumePlan.ts judges those by their
// place in the batch.
import { errorMessage } from '../core/errors.ts';
import { type ResultCache, writeResultCache } from '../core/resultCache.ts';
import type { TaskView } from './decide.ts';
import type { BrainIndex } from './brainIndex.ts';

/** Pure: the cache of a batch from its tasks as the brain holds them. */
export function cacheOf(batch: string, taskIds: readonly string[], tasks: ReadonlyMap<string, TaskView>, now: string): ResultCache {
  const out: ResultCache = { batch, written_at: now, tasks: {} };
  for (const id of taskIds) {
    const v = tasks.get(id);
    const key = v?.task.result?.input_key;
    if (v?.folder !== 'complete' || v.task.result?.outcome !== 'success' || !key) continue;
    out.tasks[id] = { key, outputs: v.task.result.outputs ?? [] };
  }
  return out;
}

/** Writes the batch's cache; a failure is said and costs only reruns on a later resume. */
export async function recordResults(ix: BrainIndex, batchId: string): Promise<void> {
  const rec = ix.batchOf(batchId);
  try {
    await writeResultCache(ix.paths, cacheOf(batchId, rec.task_ids, ix.tasks, ix.now()));
  } catch (err) {
    process.stderr.write(`brain: batch ${batchId}: result cache not written (a resume will run its tasks again): ${errorMessage(err)}\n`);
  }
}
