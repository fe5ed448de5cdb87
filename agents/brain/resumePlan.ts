// What `forge submit --resume BATCH` runs again: a pure function of the batch's tasks as they
// ended, the result cache (the input key each completed task ran with, and the files it left),
// the keys computed now and the outputs found missing now. resume.ts gathers those and applies
// the verdicts.
//
// A task stays complete ("cached") when it completed, its input key is unchanged and every
// output it left is there. Every other task runs again with fresh attempts: one that failed,
// was cancelled or not run; one whose inputs changed or whose output is gone; and everything
// that depends on a task that runs again. Further:
//   - rig tasks (load_llm, unload_llm) that completed are kept: they have no inputs of their own;
//   - the batch summary always runs again (it describes the whole batch);
//   - a foreach template is made again from its manifest (its children dropped) when a task it
//     depends on runs again or it never expanded; otherwise its children are judged one by one
//     and the template waits again for those that run. A foreach made a window at a time
//     (more items than foreach.window) is kept whole when it completed and its dependencies are
//     kept, and is otherwise made again whole: its children are not judged one by one.
import type { CachedResult } from '../core/resultCache.ts';
import type { Outcome } from '../core/task.ts';

export type ResumeRole = 'work' | 'meta' | 'template' | 'child' | 'summary';

export interface ResumeTask {
  id: string;
  name: string;
  depends_on: readonly string[];
  role: ResumeRole;
  /** A template's children (expanded_into); null: not expanded. */
  children: readonly string[] | null;
  /** A foreach made a window at a time. */
  windowed: boolean;
  /** It ended complete (in complete/, outcome success). */
  complete: boolean;
  /** How it ended, for the reason of a rerun; null: no result. */
  outcome: Outcome | null;
}

export interface ResumeFacts {
  /** The result cache of the batch, by task id. */
  cached: ReadonlyMap<string, CachedResult>;
  /** The key computed now, for each task resumeKeysNeeded named; null: its files could not be read. */
  keysNow: ReadonlyMap<string, string | null>;
  /** Outputs recorded in the cache that are not there now, by task id. */
  missingOutputs: ReadonlyMap<string, readonly string[]>;
}

export type ResumeVerdict =
  | { id: string; verdict: 'keep'; reason: string }
  | { id: string; verdict: 'rerun'; reason: string }
  /** A foreach template made again from its manifest; its children in `dropped`. */
  | { id: string; verdict: 'reexpand'; reason: string; dropped: readonly string[] };

/** The tasks whose key must be computed now: complete work (or foreach items) with a cached key. */
export function resumeKeysNeeded(tasks: readonly ResumeTask[], cached: ReadonlyMap<string, CachedResult>): string[] {
  return tasks.filter((t) => (t.role === 'work' || t.role === 'child') && t.complete && cached.has(t.id)).map((t) => t.id);
}

function endedHow(t: ResumeTask): string {
  switch (t.outcome) {
    case null:
      return 'it has no result';
    case 'not_run':
      return 'it was not run';
    case 'cancelled':
      return 'it was cancelled';
    case 'success':
      return 'it did not complete';
    default:
      return `it ended ${t.outcome}`;
  }
}

/** The verdict on one task's own run, its dependencies aside. */
function ownVerdict(t: ResumeTask, facts: ResumeFacts): { rerun: boolean; reason: string } {
  if (!t.complete) return { rerun: true, reason: endedHow(t) };
  if (t.role === 'meta') return { rerun: false, reason: 'a rig task that completed' };
  const cached = facts.cached.get(t.id);
  if (!cached) return { rerun: true, reason: 'no input key was recorded for its run' };
  const now = facts.keysNow.get(t.id);
  if (now === undefined || now === null) return { rerun: true, reason: 'its input files could not be read' };
  if (now !== cached.key) return { rerun: true, reason: 'its inputs changed (its command, prompt, model, or a file it declares or names)' };
  const missing = facts.missingOutputs.get(t.id) ?? [];
  if (missing.length) return { rerun: true, reason: `its output ${missing[0]} is missing${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}` };
  return { rerun: false, reason: 'inputs unchanged, outputs present' };
}

/** One verdict per task, in the order given. */
export function planResume(tasks: readonly ResumeTask[], facts: ResumeFacts): ResumeVerdict[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const memo = new Map<string, ResumeVerdict>();
  const visiting = new Set<string>();

  /** The first dependency that does not stay as it was, or null. */
  const movingDep = (t: ResumeTask): string | null => {
    for (const d of t.depends_on) {
      const dep = byId.get(d);
      if (dep && judge(dep).verdict !== 'keep') return dep.name;
    }
    return null;
  };

  const judgeTemplate = (t: ResumeTask): ResumeVerdict => {
    const children = t.children ?? [];
    const reexpand = (reason: string): ResumeVerdict => ({ id: t.id, verdict: 'reexpand', reason, dropped: t.windowed ? [] : children });
    const dep = movingDep(t);
    if (dep !== null) return reexpand(`dependency ${dep} runs again, so its manifest is read again`);
    if (t.children === null) return reexpand(endedHow(t));
    if (t.windowed) return t.complete ? { id: t.id, verdict: 'keep', reason: 'every item completed' } : reexpand(`${endedHow(t)}; its items, made a window at a time, all run again`);
    let again = 0;
    for (const c of children) {
      const child = byId.get(c);
      const v: ResumeVerdict = child ? judgeChild(child) : { id: c, verdict: 'rerun', reason: 'its task file is gone' };
      memo.set(c, v);
      if (v.verdict !== 'keep') again += 1;
    }
    if (again > 0) return { id: t.id, verdict: 'rerun', reason: `${again} of ${children.length} items run again` };
    return t.complete ? { id: t.id, verdict: 'keep', reason: `all ${children.length} items kept` } : { id: t.id, verdict: 'rerun', reason: endedHow(t) };
  };

  const judgeChild = (t: ResumeTask): ResumeVerdict => {
    const own = ownVerdict(t, facts);
    return { id: t.id, verdict: own.rerun ? 'rerun' : 'keep', reason: own.reason };
  };

  const judge = (t: ResumeTask): ResumeVerdict => {
    const known = memo.get(t.id);
    if (known) return known;
    if (visiting.has(t.id)) return { id: t.id, verdict: 'rerun', reason: 'its dependencies form a cycle' };
    visiting.add(t.id);
    let v: ResumeVerdict;
    if (t.role === 'summary') v = { id: t.id, verdict: 'rerun', reason: 'the summary is written again for every run' };
    else if (t.role === 'template') v = judgeTemplate(t);
    else if (t.role === 'child') v = judgeChild(t); // judged with its template, which sees first whether it is made again
    else {
      const dep = movingDep(t);
      const own = ownVerdict(t, facts);
      if (own.rerun) v = { id: t.id, verdict: 'rerun', reason: own.reason };
      else if (dep !== null) v = { id: t.id, verdict: 'rerun', reason: `dependency ${dep} runs again` };
      else v = { id: t.id, verdict: 'keep', reason: own.reason };
    }
    visiting.delete(t.id);
    memo.set(t.id, v);
    return v;
  };

  // Templates first, so that their children are judged (or dropped) by them.
  for (const t of tasks) if (t.role === 'template') judge(t);
  const dropped = new Set<string>();
  for (const v of memo.values()) if (v.verdict === 'reexpand') for (const c of v.dropped) dropped.add(c);
  return tasks.filter((t) => !dropped.has(t.id)).map((t) => judge(t));
}
