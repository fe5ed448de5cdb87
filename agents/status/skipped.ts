// The tasks a gate's "no" skipped, for status: those of running batches from the task folders
// (complete/, outcome skipped), those of finished batches from their records (their task files
// are archived by then). Pure.
import { type BatchRecord, batchOfTaskId } from '../core/batch.ts';
import { gateSkips } from '../brain/gateSkip.ts';
import type { LocatedTask } from './waitReason.ts';
import { compareText } from '../core/textOrder.ts';

export interface SkippedItem {
  task_id: string;
  batch: string;
  /** Always 'skipped': the state the task ended in (not failed, not not_run). */
  state: 'skipped';
  /** The gate task that said no ('' when it could not be told). */
  gate: string;
  /** "gate <name> said no: <its reason>". */
  reason: string;
}

export function skippedTasks(batches: readonly BatchRecord[], byId: ReadonlyMap<string, LocatedTask>): SkippedItem[] {
  const out = new Map<string, SkippedItem>();
  const add = (gate: string, reason: string, ids: readonly string[]) => {
    for (const id of ids) if (!out.has(id)) out.set(id, { task_id: id, batch: batchOfTaskId(id), state: 'skipped', gate, reason });
  };
  const live = [...byId].filter(([, v]) => v.folder === 'complete' && v.task.result?.outcome === 'skipped').map(([id]) => id);
  if (live.length) for (const [gate, s] of Object.entries(gateSkips(live, byId))) add(gate, s.reason, s.tasks);
  for (const rec of batches) for (const [gate, s] of Object.entries(rec.skipped_by_gate)) add(gate, s.reason, s.tasks);
  return [...out.values()].sort((a, b) => compareText(a.batch, b.batch) || compareText(a.task_id, b.task_id));
}
