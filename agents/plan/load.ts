// Reads <dir>/plan.md and hands it to the pure parser; checkPlan adds the named rules.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorCode } from '../core/errors.ts';
import { parsePlan } from './parse.ts';
import type { Plan } from './types.ts';
import { sortProblems, validatePlan } from './validate.ts';

export const PLAN_FILE = 'plan.md';

export interface LoadedPlan {
  /** null when plan.md could not be read at all. */
  plan: Plan | null;
  problems: string[];
}

export async function loadPlan(dir: string): Promise<LoadedPlan> {
  const abs = resolve(dir);
  const file = join(abs, PLAN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { plan: null, problems: [`${file}:1: no ${PLAN_FILE} in ${abs}: a plan folder holds plan.md and its scripts/ (see plans/PLAN_FORMAT.md)`] };
    }
    return { plan: null, problems: [`${file}:1: cannot read ${PLAN_FILE} (${code ?? (err as Error).message})`] };
  }
  return parsePlan(text, file, abs);
}

/** Parse and validate together: every problem of both layers, sorted by line. */
export async function checkPlan(dir: string, values: Record<string, string>): Promise<LoadedPlan> {
  const loaded = await loadPlan(dir);
  if (!loaded.plan) return loaded;
  return { plan: loaded.plan, problems: sortProblems([...loaded.problems, ...validatePlan(loaded.plan, values)]) };
}
