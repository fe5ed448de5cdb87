// A gate task as the worker runs it: an earlier attempt's verdict is removed first, the task
// runs as any other, and once it exits 0 its verdict file is read and checked. A gate that
// succeeded without a valid verdict failed, as its own fault (app): the rig never guesses
// "proceed" for it.
import { type VerdictRead, VERDICT_FORM, clearVerdict, readVerdict, verdictPath } from '../core/gate.ts';
import type { Task, WorkerResult } from '../core/task.ts';

type GateTask = Pick<Task, 'name' | 'type' | 'batch_path'>;

/** Pure: the result with the verdict on it, or failed (app) with a reason naming the file and the form it must have. */
export function judgeGate(task: GateTask, result: WorkerResult, read: VerdictRead): WorkerResult {
  if (result.outcome !== 'success') return result;
  if (read.ok) return { ...result, gate: read.verdict };
  return {
    ...result,
    outcome: 'failed',
    failure_kind: 'app',
    reason: `gate task '${task.name}' exited 0 but gave no valid verdict: ${verdictPath(task.batch_path, task.name)}: ${read.problem}; a gate writes ${VERDICT_FORM} there (whole: to a temporary name, then renamed)`,
  };
}

/** Runs a gate task through `run`, then reads its verdict; a task that is no gate just runs. */
export async function runWithGate(task: Task, run: () => Promise<WorkerResult>): Promise<WorkerResult> {
  if (!task.gate) return run();
  // One that cannot be removed throws: the worker reports an error (infra) rather than let an old verdict count.
  await clearVerdict(task.batch_path, task.name);
  const result = await run();
  if (result.outcome !== 'success') return result;
  return judgeGate(task, result, await readVerdict(task.batch_path, task.name, task.type));
}
