// Reads <dir>/plan.md and hands it to the pure parser; checkPlan adds the named rules. The file
// is read through the mount's bounded reader: a FIFO, a device, a symlink out of the plan
// folder or a file over the size limit is refused with a reason, never a hang.
import { join, resolve } from 'node:path';
import { readMountFileInside } from '../core/mountRead.ts';
import { PLAN_LIMITS } from './limits.ts';
import { parsePlan } from './parse.ts';
import { capProblems } from './suggest.ts';
import { figure } from './textLimits.ts';
import type { Plan } from './types.ts';
import { sortProblems, validatePlan } from './validate.ts';

export const PLAN_FILE = 'plan.md';

export interface LoadedPlan {
  /** null when plan.md could not be read at all, or was refused before parsing (a limit). */
  plan: Plan | null;
  problems: string[];
}

export async function loadPlan(dir: string): Promise<LoadedPlan> {
  const abs = resolve(dir);
  const file = join(abs, PLAN_FILE);
  const read = await readMountFileInside(file, abs, { maxBytes: PLAN_LIMITS.planBytes });
  if (!read.ok) {
    const problem = {
      missing: `${file}:1: no ${PLAN_FILE} in ${abs}: a plan folder holds plan.md and its scripts/ (see plans/PLAN_FORMAT.md)`,
      too_big: `${file}:1: ${read.detail} (${figure(PLAN_LIMITS.planBytes)} bytes, 2 MiB, is the most a plan may be); split the work into several plans, or move long text into files the tasks read`,
      not_a_file: `${file}:1: cannot read ${PLAN_FILE}: ${read.detail}; plan.md must be a regular file in the plan folder`,
      unreadable: `${file}:1: cannot read ${PLAN_FILE}: ${read.detail}`,
    }[read.why];
    return { plan: null, problems: [problem] };
  }
  const parsed = parsePlan(read.text, file, abs);
  // Refused before parsing: there is no plan to validate (it would only add "no tasks").
  return parsed.stopped ? { plan: null, problems: parsed.problems } : parsed;
}

/**
 * Parse and validate together: every problem of both layers, sorted by line, the first few
 * listed and the rest counted (capProblems), so what is printed does not grow with the plan.
 */
export async function checkPlan(dir: string, values: Record<string, string>): Promise<LoadedPlan> {
  const loaded = await loadPlan(dir);
  if (!loaded.plan) return loaded;
  return { plan: loaded.plan, problems: capProblems(sortProblems([...loaded.problems, ...validatePlan(loaded.plan, values)])) };
}
