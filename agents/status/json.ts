// status --json: the contract's fields (batches, gpus, queue) and the extras, from a
// snapshot and its view.
import type { BatchState, TaskCounts } from '../core/batch.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import { gpuDeadText } from './format.ts';
import type { BrainView } from './liveness.ts';
import type { RigSnapshot } from './snapshot.ts';
import type { ScheduleRow } from './schedules.ts';
import { type QueueCounts, type StatusView, type WaitItem, summarize } from './view.ts';

export interface StatusJson {
  batches: Array<{ id: string; plan: string; state: BatchState; tasks: TaskCounts }>;
  gpus: Heartbeat[];
  queue: QueueCounts;
  // Extras beyond the contract:
  /** alive: fresh heartbeat and, on this host, a live pid; pid_alive: null when not checkable here; down_reason: why not alive, null when alive. */
  agents: Array<{ name: string; gpu_id: number; alive: boolean; heartbeat_age_s: number | null; pid_alive: boolean | null; down_reason: string | null }>;
  waiting: Array<{ task_id: string; where: WaitItem['where']; reason: string }>;
  failed_for_good: Array<{ task_id: string; reason: string }>;
  /** Tasks a gate's "no" skipped: state 'skipped', the gate's task id and the reason. */
  skipped: Array<{ task_id: string; batch: string; state: 'skipped'; gate: string; reason: string }>;
  interventions: RigSnapshot['interventions'];
  /** Files on the mount that could not be used, with why: one entry per bad file, never a crash. */
  bad_files: RigSnapshot['bad_files'];
  brain: { active_batches: string[]; updated_at: string; brain_pid: number | null; inbox_pending: number } | null;
  /** Whether a brain runs, from its lease (liveness.ts): state running|down|not_running|elsewhere|unknown. */
  brain_lease: BrainView;
  /** Scheduled plans: {plan, schedule, timezone, catch_up, next_run, last_fire}. */
  schedules: ScheduleRow[];
  /** control/: paused targets (rig, agent names, batch ids) and cancelled ones (batch and task ids). */
  controls: { paused: string[]; cancelled: string[] };
  config_problem: string | null;
  generated_at: string;
}

export function toStatusJson(snap: RigSnapshot, view: StatusView = summarize(snap)): StatusJson {
  return {
    batches: view.batches.map((b) => ({ id: b.id, plan: b.plan, state: b.state, tasks: { ...b.tasks } })),
    gpus: snap.gpus.filter((g) => g.heartbeat).map((g) => g.heartbeat as Heartbeat),
    queue: view.queue,
    agents: snap.gpus.map((g) => ({
      name: g.name, gpu_id: g.id, alive: g.alive, heartbeat_age_s: g.age_s === null ? null : Math.round(g.age_s),
      pid_alive: g.pid_alive, down_reason: g.alive ? null : gpuDeadText(g),
    })),
    waiting: view.waiting.map((w) => ({ task_id: w.task_id, where: w.where, reason: w.reason })),
    failed_for_good: view.failed_for_good.map((f) => ({ task_id: f.task_id, reason: f.reason })),
    skipped: view.skipped.map((k) => ({ task_id: k.task_id, batch: k.batch, state: k.state, gate: k.gate, reason: k.reason })),
    interventions: snap.interventions,
    bad_files: snap.bad_files,
    brain: snap.brain ? { ...snap.brain, inbox_pending: snap.inbox_pending } : null,
    brain_lease: view.brain,
    schedules: snap.schedules ?? [],
    controls: snap.controls ?? { paused: [], cancelled: [] },
    config_problem: snap.config_problem,
    generated_at: new Date(snap.now).toISOString(),
  };
}
