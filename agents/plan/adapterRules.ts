// The plan's adapter tasks and model names: `promote_adapter` makes a version current for a
// base model, `rollback_adapter` returns a base to the version before (both run by a worker,
// agents/worker/adapterTask.ts), and any `model` may name a version as base#adapter:version.
// Each rule names its field's line and shows the right form.
import { ADAPTER_NAME, parseModelRef } from '../core/adapterRef.ts';
import { placeholderProblems } from './placeholderRules.ts';
import { fieldLine, type Problem, type TaskRule } from './ruleContext.ts';
import { substituteText } from './substitute.ts';
import type { PlanTaskSpec } from './types.ts';

export const ADAPTER_TASK_TYPES = ['promote_adapter', 'rollback_adapter'] as const;
const isAdapterTask = (t: Pick<PlanTaskSpec, 'type'>) => (ADAPTER_TASK_TYPES as readonly string[]).includes(t.type);
const hasPlaceholder = (text: string) => /\{[A-Z_][A-Za-z0-9_.-]*\}/.test(text);
/** A version read from a JSON file an earlier task writes: {BATCH_PATH}/<path>.json. */
export const VERSION_FILE = /^\{BATCH_PATH\}\/(?!.*(^|\/)\.\.(\/|$))[^\0]+\.json$/;

const at = (task: PlanTaskSpec, field: string, message: string): Problem[] => [{ line: fieldLine(task, field), message: `task '${task.name}': ${message}` }];
const EXAMPLE = `e.g.\n  - **type**: promote_adapter\n  - **model**: qwen2.5:7b\n  - **adapter**: support\n  - **version**: {BATCH_PATH}/outputs/train.json`;

const fieldsBelong: TaskRule = {
  name: 'adapter and version belong to adapter tasks',
  check: (task) => {
    if (isAdapterTask(task)) return [];
    return (['adapter', 'version'] as const).flatMap((f) =>
      task.raw[f] === undefined ? [] : at(task, f, `${f} is a field of promote_adapter and rollback_adapter tasks, not of a ${task.type} task; to run a model with an adapter version, name it in model, e.g. qwen2.5:7b#support:v2`),
    );
  },
};

const modelRef: TaskRule = {
  name: 'model names a model, or a model with an adapter version',
  check: (task) => {
    const m = task.raw.model;
    if (m === undefined || hasPlaceholder(m)) return [];
    const r = parseModelRef(m);
    if (!r.ok) return at(task, 'model', r.problem);
    if (isAdapterTask(task) && r.ref.pinned) return at(task, 'model', `a ${task.type} task's model is the base model alone, e.g. qwen2.5:7b; the adapter and version go in their own fields; found '${m}'`);
    return [];
  },
};

const adapterTaskShape: TaskRule = {
  name: 'adapter tasks have their fields and nothing to run',
  check: (task) => {
    if (!isAdapterTask(task)) return [];
    const out: Problem[] = [];
    const need = task.type === 'promote_adapter' ? (['model', 'adapter', 'version'] as const) : (['model'] as const);
    for (const f of need) if (task.raw[f] === undefined) out.push({ line: task.line, message: `task '${task.name}': a ${task.type} task needs '- **${f}**: ...'; ${EXAMPLE}` });
    if (task.type === 'rollback_adapter' && (task.raw.adapter === undefined) !== (task.raw.version === undefined)) {
      out.push({ line: task.line, message: `task '${task.name}': rollback_adapter takes adapter and version together (roll back only while that version is current), or neither` });
    }
    if (task.raw.command !== undefined) out.push(...at(task, 'command', `a ${task.type} task runs no command; remove command`));
    if (task.foreach !== null) out.push(...at(task, 'foreach', `a ${task.type} task cannot be a foreach template`));
    if (task.task_class !== null && task.task_class !== 'cpu') out.push(...at(task, 'task_class', `a ${task.type} task needs no GPU: task_class cpu, or leave it out`));
    const a = task.raw.adapter;
    if (a !== undefined && !hasPlaceholder(a) && !ADAPTER_NAME.test(a)) out.push(...at(task, 'adapter', `adapter '${a}': letters, digits, '_', '.' or '-', at most 64, starting with a letter or digit`));
    const v = task.raw.version;
    if (v !== undefined && !VERSION_FILE.test(v) && (v.includes('/') || (!hasPlaceholder(v) && !ADAPTER_NAME.test(v)))) {
      out.push(...at(task, 'version', `version '${v}': a version name (letters, digits, '_', '.' or '-', e.g. v3), or a JSON file an earlier task writes, {BATCH_PATH}/<path>.json, holding {"version": "v3"}`));
    }
    return out;
  },
};

const adapterPlaceholders: TaskRule = {
  name: 'adapter and version placeholders are filled, without {ITEM}',
  check: (task, ctx) => (['adapter', 'version'] as const).flatMap((f) => (task.raw[f] !== undefined ? placeholderProblems(task, task.raw[f]!, f, false, ctx) : [])),
};

export const ADAPTER_RULES: TaskRule[] = [fieldsBelong, modelRef, adapterTaskShape, adapterPlaceholders];

/** The task file's adapter and version, placeholders filled (inputs and BATCH_PATH). */
export function adapterTaskFields(spec: Pick<PlanTaskSpec, 'raw'>, values: Record<string, string>): { adapter: string | null; version: string | null } {
  const fill = (text: string | undefined) => (text === undefined ? null : substituteText(text, values));
  return { adapter: fill(spec.raw.adapter), version: fill(spec.raw.version) };
}
