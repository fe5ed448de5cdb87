// The brain's decisions for one batch: a pure function of the batch's tasks (where each
// is and what it holds), the approvals present and the config. The loop in brain.ts acts, through applyAction.ts.
import { type Config, taskModel } from '../core/config.ts';
import type { TaskFolder } from '../core/paths.ts';
import { type Task, taskId } from '../core/task.ts';
import type { BatchRecord, BatchState, TaskCounts } from '../core/batch.ts';
import { type Controls, NO_CONTROLS } from '../core/controls.ts';
import { decideRetry, retryDelayMs } from './retry.ts';
import { type GateSkips, gateSkips, mutedGate, skipCause } from './gateSkip.ts';

export interface TaskView {
  folder: TaskFolder;
  task: Task;
}

export type BrainAction =
  | { kind: 'start_batch' }
  | { kind: 'release'; id: string; reason: string }
  /** Ready tasks kept in private/ because the batch has release.max_queued in queue/: the brain watches claims until they go. */
  | { kind: 'hold'; count: number }
  | { kind: 'retry'; id: string; attempt: { n: number; of: number }; reason: string; raiseVramTo: number | null }
  | { kind: 'backoff'; id: string; attempt: { n: number; of: number }; waitMs: number; leftMs: number; reason: string }
  | { kind: 'cancel_batch' }
  | { kind: 'cancel_task'; id: string; from: 'private' | 'queue' | 'failed'; reason: string }
  | { kind: 'give_up'; id: string; attempt: { n: number; of: number }; reason: string }
  | { kind: 'park'; id: string; reason: string }
  | { kind: 'unpark'; id: string }
  | { kind: 'not_run'; id: string; reason: string }
  /** A gate before it said no (gateSkip.ts): the task ends in complete/ as skipped. */
  | { kind: 'skip'; id: string; reason: string }
  | { kind: 'unschedulable'; id: string; reason: string }
  | { kind: 'expand'; id: string }
  | { kind: 'create_children'; id: string; from: number; count: number }
  | { kind: 'retire_child'; id: string; template: string; ok: boolean }
  | { kind: 'close_template'; id: string; ok: boolean; reason: string }
  | { kind: 'summarize'; id: string }
  | { kind: 'finish_batch'; state: BatchState; counts: TaskCounts; skipped?: GateSkips };

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

/**
 * A windowed foreach template's children as the brain holds them: the live ones (made and not
 * archived yet, by id) and how many finished and were archived. Keyed by template id.
 */
export interface WindowView {
  live: readonly string[];
  complete: number;
  failed: number;
}

const NO_WINDOWS: ReadonlyMap<string, WindowView> = new Map();

function countOne(c: TaskCounts, v: TaskView | undefined): void {
  c.total += 1;
  if (!v || v.folder === 'private') c.waiting += 1;
  else if (v.folder === 'queue') c.queued += 1;
  else if (v.folder === 'processing') c.processing += 1;
  else if (v.folder === 'complete' && v.task.result?.outcome === 'skipped') c.skipped += 1;
  else if (v.folder === 'complete') c.complete += 1;
  else c.failed += 1;
}

/** The batch's counts; a windowed foreach adds its items: archived ones from `windows`, live ones by folder, the rest waiting (failed once the template has ended). */
export function countTasks(batch: BatchRecord, tasks: Map<string, TaskView>, windows: ReadonlyMap<string, WindowView> = NO_WINDOWS): TaskCounts {
  const c: TaskCounts = { total: 0, waiting: 0, queued: 0, processing: 0, complete: 0, failed: 0, skipped: 0 };
  for (const id of batch.task_ids) {
    const v = tasks.get(id);
    countOne(c, v);
    const win = v?.task.window;
    if (!win) continue;
    const w = windows.get(id);
    const archived = (w?.complete ?? 0) + (w?.failed ?? 0);
    c.complete += w?.complete ?? 0;
    c.failed += w?.failed ?? 0;
    let live = 0;
    for (const child of w?.live ?? []) {
      const cv = tasks.get(child);
      // One past the cursor was written by a pass that died before moving it: not made yet.
      if (!cv || (cv.task.item_index ?? 0) >= win.created) continue;
      countOne(c, cv);
      live += 1;
    }
    c.total += win.items - live;
    // Items not made by a template that has ended (cancelled, or its manifest failed) never
    // run: failed, as a cancelled task is (in failed/, listed in not_run), not waiting for ever.
    const ended = v!.folder === 'failed' || v!.folder === 'complete';
    if (ended) c.failed += win.items - live - archived;
    else c.waiting += win.items - live - archived;
  }
  return c;
}

/** What else decideBatch may know: how long failures have waited, and the operator controls. */
export interface BatchContext {
  /** How long the brain has seen a task's current failure, on its own clock (ms). Default: forever (retry at once). */
  failedForMs?: (id: string) => number;
  /** control/ on the mount: cancels and pauses. Default none. */
  controls?: Controls;
  /** Windowed foreach templates' children (brainIndex.ts). Default none. */
  windows?: ReadonlyMap<string, WindowView>;
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
  windows: ReadonlyMap<string, WindowView>;
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
  const seen: Seen = { tasks, approvals, config, maxBudgetMb, modelMb, failedForMs: ctx.failedForMs ?? (() => Infinity), paused: controls.pause.has(batch.id), windows: ctx.windows ?? NO_WINDOWS };
  const batchCancelled = batch.cancelled_at !== null || controls.cancel.has(batch.id);
  if (batchCancelled && batch.cancelled_at === null) actions.push({ kind: 'cancel_batch' });
  const announced = new Set(batch.failed_tasks);
  const notRun = new Set(batch.not_run);
  let allTerminal = true;
  let summary: string | null = null;
  // The plan's tasks, then the live children of each windowed foreach (at most a window each).
  const ids = [...batch.task_ids];
  for (const id of batch.task_ids) ids.push(...(seen.windows.get(id)?.live ?? []));

  let queued = 0;
  for (const id of ids) {
    const view = tasks.get(id);
    if (!view) {
      allTerminal = false;
      continue;
    }
    if (view.folder === 'queue') queued += 1;
    if (!isTerminal(view, config)) allTerminal = false;
    const win = view.task.template !== null ? windowOf(batch, view.task, tasks) : null;
    if (win) {
      // Made by a pass that died before its cursor moved: made again (the same file) before it runs.
      if ((view.task.item_index ?? 0) >= win.created) continue;
      // A finished child leaves the folders and the brain's memory once its end has been said.
      const ok = view.folder === 'complete';
      if (ok || (isFinalFailure(view, config) && (announced.has(id) || notRun.has(id) || view.task.result?.outcome === 'not_run'))) {
        actions.push({ kind: 'retire_child', id, template: taskId(batch.id, view.task.template!), ok });
        continue;
      }
    }
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

  // At most release.max_queued of the batch wait in queue/ (every claim pass reads them all);
  // the rest go as those are claimed, in id order, the batch's own order.
  let room = config.release.max_queued - queued;
  const kept = actions.filter((a) => a.kind !== 'release' || room-- > 0);
  if (kept.length < actions.length) kept.push({ kind: 'hold', count: actions.length - kept.length });
  actions.length = 0;
  // Children a window made earlier go out before more are made (sort is stable).
  actions.push(...kept.sort((a, b) => Number(a.kind === 'create_children') - Number(b.kind === 'create_children')));

  // The summary runs once everything else is terminal, whether it succeeded or not.
  if (summary) {
    const others = ids.filter((id) => id !== summary);
    if (others.every((id) => { const v = tasks.get(id); return v && isTerminal(v, config); })) {
      actions.push({ kind: 'summarize', id: summary });
    }
  }

  if (allTerminal && batch.task_ids.length > 0) actions.push(finishBatch(batch, ids, seen, batchCancelled));
  return actions;
}

/** The batch's end: cancelled, failed when a task failed (skipped ones did not), else complete; with what gates skipped. */
function finishBatch(batch: BatchRecord, ids: readonly string[], seen: Seen, cancelled: boolean): BrainAction {
  const counts = countTasks(batch, seen.tasks, seen.windows);
  const skipped = counts.skipped > 0 ? gateSkips(ids, seen.tasks) : undefined;
  return { kind: 'finish_batch', state: cancelled ? 'cancelled' : counts.failed > 0 ? 'failed' : 'complete', counts, ...(skipped ? { skipped } : {}) };
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
  // Likewise a skip written but not moved: the same record, moved on.
  if (t.result?.outcome === 'skipped') return { kind: 'skip', id, reason: t.result.reason ?? 'a gate before it said no' };
  if (t.executor === 'brain' && t.type === 'batch_summary') return 'summary';
  if (t.parked === 'approval') return approvals.has(id) ? { kind: 'unpark', id } : null;
  if (seen.paused) return null;

  const states = t.depends_on.map((d) => [d, depState(d, tasks, config)] as const);
  const failedDep = states.find(([, s]) => s === 'failed');
  if (failedDep) {
    return { kind: 'not_run', id, reason: `dependency ${tasks.get(failedDep[0])?.task.name ?? failedDep[0]} failed` };
  }
  const muted = t.depends_on.find((d) => mutedGate(tasks.get(d)));
  if (muted) return { kind: 'not_run', id, reason: `gate ${tasks.get(muted)!.task.name} completed without a verdict on its result (run by a worker older than gate tasks?): not run rather than guess` };
  // A gate before it said no (or a task skipped by one): it will never run, whatever the others do.
  const cause = skipCause(t.depends_on, tasks);
  if (cause) return { kind: 'skip', id, reason: cause.reason };
  if (states.some(([, s]) => s === 'pending')) return null;

  if (t.foreach && t.expanded_into === null) return { kind: 'expand', id };
  if (t.window !== null) return decideWindow(id, t.window, seen);
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

/** The window of a child's template when that foreach is windowed; null otherwise. */
function windowOf(batch: BatchRecord, child: Task, tasks: Map<string, TaskView>): { items: number; created: number } | null {
  return tasks.get(taskId(batch.id, child.template!))?.task.window ?? null;
}

/**
 * Most children of a windowed foreach made by one action: each is a file written and synced, and
 * a window made in one go (256) kept the pass, and the first release, waiting for seconds.
 */
export const CHILDREN_PER_PASS = 32;

/**
 * A windowed foreach: its next children made while fewer than a window are unfinished, in item
 * order; closed once every item was made and every child finished and was archived (the counts
 * are then whole), ok only when none failed.
 */
export function decideWindow(id: string, win: { items: number; created: number }, seen: Pick<Seen, 'tasks' | 'config' | 'windows'>): BrainAction | null {
  const w = seen.windows.get(id);
  let live = 0;
  let unfinished = 0;
  for (const child of w?.live ?? []) {
    const v = seen.tasks.get(child);
    if (!v || (v.task.item_index ?? 0) >= win.created) continue;
    live += 1;
    if (!isTerminal(v, seen.config)) unfinished += 1;
  }
  if (win.created < win.items) {
    const count = Math.min(seen.config.foreach.window - unfinished, win.items - win.created, CHILDREN_PER_PASS);
    return count > 0 ? { kind: 'create_children', id, from: win.created, count } : null;
  }
  if (live > 0) return null;
  const failed = w?.failed ?? 0;
  return failed === 0
    ? { kind: 'close_template', id, ok: true, reason: `all ${win.items} items complete` }
    : { kind: 'close_template', id, ok: false, reason: `${failed} of ${win.items} items failed` };
}
