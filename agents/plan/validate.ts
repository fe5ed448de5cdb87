// The named rules of a plan, checked all at once: every problem is reported as
// `file:line: message`, sorted by line, and each message says what was expected and what
// to do. Pure: the plan and the input values in, problems out. The rules live in
// planRules.ts (inputs, config, task names, the dependency graph), taskRules.ts and
// placeholderRules.ts (each task); this file only runs them in order.
import { findCycles } from './graph.ts';
import { GRAPH_RULES, PLAN_RULES } from './planRules.ts';
import { ruleContext } from './ruleContext.ts';
import { PRIORITY_RULE } from './priority.ts';
import { SCHEDULE_RULES } from './scheduleRules.ts';
import { TASK_RULES } from './taskRules.ts';
import { ADAPTER_RULES } from './adapterRules.ts';
import type { Plan } from './types.ts';

// What other modules and the tests import from here.
export { findCycles };
export { inlineCodeArgs } from './inlineCode.ts';
export { INPUT_NAME, RESERVED_INPUTS, SUMMARY_TASK } from './ruleContext.ts';
export { FOREACH_KEY } from './taskRules.ts';

/** Input values from a submission's config: numbers and booleans become their String(). */
export function inputValuesFromConfig(config: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
}

/** Sorts `file:line: message` problems by file, then line; keeps the order of equal lines. */
export function sortProblems(problems: string[]): string[] {
  const key = (p: string) => {
    const m = /^(.*?):(\d+): /.exec(p);
    return m ? { file: m[1]!, line: Number(m[2]) } : { file: '', line: 0 };
  };
  return problems
    .map((p, i) => ({ p, i, k: key(p) }))
    .sort((a, b) => (a.k.file === b.k.file ? a.k.line - b.k.line || a.i - b.i : a.k.file < b.k.file ? -1 : 1))
    .map((x) => x.p);
}

export function validatePlan(plan: Plan, values: Record<string, string>): string[] {
  const ctx = ruleContext(plan, values);
  // Plan rules, then every rule for one task before the next task, then the graph: problems
  // on one line keep this order, and "did you mean" spends its shared budget in it.
  const found = [
    ...PLAN_RULES.flatMap((rule) => rule.check(plan, ctx)),
    ...SCHEDULE_RULES.flatMap((rule) => rule.check(plan, ctx)),
    ...PRIORITY_RULE.check(plan, ctx),
    ...plan.tasks.flatMap((task) => [...TASK_RULES, ...ADAPTER_RULES].flatMap((rule) => rule.check(task, ctx))),
    ...GRAPH_RULES.flatMap((rule) => rule.check(plan, ctx)),
  ];
  return sortProblems(found.map((p) => `${plan.file}:${p.line}: ${p.message}`));
}
