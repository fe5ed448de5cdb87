// What gpu-check found, and its verdict: from the samples it took and the files the rig left,
// a report (JSON-ready) and its text form. Pure: run.ts gathers the inputs.
import type { TaskMemory } from './attribute.ts';
import type { SmiGpu } from './smi.ts';
import type { CheckThresholds } from './thresholds.ts';
import { type HealthPoint, type HealthState, type Transition, healthFromLog, healthTransitions, sawConstrainedToHealthy } from './transitions.ts';

/** What the agent's heartbeat said at one sample (the fields the check uses). */
export interface HeartbeatView {
  seq: number;
  /** Epoch ms of the heartbeat's last_updated. */
  at: number;
  health: HealthState;
  reasons: string[];
  vram_used_mb: number | null;
  power_draw_w: number | null;
  temperature_c: number | null;
  /** task_pgid: the task's own process group, where the agent reports it. */
  active: Array<{ task_id: string; task_name: string; pid: number | null; task_pgid: number | null; peak_vram_mb: number | null }>;
}

export interface Sample {
  /** Epoch ms. */
  at: number;
  /** gpu-check's own nvidia-smi reading of the GPU; null when the query failed. */
  gpu: SmiGpu | null;
  heartbeat: HeartbeatView | null;
  /** Task id → the GPU processes nvidia-smi listed for it at this sample. */
  tasks: Record<string, TaskMemory>;
}

/** The last stdout line of alloc.py / sim-alloc.mjs. */
export interface ScriptReport {
  pid: number;
  requested_mb: number;
  torch_reserved_mb: number | null;
  torch_allocated_mb: number | null;
  device: string | null;
  seconds: number | null;
  tflops: number | null;
}

export interface FinalTask {
  name: string;
  task_id: string;
  /** The last attempt's outcome, or the folder state when it has no result. */
  outcome: string;
  attempts: number;
  /** peak_vram_mb in the task's result: what the agent measured and recorded. */
  result_peak_mb: number | null;
  reason: string | null;
  script: ScriptReport | null;
}

export interface PreflightInfo {
  nvidia_smi: string;
  python: { executable: string; version: string; torch: string | null; cuda: boolean | null } | null;
  notes: string[];
}

export interface CheckInputs {
  mode: 'real' | 'simulated';
  startedAt: number;
  finishedAt: number;
  agentName: string;
  gpu: SmiGpu;
  preflight: PreflightInfo;
  idle: SmiGpu;
  thresholds: CheckThresholds;
  batch: { id: string | null; state: string | null };
  tasks: FinalTask[];
  samples: Sample[];
  /** logs/brain_decisions.log as it was at the end. */
  logText: string;
  /** Things that went wrong with the run itself (timeout, rig died, submit refused). */
  problems: string[];
}

export interface TaskRow {
  task: string;
  task_id: string;
  outcome: string;
  attempts: number;
  worker_pids: number[];
  /** The task's own process groups as the agent's heartbeats reported them. */
  task_pgids: number[];
  gpu_pids: number[];
  /** The agent's figure: peak_vram_mb of the result, else the highest its heartbeats showed. */
  agent_peak_mb: number | null;
  agent_heartbeat_peak_mb: number | null;
  /** The highest sum nvidia-smi listed for the task's processes at one sample. */
  smi_peak_mb: number | null;
  script_requested_mb: number | null;
  script_reserved_mb: number | null;
  diff_mb: number | null;
  diff_percent: number | null;
  tolerance_mb: number | null;
  within: boolean;
}

export interface Maxima {
  temperature_c: number | null;
  power_draw_w: number | null;
  memory_used_mb: number | null;
  utilization_percent: number | null;
}

export interface GpuCheckReport {
  verdict: 'PASS' | 'FAIL';
  verdict_reasons: string[];
  mode: 'real' | 'simulated';
  started_at: string;
  duration_s: number;
  gpu: { index: number; name: string; uuid: string; driver: string | null; memory_total_mb: number | null; power_limit_w: number | null };
  preflight: PreflightInfo;
  idle: Maxima;
  thresholds: CheckThresholds;
  batch: { id: string | null; state: string | null };
  memory: TaskRow[];
  health: { heartbeat: Transition[]; log: Transition[]; constrained_to_healthy: boolean };
  /** Highest figures of gpu-check's own nvidia-smi readings, and of the agent's heartbeats. */
  gpu_max: Maxima;
  agent_max: { vram_used_mb: number | null; power_draw_w: number | null; temperature_c: number | null };
  notes: string[];
  samples: number;
  /** A compact timeline: seconds from the start, the GPU's figures, the agent's health, per-task MiB. */
  timeline: Array<{ t: number; mem: number | null; w: number | null; c: number | null; health: HealthState | null; tasks: Record<string, number> }>;
}

/** Our figure may differ from nvidia-smi's by this much: 5 %, at least 64 MiB. */
export function toleranceMb(smiMb: number): number {
  return Math.max(Math.round(smiMb * 0.05), 64);
}

function max(values: Array<number | null | undefined>): number | null {
  let m: number | null = null;
  for (const v of values) if (typeof v === 'number' && (m === null || v > m)) m = v;
  return m;
}

export function buildReport(x: CheckInputs): GpuCheckReport {
  const reasons: string[] = [...x.problems];
  const notes: string[] = [];

  // Heartbeats as the agent wrote them: one point per sequence number.
  const beats: HeartbeatView[] = [];
  for (const s of x.samples) if (s.heartbeat && !beats.some((b) => b.seq === s.heartbeat!.seq)) beats.push(s.heartbeat);
  beats.sort((a, b) => a.seq - b.seq);

  const rows: TaskRow[] = x.tasks.map((t) => {
    const workerPids = new Set<number>();
    const taskPgids = new Set<number>();
    let hbPeak: number | null = null;
    for (const b of beats) {
      for (const a of b.active) {
        if (a.task_id !== t.task_id) continue;
        if (a.pid !== null) workerPids.add(a.pid);
        if (a.task_pgid !== null) taskPgids.add(a.task_pgid);
        hbPeak = max([hbPeak, a.peak_vram_mb]);
      }
    }
    const gpuPids = new Set<number>();
    let smiPeak: number | null = null;
    for (const s of x.samples) {
      const m = s.tasks[t.task_id];
      if (!m) continue;
      smiPeak = max([smiPeak, m.mb]);
      for (const p of m.pids) gpuPids.add(p.pid);
    }
    const agent = t.result_peak_mb ?? hbPeak;
    const diff = agent !== null && smiPeak !== null ? agent - smiPeak : null;
    const tol = smiPeak !== null ? toleranceMb(smiPeak) : null;
    const within = diff !== null && tol !== null && smiPeak !== null && smiPeak > 0 && Math.abs(diff) <= tol;
    const row: TaskRow = {
      task: t.name,
      task_id: t.task_id,
      outcome: t.outcome,
      attempts: t.attempts,
      worker_pids: [...workerPids],
      task_pgids: [...taskPgids],
      gpu_pids: [...gpuPids],
      agent_peak_mb: agent,
      agent_heartbeat_peak_mb: hbPeak,
      smi_peak_mb: smiPeak,
      script_requested_mb: t.script?.requested_mb ?? null,
      script_reserved_mb: t.script?.torch_reserved_mb ?? null,
      diff_mb: diff,
      diff_percent: diff !== null && smiPeak ? Math.round((1000 * diff) / smiPeak) / 10 : null,
      tolerance_mb: tol,
      within,
    };

    if (t.outcome !== 'success') reasons.push(`${t.name}: ended ${t.outcome}${t.reason ? `: ${t.reason.split('\n')[0]}` : ''}`);
    if (smiPeak === null || smiPeak === 0) {
      reasons.push(`${t.name}: nvidia-smi never listed GPU memory for its processes${workerPids.size ? ` (worker ${[...workerPids].join(', ')})` : ' (no worker pid seen in a heartbeat)'}`);
    } else if (agent === null) {
      reasons.push(`${t.name}: the agent reported no memory for it (peak_vram_mb null) while nvidia-smi listed ${smiPeak} MiB for pid ${[...gpuPids].join(', ')}`);
    } else if (!within) {
      reasons.push(`${t.name}: the agent reported ${agent} MiB, nvidia-smi ${smiPeak} MiB: off by ${diff} MiB, more than ${tol} MiB`);
    }
    if (!within) {
      // Why the agent may not see it: it matches GPU processes by process group (the worker's, or the task's it reported).
      for (const s of x.samples) {
        const m = s.tasks[t.task_id];
        const p = m?.pids.find((q) => q.pgrp !== null && !workerPids.has(q.pgrp) && !taskPgids.has(q.pgrp));
        if (!p) continue;
        notes.push(
          `${t.name}: its GPU process ${p.pid} is a descendant of worker ${[...workerPids].join('/')} but in process group ${p.pgrp}, ` +
            `which the agent's heartbeats never named (task_pgid ${[...taskPgids].join('/') || 'absent'}): an agent matching by process group does not see it`,
        );
        break;
      }
    }
    if (t.script && smiPeak !== null && t.script.torch_reserved_mb !== null) {
      notes.push(`${t.name}: nvidia-smi's figure is ${smiPeak - t.script.torch_reserved_mb} MiB above what the script's allocator holds (${t.script.torch_reserved_mb} MiB): the CUDA context and library workspaces`);
    }
    return row;
  });
  if (rows.length === 0 && x.problems.length === 0) reasons.push('no task of the check ran');

  const hbTransitions = healthTransitions(beats.map((b): HealthPoint => ({ at: b.at, health: b.health, reasons: b.reasons })));
  const logTransitions = healthTransitions(healthFromLog(x.logText, x.agentName).filter((p) => p.at >= x.startedAt - 1000));
  const cycled = sawConstrainedToHealthy(hbTransitions) || sawConstrainedToHealthy(logTransitions);
  // A run that broke off (timeout, interrupt, rig died) already says why; no second guess about thresholds.
  if (!cycled && x.problems.length === 0) {
    const wasConstrained = [...hbTransitions, ...logTransitions].some((t) => t.to === 'constrained');
    reasons.push(
      wasConstrained
        ? 'the agent became constrained but was not seen healthy again before the check ended'
        : `the agent never became constrained (max_vram_percent ${x.thresholds.max_vram_percent}, max_power_w ${x.thresholds.max_power_w}): lower a threshold with --vram-threshold or --power-threshold`,
    );
  }

  const gpus = x.samples.map((s) => s.gpu).filter((g): g is SmiGpu => g !== null);
  const t0 = x.startedAt;
  return {
    verdict: reasons.length === 0 ? 'PASS' : 'FAIL',
    verdict_reasons: reasons,
    mode: x.mode,
    started_at: new Date(x.startedAt).toISOString(),
    duration_s: Math.round((x.finishedAt - x.startedAt) / 100) / 10,
    gpu: {
      index: x.gpu.index, name: x.gpu.name, uuid: x.gpu.uuid, driver: x.gpu.driver,
      memory_total_mb: x.gpu.memory_total_mb, power_limit_w: x.gpu.power_limit_w,
    },
    preflight: x.preflight,
    idle: { temperature_c: x.idle.temperature_c, power_draw_w: x.idle.power_draw_w, memory_used_mb: x.idle.memory_used_mb, utilization_percent: x.idle.utilization_percent },
    thresholds: x.thresholds,
    batch: x.batch,
    memory: rows,
    health: { heartbeat: hbTransitions, log: logTransitions, constrained_to_healthy: cycled },
    gpu_max: {
      temperature_c: max(gpus.map((g) => g.temperature_c)),
      power_draw_w: max(gpus.map((g) => g.power_draw_w)),
      memory_used_mb: max(gpus.map((g) => g.memory_used_mb)),
      utilization_percent: max(gpus.map((g) => g.utilization_percent)),
    },
    agent_max: {
      vram_used_mb: max(beats.map((b) => b.vram_used_mb)),
      power_draw_w: max(beats.map((b) => b.power_draw_w)),
      temperature_c: max(beats.map((b) => b.temperature_c)),
    },
    notes: [...new Set(notes)],
    samples: x.samples.length,
    timeline: x.samples.map((s) => ({
      t: Math.round((s.at - t0) / 100) / 10,
      mem: s.gpu?.memory_used_mb ?? null,
      w: s.gpu?.power_draw_w ?? null,
      c: s.gpu?.temperature_c ?? null,
      health: s.heartbeat?.health ?? null,
      tasks: Object.fromEntries(Object.entries(s.tasks).map(([id, m]) => [id, m.mb])),
    })),
  };
}

/** The last line of a task's stdout that is alloc.py's (or sim-alloc.mjs's) JSON report; null when none. */
export function parseScriptReport(stdout: string): ScriptReport | null {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const o = JSON.parse(lines[i]!) as Record<string, unknown>;
      if (typeof o.requested_mb !== 'number' || typeof o.pid !== 'number') continue;
      const n = (v: unknown) => (typeof v === 'number' ? v : null);
      return {
        pid: o.pid,
        requested_mb: o.requested_mb,
        torch_reserved_mb: n(o.torch_reserved_mb),
        torch_allocated_mb: n(o.torch_allocated_mb),
        device: typeof o.device === 'string' ? o.device : null,
        seconds: n(o.seconds),
        tflops: n(o.tflops),
      };
    } catch {
      // not JSON: keep looking
    }
  }
  return null;
}
