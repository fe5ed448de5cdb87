// What the brain does with control/ (core/controls.ts) besides what decideBatch decides from it
// (cancels, paused batches): it says when a pause appears or goes, and it carries out retries
// by hand. A retry is one-shot: applied, then its file removed. Applying it twice is harmless
// (only tasks that ended badly are reset, and a reset task is no longer one), so a brain that
// dies between the two does the same again on its next life and nothing more.
import { unlink } from 'node:fs/promises';
import { batchOfTaskId } from '../core/batch.ts';
import { type Controls, RIG, removeControl } from '../core/controls.ts';
import { readBatchRecordFile } from '../core/batch.ts';
import { errorMessage, isGone } from '../core/errors.ts';
import { archiveDir } from '../core/placeTask.ts';
import { childPath } from '../core/paths.ts';
import { type Task, endsComplete } from '../core/task.ts';
import { readTaskFile } from '../core/taskFile.ts';
import type { BrainIndex } from './brainIndex.ts';
import { FINAL } from './brainIndex.ts';
import { isFinalFailure } from './decide.ts';

/** Pauses seen last pass; null before the first. */
export class PauseNotes {
  private last: Set<string> | null = null;

  /** PAUSE for each pause new since the last look, RESUME for each gone. */
  async note(ix: BrainIndex, controls: Controls): Promise<void> {
    const now = new Set(controls.pause);
    const before = this.last ?? new Set<string>();
    this.last = now;
    for (const t of now) {
      if (before.has(t)) continue;
      const effect = t === RIG ? 'no agent claims anything new' : ix.batches.has(t) ? 'nothing of it is released or claimed' : 'it claims nothing new';
      await ix.decide({ what: 'PAUSE', reason: `${describe(t, ix)} paused (control/pause/${t}): ${effect}; running work finishes; forge resume ${t} undoes it` });
    }
    for (const t of before) if (!now.has(t)) await ix.decide({ what: 'RESUME', reason: `${describe(t, ix)} resumed (control/pause/${t} removed)` });
  }
}

function describe(target: string, ix: BrainIndex): string {
  if (target === RIG) return 'the rig';
  if (ix.batches.has(target)) return `batch ${target}`;
  return ix.config.gpus.some((g) => g.name === target) ? `agent ${target}` : target;
}

/** Whether a task ended badly (failed for good, cancelled, not run): what a retry by hand resets. */
function endedBadly(task: Task, inFailed: boolean, ix: BrainIndex): boolean {
  if (!inFailed) return false;
  return isFinalFailure({ folder: 'failed', task }, ix.config);
}

/** The task with fresh attempts: what it was before its first claim, its history kept. */
function reset(task: Task): Task {
  return { ...task, attempts_from: task.attempts.length, result: null, finished_at: null, claimed_by: null, claimed_at: null, released_at: null, parked: null, parked_reason: null };
}

/** Carries out every control/retry/<target>, then removes the file. */
export async function applyRetries(ix: BrainIndex, controls: Controls): Promise<void> {
  for (const target of controls.retry) {
    try {
      const said = await retryTarget(ix, target);
      await ix.decide({ what: 'RETRY_BY_HAND', batch: batchOfTaskId(target), task: target.includes('__') ? target : null, reason: said });
    } catch (err) {
      await ix.decide({ what: 'RETRY_BY_HAND', reason: `control/retry/${target}: not done: ${errorMessage(err)}` });
    }
    await removeControl(ix.paths, 'retry', target);
  }
}

async function retryTarget(ix: BrainIndex, target: string): Promise<string> {
  const batchId = batchOfTaskId(target);
  const onlyTask = target !== batchId ? target : null;
  // A cancel of the same target would stop the retried tasks again: the retry lifts it.
  await removeControl(ix.paths, 'cancel', target);
  if (onlyTask === null) await removeControl(ix.paths, 'cancel', batchId);
  const active = ix.batches.get(batchId);
  const said = active && !FINAL.has(active.state) ? await retryActive(ix, batchId, onlyTask) : await reopen(ix, batchId, onlyTask);
  // And the cancels of single tasks it retried (an abort by hand is one).
  for (const [id, v] of ix.tasks) if (batchOfTaskId(id) === batchId && v.folder === 'private' && v.task.result === null) await removeControl(ix.paths, 'cancel', id);
  return said;
}

/** Which tasks a retry resets: the target task (or every badly ended one), the ones not run because of it, and the summary. */
function chosen(task: Task, onlyTask: string | null): boolean {
  if (onlyTask === null) return true;
  return task.id === onlyTask || task.result?.outcome === 'not_run' || task.type === 'batch_summary';
}

async function retryActive(ix: BrainIndex, batchId: string, onlyTask: string | null): Promise<string> {
  const rec = ix.batchOf(batchId);
  const ids: string[] = [];
  for (const id of rec.task_ids) {
    const v = ix.tasks.get(id);
    if (!v || !endedBadly(v.task, v.folder === 'failed', ix) || !chosen(v.task, onlyTask)) continue;
    const t = await ix.store.write('failed', reset(v.task));
    if (await ix.moveTask(id, 'failed', 'private', t)) ids.push(id);
  }
  const keep = (id: string) => !ids.includes(id);
  await ix.updateBatch(batchId, {
    cancelled_at: null,
    failed_tasks: rec.failed_tasks.filter(keep),
    not_run: rec.not_run.filter(keep),
    failure_reasons: Object.fromEntries(Object.entries(rec.failure_reasons).filter(([id]) => keep(id))),
  });
  return ids.length ? `${ids.length} task(s) given fresh attempts: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', ...' : ''}` : 'nothing to retry: no task of it ended badly';
}

/**
 * A finished batch: its tasks come back from tasks/archive/<batch>/, those retried into
 * private/ with fresh attempts, the others into complete/ or failed/ as they ended (what the
 * retried ones depend on, and what the summary counts). Then it runs again.
 */
async function reopen(ix: BrainIndex, batchId: string, onlyTask: string | null): Promise<string> {
  const read = await readBatchRecordFile(ix.paths, batchId);
  if (!read.ok) throw new Error(read.missing ? `no batch ${batchId} (brain/batches/${batchId}.json)` : read.problem);
  const rec = read.value;
  const dir = archiveDir(ix.paths, batchId);
  let retried = 0;
  for (const id of rec.task_ids) {
    const file = childPath(dir, `${id}.json`, 'task id');
    const r = await readTaskFile(file, id);
    if (!r.ok) continue; // already back (an earlier try of this retry), or never archived
    const task = r.task;
    // A task a gate skipped goes back to complete/ with it: the gate's verdict stands.
    const ok = endsComplete(task.result?.outcome);
    if (!ok && chosen(task, onlyTask)) {
      ix.tasks.set(id, { folder: 'private', task: await ix.store.write('private', reset(task)) });
      retried += 1;
    } else {
      // Whole first, then the archived copy goes: a crash in between leaves two copies, the archived one never read again.
      const folder = ok ? 'complete' : 'failed';
      ix.tasks.set(id, { folder, task: await ix.store.write(folder, task) });
    }
    await unlink(file).catch((err: unknown) => {
      if (!isGone(err)) throw err;
    });
  }
  const open = { ...rec, state: 'running' as const, finished_at: null, final_counts: null, cancelled_at: null, failed_tasks: [], not_run: [], failure_reasons: {}, summary_path: null };
  ix.batches.set(batchId, open);
  await ix.updateBatch(batchId, open);
  await ix.saveState();
  return `batch ${batchId} reopened (was ${rec.state}): ${retried} task(s) given fresh attempts`;
}
