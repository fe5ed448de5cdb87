// What an agent may claim: the seed's health thresholds, its hot/cold matrix and the VRAM
// budget, as pure functions of the agent's view. The agent loop only feeds and obeys them.
import type { Config } from '../core/config.ts';
import { type Task, type TaskClass, sameClaim } from '../core/task.ts';

export type Health = 'healthy' | 'constrained' | 'unhealthy';

export interface GpuFigures {
  temperature_c: number | null;
  power_draw_w: number | null;
  memory_used_mb: number | null;
  memory_total_mb: number | null;
}

export interface HealthVerdict {
  health: Health;
  reasons: string[];
}

/** healthy, constrained (a threshold reached), or unhealthy (no telemetry: the driver failed). */
export function evaluateHealth(g: GpuFigures | null, failure: string | null, limits: Config['resource_limits']): HealthVerdict {
  if (!g) return { health: 'unhealthy', reasons: [failure ?? 'no telemetry'] };
  const reasons: string[] = [];
  if (g.temperature_c !== null && g.temperature_c >= limits.max_temp_c) {
    reasons.push(`temperature ${g.temperature_c}C >= ${limits.max_temp_c}C`);
  }
  if (g.memory_used_mb !== null && g.memory_total_mb) {
    const pct = (100 * g.memory_used_mb) / g.memory_total_mb;
    if (pct >= limits.max_vram_percent) reasons.push(`VRAM ${pct.toFixed(0)}% >= ${limits.max_vram_percent}%`);
  }
  if (g.power_draw_w !== null && g.power_draw_w >= limits.max_power_w) {
    reasons.push(`power ${g.power_draw_w.toFixed(0)}W >= ${limits.max_power_w}W`);
  }
  return { health: reasons.length ? 'constrained' : 'healthy', reasons };
}

/** The seed's combined matrix: health x hot/cold → classes claimed. */
export function acceptedClasses(health: Health, hot: boolean, llmAvailable: boolean): TaskClass[] {
  if (health !== 'healthy') return ['meta', 'cpu'];
  const classes: TaskClass[] = hot ? ['meta', 'llm', 'cpu'] : ['meta', 'script', 'cpu', 'llm'];
  return llmAvailable ? classes : classes.filter((c) => c !== 'llm');
}

export interface BudgetView {
  /** Total VRAM of the card in MB (from telemetry; 0 when unknown). */
  totalMb: number;
  /** VRAM in use on the card now. */
  usedMb: number;
  /** What our running workers hold now (measured), and the model's resident size. */
  oursUsedMb: number;
  modelMb: number;
  /** Sum of reservations of our active tasks: max(estimate, measured peak). */
  claimedMb: number;
}

/** Budget left for new work: the budget share of the card, less our reservations and memory that is not ours. */
export function budgetAvailable(b: BudgetView, budgetPercent: number): number {
  const budget = Math.floor((b.totalMb * budgetPercent) / 100);
  const foreign = Math.max(0, b.usedMb - b.oursUsedMb - b.modelMb);
  return Math.max(0, budget - b.claimedMb - foreign);
}

/** The VRAM a task reserves on this agent (seed: llm = the whole card, cpu = a virtual cost, meta = 0). */
export function taskCost(task: Pick<Task, 'task_class' | 'vram_estimate_mb'>, config: Config, budgetTotalMb: number, hot: boolean): number {
  switch (task.task_class) {
    case 'meta':
      return 0;
    case 'cpu':
      return config.resource_limits.cpu_task_cost_mb;
    case 'script':
      return task.vram_estimate_mb;
    case 'llm':
      // A hot card already holds the model: the task adds only its estimate (often 0).
      return hot ? task.vram_estimate_mb : Math.max(task.vram_estimate_mb, budgetTotalMb);
  }
}

export interface ClaimContext {
  accepts: TaskClass[];
  availableMb: number;
  budgetTotalMb: number;
  hot: boolean;
  runningLlm: number;
  /** llm requests the runtime serves at once. */
  llmSlots: number;
  /** Workers this agent runs now (meta tasks run inside the agent and do not count). */
  runningWorkers: number;
  /** Host memory left; cpu tasks are not claimed into a host that is out of memory. */
  hostMemAvailableMb: number | null;
  stopping: boolean;
}

export type ClaimVerdict = { ok: true; cost: number } | { ok: false; reason: string };

export const MIN_HOST_MEM_MB = 512;

export function canClaim(task: Task, ctx: ClaimContext, config: Config): ClaimVerdict {
  if (ctx.stopping) return { ok: false, reason: 'agent is stopping' };
  if (!ctx.accepts.includes(task.task_class)) return { ok: false, reason: `does not take ${task.task_class} tasks now` };
  if (task.task_class === 'llm' && ctx.runningLlm >= ctx.llmSlots) {
    return { ok: false, reason: `${ctx.runningLlm} llm task(s) running (num_parallel ${ctx.llmSlots})` };
  }
  const maxWorkers = config.resource_limits.max_workers;
  if (task.task_class !== 'meta' && ctx.runningWorkers >= maxWorkers) {
    return { ok: false, reason: `${ctx.runningWorkers} workers running (resource_limits.max_workers ${maxWorkers})` };
  }
  if (task.task_class === 'cpu' && ctx.hostMemAvailableMb !== null && ctx.hostMemAvailableMb < MIN_HOST_MEM_MB) {
    return { ok: false, reason: `host memory low (${ctx.hostMemAvailableMb} MB available)` };
  }
  const cost = taskCost(task, config, ctx.budgetTotalMb, ctx.hot);
  if (cost > ctx.availableMb) return { ok: false, reason: `needs ${cost} MB, ${ctx.availableMb} MB free in the budget` };
  return { ok: true, cost };
}

/**
 * The task an agent writes after winning the claim rename: the next attempt number (the claim
 * token), its name and the time. Null when the file no longer holds the claim the agent saw in
 * queue/ (its claim was undone meanwhile and another agent claimed it): that claim is not ours
 * to overwrite.
 */
export function recordClaim(cur: Task, seen: Pick<Task, 'attempt' | 'claimed_by' | 'claimed_at'>, agent: string, at: string): Task | null {
  if (!sameClaim(cur, seen)) return null;
  return {
    ...cur,
    attempt: Math.max(cur.attempt, ...cur.attempts.map((a) => a.attempt)) + 1,
    claimed_by: agent,
    claimed_at: at,
    result: null,
    finished_at: null,
  };
}
