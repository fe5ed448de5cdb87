// Tasks of an active batch found in no folder. A task moves only by rename, so it is always in
// exactly one folder, except for the milliseconds of a take-and-replace (store.ts), which any
// reader finishes after TAKEN_STALE_MS. A task missing for longer was deleted or quarantined
// by someone; left alone, its batch would stay `running` for ever while status says "waiting".
// Pure: which ids have been missing long enough, judged on the brain's own clock between scans.
import type { TaskFolder } from '../core/paths.ts';
import type { Task } from '../core/task.ts';

/** Twice the store's TAKEN_STALE_MS: by then an interrupted move has been finished by some reader. */
export const MISSING_AFTER_MS = 60_000;

export interface MissingScan {
  /** Task ids of the active, unfinished batches. */
  expected: Iterable<string>;
  /** Where each task was seen in this scan. */
  seen: ReadonlyMap<string, TaskFolder>;
  /** When each id was first seen missing (kept by the caller across scans; updated in place). */
  since: Map<string, number>;
  now: number;
  afterMs?: number;
}

/** Ids missing for at least afterMs, continuously; ids seen again are forgotten. */
export function overdueMissing(s: MissingScan): string[] {
  const after = s.afterMs ?? MISSING_AFTER_MS;
  const expected = new Set(s.expected);
  for (const id of s.since.keys()) if (s.seen.has(id) || !expected.has(id)) s.since.delete(id);
  const out: string[] = [];
  for (const id of expected) {
    if (s.seen.has(id)) continue;
    const first = s.since.get(id);
    if (first === undefined) s.since.set(id, s.now);
    else if (s.now - first >= after) out.push(id);
  }
  return out;
}

export type TakeBack =
  /** Put back where the brain last saw it, as it was (it had not been handed to an agent). */
  | { kind: 'restore'; folder: TaskFolder; task: Task }
  /** It was queued or running: back as a lost attempt (infra), so the retry rules release it again. */
  | { kind: 'lost'; task: Task }
  /** The brain never read it: nothing to rebuild it from. */
  | { kind: 'unknown' };

/** Pure: how to take a missing task back from the brain's last view of it. */
export function decideTakeBack(last: { folder: TaskFolder; task: Task } | undefined): TakeBack {
  if (!last) return { kind: 'unknown' };
  // Queued and never claimed: nobody ran it; it is released again as it was.
  if (last.folder === 'queue' && last.task.claimed_by === null) return { kind: 'restore', folder: 'queue', task: last.task };
  if (last.folder === 'queue' || last.folder === 'processing') return { kind: 'lost', task: last.task };
  return { kind: 'restore', folder: last.folder, task: last.task };
}
