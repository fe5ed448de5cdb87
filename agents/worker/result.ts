// The worker's one result: built here, printed as exactly one JSON line on stdout, and read
// back by the agent. A worker that exits without exactly one valid line for the right task
// and attempt failed, whatever its exit code.
import { isoTime } from '../core/clock.ts';
import { type FailureKind, type Outcome, WorkerResult } from '../core/task.ts';
import { formatZodIssues } from '../core/zodIssues.ts';

/** How the caller reacts to an outcome, unless the result says otherwise. */
export function defaultFailureKind(outcome: Outcome): FailureKind | null {
  switch (outcome) {
    case 'success':
    case 'needs_approval':
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

export type ParsedWorkerOutput = { ok: true; result: WorkerResult } | { ok: false; reason: string };

/** For the agent: the worker's stdout must be exactly one JSON line, a valid result for this task and attempt. */
export function parseWorkerStdout(stdout: string, taskId: string, attempt: number): ParsedWorkerOutput {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return { ok: false, reason: 'the worker printed no result (its stdout was empty)' };
  if (lines.length > 1) {
    const jsonLines = lines.filter((l) => isJson(l)).length;
    const what = jsonLines === lines.length ? `${lines.length} results` : `${lines.length} lines`;
    return { ok: false, reason: `the worker printed ${what} on stdout; expected exactly one JSON result line (first: ${snippet(lines[0]!)})` };
  }
  const line = lines[0]!;
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { ok: false, reason: `the worker's stdout is not a JSON result: ${snippet(line)}` };
  }
  const parsed = WorkerResult.safeParse(raw);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error.issues).join('; ');
    return { ok: false, reason: `the worker's result does not match the result schema: ${issues}` };
  }
  const result = parsed.data;
  if (result.task_id !== taskId) {
    return { ok: false, reason: `the worker's result is for task "${result.task_id}", expected "${taskId}"` };
  }
  const expected = Math.max(1, attempt);
  if (result.attempt !== expected) {
    return { ok: false, reason: `the worker's result is for attempt ${result.attempt} of task "${taskId}", expected attempt ${expected}` };
  }
  return { ok: true, result };
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function snippet(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > 200 ? t.slice(0, 200) + '...' : t);
}
