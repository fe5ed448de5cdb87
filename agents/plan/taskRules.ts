// The rules over one task: values the parser could not read, who runs what, the fields a type
// needs, placeholders (placeholderRules.ts), foreach, and dependencies that exist. Each rule
// names its field's line and says what was expected and what was found.
import { EXECUTORS, TASK_CLASSES } from '../core/task.ts';
import { GATE_RULES } from './gateRules.ts';
import { PLACEHOLDER_RULES, placeholderProblems } from './placeholderRules.ts';
import { SUMMARY_TASK, fieldLine, type Problem, type TaskRule } from './ruleContext.ts';
import { BATCH_PATH } from './substitute.ts';
import { suggest } from './suggest.ts';
import { PLAN_TASK_TYPES } from './taskFields.ts';
import type { PlanTaskSpec } from './types.ts';

/** A foreach key: a dotted name, or empty for a manifest that is itself the array. */
export const FOREACH_KEY = /^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;

const one = (line: number, message: string): Problem[] => [{ line, message }];
const isMeta = (task: PlanTaskSpec) => task.type === 'load_llm' || task.type === 'unload_llm';
const isLlm = (task: PlanTaskSpec) => task.type === 'generate' || task.type === 'parse';
/** Written, and one of the allowed values: only then do the rules about that value apply. */
const given = (task: PlanTaskSpec, field: string, allowed: readonly string[]) => task.raw[field] !== undefined && allowed.includes(task.raw[field]!.toLowerCase());

/** A rule that the field, when written, is one of `allowed`. */
function knownValue(field: string, allowed: readonly string[]): TaskRule {
  return {
    name: `${field} is known`,
    check: (task) => {
      const v = task.raw[field];
      if (v === undefined || allowed.includes(v.toLowerCase())) return [];
      return one(fieldLine(task, field), `task '${task.name}': unknown ${field} '${v}'${suggest(v, allowed)}; allowed: ${allowed.join(', ')}`);
    },
  };
}

const typeKnown: TaskRule = {
  name: 'type is known and not reserved',
  check: (task, ctx) => {
    if (task.raw.type?.toLowerCase() !== SUMMARY_TASK) return knownValue('type', PLAN_TASK_TYPES).check(task, ctx);
    return one(fieldLine(task, 'type'), `task '${task.name}': type '${SUMMARY_TASK}' is reserved for the summary the rig adds itself; allowed: ${PLAN_TASK_TYPES.join(', ')}`);
  },
};

const vramWhole: TaskRule = {
  name: 'vram_estimate_mb is a whole number',
  check: (task) =>
    task.raw.vram_estimate_mb === undefined || task.vram_estimate_mb !== null
      ? []
      : one(fieldLine(task, 'vram_estimate_mb'), `task '${task.name}': vram_estimate_mb must be a whole number of MB, e.g. 1024; found '${task.raw.vram_estimate_mb}'`),
};

const timeoutPositive: TaskRule = {
  name: 'timeout_s is a whole number above 0',
  check: (task) =>
    task.raw.timeout_s === undefined || (task.timeout_s !== null && task.timeout_s > 0)
      ? []
      : one(fieldLine(task, 'timeout_s'), `task '${task.name}': timeout_s must be a whole number of seconds above 0, e.g. 600; found '${task.raw.timeout_s}'`),
};

const maxAttemptsRange: TaskRule = {
  name: 'max_attempts is a whole number from 1 to 100',
  check: (task) =>
    task.raw.max_attempts === undefined || (task.max_attempts !== null && task.max_attempts >= 1 && task.max_attempts <= 100)
      ? []
      : one(fieldLine(task, 'max_attempts'), `task '${task.name}': max_attempts must be a whole number from 1 to 100 (attempts for the task's own failures), e.g. 5; found '${task.raw.max_attempts}'`),
};

const retryDelayRange: TaskRule = {
  name: 'retry_delay_s is a whole number of seconds up to a day',
  check: (task) =>
    task.raw.retry_delay_s === undefined || (task.retry_delay_s !== null && task.retry_delay_s <= 86_400)
      ? []
      : one(fieldLine(task, 'retry_delay_s'), `task '${task.name}': retry_delay_s must be a whole number of seconds from 0 to 86400 (the first retry's wait, doubled at each retry), e.g. 30; found '${task.raw.retry_delay_s}'`),
};

const outputSchemaObject: TaskRule = {
  name: 'output_schema is a JSON object',
  check: (task) => {
    if (task.raw.output_schema === undefined || task.output_schema !== null) return [];
    let why = 'not a JSON object';
    try {
      JSON.parse(task.raw.output_schema);
    } catch (err) {
      why = `not valid JSON: ${(err as Error).message}`;
    }
    return one(fieldLine(task, 'output_schema'), `task '${task.name}': output_schema must be a JSON object in backticks, e.g. \`{"type": "object", "properties": {"score": {"type": "number"}}}\`; found ${why}`);
  },
};

const executorFitsType: TaskRule = {
  name: 'executor fits the type',
  check: (task) => {
    if (!given(task, 'executor', EXECUTORS)) return [];
    const [t, line] = [`task '${task.name}'`, fieldLine(task, 'executor')];
    if (task.executor === 'brain') return one(line, `${t}: executor 'brain' is reserved for the ${SUMMARY_TASK} the rig adds itself; use worker (or agent for load_llm/unload_llm), or leave executor out`);
    if (task.executor === 'agent' && !isMeta(task)) return one(line, `${t}: executor 'agent' runs only load_llm and unload_llm tasks; use worker for a ${task.type} task, or leave executor out`);
    if (task.executor === 'worker' && isMeta(task)) return one(line, `${t}: ${task.type} tasks are run by the GPU agent itself: set executor agent, or leave executor out`);
    return [];
  },
};

const classFitsType: TaskRule = {
  name: 'task_class fits the type',
  check: (task) => {
    if (!given(task, 'task_class', TASK_CLASSES) || task.task_class === null) return [];
    const [t, line] = [`task '${task.name}'`, fieldLine(task, 'task_class')];
    if (isLlm(task) && task.task_class !== 'llm') return one(line, `${t}: type ${task.type} needs an LLM: task_class must be llm (or leave task_class out)`);
    if (isMeta(task) && task.task_class !== 'meta') return one(line, `${t}: type ${task.type} is a meta task: task_class must be meta (or leave task_class out)`);
    if (!isLlm(task) && !isMeta(task) && task.task_class === 'meta') return one(line, `${t}: task_class meta is only for load_llm/unload_llm tasks the GPU agent runs; a command is cpu, script or llm`);
    return [];
  },
};

const shellHasCommand: TaskRule = {
  name: 'a shell task has a command',
  check: (task) =>
    task.type !== 'shell' || task.executor !== 'worker' || task.command
      ? []
      : one(task.raw.command !== undefined ? fieldLine(task, 'command') : task.line, `task '${task.name}' has no command: a shell task needs '- **command**: \`program arguments\`', e.g. \`node scripts/run.mjs {BATCH_PATH}\``),
};

const llmHasPrompt: TaskRule = {
  name: 'a generate or parse task has a prompt',
  check: (task) =>
    !isLlm(task) || task.prompt
      ? []
      : one(task.raw.prompt !== undefined ? fieldLine(task, 'prompt') : task.line, `task '${task.name}' has no prompt: a ${task.type} task needs '- **prompt**: text', where {NAME} placeholders are filled`),
};

const parseHasSchema: TaskRule = {
  name: 'a parse task has an output_schema',
  check: (task) =>
    task.type !== 'parse' || task.raw.output_schema !== undefined
      ? []
      : one(task.line, `task '${task.name}' has no output_schema: a parse task needs '- **output_schema**: \`{...}\`', the JSON Schema its answer must follow`),
};

const foreachForm: TaskRule = {
  name: 'foreach is <manifest path>:<key>',
  check: (task) =>
    task.raw.foreach === undefined || task.foreach
      ? []
      : one(fieldLine(task, 'foreach'), `task '${task.name}': foreach must be '<manifest path>:<key>', e.g. {BATCH_PATH}/manifest.json:videos; found '${task.raw.foreach}' (no ':'); write '<path>:' for a manifest that is itself the list`),
};

const foreachPath: TaskRule = {
  name: 'foreach manifest is inside {BATCH_PATH}',
  check: (task) => {
    const spec = task.raw.foreach === undefined ? null : task.foreach;
    if (!spec) return [];
    const [t, line] = [`task '${task.name}'`, fieldLine(task, 'foreach')];
    if (!spec.path.startsWith(`{${BATCH_PATH}}/`)) return one(line, `${t}: foreach manifest path must be under {BATCH_PATH}/ (the batch's output folder, where an earlier task writes it); found '${spec.path}'`);
    if (spec.path.split('/').includes('..')) return one(line, `${t}: foreach manifest path must stay inside {BATCH_PATH}; remove '..' from '${spec.path}'`);
    return [];
  },
};

const foreachPlaceholders: TaskRule = {
  name: 'foreach placeholders are filled, without {ITEM}',
  check: (task, ctx) => (task.raw.foreach !== undefined && task.foreach ? placeholderProblems(task, task.foreach.path, 'foreach', false, ctx) : []),
};

const foreachKey: TaskRule = {
  name: 'foreach key is a dotted name',
  check: (task) =>
    task.raw.foreach === undefined || !task.foreach || FOREACH_KEY.test(task.foreach.key)
      ? []
      : one(fieldLine(task, 'foreach'), `task '${task.name}': foreach key must be a dotted name such as videos or data.items (or empty for a manifest that is itself the list); found '${task.foreach.key}'`),
};

const foreachWaits: TaskRule = {
  name: 'a foreach task depends on the task that writes its manifest',
  check: (task) =>
    task.raw.foreach === undefined || task.depends_on.length > 0
      ? []
      : one(fieldLine(task, 'foreach'), `task '${task.name}' has a foreach but no depends_on: its manifest is read once its dependencies complete, so depend on the task that writes it`),
};

const dependenciesExist: TaskRule = {
  name: 'dependencies name tasks of the plan',
  check: (task, ctx) => {
    const line = fieldLine(task, 'depends_on');
    // Each name once, in the order written; cycles are found over the whole plan (GRAPH_RULES).
    return [...new Set(task.depends_on)].flatMap((dep): Problem[] => {
      if (dep === SUMMARY_TASK) return one(line, `task '${task.name}': cannot depend on ${SUMMARY_TASK}: the rig adds it and it runs after every other task`);
      if (!ctx.byName.has(dep)) return one(line, `task '${task.name}': depends_on names '${dep}', which is not a task of this plan${ctx.meant(dep, ctx.taskNames)}; ${ctx.taskList}`);
      return [];
    });
  },
};

/** Checked for each task in turn, in this order (problems on one line keep it). */
export const TASK_RULES: readonly TaskRule[] = [
  knownValue('task_class', TASK_CLASSES),
  knownValue('executor', EXECUTORS),
  typeKnown,
  vramWhole,
  timeoutPositive,
  maxAttemptsRange,
  retryDelayRange,
  outputSchemaObject,
  executorFitsType,
  classFitsType,
  shellHasCommand,
  llmHasPrompt,
  parseHasSchema,
  ...PLACEHOLDER_RULES,
  foreachForm,
  foreachPath,
  foreachPlaceholders,
  foreachKey,
  foreachWaits,
  dependenciesExist,
  ...GATE_RULES,
];
