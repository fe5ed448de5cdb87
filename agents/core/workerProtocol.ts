// What a worker tells its agent, and how the agent reads it: the one home of both sides.
// - stdout: exactly one JSON line, a WorkerResult for the task and attempt it was given. A
//   worker that exits without exactly one valid line for the right task and attempt failed,
//   whatever its exit code.
// - stderr: human-readable log lines, one of which reports the task's own process group
//   (formatTaskPidLine), so the agent can end the task when the worker dies without ending it.
import { WorkerResult } from './task.ts';
import { checkSchema, joinProblems } from './zodIssues.ts';

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
  const parsed = checkSchema(WorkerResult, raw);
  if (!parsed.ok) return { ok: false, reason: `the worker's result does not match the result schema: ${joinProblems(parsed.problems)}` };
  const result = parsed.value;
  if (result.task_id !== taskId) {
    return { ok: false, reason: `the worker's result is for task "${result.task_id}", expected "${taskId}"` };
  }
  const expected = Math.max(1, attempt);
  if (result.attempt !== expected) {
    return { ok: false, reason: `the worker's result is for attempt ${result.attempt} of task "${taskId}", expected attempt ${expected}` };
  }
  return { ok: true, result };
}

/** The stderr line in which a worker reports the pid of the task it started, the leader of the task's own process group. */
export function formatTaskPidLine(pid: number): string {
  return `task pid ${pid} (its own process group)`;
}

const TASK_PID_LINE = /task pid (\d+) \(its own process group\)/;

/** The task's pid from a piece of the worker's stderr (which carries other lines too), or null when it holds no such line. */
export function parseTaskPidLine(text: string): number | null {
  const m = TASK_PID_LINE.exec(text);
  return m ? Number(m[1]) : null;
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

// A spare worker (started with --spare) boots, then waits for one line on stdin: this
// envelope, the task and the per-task environment that was not known when it was spawned.
// It says so on stderr once it has the task: until then, a spare that died took no task with
// it, and the agent runs the task in a fresh worker instead.

export interface SpareEnvelope {
  /** Set in the worker's process.env before the task starts (the task's processes inherit it). */
  env: Record<string, string>;
  task: unknown;
}

export function formatSpareEnvelope(env: Record<string, string>, task: unknown): string {
  // JSON.stringify writes no raw newline: the envelope is exactly one line.
  return JSON.stringify({ env, task } satisfies SpareEnvelope) + '\n';
}

/** The envelope from its line, or a reason it is not one. */
export function parseSpareEnvelope(line: string): { ok: true; envelope: SpareEnvelope } | { ok: false; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `the task envelope is not valid JSON (${line.length} characters): ${err instanceof Error ? err.message : String(err)}` };
  }
  const obj = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  const env = obj?.env;
  if (!obj || typeof env !== 'object' || env === null || Array.isArray(env) || !('task' in obj)) {
    return { ok: false, reason: 'the task envelope must be {"env": {...}, "task": {...}}' };
  }
  for (const [k, v] of Object.entries(env)) {
    if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return { ok: false, reason: `the task envelope's env.${k} must be a string under a variable name` };
  }
  return { ok: true, envelope: { env: env as Record<string, string>, task: obj.task } };
}

const TASK_RECEIVED_LINE = 'spare worker took its task';

/** The stderr line a spare writes once it has read its task. */
export function formatTaskReceivedLine(taskId: string): string {
  return `${TASK_RECEIVED_LINE} ${taskId}`;
}

export function hasTaskReceivedLine(text: string): boolean {
  return text.includes(TASK_RECEIVED_LINE);
}
