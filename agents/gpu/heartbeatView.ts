// The heartbeat an agent writes, as a pure function of its state and the time: what the brain,
// status and a restarted agent read about it. agent.ts only writes what this returns.
import { isoTime } from '../core/clock.ts';
import type { ActiveTask, HeartbeatInput } from '../core/heartbeat.ts';
import type { Config } from '../core/config.ts';
import type { Task } from '../core/task.ts';
import type { CircuitState } from '../llm/circuit.ts';
import { type ClaimView, type RunningView, acceptsNow, availableMb, claimedMb } from './decideClaims.ts';
import { formatThrottleStatus } from './telemetry.ts';
import type { GpuReading } from './telemetry.ts';

export interface RunningBeat extends RunningView {
  task: Pick<Task, 'id' | 'name' | 'task_class' | 'vram_estimate_mb' | 'attempt'>;
  pid: number | null;
  taskPgid: number | null;
  startedAt: number;
}

export interface BeatState extends Omit<ClaimView, 'gpu' | 'running' | 'othersHold' | 'gpuReadAt' | 'hostMemAvailableMb'> {
  gpuId: number;
  pid: number;
  hostname: string;
  /** When this life of the agent started (agent clock, ms). */
  startedAt: number;
  seq: number;
  /** A model load is in progress, and of which model. */
  loading: boolean;
  loadingModel: string | null;
  /** Latest load time per model, ms. */
  loadMs: Record<string, number>;
  runtime: 'ollama' | 'openai';
  gpu: GpuReading | null;
  running: readonly RunningBeat[];
  healthReasons: string[];
  circuit: { state: CircuitState; reason: string | null };
  host: { cpu_load_percent: number | null; mem_available_mb: number | null } | null;
  stats: { tasks_completed: number; tasks_failed: number };
}

/** One worker line of the heartbeat: what a restarted agent needs to find and end its processes. */
function activeTask(name: string, r: RunningBeat, i: number): ActiveTask {
  return {
    worker_id: `${name}-w${i}-${r.task.id.slice(-8)}`,
    task_id: r.task.id,
    task_class: r.task.task_class,
    task_name: r.task.name,
    vram_estimate_mb: r.task.vram_estimate_mb,
    peak_vram_mb: r.peakMb,
    pid: r.pid,
    task_pgid: r.taskPgid,
    started_at: isoTime(r.startedAt),
    attempt: r.task.attempt,
  };
}

/** The state word: stopping wins, then a load in progress, then hot or cold. */
export function beatStateWord(s: Pick<BeatState, 'stopping' | 'loading' | 'hot'>): HeartbeatInput['state'] {
  return s.stopping ? 'stopping' : s.loading ? 'loading' : s.hot ? 'hot' : 'cold';
}

/** The heartbeat for this state at `now`; `state` overrides the state word (the last beat of a shutdown says 'stopping'). */
export function buildHeartbeat(s: BeatState, config: Config, now: number, state?: 'stopping'): HeartbeatInput {
  const g = s.gpu;
  const active = s.running.map((r, i) => activeTask(s.name, r, i));
  const total = g?.memory_total_mb ?? null;
  const used = g?.memory_used_mb ?? null;
  return {
    gpu_id: s.gpuId,
    name: s.name,
    state: state ?? beatStateWord(s),
    model_loaded: s.hot,
    last_updated: isoTime(now),
    temperature_c: g?.temperature_c ?? null,
    power_draw_w: g?.power_draw_w ?? null,
    vram_used_mb: used,
    vram_total_mb: total,
    vram_percent: total && used !== null ? Math.round((100 * used) / total) : null,
    gpu_util_percent: g?.utilization_percent ?? null,
    clock_mhz: g?.clock_sm_mhz ?? null,
    throttle_status: g ? formatThrottleStatus(g.throttle_reasons) : 'None',
    claimed_vram_mb: claimedMb(s.running),
    budget_available_mb: availableMb(s, config),
    active_workers: active.length,
    active_tasks: active,
    stats: s.stats,
    seq: s.seq,
    pid: s.pid,
    started_at: isoTime(s.startedAt),
    health: s.health,
    health_reasons: s.healthReasons,
    accepts: acceptsNow(s),
    llm_circuit: s.circuit.state,
    llm_reason: s.circuit.reason,
    host: s.host,
    stopping: s.stopping,
    hostname: s.hostname,
    model: s.loading ? (s.loadingModel ?? s.heldModel) : s.heldModel,
    model_mb: s.hot ? s.modelMb : 0,
    runtime: s.runtime,
    num_parallel: s.numParallel,
    swappable: s.runtime === 'ollama',
    load_ms: { ...s.loadMs },
    running_llm: s.running.filter((r) => r.task.task_class === 'llm').length,
  };
}
