// The pure rules of the log merge (brain/logMerge.ts): when a decisions spool file may be
// removed, whether a training sample file is whole JSON lines, and the round-robin order that
// lets a bounded round go on where the last one stopped.
import type { SpoolMark } from '../core/spool.ts';

/** Whether two spool marks name the same place in the same file. Pure. */
export function sameMark(a: SpoolMark | undefined, b: SpoolMark | undefined): boolean {
  return a !== undefined && b !== undefined && a.offset === b.offset && a.ino === b.ino && a.head === b.head;
}

/**
 * Whether a decisions spool file may be removed: merged to its end, quiet for retireAfterMs,
 * and its writer gone. A pid is checked only on its own host (writerPid null: another host's
 * file, which an hour of quiet alone retires; should that writer still live, its next line
 * makes the file again, with a new inode, which is merged from its start).
 */
export function shouldRetire(o: { mergedToEnd: boolean; quietMs: number; retireAfterMs: number; writerPid: number | null; alive: (pid: number) => boolean }): boolean {
  if (!o.mergedToEnd || o.quietMs < o.retireAfterMs) return false;
  return o.writerPid === null || !o.alive(o.writerPid);
}

/** A sample file's text checked: whole lines, each a JSON object. Pure. */
export function checkSampleText(text: string): { ok: true; text: string } | { ok: false; problem: string } {
  if (text === '') return { ok: false, problem: 'empty (a write cut short)' };
  if (!text.endsWith('\n')) return { ok: false, problem: 'does not end with a newline (a write cut short)' };
  const lines = text.slice(0, -1).split('\n');
  for (const [i, line] of lines.entries()) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return { ok: false, problem: `line ${i + 1} is not valid JSON` };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, problem: `line ${i + 1} is not a JSON object` };
  }
  return { ok: true, text };
}

/** `items` starting at `cursor` (mod their count), wrapping round. Pure. */
export function rotate<T>(items: readonly T[], cursor: number): T[] {
  if (items.length === 0) return [];
  const at = cursor % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

/** Rounds of the merge this far apart while the rig has work or lines came in lately (ms). */
export const MERGE_BUSY_MS = 1000;
/** And this far apart once it has been quiet for MERGE_QUIET_AFTER_MS with nothing in flight (ms). */
export const MERGE_IDLE_MS = 5000;
export const MERGE_QUIET_AFTER_MS = 10_000;

/**
 * Pure: ms to the merge's next timed round. An idle rig's round is a listing of two folders and
 * a stat per spool file, most of what an idle brain does, and nothing is there to merge; a local
 * append starts a round at once anyway (the brain watches the spool folders), so only another
 * host's lines wait the longer pace, and only while nothing is in flight. `refused`: the last
 * try did not merge (the brain's pass had merged less than MERGE_BUSY_MS before, or was merging):
 * a line that poked it must not wait for the idle pace.
 */
export function mergePaceMs(busy: boolean, sinceLinesMs: number, refused = false): number {
  return refused || busy || sinceLinesMs < MERGE_QUIET_AFTER_MS ? MERGE_BUSY_MS : MERGE_IDLE_MS;
}
