// Rules about batch records against their tasks and brain/state.json. What the doctor chose:
// - running/pending with every task terminal: the brain finishes it (summary, archive,
//   state) on its next pass, so the doctor never finishes a batch itself; with no brain
//   running that is a problem for a person (start the rig), with one it is only noted.
// - complete although a task failed: the record becomes failed (brain-owned, but the brain
//   keeps no finished batch in memory, so this write cannot race it).
// - brain/state.json entries (final but still active, active without a record): changed
//   only while no brain runs, because a running brain rewrites state.json from memory.
import type { BatchRecord } from '../../core/batch.ts';
import { endsComplete } from '../../core/task.ts';
import { type TaskView, countTasks, isTerminal } from '../../brain/decide.ts';
import { FINAL_STATES, type Finding, plural } from '../findings.ts';
import type { BatchRecordView } from '../snapshot.ts';
import type { MountView } from './view.ts';

/** One check of one batch record, run for every record in brain/batches/. */
export type BatchCheck = (b: BatchRecordView, view: MountView) => Finding[];

/** The action of a brain/state.json change the doctor may not make while a brain runs. */
function whileBrainRuns(view: MountView): string {
  return `nothing while the brain runs (${view.snap.brain.why}; it rewrites brain/state.json from memory): stop the rig, then run doctor --repair`;
}

/** A record file that does not parse. */
export function badRecord(b: BatchRecordView): Finding[] {
  if (b.record) return [];
  return [{
    kind: 'BAD_BATCH_RECORD', subject: b.rel, problem: b.problem ?? 'not a valid batch record',
    action: 'nothing: fix or remove it by hand (its tasks are not treated as orphans meanwhile)', severity: 'manual', repair: null,
  }];
}

/** Running or pending, but every task is done for good: the brain finishes it. */
export function unfinishedBatch({ record: rec }: BatchRecordView, { snap, live, config }: MountView): Finding[] {
  if (!rec || (rec.state !== 'running' && rec.state !== 'pending')) return [];
  const views = rec.task_ids.map((id) => live.get(id));
  if (rec.task_ids.length === 0 || !views.every((v) => v && isTerminal(v, config))) return [];
  const running = snap.brain.running;
  return [{
    kind: 'BATCH_NOT_FINISHED', subject: rec.id,
    problem: `record says ${rec.state} but ${rec.task_ids.length === 1 ? 'its only task is' : `all ${rec.task_ids.length} tasks are`} complete or failed for good`,
    action: running
      ? `nothing: the brain (${snap.brain.why}) finishes it on its next pass`
      : `nothing: the brain is not running (${snap.brain.why}); start the rig and the brain finishes it on its first pass`,
    severity: running ? 'info' : 'manual', repair: null,
  }];
}

/** Where each task of a finished batch ended: live copies over archived ones (an archived task came from complete/ when it succeeded or a gate skipped it). */
function endedTasks(rec: BatchRecord, { snap, live }: MountView): Map<string, TaskView> {
  const merged = new Map<string, TaskView>();
  for (const t of snap.archived[rec.id] ?? []) merged.set(t.id, { folder: endsComplete(t.result?.outcome) ? 'complete' : 'failed', task: t });
  for (const id of rec.task_ids) {
    const v = live.get(id);
    if (v) merged.set(id, v);
  }
  return merged;
}

/** Recorded complete although a task failed (archived tasks included): the record becomes failed. */
export function wrongStateBatch({ record: rec }: BatchRecordView, view: MountView): Finding[] {
  if (!rec || rec.state !== 'complete') return [];
  const merged = endedTasks(rec, view);
  const failed = rec.task_ids.filter((id) => {
    const v = merged.get(id);
    return v && (v.folder === 'failed' || (v.folder === 'private' && v.task.result?.outcome === 'not_run'));
  });
  if (!failed.length) return [];
  const named = failed.slice(0, 3).join(', ') + (failed.length > 3 ? ` and ${failed.length - 3} more` : '');
  return [{
    kind: 'BATCH_WRONG_STATE', subject: rec.id,
    problem: `record says complete but ${plural(failed.length, 'task')} failed (${named})`,
    action: `set the record's state to failed`,
    severity: 'repair', repair: { kind: 'set_batch_failed', batch: rec.id, failed, counts: countTasks(rec, merged) },
  }];
}

/** Final, but still in brain/state.json's active_batches: the brain stopped while archiving it. */
export function finalBatchActive({ record: rec }: BatchRecordView, view: MountView): Finding[] {
  const { snap, live } = view;
  if (!rec || !FINAL_STATES.has(rec.state) || !(snap.state?.active_batches ?? []).includes(rec.id)) return [];
  const tasks = rec.task_ids.flatMap((id) => {
    const v = live.get(id);
    return v && (v.folder === 'complete' || v.folder === 'failed') ? [{ folder: v.folder, id }] : [];
  });
  const archive = tasks.length ? `move its ${plural(tasks.length, 'finished task')} to tasks/archive/${rec.id}/ and ` : '';
  const running = snap.brain.running;
  return [{
    kind: 'FINAL_BATCH_ACTIVE', subject: rec.id,
    problem: `record says ${rec.state} but brain/state.json still lists it as active (the brain stopped while archiving it)`,
    action: running ? whileBrainRuns(view) : `${archive}remove it from active_batches`,
    severity: running ? 'manual' : 'repair',
    repair: running ? null : { kind: 'archive_and_drop', batch: rec.id, tasks },
  }];
}

/** The checks of one record, in the order their findings are listed. */
export const BATCH_CHECKS: readonly BatchCheck[] = [badRecord, unfinishedBatch, wrongStateBatch, finalBatchActive];

/** Every batch record through BATCH_CHECKS: a record's findings stay together. */
export function batchRecords(view: MountView): Finding[] {
  return view.snap.batches.flatMap((b) => BATCH_CHECKS.flatMap((check) => check(b, view)));
}

/** brain/state.json lists a batch that has no record file. */
export function activeWithoutRecord(view: MountView): Finding[] {
  const { snap, records } = view;
  const running = snap.brain.running;
  return (snap.state?.active_batches ?? []).filter((id) => !records.has(id)).map((id): Finding => ({
    kind: 'ACTIVE_WITHOUT_RECORD', subject: id,
    problem: `brain/state.json lists it as active but brain/batches/${id}.json does not exist`,
    action: running ? whileBrainRuns(view) : 'remove it from active_batches',
    severity: running ? 'manual' : 'repair',
    repair: running ? null : { kind: 'drop_active', batch: id },
  }));
}
