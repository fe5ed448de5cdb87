// A task's declared files: `inputs` (what its result depends on besides its command, prompt
// and model) and `outputs` (what it leaves for later tasks). Both are lists of paths with
// placeholders; they feed the resume cache (core/inputKey.ts): a task is taken as done on
// `forge submit --resume` only while its inputs are unchanged and its outputs are there.
//
// Where a path may point: inside the plan folder (a relative path, from the plan's folder) or
// inside the batch folder ({BATCH_PATH}/...); outputs only inside the batch folder. No `..`.
// A placeholder's value could still lead elsewhere: the readers check the real path again
// (core/keyFiles.ts) and never read outside those two folders.
import { isAbsolute, normalize, resolve } from 'node:path';
import { placeholderProblems } from './placeholderRules.ts';
import { fieldLine, type Problem, type TaskRule } from './ruleContext.ts';
import { BATCH_PATH, CHECKPOINT_DIR, findPlaceholders } from './substitute.ts';
import { splitPaths } from './fieldValues.ts';
import type { PlanTaskSpec } from './types.ts';

/** Paths one field may list: each is hashed (inputs) or checked (outputs) on every resume. */
export const MAX_TASK_PATHS = 64;

export const PATH_FIELDS = ['inputs', 'outputs'] as const;
export type PathField = (typeof PATH_FIELDS)[number];

/** A filled path made absolute: relative paths are from the task's working directory (the plan folder). */
export function taskPath(cwd: string, filled: string): string {
  return isAbsolute(filled) ? normalize(filled) : resolve(cwd, filled);
}

function pathProblems(task: PlanTaskSpec, field: PathField, ctx: Parameters<TaskRule['check']>[1]): Problem[] {
  const written = task.raw[field];
  const paths = splitPaths(written);
  if (paths === null) return [];
  const t = `task '${task.name}'`;
  const line = fieldLine(task, field);
  const at = (message: string): Problem => ({ line, message });
  if (paths.length === 0) return [at(`${t}: ${field} is empty; list paths separated by commas, e.g. {BATCH_PATH}/collected.json, scripts/process.mjs, or leave the field out`)];
  if (paths.length > MAX_TASK_PATHS) return [at(`${t}: ${field} lists ${paths.length} paths, over the limit of ${MAX_TASK_PATHS}; name a folder instead of its files`)];
  const found: Problem[] = [];
  for (const p of paths) {
    const inBatch = p === `{${BATCH_PATH}}` || p.startsWith(`{${BATCH_PATH}}/`);
    if (p.split('/').includes('..')) found.push(at(`${t}: ${field} path '${p}' must stay inside its folder; remove '..'`));
    else if (field === 'outputs' && !inBatch) found.push(at(`${t}: outputs path '${p}' must be under {BATCH_PATH}/ (a task writes only into its batch folder), e.g. {BATCH_PATH}/outputs/${task.name}.json`));
    else if (!inBatch && (p.startsWith('/') || p.startsWith('~'))) found.push(at(`${t}: inputs path '${p}' must be inside the plan folder (a path relative to it, e.g. scripts/process.mjs) or the batch folder ({BATCH_PATH}/...); copy a file from elsewhere into the plan folder`));
    if (findPlaceholders(p).some((u) => u.name === CHECKPOINT_DIR)) {
      found.push(at(`${t}: {${CHECKPOINT_DIR}} cannot be used in ${field}: the checkpoint folder holds progress, not results; name the files under {BATCH_PATH}/ instead`));
    }
  }
  found.push(...placeholderProblems(task, paths.filter((p) => !p.includes(`{${CHECKPOINT_DIR}}`)).join(' '), field, true, ctx));
  return found;
}

/** Checked with the other task rules (taskRules.ts). */
export const PATH_RULES: readonly TaskRule[] = PATH_FIELDS.map((field) => ({
  name: `${field} are paths inside the plan or batch folder`,
  check: (task, ctx) => pathProblems(task, field, ctx),
}));
