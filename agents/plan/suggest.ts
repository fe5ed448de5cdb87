// "did you mean" for names that are a typo away, and lists of names for messages, at a cost
// and a size that do not grow with the plan: a plan of 10,000 tasks, each naming a missing
// dependency, once cost minutes of edit distances and 72 MB of messages that each listed
// every task.
import { PLAN_LIMITS } from './limits.ts';

/**
 * Edits (insert, delete, substitute, swap two neighbours) that turn a into b, or limit + 1 as
 * soon as the answer must be above limit. `cells` counts the work done, for budgets.
 */
export function editDistance(a: string, b: string, limit = Infinity, cells = { used: 0 }): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const width = b.length + 1;
  let prev2 = new Int32Array(width);
  let prev = Int32Array.from({ length: width }, (_, j) => j);
  let row = new Int32Array(width);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let best = i;
    for (let j = 1; j < width; j++) {
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      row[j] = v;
      if (v < best) best = v;
    }
    cells.used += b.length;
    if (best > limit) return limit + 1;
    [prev2, prev, row] = [prev, row, prev2];
  }
  return prev[b.length]!;
}

/** How far a name may be from what was written to be offered: a third of it, at least one edit. */
function reach(written: string): number {
  return Math.max(1, Math.floor(written.length / 3));
}

/**
 * The allowed names closest to what was written (case aside), nearest first, at most `max`.
 * A shared budget of DP cells keeps a plan with thousands of unknown names from costing more
 * than a moment: once it is spent, no more names are offered.
 */
export function closestNames(written: string, allowed: readonly string[], max: number, budget = { used: 0, cells: Infinity }): string[] {
  const w = written.toLowerCase();
  const limit = Math.min(reach(written), written.length - 1);
  const found: Array<{ name: string; d: number; i: number }> = [];
  for (let i = 0; i < allowed.length && budget.used < budget.cells; i++) {
    budget.used += 1; // a comparison costs at least a cell, even one its length rules out
    const d = editDistance(w, allowed[i]!.toLowerCase(), limit, budget);
    if (d <= limit) found.push({ name: allowed[i]!, d, i });
  }
  return found.sort((x, y) => x.d - y.d || x.i - y.i).slice(0, max).map((x) => x.name);
}

/** " (did you mean 'x'?)" when one allowed name is a typo away from what was written. */
export function suggest(written: string, allowed: readonly string[]): string {
  return didYouMean(closestNames(written, allowed, 1));
}

/** " (did you mean 'a', 'b' or 'c'?)", or '' for no names. */
export function didYouMean(names: readonly string[]): string {
  if (names.length === 0) return '';
  const quoted = names.map((n) => `'${n}'`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
  return ` (did you mean ${list}?)`;
}

/** Names listed after a label while there are few ("tasks: a, b, c"); past that, only how many. */
export function listNames(label: string, names: readonly string[], listed = 10): string {
  if (names.length === 0) return `${label}: (none)`;
  if (names.length <= listed) return `${label}: ${names.join(', ')}`;
  return `${names.length.toLocaleString('en-US')} ${label}, too many to list`;
}

/**
 * At most PLAN_LIMITS.problemsShown problems, each clipped to PLAN_LIMITS.problemChars, then
 * one line counting the rest: what is printed, logged or written beside a rejected submission
 * stays small whatever the plan holds.
 */
export function capProblems(problems: readonly string[]): string[] {
  const max = PLAN_LIMITS.problemsShown;
  const clip = (p: string) => (p.length > PLAN_LIMITS.problemChars ? `${p.slice(0, PLAN_LIMITS.problemChars - 1)}…` : p);
  const shown = problems.slice(0, max).map(clip);
  const rest = problems.length - shown.length;
  if (rest > 0) shown.push(`… and ${rest.toLocaleString('en-US')} more problem${rest === 1 ? '' : 's'} (the first ${max} are listed)`);
  return shown;
}
