// What every plan rule sees besides the plan: the input values given, the names declared
// (for "did you mean" and name lists), and a budget for suggestions shared by the whole check,
// so a plan of thousands of misspelt names costs a moment, not minutes.
import { PLAN_LIMITS } from './limits.ts';
import { BATCH_PATH, CHECKPOINT_DIR, ITEM } from './substitute.ts';
import { closestNames, didYouMean, listNames } from './suggest.ts';
import type { Plan, PlanTaskSpec } from './types.ts';

/** Input names: how they are written in {NAME}. */
export const INPUT_NAME = /^[A-Z_][A-Z0-9_]*$/;
/** Names the rig fills; no input may take them. */
export const RESERVED_INPUTS = [BATCH_PATH, ITEM, CHECKPOINT_DIR] as const;
/** The rig adds a task of this name to every batch. */
export const SUMMARY_TASK = 'batch_summary';

/** One thing wrong, on a plan.md line; validatePlan adds the file. */
export interface Problem {
  line: number;
  message: string;
}

export interface RuleContext {
  /** Input values from the submission's config. */
  values: Record<string, string>;
  /** Declared input names, each once, in the order written. */
  inputs: string[];
  inputNames: Set<string>;
  /** "inputs: A, B" (or how many), for messages. */
  inputList: string;
  /** Names a {NAME} placeholder may take: the inputs, BATCH_PATH and CHECKPOINT_DIR. */
  placeholderNames: string[];
  /** The first task of each name (a second one is reported by a rule). */
  byName: Map<string, PlanTaskSpec>;
  /** Task names a dependency may name (batch_summary is not one). */
  taskNames: string[];
  /** "tasks: a, b" (or how many), for messages. */
  taskList: string;
  /** " (did you mean 'x'?)" for a name close to one of `names`, while the shared budget lasts; else ''. */
  meant(written: string, names: readonly string[]): string;
}

/** A rule over the whole plan. */
export interface PlanRule {
  name: string;
  check(plan: Plan, ctx: RuleContext): Problem[];
}

/** A rule over one task. */
export interface TaskRule {
  name: string;
  check(task: PlanTaskSpec, ctx: RuleContext): Problem[];
}

export function ruleContext(plan: Plan, values: Record<string, string>): RuleContext {
  const budget = { used: 0, cells: PLAN_LIMITS.suggestionCells };
  const inputs = [...new Set(plan.inputs.map((i) => i.name))];
  const byName = new Map<string, PlanTaskSpec>();
  for (const task of plan.tasks) if (!byName.has(task.name)) byName.set(task.name, task);
  const taskNames = [...byName.keys()].filter((n) => n !== SUMMARY_TASK);
  return {
    values,
    inputs,
    inputNames: new Set(inputs),
    inputList: listNames('inputs', inputs),
    placeholderNames: [...inputs, BATCH_PATH, CHECKPOINT_DIR],
    byName,
    taskNames,
    taskList: listNames('tasks', taskNames),
    meant: (written, names) => didYouMean(closestNames(written, names, PLAN_LIMITS.suggestions, budget)),
  };
}

/** The line of a task's field, or of its heading when the field is not written. */
export function fieldLine(task: PlanTaskSpec, field: string): number {
  return task.fieldLines[field] ?? task.line;
}
