// The rules over the whole plan: its inputs and the config values given for them, and its
// task names (checked before any task), then its dependency graph (after every task).
import { TASK_NAME } from '../core/task.ts';
import { findCycles, longestChain } from './graph.ts';
import { PLAN_LIMITS } from './limits.ts';
import { INPUT_NAME, RESERVED_INPUTS, SUMMARY_TASK, type PlanRule, type Problem } from './ruleContext.ts';
import { figure } from './textLimits.ts';

const isReservedInput = (name: string) => (RESERVED_INPUTS as readonly string[]).includes(name);

const inputNamesValid: PlanRule = {
  name: 'input names are upper case and not reserved',
  check: (plan) =>
    plan.inputs.flatMap(({ name, line }): Problem[] => {
      if (isReservedInput(name)) return [{ line, message: `input '${name}' is reserved: {${name}} is filled by the rig; give the input another name` }];
      if (INPUT_NAME.test(name)) return [];
      const upper = name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
      return [{ line, message: `input name '${name}' is not valid: write it in upper case letters, digits and '_' (e.g. ${upper}), and use it as {${upper}}` }];
    }),
};

const inputsDeclaredOnce: PlanRule = {
  name: 'each input is declared once',
  check: (plan) => {
    const first = new Map<string, number>();
    const found: Problem[] = [];
    for (const { name, line } of plan.inputs) {
      if (first.has(name)) found.push({ line, message: `input '${name}' is declared twice (first at line ${first.get(name)}); keep one` });
      else first.set(name, line);
    }
    return found;
  },
};

const inputsHaveValues: PlanRule = {
  name: 'each input has a default or a value',
  check: (plan, { values }) => {
    const seen = new Set<string>();
    const found: Problem[] = [];
    for (const { name, line, default: dflt } of plan.inputs) {
      if (seen.has(name)) continue; // a second declaration is reported as such
      seen.add(name);
      if (dflt === null && !Object.prototype.hasOwnProperty.call(values, name)) {
        found.push({ line, message: `input '${name}' has no default and no value was given: pass it with --config '{"${name}": "..."}' (or in the submission's config), or give it a default ('- **${name}**: value')` });
      }
    }
    return found;
  },
};

const configGivesInputs: PlanRule = {
  name: 'config values name inputs and hold no NUL',
  check: (plan, ctx) => {
    const line = plan.sectionLines.inputs ?? 1;
    const found: Problem[] = [];
    for (const [key, value] of Object.entries(ctx.values)) {
      if (isReservedInput(key)) {
        found.push({ line, message: `config gives '${key}', which the rig sets itself; remove it from the config` });
      } else if (!ctx.inputNames.has(key)) {
        found.push({ line, message: `config gives '${key}', but the plan has no input ${key}${ctx.meant(key, ctx.inputs)}; ${ctx.inputList}; declare it in '## Inputs' as '- **${key}**: default' or remove it from the config` });
      }
      if (value.includes('\0')) found.push({ line, message: `config value of '${key}' contains a NUL character, which no program argument can hold; remove it` });
    }
    return found;
  },
};

const hasTasks: PlanRule = {
  name: 'the plan has tasks',
  check: (plan) =>
    plan.tasks.length > 0
      ? []
      : [{ line: plan.sectionLines.tasks ?? 1, message: `the plan has no tasks: add a '## Tasks' section with one '### name' heading per task, each followed by fields such as '- **command**: \`node scripts/run.mjs {BATCH_PATH}\`'` }],
};

const taskNamesValid: PlanRule = {
  name: 'task names are valid and not reserved',
  check: (plan) =>
    plan.tasks.flatMap(({ name, line }): Problem[] => {
      if (name === SUMMARY_TASK) return [{ line, message: `task name '${SUMMARY_TASK}' is reserved: the rig adds a ${SUMMARY_TASK} task to every batch; give this task another name` }];
      if (name.includes('.')) return [{ line, message: `task name '${name}' is not valid: '.' is reserved for foreach children (<template>.<n>); use letters, digits, '_' and '-'` }];
      if (TASK_NAME.test(name)) return [];
      const example = name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+/, '').slice(0, 64) || 'scan';
      return [{ line, message: `task name '${name}' is not valid: use letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters (e.g. ${example})` }];
    }),
};

const taskNamesUnique: PlanRule = {
  name: 'task names are unique',
  check: (plan, { byName }) =>
    plan.tasks
      .filter((task) => byName.get(task.name) !== task)
      .map((task) => ({ line: task.line, message: `task '${task.name}' is defined twice (first at line ${byName.get(task.name)!.line}); task names must be unique` })),
};

/** Checked before any task, in this order. */
export const PLAN_RULES: readonly PlanRule[] = [inputNamesValid, inputsDeclaredOnce, inputsHaveValues, configGivesInputs, hasTasks, taskNamesValid, taskNamesUnique];

const noCycles: PlanRule = {
  name: 'no dependency cycles',
  check: (_plan, { byName }) =>
    findCycles(byName).map((cycle) => {
      const start = byName.get(cycle[0]!)!;
      return { line: start.fieldLines.depends_on ?? start.line, message: `dependency cycle: ${cycle.join(' -> ')} (each task waits for the next, so none of them can start); remove one of these dependencies` };
    }),
};

const chainWithinLimit: PlanRule = {
  name: 'dependency chains within the limit',
  check: (_plan, { byName }) => {
    const chain = longestChain(byName);
    if (chain.length <= PLAN_LIMITS.dependencyDepth) return [];
    const last = byName.get(chain[0]!)!;
    const shown = chain.length > 6 ? [...chain.slice(0, 3), '...', ...chain.slice(-3)] : chain;
    return [{
      line: last.fieldLines.depends_on ?? last.line,
      message: `task '${last.name}' ends a chain of ${figure(chain.length)} tasks each waiting for the one before (${shown.join(' <- ')}), over the limit of ${figure(PLAN_LIMITS.dependencyDepth)} for the longest dependency chain; tasks in a chain run one at a time, each a brain cycle after the last: let independent tasks depend on a common task instead, or split the plan`,
    }];
  },
};

/** Checked after every task, over the dependency graph. */
export const GRAPH_RULES: readonly PlanRule[] = [noCycles, chainWithinLimit];
