// Closing an attempt: the one way a task's attempt gets its end recorded, whoever records it
// (the agent that ran it, the brain that found its agent dead, doctor). The attempt's result
// goes on the task and its record into `attempts`, replacing any record of the same attempt,
// so closing twice (a retried write) leaves one record, not two.
import type { AttemptRecord, Task, WorkerResult } from './task.ts';

export interface AttemptCloser {
  /** Who held the attempt (the agent's name; 'unknown' or 'none' when nobody recorded a claim). */
  agent: string;
  /** When it was claimed; default the task's claimed_at, else the result's started_at. */
  claimedAt?: string;
}

/** The attempt's record as `attempts` keeps it: the result's figures under the result's attempt number. */
export function attemptRecord(task: Pick<Task, 'claimed_at'>, result: WorkerResult, by: AttemptCloser): AttemptRecord {
  return {
    attempt: result.attempt,
    agent: by.agent,
    claimed_at: by.claimedAt ?? task.claimed_at ?? result.started_at,
    finished_at: result.finished_at,
    outcome: result.outcome,
    failure_kind: result.failure_kind,
    reason: result.reason,
    exit_code: result.exit_code,
    peak_vram_mb: result.peak_vram_mb ?? null,
  };
}

/**
 * The task with its attempt closed: `attempt` is the result's (a lost attempt that was never
 * recorded as claimed takes the next number), `result` and `finished_at` are the result's, and
 * the attempt's record replaces any earlier record of the same attempt.
 */
export function closeAttempt(task: Task, result: WorkerResult, by: AttemptCloser): Task {
  const record = attemptRecord(task, result, by);
  return {
    ...task,
    attempt: result.attempt,
    result,
    finished_at: result.finished_at,
    attempts: [...task.attempts.filter((a) => a.attempt !== record.attempt), record],
  };
}

/**
 * The result of an attempt that ended without its worker's word (its agent died, its file
 * vanished, doctor found it abandoned): lost, an infra failure, timed from its claim.
 */
export function lostResult(task: Pick<Task, 'id'>, attempt: number, reason: string, startedAt: string, finishedAt: string): WorkerResult {
  const ms = Date.parse(finishedAt) - Date.parse(startedAt);
  return {
    task_id: task.id, attempt, outcome: 'lost', failure_kind: 'infra', exit_code: null, signal: null, reason,
    started_at: startedAt, finished_at: finishedAt, duration_ms: Number.isFinite(ms) ? Math.max(0, ms) : 0,
    stdout_path: null, stderr_path: null,
  };
}
