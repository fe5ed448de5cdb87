// The order work is taken in, the same for the brain's releases and every agent's claims:
// higher priority first (1 is the highest, 5 the lowest, 3 when unset; 0 only for realtime
// questions, brain/askDecide.ts); within one priority
// the batches take turns, one task each in turn (round-robin), the older batch first in each
// round. So a 10-task batch submitted after a 10,000-task one of the same priority gets every
// other claim instead of waiting for the big one to drain, and an urgent batch goes first.
// Within a batch, tasks keep their id order (the order the brain made them in). A batch's turns
// count from the tasks it already has running: the claimer passes how many are in processing/,
// so a batch that holds the rig's workers waits while one that holds none goes next, whatever
// their ages (without it, each fresh decision would hand the older batch turn 0 again).
//
// Pure and stable: every agent sorts the same queue into the same order, so racing agents
// contend for the head of it and the losers move on to the next task.
import { batchOfTaskId } from './batch.ts';
import { compareText } from './textOrder.ts';

export const PRIORITY_HIGHEST = 1;
export const PRIORITY_LOWEST = 5;
export const PRIORITY_DEFAULT = 3;
/** Realtime questions (forge ask, requests/): ahead of every batch's tasks. Never a batch's priority. */
export const PRIORITY_REALTIME = 0;

export interface Orderable {
  /** The task id: `<batch>__<name>` (the batch id starts with its submission time). */
  id: string;
  priority?: number | null;
}

/** A priority as written, or the default when unset or out of range. */
export function priorityOf(p: number | null | undefined): number {
  return typeof p === 'number' && Number.isInteger(p) && p >= PRIORITY_REALTIME && p <= PRIORITY_LOWEST ? p : PRIORITY_DEFAULT;
}

/** The items in the order they should be taken (a new array); `running(batch)`: its tasks already running. */
export function fairOrder<T extends Orderable>(items: readonly T[], running: (batch: string) => number = () => 0): T[] {
  // Each item's turn within its batch: its rank among the batch's items in id order.
  const byBatch = new Map<string, T[]>();
  for (const item of items) {
    const batch = batchOfTaskId(item.id);
    const list = byBatch.get(batch);
    if (list) list.push(item);
    else byBatch.set(batch, [item]);
  }
  const keyed: Array<{ item: T; priority: number; turn: number; batch: string }> = [];
  for (const [batch, list] of byBatch) {
    list.sort((a, b) => compareText(a.id, b.id));
    const first = running(batch);
    list.forEach((item, rank) => keyed.push({ item, priority: priorityOf(item.priority), turn: first + rank, batch }));
  }
  keyed.sort((a, b) => a.priority - b.priority || a.turn - b.turn || compareText(a.batch, b.batch) || compareText(a.item.id, b.item.id));
  return keyed.map((k) => k.item);
}
