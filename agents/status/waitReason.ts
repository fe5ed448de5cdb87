// Why a task is not running, in one line, the way Slurm shows a reason for every pending
// job. Pure: the caller supplies where every task is, the live heartbeats and the config.
// The rules mirror the brain's release rules (brain/decide.ts) and the agents' claim
// policy (gpu/claimPolicy.ts), read from the outside through heartbeats.
import { join } from 'node:path';
import type { BatchRecord } from '../core/batch.ts';
import { type Config, DEFAULT_CONFIG } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { TaskFolder } from '../core/paths.ts';
import type { Task } from '../core/task.ts';
import { decideRetry } from '../brain/retry.ts';
import { NO_BRAIN } from './liveness.ts';
import { skipCause } from '../brain/gateSkip.ts';

export interface LocatedTask {
  task: Task;
  folder: TaskFolder;
}

export interface WaitContext {
  /** The mount's root, for the approval path a person must touch. */
  shared: string;
  /** Every known task by id, with the folder it is in. */
  tasksById: ReadonlyMap<string, LocatedTask>;
  /** Heartbeats of the agents that are alive now (stale ones left out by the caller). */
  heartbeats: readonly Heartbeat[];
  /** null when the rig has no (valid) config: the config's defaults apply. */
  config: Config | null;
  /** Task ids with a file in <shared>/approvals/ (unknown when absent). */
  approvals?: ReadonlySet<string>;
  /** No brain runs (liveness.ts brainIsDown): reasons say so instead of promising what the brain will do. */
  brainDown?: boolean;
  /** control/pause/ and control/cancel/ names: what is paused (rig, agents, batches) and cancelled. */
  paused?: ReadonlySet<string>;
  cancelled?: ReadonlySet<string>;
}

/** The config's defaults, for judging without a config file (retry caps, cpu cost). */
/** How many unfinished dependencies a reason names before "and N more". */
const MAX_DEPS_NAMED = 3;

export function indexTasks(tasks: Record<TaskFolder, readonly Task[]>): Map<string, LocatedTask> {
  const map = new Map<string, LocatedTask>();
  for (const [folder, list] of Object.entries(tasks) as Array<[TaskFolder, readonly Task[]]>) {
    for (const task of list) map.set(task.id, { task, folder });
  }
  return map;
}

/** What a person calls each folder when a task waits on another. */
export function folderWord(folder: TaskFolder | null): string {
  switch (folder) {
    case 'private':
      return 'waiting';
    case 'queue':
      return 'queued';
    case 'processing':
      return 'running';
    case 'complete':
      return 'complete';
    case 'failed':
      return 'failed';
    default:
      return 'missing';
  }
}

/** MB below 1 GB, else GB with at most one decimal: 512 MB, 3 GB, 4.8 GB. */
export function formatMb(mb: number): string {
  if (mb < 1024) return `${Math.round(mb)} MB`;
  const gb = Math.round((mb / 1024) * 10) / 10;
  return `${Number.isInteger(gb) ? gb.toFixed(0) : gb.toFixed(1)} GB`;
}

export function explainWait(task: Task, where: 'private' | 'queue', ctx: WaitContext): string {
  return heldByControl(task, where, ctx) ?? (where === 'private' ? explainPrivate(task, ctx) : explainQueued(task, ctx));
}

/** Why a control keeps the task where it is (a cancel, a paused batch or rig), or null. */
function heldByControl(task: Task, where: 'private' | 'queue', ctx: WaitContext): string | null {
  if (ctx.cancelled?.has(task.id) || ctx.cancelled?.has(task.batch)) return `cancelled; ${byBrain(ctx.brainDown, 'the brain ends it on its next pass')}`;
  if (ctx.paused?.has(task.batch)) return `batch ${task.batch} is paused: nothing of it is ${where === 'queue' ? 'claimed' : 'released'} until forge resume ${task.batch}`;
  if (where === 'queue' && ctx.paused?.has('rig')) return 'the rig is paused: no agent claims anything new until forge resume rig';
  return null;
}

// ---------------------------------------------------------------- held by the brain

/** What the brain will do, or, while no brain runs, that nothing will happen until one starts. */
function byBrain(brainDown: boolean | undefined, promise: string): string {
  return brainDown ? NO_BRAIN : promise;
}

function explainPrivate(task: Task, ctx: WaitContext): string {
  const brain = (promise: string) => byBrain(ctx.brainDown, promise);
  if (task.result?.outcome === 'not_run') {
    return `not run: ${task.result.reason ?? 'a dependency failed'}; ${brain('the brain moves it to failed/')}`;
  }
  const skip = task.result?.outcome === 'skipped' ? task.result.reason : skipCause(task.depends_on, ctx.tasksById)?.reason;
  if (skip) return `skipped: ${skip}; ${brain('the brain moves it to complete/ (not a failure)')}`;
  if (task.parked === 'approval') {
    if (ctx.approvals?.has(task.id)) return `approved; ${brain('the brain releases it on its next pass')}`;
    const file = join(ctx.shared, 'approvals', task.id);
    return `waiting for approval: touch ${file}` + (task.parked_reason ? ` (${task.parked_reason})` : '');
  }
  if (task.executor === 'brain' && task.type === 'batch_summary') {
    return 'batch summary: runs once every other task of the batch has finished';
  }
  const pending = task.depends_on.filter((id) => ctx.tasksById.get(id)?.folder !== 'complete');
  if (task.foreach && task.expanded_into === null) {
    if (pending.length > 0) return `waiting for ${listDeps(pending, ctx, ' and ')} to write the manifest`;
    return `ready; ${brain('the brain expands it from the manifest on its next pass')}`;
  }
  if (pending.length === 1) {
    const only = pending[0] as string;
    if (ctx.tasksById.get(only)?.task.gate) return `waiting for the verdict of gate ${depName(only, ctx)} (${folderWord(ctx.tasksById.get(only)?.folder ?? null)})`;
    return `dependency ${depName(only, ctx)} not done (${folderWord(ctx.tasksById.get(only)?.folder ?? null)})`;
  }
  if (pending.length > 1) return `dependencies not done: ${listDeps(pending, ctx, ', ')}`;
  if (task.window) return `making its ${task.window.items} items a window at a time (${task.window.created} made so far)`;
  if (task.expanded_into !== null) {
    const done = task.expanded_into.filter((id) => isSettled(ctx.tasksById.get(id))).length;
    return `waiting for its ${task.expanded_into.length} items to finish (${done} done)`;
  }
  const cfg = ctx.config ?? DEFAULT_CONFIG;
  const queued = queuedOfBatch(ctx).get(task.batch) ?? 0;
  if (queued >= cfg.release.max_queued) {
    return `ready; held back: ${queued} tasks of its batch wait in queue/ (release.max_queued ${cfg.release.max_queued}); ${brain('the brain releases it as those are claimed')}`;
  }
  return `ready; ${brain('the brain releases it on its next pass')}`;
}

const queuedCounts = new WeakMap<WaitContext, Map<string, number>>();

/** Tasks in queue/ per batch, counted once per context (status explains every waiting task). */
function queuedOfBatch(ctx: WaitContext): Map<string, number> {
  let m = queuedCounts.get(ctx);
  if (!m) {
    m = new Map();
    for (const v of ctx.tasksById.values()) if (v.folder === 'queue') m.set(v.task.batch, (m.get(v.task.batch) ?? 0) + 1);
    queuedCounts.set(ctx, m);
  }
  return m;
}

function isSettled(v: LocatedTask | undefined): boolean {
  return v !== undefined && (v.folder === 'complete' || v.folder === 'failed');
}

/** "scan (running)"; the name is the task's plan name when it is known. */
function depWithWhere(id: string, ctx: WaitContext): string {
  return `${depName(id, ctx)} (${folderWord(ctx.tasksById.get(id)?.folder ?? null)})`;
}

function depName(id: string, ctx: WaitContext): string {
  return ctx.tasksById.get(id)?.task.name ?? (id.includes('__') ? id.slice(id.indexOf('__') + 2) : id);
}

function listDeps(ids: string[], ctx: WaitContext, sep: string): string {
  const named = ids.slice(0, MAX_DEPS_NAMED).map((id) => depWithWhere(id, ctx));
  const more = ids.length - named.length;
  return named.join(sep) + (more > 0 ? ` and ${more} more` : '');
}

// ---------------------------------------------------------------- in the queue

function explainQueued(task: Task, ctx: WaitContext): string {
  let live = [...ctx.heartbeats];
  if (task.target) {
    live = live.filter((h) => h.name === task.target);
    if (live.length === 0) return `addressed to ${task.target}, which is not running`;
  }
  const running = live.filter((h) => !h.stopping && h.state !== 'stopping');
  if (running.length === 0) {
    const stopping = live.map((h) => h.name);
    return 'no GPU agent is running' + (stopping.length ? ` (stopping: ${stopping.join(', ')})` : '');
  }
  const config = ctx.config ?? DEFAULT_CONFIG;
  const cls = task.task_class;
  const max = config.resource_limits.max_workers;
  if (cls !== 'meta' && running.every((h) => h.active_workers >= max)) {
    return `every agent runs ${max} workers (resource_limits.max_workers)`;
  }
  const healthy = running.filter((h) => h.health === 'healthy');
  if ((cls === 'script' || cls === 'llm') && healthy.length === 0) {
    return `all agents constrained: ${running.map(describeConstraint).join(', ')}`;
  }
  if (cls === 'script') return explainScript(task, healthy);
  if (cls === 'llm') return explainLlm(task, running, healthy, config);
  if (cls === 'cpu') {
    const cost = config.resource_limits.cpu_task_cost_mb;
    const takers = running.filter((h) => h.accepts.includes('cpu'));
    if (takers.length === 0) return noneAccepts('cpu', running);
    if (takers.every((h) => h.budget_available_mb < cost)) {
      return `all agents busy (${takers.map((h) => `${h.name}: ${plural(h.active_tasks.length, 'task')}`).join(', ')})`;
    }
    return 'queued; next claim cycle';
  }
  if (!running.some((h) => h.accepts.includes(cls))) return noneAccepts(cls, running);
  return 'queued; next claim cycle';
}

function explainScript(task: Task, healthy: Heartbeat[]): string {
  const need = task.vram_estimate_mb;
  const fits = healthy.filter((h) => h.budget_available_mb >= need);
  if (fits.length === 0) {
    const best = healthy.reduce((a, b) => (b.budget_available_mb > a.budget_available_mb ? b : a));
    return `no GPU with ${formatMb(need)} free (largest free: ${best.name} ${formatMb(best.budget_available_mb)})`;
  }
  const takers = fits.filter((h) => h.accepts.includes('script'));
  if (takers.length === 0) {
    const hot = fits.filter((h) => h.state === 'hot' || h.model_loaded);
    if (hot.length === fits.length) {
      return `waiting for a GPU to unload its model (${hot.map((h) => h.name).join(', ')} hot; task needs ${formatMb(need)})`;
    }
    return noneAccepts('script', fits);
  }
  return 'queued; next claim cycle';
}

function explainLlm(task: Task, running: Heartbeat[], healthy: Heartbeat[], config: Config): string {
  if (running.every((h) => h.llm_circuit === 'open')) {
    const why = running.find((h) => h.llm_reason)?.llm_reason;
    return 'LLM runtime down on every agent' + (why ? ` (${why})` : '');
  }
  const usable = healthy.filter((h) => h.llm_circuit !== 'open');
  const hot = usable.filter((h) => h.state === 'hot');
  const canTake = usable.filter((h) => h.accepts.includes('llm') && llmFits(task, h, config));
  if (canTake.length > 0) return 'queued; next claim cycle';
  if (hot.length === 0) return 'waiting for a GPU to load its model' + (task.model ? ` (${task.model})` : '');
  // Hot agents run one llm task at a time; the task adds only its estimate to a hot card.
  return `waiting for an LLM slot (${hot.map((h) => `${h.name} busy`).join(', ')})`;
}

/** The agent's own rule (claimPolicy.taskCost): a hot card adds the estimate, a cold one needs its whole budget. */
function llmFits(task: Task, h: Heartbeat, config: Config): boolean {
  if (h.active_tasks.some((a) => a.task_class === 'llm')) return false;
  const hot = h.state === 'hot';
  const budgetTotal = h.vram_total_mb ? Math.floor((h.vram_total_mb * config.resource_limits.vram_budget_percent) / 100) : 0;
  const cost = hot ? task.vram_estimate_mb : Math.max(task.vram_estimate_mb, budgetTotal);
  return h.budget_available_mb >= cost;
}

/** "gpu-0 temperature 88C >= 85C", from the agent's own reasons. */
function describeConstraint(h: Heartbeat): string {
  const why = h.health_reasons.length ? h.health_reasons.join(' and ') : h.health;
  return h.health === 'unhealthy' ? `${h.name} unhealthy (${why})` : `${h.name} ${why}`;
}

function noneAccepts(cls: string, agents: Heartbeat[]): string {
  const what = agents.map((h) => `${h.name} takes ${h.accepts.length ? h.accepts.join(', ') : 'nothing'}`);
  return `no agent takes ${cls} tasks now (${what.join('; ')})`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------- failed

export interface FailureView {
  /** The brain will not try it again: its verdict (brain/retry.ts), or its batch is over. */
  for_good: boolean;
  /** "attempt 3 of 3: failed 3 of 3 attempts: exit 1 ..." — the brain's own words. */
  reason: string;
}

/** Why a task in failed/ failed, and whether the brain will try it again (once one runs: `brainDown`). */
export function explainFailure(task: Task, batch: BatchRecord | null, config: Config | null, brainDown = false): FailureView {
  if (task.result?.outcome === 'needs_approval') {
    return { for_good: false, reason: `needs approval${task.result.reason ? ` (${task.result.reason})` : ''}; ${byBrain(brainDown, 'the brain parks it on its next pass')}` };
  }
  const verdict = decideRetry(task, config ?? DEFAULT_CONFIG);
  const batchOver = batch !== null && batch.state !== 'pending' && batch.state !== 'running';
  const given_up = (batch?.failed_tasks.includes(task.id) ?? false) || (batch?.not_run.includes(task.id) ?? false);
  const for_good = !verdict.retry || batchOver || given_up;
  if (task.result?.outcome === 'not_run') return { for_good, reason: `not run: ${task.result.reason ?? 'a dependency failed'}` };
  if (for_good) return { for_good, reason: verdict.reason };
  const next = `attempt ${verdict.attempt.n} of ${verdict.attempt.of}`;
  return { for_good, reason: `${verdict.reason}; ${brainDown ? `${NO_BRAIN} (its retry is ${next})` : `the brain retries it (${next})`}` };
}
