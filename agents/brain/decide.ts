// The brain's decisions for one batch: a pure function of the batch's tasks (where each
// is and what it holds), the approvals present and the config. The loop in brain.ts acts, through applyAction.ts.
import { type Config, taskModel } from '../core/config.ts';
import type { TaskFolder } from '../core/paths.ts';
import type { Task } from '../core/task.ts';
import type { BatchRecord, BatchState, TaskCounts } from '../core/batch.ts';
import { type Controls, NO_CONTROLS } from '../core/controls.ts';
import { decideRetry, retryDelayMs } from './retry.ts';

export interface TaskView {
  folder: TaskFolder;
  task: Task;
}

export type BrainAction =
  | { kind: 'start_batch' }
  | { kind: 'release'; id: string; reason: string }
  | { kind: 'retry'; id: string; attempt: { n: number; of: number }; reason: string; raiseVramTo: number | null }
  | { kind: 'backoff'; id: string; attempt: { n: number; of: number }; waitMs: number; leftMs: number; reason: string }
  | { kind: 'cancel_batch' }
  | { kind: 'cancel_task'; id: string; from: 'private' | 'queue' | 'failed'; reason: string }
  | { kind: 'give_up'; id: string; attempt: { n: number; of: number }; reason: string }
  | { kind: 'park'; id: string; reason: string }
  | { kind: 'unpark'; id: string }
  | { kind: 'not_run'; id: string; reason: string }
  | { kind: 'unschedulable'; id: string; reason: string }
  | { kind: 'expand'; id: string }
  | { kind: 'close_template'; id: string; ok: boolean; reason: string }
  | { kind: 'summarize'; id: string }
  | { kind: 'finish_batch'; state: BatchState; counts: TaskCounts };

type DepState = 'done' | 'failed' | 'pending';

/** A task in failed/ that will not be tried again (or was never run). */
export function isFinalFailure(view: TaskView, config: Config): boolean {
  if (view.folder !== 'failed') return false;
  if (view.task.result?.outcome === 'needs_approval') return false;
  return !decideRetry(view.task, config).retry;
}

export function isTerminal(view: TaskView, config: Config): boolean {
  return view.folder === 'complete' || isFinalFailure(view, config);
}

function depState(id: string, tasks: Map<string, TaskView>, config: Config): DepState {
  const v = tasks.get(id);
  if (!v) return 'pending';
  if (v.folder === 'complete') return 'done';
  if (isFinalFailure(v, config)) return 'failed';
  if (v.folder === 'private' && v.task.result?.outcome === 'not_run') return 'failed';
  return 'pending';
}

export function countTasks(batch: BatchRecord, tasks: Map<string, TaskView>): TaskCounts {
  const c: TaskCounts = { total: 0, waiting: 0, queued: 0, processing: 0, complete: 0, failed: 0 };
  for (const id of batch.task_ids) {
    const v = tasks.get(id);
    c.total += 1;
    if (!v || v.folder === 'private') c.waiting += 1;
    else if (v.folder === 'queue') c.queued += 1;
    else if (v.folder === 'processing') c.processing += 1;
    else if (v.folder === 'complete') c.complete += 1;
    else c.failed += 1;
  }
  return c;
}

/** What else decideBatch may know: how long failures have waited, and the operator controls. */
export interface BatchContext {
  /** How long the brain has seen a task's current failure, on its own clock (ms). Default: forever (retry at once). */
  failedForMs?: (id: string) => number;
  /** control/ on the mount: cancels and pauses. Default none. */
  controls?: Controls;
}

/** What decideBatch looks at besides the batch: every task's view, the approvals, the config, the GPUs' budget. */
interface Seen {
  tasks: Map<string, TaskView>;
  approvals: ReadonlySet<string>;
  config: Config;
  /** The largest VRAM budget of any GPU seen (MB), or null while no agent has reported. */
  maxBudgetMb: number | null;
  /** A model's resident size where known (config models, or measured), MB. */
  modelMb: (model: string) => number | null;
  failedForMs: (id: string) => number;
  /** No task of the batch is released or requeued (control/pause/<batch>). */
  paused: boolean;
}

export function decideBatch(
  batch: BatchRecord,
  tasks: Map<string, TaskView>,
  approvals: ReadonlySet<string>,
  config: Config,
  /** The largest VRAM budget of any GPU seen (MB), or null while no agent has reported. */
  maxBudgetMb: number | null = null,
  modelMb: (model: string) => number | null = () => null,
  ctx: BatchContext = {},
): BrainAction[] {
  const actions: BrainAction[] = [];
  if (batch.state === 'complete' || batch.state === 'failed' || batch.state === 'cancelled') return actions;
  if (batch.state === 'pending') actions.push({ kind: 'start_batch' });

  const controls = ctx.controls ?? NO_CONTROLS;
  const seen: Seen = { tasks, approvals, config, maxBudgetMb, modelMb, failedForMs: ctx.failedForMs ?? (() => Infinity), paused: controls.pause.has(batch.id) };
  const batchCancelled = batch.cancelled_at !== null || controls.cancel.has(batch.id);
  if (batchCancelled && batch.cancelled_at === null) actions.push({ kind: 'cancel_batch' });
  const announced = new Set(batch.failed_tasks);
  let allTerminal = true;
  let summary: string | null = null;

  for (const id of batch.task_ids) {
    const view = tasks.get(id);
    if (!view) {
      allTerminal = false;
      continue;
    }
    if (!isTerminal(view, config)) allTerminal = false;
    const isSummary = view.task.executor === 'brain' && view.task.type === 'batch_summary';
    // The summary still runs in a cancelled batch: it says what ran and what did not.
    if (!isSummary && (batchCancelled || controls.cancel.has(id))) {
      const cancel = decideCancel(id, view, config, batchCancelled ? `batch ${batch.id} cancelled` : 'cancelled');
      if (cancel) actions.push(cancel);
      continue;
    }
    const next = view.folder === 'failed' ? decideFailed(id, view.task, announced, seen) : view.folder === 'private' ? decidePrivate(id, view.task, seen) : null;
    if (next === 'summary') summary = id;
    else if (next) actions.push(next);
  }

  // The summary runs once everything else is terminal, whether it succeeded or not.
  if (summary) {
    const others = batch.task_ids.filter((id) => id !== summary);
    if (others.every((id) => { const v = tasks.get(id); return v && isTerminal(v, config); })) {
      actions.push({ kind: 'summarize', id: summary });
    }
  }

  if (allTerminal && batch.task_ids.length > 0) {
    const counts = countTasks(batch, tasks);
    actions.push({ kind: 'finish_batch', state: batchCancelled ? 'cancelled' : counts.failed > 0 ? 'failed' : 'complete', counts });
  }
  return actions;
}

/**
 * A task of a cancelled batch (or cancelled itself) that has not ended: out of private/ or
 * queue/ into failed/ as cancelled, or a failed one kept from its retry. One in processing/ is
 * stopped by its agent (it reads control/cancel/ too) and comes back cancelled.
 */
function decideCancel(id: string, view: TaskView, config: Config, why: string): BrainAction | null {
  if (view.folder === 'private' || view.folder === 'queue') return { kind: 'cancel_task', id, from: view.folder, reason: why };
  if (view.folder === 'failed' && !isFinalFailure(view, config)) return { kind: 'cancel_task', id, from: 'failed', reason: why };
  return null;
}

/** A task in failed/: parked for approval, retried once its backoff has passed, or given up (announced once: `announced` holds the batch's failed_tasks). */
function decideFailed(id: string, t: Task, announced: ReadonlySet<string>, seen: Seen): BrainAction | null {
  const { config } = seen;
  if (t.result?.outcome === 'needs_approval') {
    return { kind: 'park', id, reason: t.result.reason ?? 'the executor asks for approval' };
  }
  const verdict = decideRetry(t, config);
  if (verdict.retry) {
    if (seen.paused) return null;
    const waitMs = retryDelayMs(t, config);
    const waited = seen.failedForMs(id);
    if (waited < waitMs) return { kind: 'backoff', id, attempt: verdict.attempt, waitMs, leftMs: waitMs - waited, reason: verdict.reason };
    return { kind: 'retry', id, attempt: verdict.attempt, reason: verdict.reason, raiseVramTo: verdict.raiseVramTo };
  }
  if (!announced.has(id) && t.result?.outcome !== 'not_run') {
    return { kind: 'give_up', id, attempt: verdict.attempt, reason: verdict.reason };
  }
  return null;
}

/** A task in private/: what to do with it now, 'summary' for the batch's summary task (decided last), or null to wait. */
function decidePrivate(id: string, t: Task, seen: Seen): BrainAction | 'summary' | null {
  const { tasks, approvals, config, maxBudgetMb, modelMb } = seen;
  // A not_run record the brain wrote but did not move yet (crash in between).
  if (t.result?.outcome === 'not_run') return { kind: 'not_run', id, reason: t.result.reason ?? 'a dependency failed' };
  if (t.executor === 'brain' && t.type === 'batch_summary') return 'summary';
  if (t.parked === 'approval') return approvals.has(id) ? { kind: 'unpark', id } : null;
  if (seen.paused) return null;

  const states = t.depends_on.map((d) => [d, depState(d, tasks, config)] as const);
  const failedDep = states.find(([, s]) => s === 'failed');
  if (failedDep) {
    return { kind: 'not_run', id, reason: `dependency ${tasks.get(failedDep[0])?.task.name ?? failedDep[0]} failed` };
  }
  if (states.some(([, s]) => s === 'pending')) return null;

  if (t.foreach && t.expanded_into === null) return { kind: 'expand', id };
  if (t.expanded_into !== null) return decideTemplate(id, t.expanded_into, tasks, config);
  if (t.task_class === 'script' && maxBudgetMb !== null && t.vram_estimate_mb > maxBudgetMb) {
    return { kind: 'unschedulable', id, reason: `needs ${t.vram_estimate_mb} MB of VRAM but the largest GPU budget is ${maxBudgetMb} MB; it can never run here` };
  }
  if (t.task_class === 'llm' && maxBudgetMb !== null) {
    const model = taskModel(t, config);
    const size = modelMb(model);
    if (size !== null && size > maxBudgetMb) {
      return { kind: 'unschedulable', id, reason: `its model ${model} needs ${size} MB of VRAM but the largest GPU budget is ${maxBudgetMb} MB; no card can hold it (name a smaller model, or a card with more memory)` };
    }
  }
  return { kind: 'release', id, reason: t.depends_on.length ? 'dependencies complete' : 'no dependencies' };
}

/** An expanded foreach task: closed once every item is terminal, ok only when all completed. */
function decideTemplate(id: string, items: readonly string[], tasks: Map<string, TaskView>, config: Config): BrainAction | null {
  const children = items.map((c) => tasks.get(c));
  if (children.some((c) => !c || !isTerminal(c, config))) return null;
  const bad = children.filter((c) => c && c.folder !== 'complete').length;
  return bad === 0
    ? { kind: 'close_template', id, ok: true, reason: `all ${children.length} items complete` }
    : { kind: 'close_template', id, ok: false, reason: `${bad} of ${children.length} items failed` };
}
