// Constructed snapshots of the mount for the doctor's rules: one config with two agents,
// a fixed time, and builders for task files, batch records and heartbeats.
import { BatchRecord, type BatchRecordInput } from '../../agents/core/batch.ts';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { Heartbeat, type HeartbeatInput } from '../../agents/core/heartbeat.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import type { AgentView, BatchRecordView, MountSnapshot, TaskFileView } from '../../agents/doctor/snapshot.ts';

export const NOW = Date.parse('2026-01-01T12:00:00.000Z');
export const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
export const MIN = 60_000;
export const config = Config.parse({ gpus: defaultGpus(2) }); // gpu-0, gpu-1; heartbeat_stale_s 120

const REL: Record<TaskFolder, string> = {
  private: 'brain/private_tasks', queue: 'tasks/queue', processing: 'tasks/processing', complete: 'tasks/complete', failed: 'tasks/failed',
};

export function file(folder: TaskFolder, task: Task): TaskFileView {
  return { folder, name: `${task.id}.json`, rel: `${REL[folder]}/${task.id}.json`, id: task.id, task, problem: null };
}

export function record(over: Partial<BatchRecordInput> & { id: string }): BatchRecordView {
  const rec = BatchRecord.parse({
    plan: 'p', plan_dir: '/p', batch_path: '/p/b', state: 'running', values: {}, submitted_at: iso(60 * MIN),
    started_at: iso(60 * MIN), finished_at: null, task_ids: [], ...over,
  });
  return { id: rec.id, rel: `brain/batches/${rec.id}.json`, record: rec, problem: null };
}

export function heartbeat(gpu: number, over: Partial<HeartbeatInput> = {}): Heartbeat {
  return Heartbeat.parse({
    gpu_id: gpu, name: `gpu-${gpu}`, state: 'cold', model_loaded: false, last_updated: iso(1000),
    temperature_c: 50, power_draw_w: 50, vram_used_mb: 0, vram_total_mb: 8000, vram_percent: 0, gpu_util_percent: 0,
    clock_mhz: 1000, throttle_status: 'None', claimed_vram_mb: 0, budget_available_mb: 6000, active_workers: 0,
    active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 }, seq: 1, pid: 4242, started_at: iso(60 * MIN),
    health: 'healthy', health_reasons: [], accepts: ['cpu'], ...over,
  });
}

export function agent(gpu: number, hb: Heartbeat | null, pidAlive: boolean | null = hb ? true : null): AgentView {
  return { gpu: config.gpus[gpu]!, heartbeatRel: `gpus/gpu_${gpu}/heartbeat.json`, heartbeat: hb, pidAlive };
}

export function active(task: Task) {
  return {
    worker_id: 'w', task_id: task.id, task_class: task.task_class, task_name: task.name, vram_estimate_mb: 0,
    peak_vram_mb: null, pid: 99, started_at: iso(1000), attempt: task.attempt,
  };
}

export function snapshot(over: Partial<MountSnapshot> = {}): MountSnapshot {
  return {
    now: NOW, config, configProblem: null, brain: { running: false, why: 'no brain holds brain/brain.lock' },
    state: { active_batches: [], updated_at: iso(MIN), brain_pid: null }, batches: [], taskFiles: [], archived: {},
    pendingSubmissions: [], agents: [agent(0, heartbeat(0)), agent(1, heartbeat(1))], tempFiles: [], signals: [],
    approvals: [], lateResults: [], locks: [], escalations: [], ...over,
  };
}

export function result(t: Task, outcome: WorkerResult['outcome'], kind: WorkerResult['failure_kind'] = null): WorkerResult {
  return {
    task_id: t.id, attempt: t.attempt, outcome, failure_kind: kind, exit_code: outcome === 'success' ? 0 : 1, signal: null,
    reason: outcome, started_at: iso(MIN), finished_at: iso(MIN), duration_ms: 1, stdout_path: null, stderr_path: null,
  };
}
