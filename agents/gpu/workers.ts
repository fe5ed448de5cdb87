// The agent's workers: one subprocess per claimed task, in its own process group, whose task
// runs in a process group of its own again (the worker reports its pid on stderr). Here: the
// spawn, the result read back from stdout, the signals that stop one or all of them, and what
// their processes hold on the GPU. A worker that dies without a result leaves no process
// behind: its task's group, and anything else carrying its attempt's environment, is killed.
import { isoTime } from '../core/clock.ts';
import { isAlive } from '../core/pids.ts';
import type { Task, WorkerResult } from '../core/task.ts';
import { formatSpareEnvelope, hasTaskReceivedLine, parseTaskPidLine, parseWorkerStdout } from '../core/workerProtocol.ts';
import type { Accrual } from './energy.ts';
import type { RunningBeat } from './heartbeatView.ts';
import { processGroupOf, processesOfAttempt } from './procGroup.ts';
import type { SpareWorker } from './spareWorker.ts';
import { killGroup, spawnWorker, taskEnv, type SpareProcess, type SpareSpawnOptions } from './spawnWorker.ts';

/** A task the agent runs, in a worker or (meta) inside itself. */
export interface Running extends RunningBeat, Accrual {
  task: Task;
  /** The task file's text as the claim wrote it (null: not known), so its result need not read it first. */
  claimedText?: string | null;
  /** Set when the agent itself stops the task (signal, shutdown, a cancel in control/). */
  stoppedBy: 'abort' | 'kill' | 'shutdown' | 'cancel' | null;
  /** When a cancel was first acted on (agent clock, ms), and whether the grace ran out into SIGKILL. */
  cancelAt?: number;
  cancelKilled?: boolean;
  /** Settles once its result is recorded. */
  done: Promise<void>;
}

/** How long a shutdown waits after SIGTERM before SIGKILL to every group, ms. */
export const SHUTDOWN_GRACE_MS = 3000;

/** A result the agent writes itself for an attempt that no worker reported on. */
export function agentResult(
  t: Pick<Task, 'id' | 'attempt'>, startedAt: number, now: number,
  outcome: WorkerResult['outcome'], kind: WorkerResult['failure_kind'], reason: string | null, exit: number | null, signal: string | null,
): WorkerResult {
  return {
    task_id: t.id, attempt: t.attempt, outcome, failure_kind: kind, exit_code: exit, signal, reason,
    started_at: isoTime(startedAt), finished_at: isoTime(now), duration_ms: now - startedAt, stdout_path: null, stderr_path: null,
  };
}

export interface WorkerContext {
  agent: string;
  configFile: string;
  /** The mount's root. */
  shared: string;
  ollamaUrl: string;
  gpuId: number;
  model: string;
  /** The name the runtime knows the task's model by (an adapter version's model), when it differs; null: the model itself. */
  servedModel?: string | null;
  /** The runtime's protocol (gpus[].runtime), for the worker's client. */
  runtime: string;
  extraEnv: Record<string, string>;
  /** CPU niceness of workers (workers.nice). */
  nice?: number;
  now: () => number;
  /** Called once the worker has reported its task's process group (the heartbeat lists it). */
  onTaskPgid: () => void;
  /** The agent's spare worker (workers.preboot); absent: a fresh worker per task, spawned with its task. */
  spares?: SpareWorker | null;
  say?: (line: string) => void;
}

/** Runs the entry's task in a worker and returns its result, or one the agent makes for a worker that gave none. */
export async function runWorker(entry: Running, ctx: WorkerContext): Promise<WorkerResult> {
  const t = entry.task;
  const base: SpareSpawnOptions = {
    agent: ctx.agent, configFile: ctx.configFile, shared: ctx.shared, ollamaUrl: ctx.ollamaUrl, gpuId: ctx.gpuId, runtime: ctx.runtime, extraEnv: ctx.extraEnv, nice: ctx.nice,
  };
  const fresh = () => spawnWorker({ ...base, taskJson: JSON.stringify(t), taskId: t.id, attempt: t.attempt, model: ctx.model, servedModel: ctx.servedModel });
  const spare = ctx.spares?.take(base) ?? null;
  spare?.stdin?.write(formatSpareEnvelope(taskEnv({ taskId: t.id, attempt: t.attempt, model: ctx.model, servedModel: ctx.servedModel }), t));
  let watched = follow(spare ?? fresh(), entry, ctx);
  // The next spare boots while this task runs (spawned after the handover, not before it).
  ctx.spares?.prepare(base);
  let res = await watched.done;
  let parsed = parseWorkerStdout(String(res.stdout ?? ''), t.id, t.attempt);
  if (spare && !watched.received() && !entry.stoppedBy && !parsed.ok) {
    // The spare died before it read the task (nothing of it ran): a fresh worker runs it.
    ctx.say?.(`spare worker ${spare.pid ?? '?'} ended before taking ${t.id} (exit ${res.exitCode ?? res.signal}); running it in a fresh worker`);
    watched = follow(fresh(), entry, ctx);
    res = await watched.done;
    parsed = parseWorkerStdout(String(res.stdout ?? ''), t.id, t.attempt);
  }
  let result: WorkerResult;
  if (parsed.ok) {
    result = parsed.result;
  } else {
    const why = entry.stoppedBy
      ? `${entry.stoppedBy === 'shutdown' ? 'agent shut down' : entry.stoppedBy + ' signal'}: worker stopped`
      : `worker gave no valid result (${parsed.reason}); exit ${res.exitCode ?? res.signal}; ${String(res.stderr ?? '').slice(-400)}`;
    result = agentResult(t, entry.startedAt, ctx.now(), entry.stoppedBy ? 'killed' : 'error', 'infra', why, res.exitCode ?? null, res.signal ?? null);
    await killLeftovers(entry, ctx.agent);
  }
  if (entry.stoppedBy === 'cancel' && result.outcome !== 'success') {
    // A person's decision, not a failure of the task or the rig: never retried.
    result = { ...result, outcome: 'cancelled', failure_kind: null, reason: `cancelled (control/cancel/): ${result.reason ?? 'worker stopped'}`.trim() };
  } else if (entry.stoppedBy && result.outcome !== 'success') {
    result = { ...result, outcome: 'killed', failure_kind: 'infra', reason: `${entry.stoppedBy}: ${result.reason ?? ''}`.trim() };
  }
  return { ...result, peak_vram_mb: entry.peakMb ?? result.peak_vram_mb ?? null };
}

type WorkerProcess = ReturnType<typeof spawnWorker> | SpareProcess;

/** Follows a worker's stderr for its task's process group and, from a spare, the line saying it took its task. */
function follow(proc: WorkerProcess, entry: Running, ctx: WorkerContext): { done: WorkerProcess; received: () => boolean } {
  entry.pid = proc.pid ?? null;
  let received = false;
  proc.stderr?.on('data', (chunk: Buffer) => {
    // Only until both are seen: a chatty task's stderr is not scanned for the rest of its run.
    if (entry.taskPgid !== null && received) return;
    const text = chunk.toString();
    if (!received && hasTaskReceivedLine(text)) received = true;
    if (entry.taskPgid !== null) return;
    const pgid = parseTaskPidLine(text);
    if (pgid !== null) {
      received = true;
      entry.taskPgid = pgid;
      ctx.onTaskPgid();
    }
  });
  return { done: proc, received: () => received };
}

/**
 * The worker died without a result; its task runs on in its own process group and would run
 * beside the retry: end it now, and anything of the attempt whose group was never reported
 * (the worker may have died after starting its task but before reporting its pid).
 */
async function killLeftovers(entry: Running, agent: string): Promise<void> {
  if (entry.taskPgid !== null && isAlive(entry.taskPgid)) killGroup(entry.taskPgid, 'SIGKILL');
  for (const pid of await processesOfAttempt(agent, entry.task.id, entry.task.attempt)) killGroup(pid, 'SIGKILL');
}

/** The worker's group and its task's group: SIGKILL to the worker alone would leave the task running. */
export function killAll(r: Running, sig: NodeJS.Signals): void {
  if (r.taskPgid !== null) killGroup(r.taskPgid, sig);
  if (r.pid !== null) killGroup(r.pid, sig);
}

/** An abort or kill signal for one task; returns what was done, for the log. */
export function stopTask(r: Running, kind: 'abort' | 'kill', as: Running['stoppedBy'] = kind): string {
  r.stoppedBy = as;
  if (kind === 'kill') {
    killAll(r, 'SIGKILL');
    return 'SIGKILL to the worker group';
  }
  if (r.pid !== null) killGroup(r.pid, 'SIGTERM'); // the worker stops its task and reports
  return 'SIGTERM to the worker';
}

/** Shutdown with kill: SIGTERM to every worker (each reports its task as killed), SIGKILL to every group after the grace. */
export async function stopAll(running: () => Running[], graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
  for (const r of running()) {
    r.stoppedBy = 'shutdown';
    if (r.pid !== null) killGroup(r.pid, 'SIGTERM');
  }
  const grace = setTimeout(() => {
    for (const r of running()) killAll(r, 'SIGKILL');
  }, graceMs);
  await Promise.all(running().map((r) => r.done));
  clearTimeout(grace);
}

/**
 * Attributes the GPU's compute processes to workers (the worker itself, its group or its
 * task's group) and keeps each worker's now and peak figures. A script over its estimate is
 * counted at its real figure from then on.
 */
export async function measureWorkers(running: readonly Running[], procs: ReadonlyArray<{ pid: number; used_memory_mb: number | null }>): Promise<void> {
  for (const r of running) r.nowMb = 0;
  for (const p of procs) {
    const group = await processGroupOf(p.pid);
    for (const r of running) {
      if (r.pid !== null && (p.pid === r.pid || group === r.pid || (r.taskPgid !== null && group === r.taskPgid))) {
        r.nowMb += p.used_memory_mb ?? 0;
      }
    }
  }
  for (const r of running) {
    if (r.nowMb > (r.peakMb ?? 0)) r.peakMb = r.nowMb;
    if (r.peakMb !== null && r.peakMb > r.cost && r.task.task_class === 'script') r.cost = r.peakMb;
  }
}
