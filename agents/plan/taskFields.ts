// A task's fields: the names a plan may write, the types it may ask for, and the typed task
// read from the raw field text. What cannot be read stays in `raw` for validatePlan to report.
import { EXECUTORS, TASK_CLASSES, type Executor, type TaskClass, type TaskType } from '../core/task.ts';
import { readBoolean, readInteger, splitDependencies, splitForeach, splitPaths } from './fieldValues.ts';
import type { PlanTaskSpec } from './types.ts';

/** Fields a task may have, in the order PLAN_FORMAT.md documents them. */
export const TASK_FIELDS = [
  'executor',
  'task_class',
  'type',
  'command',
  'depends_on',
  'foreach',
  'vram_estimate_mb',
  'timeout_s',
  'max_attempts',
  'retry_delay_s',
  'prompt',
  'output_schema',
  'model',
  'inputs',
  'outputs',
  'adapter',
  'version',
  'description',
  'gate',
] as const;
export type TaskField = (typeof TASK_FIELDS)[number];

/** Task types a plan may use (batch_summary is added by the rig, never written). */
export const PLAN_TASK_TYPES = ['shell', 'generate', 'parse', 'load_llm', 'unload_llm', 'promote_adapter', 'rollback_adapter'] as const;

/** The field's value, lower-cased, when it is one of `allowed`; undefined otherwise. */
function known<T extends string>(raw: Record<string, string>, field: string, allowed: readonly T[]): T | undefined {
  const v = raw[field]?.toLowerCase();
  return v !== undefined && (allowed as readonly string[]).includes(v) ? (v as T) : undefined;
}

/** An output_schema that is a JSON object, or null (validatePlan reports why not). */
function readOutputSchema(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined) return null;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // validatePlan reports it
  }
  return null;
}

/** Reads what can be read from the raw field text; validatePlan reports what cannot. */
export function typedTask(
  name: string,
  line: number,
  raw: Record<string, string>,
  fieldLines: Record<string, number>,
  description: string | null,
): PlanTaskSpec {
  const type: TaskType = known(raw, 'type', PLAN_TASK_TYPES) ?? 'shell';
  // Meta tasks are run by the GPU agent itself; every other type by a worker subprocess.
  const executor: Executor = known(raw, 'executor', EXECUTORS) ?? (type === 'load_llm' || type === 'unload_llm' ? 'agent' : 'worker');
  const task_class: TaskClass | null = known(raw, 'task_class', TASK_CLASSES) ?? null;
  return {
    name,
    line,
    fieldLines,
    raw,
    description: raw.description ?? description,
    executor,
    task_class,
    type,
    command: raw.command ? raw.command : null,
    depends_on: raw.depends_on !== undefined ? splitDependencies(raw.depends_on) : [],
    foreach: raw.foreach !== undefined ? splitForeach(raw.foreach) : null,
    vram_estimate_mb: readInteger(raw.vram_estimate_mb, /^(\d+)\s*(mb|mib)?$/i),
    timeout_s: readInteger(raw.timeout_s, /^(\d+)\s*s?$/i),
    max_attempts: readInteger(raw.max_attempts, /^(\d+)$/),
    retry_delay_s: readInteger(raw.retry_delay_s, /^(\d+)\s*s?$/i),
    prompt: raw.prompt ? raw.prompt : null,
    output_schema: readOutputSchema(raw.output_schema),
    model: raw.model ? raw.model : null,
    gate: readBoolean(raw.gate),
    inputs: splitPaths(raw.inputs),
    outputs: splitPaths(raw.outputs),
  };
}
