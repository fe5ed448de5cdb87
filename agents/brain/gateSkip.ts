// Pure: which tasks a gate's "no" skips, and why. A task is skipped when one of its
// dependencies is a gate that completed saying proceed: false, or is skipped itself; so a
// gate's "no" reaches every task behind it, however far. A skipped task ends in complete/
// with the outcome `skipped`: terminal, and not a failure (the batch can still complete).
import { type GateVerdict, gateSaidNo } from '../core/gate.ts';
import type { Task } from '../core/task.ts';

/** A task where the brain sees it (decide.ts TaskView, status's LocatedTask). */
export interface SeenTask {
  folder: string;
  task: Pick<Task, 'name' | 'gate' | 'depends_on' | 'result'>;
}

export interface SkipCause {
  /** The id of the gate that said no. */
  gate: string;
  /** "gate <name> said no: <its reason>", the skipped task's reason. */
  reason: string;
}

/** A gate that completed and said no: its verdict; null for anything else. */
export function refusal(v: SeenTask | undefined): GateVerdict | null {
  if (!v || v.folder !== 'complete' || !v.task.gate) return null;
  const r = v.task.result;
  return r?.outcome === 'success' && r.gate?.proceed === false ? r.gate : null;
}

/**
 * A gate in complete/ whose result carries no verdict: its worker did not read one (a worker
 * older than gate tasks). What is behind it is not run rather than run on a guess.
 */
export function mutedGate(v: SeenTask | undefined): boolean {
  return v !== undefined && v.folder === 'complete' && v.task.gate && v.task.result?.outcome === 'success' && v.task.result.gate === undefined;
}

/** Skipped: in complete/, or written so in private/ by a brain that stopped before moving it. */
export function isSkipped(v: SeenTask | undefined): boolean {
  return v !== undefined && v.task.result?.outcome === 'skipped' && (v.folder === 'complete' || v.folder === 'private');
}

/**
 * Why a task with these dependencies is skipped: the first of them that is a gate that said
 * no, else the cause of the first that is skipped itself; null when none is either (its
 * dependencies decide as usual). `memo` keeps the causes of skipped tasks already walked.
 */
export function skipCause(dependsOn: readonly string[], tasks: ReadonlyMap<string, SeenTask>, memo = new Map<string, SkipCause | null>()): SkipCause | null {
  for (const dep of dependsOn) {
    const v = tasks.get(dep);
    const no = refusal(v);
    if (no) return { gate: dep, reason: gateSaidNo(v!.task.name, no) };
  }
  for (const dep of dependsOn) {
    const v = tasks.get(dep);
    if (!isSkipped(v)) continue;
    if (!memo.has(dep)) {
      memo.set(dep, null); // a cycle cannot be (plans are checked), but never walk one
      memo.set(dep, skipCause(v!.task.depends_on, tasks, memo) ?? { gate: '', reason: v!.task.result?.reason ?? 'a gate before it said no' });
    }
    const cause = memo.get(dep);
    if (cause) return cause;
  }
  return null;
}

/** What a finished batch records of its skipped tasks: by the gate that said no, its reason and the tasks it skipped. */
export type GateSkips = Record<string, { reason: string; tasks: string[] }>;

/** Every skipped task among `ids`, grouped by the gate that said no (a cause not found: under ''). */
export function gateSkips(ids: readonly string[], tasks: ReadonlyMap<string, SeenTask>): GateSkips {
  const out: GateSkips = {};
  const memo = new Map<string, SkipCause | null>();
  for (const id of ids) {
    const v = tasks.get(id);
    if (!v || v.folder !== 'complete' || v.task.result?.outcome !== 'skipped') continue;
    const cause = skipCause(v.task.depends_on, tasks, memo) ?? { gate: '', reason: v.task.result.reason ?? 'a gate before it said no' };
    const entry = (out[cause.gate] ??= { reason: cause.reason, tasks: [] });
    entry.tasks.push(id);
  }
  return out;
}

/**
 * Whether the task waits behind a gate that has not finished yet (directly or through tasks
 * that wait too): such a task may never run, so it is no reason to load a model for it
 * (heatManager.ts). `memo` keeps the answers of one pass.
 */
export function awaitsGate(id: string, tasks: ReadonlyMap<string, SeenTask>, memo = new Map<string, boolean>()): boolean {
  const known = memo.get(id);
  if (known !== undefined) return known;
  memo.set(id, false); // plans have no cycles; never walk one
  let waits = false;
  for (const dep of tasks.get(id)?.task.depends_on ?? []) {
    const d = tasks.get(dep);
    if (!d || d.folder === 'complete') continue;
    if (d.task.gate || awaitsGate(dep, tasks, memo)) {
      waits = true;
      break;
    }
  }
  memo.set(id, waits);
  return waits;
}
