// The brain's side of brain/profiles.json: feeds each newly completed task and each finished
// batch to the pure learning in profiles.ts and writes the file. The brain is the file's one
// writer, so what it holds in memory is what the file says: read once per life, then kept.
// Writes are at most one per WRITE_EVERY_MS of the brain's clock while tasks complete (a batch
// of thousands of short tasks must not cost a synced write each), and always at a batch's end.
import { errorMessage } from '../core/errors.ts';
import type { Task } from '../core/task.ts';
import type { BrainIndex } from './brainIndex.ts';
import { type Profiles, itemsOf, learnFromBatchEnd, learnFromTask, readProfiles, readyTime, writeProfiles } from './profiles.ts';
import { taskId } from '../core/task.ts';

export const WRITE_EVERY_MS = 2000;

interface Held {
  profiles: Profiles;
  dirty: boolean;
  lastWrite: number;
}

// Per brain (one BrainIndex per life); a WeakMap keeps this module's state out of the index.
const held = new WeakMap<BrainIndex, Held>();

async function load(ix: BrainIndex): Promise<Held> {
  let h = held.get(ix);
  if (!h) {
    const read = await readProfiles(ix.paths);
    if (read.problem) await ix.decide({ what: 'BAD_FILE', reason: `${read.problem}; the task profiles are learned again from the next tasks` });
    h = { profiles: read.profiles, dirty: false, lastWrite: -Infinity };
    held.set(ix, h);
  }
  return h;
}

async function save(ix: BrainIndex, h: Held): Promise<void> {
  h.dirty = false;
  h.lastWrite = ix.clock.now();
  try {
    await writeProfiles(ix.paths, h.profiles);
  } catch (err) {
    // Predictions only: the rig goes on without them, and the next write tries again.
    h.dirty = true;
    process.stderr.write(`brain: brain/profiles.json not written: ${errorMessage(err)}\n`);
  }
}

const finishedAt = (ix: BrainIndex) => (id: string): number | null => {
  const f = ix.tasks.get(id)?.task.finished_at;
  return f ? Date.parse(f) : null;
};

/** A task newly seen complete: learned into its template's profile; the file written when the last write is WRITE_EVERY_MS old. */
export async function learnTaskProfile(ix: BrainIndex, t: Task): Promise<void> {
  const h = await load(ix);
  const rec = ix.batches.get(t.batch);
  const batchStart = rec?.started_at ? Date.parse(rec.started_at) : null;
  const template = t.template ? ix.tasks.get(taskId(t.batch, t.template))?.task : undefined;
  const key = learnFromTask(h.profiles, t, { readyAt: readyTime(t, finishedAt(ix), batchStart), items: t.template ? itemsOf(template) : null, now: ix.now() });
  if (key === null) return;
  h.dirty = true;
  if (ix.clock.now() - h.lastWrite >= WRITE_EVERY_MS) await save(ix, h);
}

/** A batch that just finished: the brain's own steps learned from its tasks, and the profiles written. */
export async function learnBatchProfiles(ix: BrainIndex, batchId: string): Promise<void> {
  const rec = ix.batches.get(batchId);
  if (!rec) return;
  const h = await load(ix);
  const tasks = rec.task_ids.map((id) => ix.tasks.get(id)?.task).filter((t): t is Task => t !== undefined);
  const learned = learnFromBatchEnd(h.profiles, rec, tasks, ix.now());
  if (learned.length || h.dirty) await save(ix, h);
}
