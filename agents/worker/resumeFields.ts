// What a worker adds to its result for `forge submit --resume`: the task's input key, hashed
// before the task starts (so it is what this attempt ran with, not what a later task changed),
// and, when it succeeded, the files it leaves: its declared outputs, and outputs/<name>.json
// when it wrote one. The brain records both in its result cache when the batch ends
// (brain/resultCache.ts); a key that cannot be computed only costs a rerun on resume.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { taskInputKey } from '../core/keyFiles.ts';
import { childPath } from '../core/paths.ts';
import type { Task, WorkerResult } from '../core/task.ts';

/** The input key, or null (said on stderr) when the files could not be read. */
export async function keyBeforeRun(task: Task, config: Config, log: (line: string) => void): Promise<string | null> {
  try {
    return await taskInputKey(task, config);
  } catch (err) {
    log(`no input key for ${task.id} (a resume will run it again): ${errorMessage(err)}`);
    return null;
  }
}

/** The default result file of a task: outputs/<name>.json in its batch folder. */
export function defaultOutput(task: Pick<Task, 'batch_path' | 'name'>): string {
  return childPath(join(task.batch_path, 'outputs'), `${task.name}.json`, 'task name');
}

/** Declared outputs (all of them: one missing makes a resume rerun the task), then the default one when it exists. */
export async function outputsAfterRun(task: Task): Promise<string[]> {
  const out = [...(task.outputs ?? [])];
  const dflt = defaultOutput(task);
  if (!out.includes(dflt) && (await lstat(dflt).then((s) => s.isFile(), () => false))) out.push(dflt);
  return out.slice(0, 128);
}

/** The result with the key, and the outputs of a success. */
export async function withResumeFields(result: WorkerResult, task: Task, key: string | null): Promise<WorkerResult> {
  const out: WorkerResult = key === null ? result : { ...result, input_key: key };
  if (result.outcome !== 'success') return out;
  return { ...out, outputs: await outputsAfterRun(task).catch(() => task.outputs ?? []) };
}
