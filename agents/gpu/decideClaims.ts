// Which queued tasks this agent claims, as a pure function of what it sees: its health and
// hot/cold state, the tasks it runs, the GPU's memory and the queue. The agent's claim pass
// (agent.ts) only reads the queue and the seals, calls this, and renames what it returns.
// The per-task limits (class, num_parallel llm requests, max_workers, host memory, VRAM budget)
// are canClaim's (claimPolicy.ts); this adds the order, the target, the seal and llm affinity,
// and counts each claim it plans against the next, as the agent's state will after it.
import { type Config, sameModelName, taskModel } from '../core/config.ts';
import { type Controls, NO_CONTROLS, agentPause, taskHeld } from '../core/controls.ts';
import { fairOrder } from '../core/fairOrder.ts';
import type { SealVerdict } from '../core/seal.ts';
import type { Task, TaskClass } from '../core/task.ts';
import { type Health, acceptedClasses, budgetAvailable, canClaim } from './claimPolicy.ts';

/** A task the agent runs, as the budget and the limits count it. */
export interface RunningView {
  task: Pick<Task, 'task_class'>;
  /** meta tasks run inside the agent: no worker process. */
  kind: 'worker' | 'meta';
  /** Its reservation, MB: the claim's cost, raised to its measured peak when over. */
  cost: number;
  /** Highest measured VRAM of its processes, MB; null before any measurement. */
  peakMb: number | null;
  /** What its processes hold now, MB. */
  nowMb: number;
}

/** What the agent knows when it decides. */
export interface ClaimView {
  name: string;
  stopping: boolean;
  health: Health;
  /** Its model is resident. */
  hot: boolean;
  /** The runtime's circuit is not open: llm work can run. */
  llmAvailable: boolean;
  /** The model resident on the card (null when cold): llm tasks for it are the only ones a hot agent takes. */
  heldModel: string | null;
  /** Models other live, healthy agents hold or load: a cold agent leaves their work to them. */
  othersHold: readonly string[];
  /** llm requests the runtime serves at once (gpus[].num_parallel). */
  numParallel: number;
  /** The model's resident size, MB (0 when cold). */
  modelMb: number;
  /** The last good telemetry's memory figures, MB; null when the GPU could not be read. */
  gpu: { memory_total_mb: number | null; memory_used_mb: number | null } | null;
  /** When that reading was taken (agent clock, ms). */
  gpuReadAt: number;
  hostMemAvailableMb: number | null;
  running: readonly RunningView[];
  /** The operator controls on the mount (control/): pauses and cancels. Default none. */
  controls?: Controls;
  /** Tasks of each batch running on the rig (processing/), for the batches' turns (core/fairOrder.ts). Default none. */
  inFlight?: ReadonlyMap<string, number>;
}

/** A queued task as the claim pass read it, with its seal verdict (null: not checked, the task is not for this agent). */
export interface QueuedTask {
  /** The file's name in queue/, less .json: what a claim renames. */
  id: string;
  task: Task;
  seal: SealVerdict | null;
}

export type SkipRule = 'takes_nothing' | 'paused' | 'cancelled' | 'target' | 'seal' | 'affinity' | 'limits';

export interface ClaimPlan {
  /** In claim order, each with the VRAM it reserves. */
  claims: Array<{ id: string; task: Task; cost: number }>;
  skipped: Array<{ id: string; rule: SkipRule; reason: string }>;
}

/** Task classes the agent would claim now (its heartbeat's `accepts`): none while stopping. */
export function acceptsNow(v: Pick<ClaimView, 'stopping' | 'health' | 'hot' | 'llmAvailable'>): TaskClass[] {
  if (v.stopping) return [];
  return acceptedClasses(v.health, v.hot, v.llmAvailable);
}

/** The budget's whole size, MB: vram_budget_percent of the card. */
export function budgetTotal(v: Pick<ClaimView, 'gpu'>, config: Config): number {
  const total = v.gpu?.memory_total_mb ?? 0;
  // No telemetry: no GPU work, but cpu tasks still get a virtual budget of four slots.
  if (!total) return config.resource_limits.cpu_task_cost_mb * 4;
  return Math.floor((total * config.resource_limits.vram_budget_percent) / 100);
}

/** What the running tasks reserve, MB: each its cost or its measured peak, whichever is higher. */
export function claimedMb(running: readonly RunningView[]): number {
  let sum = 0;
  for (const r of running) sum += Math.max(r.cost, r.peakMb ?? 0);
  return sum;
}

/** The budget left for new work, MB: less our reservations and, with telemetry, memory that is not ours. */
export function availableMb(v: Pick<ClaimView, 'gpu' | 'hot' | 'modelMb' | 'running'>, config: Config): number {
  const g = v.gpu;
  if (!g || !g.memory_total_mb) return Math.max(0, budgetTotal(v, config) - claimedMb(v.running));
  let ours = 0;
  for (const r of v.running) ours += r.nowMb;
  return budgetAvailable(
    { totalMb: g.memory_total_mb, usedMb: g.memory_used_mb ?? 0, oursUsedMb: ours, modelMb: v.hot ? v.modelMb : 0, claimedMb: claimedMb(v.running) },
    config.resource_limits.vram_budget_percent,
  );
}

/**
 * Why this agent leaves an llm task for its model to others, or null when it may take it. An
 * llm task goes only to an agent that holds its model, so a mixed queue never swaps models per
 * task; a cold agent takes one only with cold_agents_take_llm and when no other agent holds it.
 */
export function llmAffinity(v: Pick<ClaimView, 'hot' | 'heldModel' | 'othersHold'>, model: string, config: Config): string | null {
  if (v.hot) return v.heldModel && sameModelName(v.heldModel, model) ? null : `needs ${model}; this agent holds ${v.heldModel ?? 'another model'}`;
  if (v.othersHold.some((m) => sameModelName(m, model))) return `another agent holds ${model}`;
  return config.cold_agents_take_llm ? null : `needs ${model}; cold, and cold_agents_take_llm is off`;
}

/** Whether a task may run on this agent at all: no target, or this agent's name. */
export function isForAgent(task: Pick<Task, 'target'>, name: string): boolean {
  return !task.target || task.target === name;
}

/** meta tasks and tasks the agent itself executes run inside it; the rest get a worker. */
export function runsAs(task: Pick<Task, 'executor' | 'task_class'>): 'worker' | 'meta' {
  return task.executor === 'agent' || task.task_class === 'meta' ? 'meta' : 'worker';
}

/**
 * Work after an idle spell is decided on a fresh GPU reading, not one up to an external cycle
 * old: true when there is work and the reading is older than two internal cycles.
 */
export function needsFreshReading(v: Pick<ClaimView, 'gpuReadAt'>, queuedCount: number, config: Config, now: number): boolean {
  return queuedCount > 0 && now - v.gpuReadAt > 2 * config.cycles.internal_s * 1000;
}

/**
 * The claims to make, in the rig's fair order (core/fairOrder.ts: priority, then the batches
 * taking turns), and why each other task is left: the rig or this agent paused, a task
 * cancelled or of a paused batch (control/), another agent's, refused by its seal, for a model
 * held elsewhere, or over a limit. A claim planned counts against the ones after it (its cost, one
 * more worker, one more llm task), so the plan never claims past a limit; a claim that is then
 * lost should be followed by a fresh decision.
 */
export function decideClaims(view: ClaimView, queued: readonly QueuedTask[], config: Config): ClaimPlan {
  const plan: ClaimPlan = { claims: [], skipped: [] };
  const inFlight = view.inFlight;
  const order = fairOrder(queued.map((q) => ({ id: q.id, priority: q.task.priority, q })), (b) => inFlight?.get(b) ?? 0).map((o) => o.q);
  const controls = view.controls ?? NO_CONTROLS;
  const accepts = acceptsNow(view);
  const paused = agentPause(controls, view.name);
  if (!accepts.length || paused) {
    const why = view.stopping ? 'agent is stopping' : paused ?? `takes no tasks now (health ${view.health})`;
    for (const q of order) plan.skipped.push({ id: q.id, rule: paused && !view.stopping ? 'paused' : 'takes_nothing', reason: why });
    return plan;
  }
  const running: RunningView[] = [...view.running];
  const skip = (q: QueuedTask, rule: SkipRule, reason: string) => plan.skipped.push({ id: q.id, rule, reason });
  for (const q of order) {
    const task = q.task;
    const held = taskHeld(controls, q.id);
    if (held) {
      skip(q, held.rule, held.reason);
      continue;
    }
    if (!isForAgent(task, view.name)) {
      skip(q, 'target', `targeted at ${task.target}`);
      continue;
    }
    if (q.seal && !q.seal.ok) {
      skip(q, 'seal', q.seal.reason);
      continue;
    }
    const affinity = task.task_class === 'llm' ? llmAffinity(view, taskModel(task, config), config) : null;
    if (affinity) {
      skip(q, 'affinity', affinity);
      continue;
    }
    const now = { ...view, running };
    const verdict = canClaim(
      task,
      {
        accepts,
        availableMb: availableMb(now, config),
        budgetTotalMb: budgetTotal(view, config),
        hot: view.hot,
        runningLlm: running.filter((r) => r.task.task_class === 'llm').length,
        llmSlots: view.numParallel,
        runningWorkers: running.filter((r) => r.kind === 'worker').length,
        hostMemAvailableMb: view.hostMemAvailableMb,
        stopping: view.stopping,
      },
      config,
    );
    if (!verdict.ok) {
      skip(q, 'limits', verdict.reason);
      continue;
    }
    plan.claims.push({ id: q.id, task, cost: verdict.cost });
    running.push({ task, kind: runsAs(task), cost: verdict.cost, peakMb: null, nowMb: 0 });
  }
  return plan;
}
