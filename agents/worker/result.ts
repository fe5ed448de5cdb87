// The worker's one result: built here and printed as exactly one JSON line on stdout. The
// agent reads it back with parseWorkerStdout (core/workerProtocol.ts, the protocol's one home).
import { isoTime } from '../core/clock.ts';
import type { FailureKind, Outcome, WorkerResult } from '../core/task.ts';

/** How the caller reacts to an outcome, unless the result says otherwise. */
export function defaultFailureKind(outcome: Outcome): FailureKind | null {
  switch (outcome) {
    case 'success':
    case 'needs_approval':
    case 'cancelled':
    case 'skipped':
      return null;
    case 'failed':
    case 'timeout':
    case 'blocked':
    case 'not_run':
    case 'unschedulable':
      return 'app';
    case 'killed':
    case 'lost':
    case 'oom':
    case 'error':
      return 'infra';
  }
}

export interface ResultFields {
  outcome: Outcome;
  /** Defaults to defaultFailureKind(outcome). */
  failure_kind?: FailureKind | null;
  reason?: string | null;
  exit_code?: number | null;
  signal?: string | null;
  stdout_path?: string | null;
  stderr_path?: string | null;
  output?: unknown;
  peak_vram_mb?: number | null;
}

export interface ResultTask {
  taskId: string;
  /** The claim's attempt number; 0 (never claimed) is reported as 1, the lowest a result holds. */
  attempt: number;
  /** When the worker started, ms since the epoch. */
  startedAt: number;
}

export function makeResult(task: ResultTask, fields: ResultFields, finishedAt = Date.now()): WorkerResult {
  const result: WorkerResult = {
    task_id: task.taskId,
    attempt: Math.max(1, task.attempt),
    outcome: fields.outcome,
    failure_kind: fields.failure_kind === undefined ? defaultFailureKind(fields.outcome) : fields.failure_kind,
    exit_code: fields.exit_code ?? null,
    signal: fields.signal ?? null,
    reason: fields.reason ?? null,
    started_at: isoTime(task.startedAt),
    finished_at: isoTime(finishedAt),
    duration_ms: Math.max(0, finishedAt - task.startedAt),
    stdout_path: fields.stdout_path ?? null,
    stderr_path: fields.stderr_path ?? null,
  };
  if (fields.output !== undefined) result.output = fields.output;
  if (fields.peak_vram_mb !== undefined) result.peak_vram_mb = fields.peak_vram_mb;
  return result;
}

/** The only write to the worker's stdout: one line, in one call. Rejects when it could not be written (EPIPE). */
export function printResult(result: WorkerResult): Promise<void> {
  return new Promise((done, fail) => {
    process.stdout.write(JSON.stringify(result) + '\n', (err) => (err ? fail(err) : done()));
  });
}
