// A validated plan → the task files of one batch. Pure: the brain stores what this returns.
// Commands become argument vectors here (tokenized, then substituted: each value is one
// literal argument); a foreach template keeps its {ITEM.*} placeholders, in template
// encoding, for expandForeach.
import { PRIORITY_DEFAULT } from '../core/fairOrder.ts';
import { normalize } from 'node:path';
import { checkpointDir } from '../core/checkpoint.ts';
import type { Config } from '../core/config.ts';
import { UserInputError } from '../core/errors.ts';
import { isoTime } from '../core/clock.ts';
import { taskId, type TaskInput } from '../core/task.ts';
import { inferTaskClass } from './infer.ts';
import { BATCH_PATH, CHECKPOINT_DIR, encodeTemplate, substituteArgv, substituteText } from './substitute.ts';
import { taskPath } from './taskPaths.ts';
import { tokenizeCommand } from './tokenize.ts';
import type { Plan, PlanTaskSpec } from './types.ts';
import { adapterTaskFields } from './adapterRules.ts';
import { SUMMARY_TASK, validatePlan } from './validate.ts';

export interface BuildOptions {
  batchId: string;
  /** Absolute path of the batch's output folder: <shared>/plans/<plan>/batches/<batch_id>. */
  batchPath: string;
  /** Input values given with the submission (strings); defaults fill the rest. A BATCH_PATH key is ignored: batchPath wins. */
  values: Record<string, string>;
  config: Config;
  /** Milliseconds since the epoch, for created_at. */
  now: number;
  /** 1 (highest) to 5 (lowest): every task's priority. Default 3. */
  priority?: number;
}

/** Every placeholder value of a batch: input defaults, overridden by the given values, and BATCH_PATH. */
export function resolveValues(plan: Plan, values: Record<string, string>, batchPath: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const input of plan.inputs) {
    const given = Object.prototype.hasOwnProperty.call(values, input.name) ? values[input.name] : undefined;
    const v = given ?? input.default;
    if (v !== null && v !== undefined) out[input.name] = v;
  }
  out[BATCH_PATH] = batchPath;
  return out;
}

/** What the GPU agent reserves for a task whose plan gives no estimate. */
export function defaultVramMb(taskClass: string, config: Config): number {
  // llm counts as the whole card in the agent (hot/cold), so its estimate is not used.
  return taskClass === 'script' ? config.resource_limits.default_script_vram_mb : 0;
}

/**
 * A task's model: its own, else for llm work the plan's (front matter `model:`); null leaves
 * it to the config (default_model, else the first GPU's).
 */
function modelOf(own: string | null, front: Record<string, unknown>, cls: string, values: Record<string, string>): string | null {
  if (own !== null) return substituteText(own, values);
  return cls === 'llm' && typeof front.model === 'string' && front.model.trim() ? front.model.trim() : null;
}

function buildTask(spec: PlanTaskSpec, plan: Plan, opts: BuildOptions, batchValues: Record<string, string>): TaskInput {
  const isTemplate = spec.foreach !== null;
  // A template's children each get their own checkpoint folder: filled when they are made (expand.ts).
  const values = isTemplate ? batchValues : { ...batchValues, [CHECKPOINT_DIR]: checkpointDir(opts.batchPath, spec.name) };
  const fill = (text: string) => (isTemplate ? encodeTemplate(text, values) : substituteText(text, values));
  let argv: string[] | null = null;
  if (spec.command) {
    const tokens = tokenizeCommand(spec.command);
    if (!tokens.ok) throw new Error(`bug: task '${spec.name}' reached build with a command that does not tokenize`);
    argv = isTemplate ? tokens.argv.map(fill) : substituteArgv(tokens.argv, values);
  }
  const task_class = spec.task_class ?? inferTaskClass(spec).task_class;
  const meta = spec.type === 'load_llm' || spec.type === 'unload_llm';
  return {
    id: taskId(opts.batchId, spec.name),
    batch: opts.batchId,
    plan: plan.name,
    name: spec.name,
    template: null,
    item_index: null,
    type: spec.type,
    task_class,
    executor: spec.executor,
    command: spec.command,
    argv,
    cwd: plan.dir,
    batch_path: opts.batchPath,
    depends_on: [...new Set(spec.depends_on)].map((d) => taskId(opts.batchId, d)),
    foreach: spec.foreach ? { path: normalize(substituteText(spec.foreach.path, values)), key: spec.foreach.key } : null,
    expanded_into: null,
    vram_estimate_mb: spec.vram_estimate_mb ?? defaultVramMb(task_class, opts.config),
    timeout_s: spec.timeout_s ?? (meta ? opts.config.timeouts.model_load_s : opts.config.timeouts.task_default_s),
    prompt: spec.prompt === null ? null : fill(spec.prompt),
    output_schema: spec.output_schema,
    model: modelOf(spec.model, plan.frontMatter, task_class, values),
    ...adapterTaskFields(spec, values),
    gate: spec.gate ?? false,
    inputs: spec.inputs === null ? null : spec.inputs.map((p) => (isTemplate ? fill(p) : taskPath(plan.dir, fill(p)))),
    outputs: spec.outputs === null ? null : spec.outputs.map((p) => (isTemplate ? fill(p) : taskPath(plan.dir, fill(p)))),
    attempt: 0,
    max_attempts: spec.max_attempts ?? opts.config.retries.max_attempts,
    retry_delay_s: spec.retry_delay_s,
    priority: opts.priority ?? PRIORITY_DEFAULT,
    attempts: [],
    created_at: isoTime(opts.now),
  };
}

/**
 * One task per plan task, plus the batch_summary task (run by the brain) that depends on all
 * of them. Throws UserInputError with every problem when the plan does not validate with
 * these values: building is only for plans that passed validatePlan.
 */
export function buildBatchTasks(plan: Plan, opts: BuildOptions): TaskInput[] {
  const given = Object.fromEntries(Object.entries(opts.values).filter(([k]) => k !== BATCH_PATH));
  const problems = validatePlan(plan, given);
  if (problems.length) throw new UserInputError(problems);
  const values = resolveValues(plan, given, opts.batchPath);
  const tasks = plan.tasks.map((spec) => buildTask(spec, plan, opts, values));
  tasks.push({
    id: taskId(opts.batchId, SUMMARY_TASK),
    batch: opts.batchId,
    plan: plan.name,
    name: SUMMARY_TASK,
    type: 'batch_summary',
    task_class: 'cpu',
    executor: 'brain',
    command: null,
    argv: null,
    cwd: plan.dir,
    batch_path: opts.batchPath,
    depends_on: tasks.map((t) => t.id),
    vram_estimate_mb: 0,
    timeout_s: opts.config.timeouts.task_default_s,
    max_attempts: opts.config.retries.max_attempts,
    priority: opts.priority ?? PRIORITY_DEFAULT,
    created_at: isoTime(opts.now),
  });
  return tasks;
}
