// The task file and the worker's result: one schema each, shared by every process.
import * as z from './zod.ts';
import { isSafeName } from './paths.ts';
import { GateVerdict } from './gate.ts';

export const TASK_CLASSES = ['cpu', 'script', 'llm', 'meta'] as const;
export const TaskClass = z.enum(TASK_CLASSES);
export type TaskClass = z.infer<typeof TaskClass>;

/** Who runs a task: a worker subprocess, the GPU agent itself (meta), or the brain (batch_summary). */
export const EXECUTORS = ['worker', 'agent', 'brain'] as const;
export const Executor = z.enum(EXECUTORS);
export type Executor = z.infer<typeof Executor>;

/** What the runner does with the task. */
export const TASK_TYPES = ['shell', 'generate', 'parse', 'load_llm', 'unload_llm', 'batch_summary', 'promote_adapter', 'rollback_adapter'] as const;
export const TaskType = z.enum(TASK_TYPES);
export type TaskType = z.infer<typeof TaskType>;

/** app: the task's own fault, counts against its attempts. infra: the rig's fault, retried without blame. */
export const FailureKind = z.enum(['app', 'infra']);
export type FailureKind = z.infer<typeof FailureKind>;

export const Outcome = z.enum([
  'success', // exit 0 and a valid result
  'failed', // non-zero exit or invalid output (app)
  'timeout', // killed by the task's own timeout (app)
  'blocked', // refused by the executor policy (app, never retried)
  'needs_approval', // parked until a person approves it
  'killed', // aborted or killed by a signal (infra)
  'lost', // the agent died or its worker vanished (infra)
  'oom', // out of GPU memory (infra, retried with a raised estimate)
  'not_run', // a dependency failed for good
  'error', // the worker itself broke (infra)
  'unschedulable', // can never fit any GPU of the rig (never retried)
  'cancelled', // a person cancelled it (forge cancel, or an abort signal): never retried
  'skipped', // a gate before it said no (core/gate.ts): not run, and not a failure
]);
export type Outcome = z.infer<typeof Outcome>;

export const SafeId = z.string().check(z.refine(isSafeName, { message: 'must be a safe file name' }));

/** What an LLM request of a generate or parse task cost: tokens as the runtime counted them, and time. */
export const LlmUsage = z.object({
  model: z.string(),
  prompt_tokens: z.nullable(z.number().check(z.int(), z.gte(0))),
  output_tokens: z.nullable(z.number().check(z.int(), z.gte(0))),
  /** The request's wall time as the worker saw it (a model load included), ms. */
  request_ms: z.number().check(z.gte(0)),
  /** Output tokens per second of request time; null when the runtime counted none. */
  tok_s: z.nullable(z.number().check(z.gte(0))),
  /** Time the runtime spent loading the model for this request, ms; null when no load happened or the runtime does not say. */
  load_ms: z._default(z.nullable(z.number().check(z.gte(0))), null),
  /** The card's time this task held: seconds running, shared evenly with the llm tasks running beside it. */
  gpu_s: z._default(z.nullable(z.number().check(z.gte(0))), null),
  /** Energy of that share, Wh, from the power draw the agent sampled while the task ran; null without power readings. */
  energy_wh: z._default(z.nullable(z.number().check(z.gte(0))), null),
});
export type LlmUsage = z.infer<typeof LlmUsage>;

export const WorkerResult = z.object({
  task_id: SafeId,
  attempt: z.number().check(z.int(), z.gte(1)),
  outcome: Outcome,
  failure_kind: z.nullable(FailureKind),
  exit_code: z.nullable(z.number().check(z.int())),
  signal: z.nullable(z.string()),
  reason: z.nullable(z.string()),
  started_at: z.string(),
  finished_at: z.string(),
  duration_ms: z.number().check(z.gte(0)),
  stdout_path: z.nullable(z.string()),
  stderr_path: z.nullable(z.string()),
  /** Structured output of generate/parse tasks. */
  output: z.optional(z.unknown()),
  peak_vram_mb: z.optional(z.nullable(z.number().check(z.gte(0)))),
  /** Generate and parse tasks: tokens and time of the LLM request. */
  llm: z.optional(LlmUsage),
  /** A gate task's verdict, read from its result file once it exited 0 (core/gate.ts). */
  gate: z.optional(GateVerdict),
  /** What the task ran with, hashed by the worker before it started (core/inputKey.ts): what `forge submit --resume` compares. */
  input_key: z.optional(z.string().check(z.maxLength(128))),
  /** Files the task leaves for later tasks, absolute: its declared outputs, and outputs/<name>.json when it wrote one. */
  outputs: z.optional(z.array(z.string()).check(z.maxLength(128))),
});
export type WorkerResult = z.infer<typeof WorkerResult>;

export const AttemptRecord = z.object({
  attempt: z.number().check(z.int(), z.gte(1)),
  agent: z.string(),
  claimed_at: z.string(),
  finished_at: z.nullable(z.string()),
  outcome: Outcome,
  failure_kind: z.nullable(FailureKind),
  reason: z.nullable(z.string()),
  exit_code: z.nullable(z.number().check(z.int())),
  peak_vram_mb: z.optional(z.nullable(z.number())),
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

export const ForeachSpec = z.object({
  /** Manifest path with placeholders already filled (absolute, inside the batch folder). */
  path: z.string(),
  /** Dotted key of the array inside the manifest; empty for a top-level array. */
  key: z.string(),
});

export const Task = z.object({
  id: SafeId,
  batch: SafeId,
  plan: SafeId,
  name: z.string().check(z.minLength(1)),
  /** For a task made by foreach expansion: the template's name and the item's index. */
  template: z._default(z.nullable(z.string()), null),
  item_index: z._default(z.nullable(z.number().check(z.int(), z.gte(0))), null),
  type: z._default(TaskType, 'shell'),
  task_class: TaskClass,
  executor: z._default(Executor, 'worker'),
  /** The command as written in the plan, for people. Never run as shell. */
  command: z.nullable(z.string()),
  /** The command as argument vector, placeholders filled; each value one literal argument. */
  argv: z.nullable(z.array(z.string())),
  cwd: z.string(),
  batch_path: z.string(),
  depends_on: z._default(z.array(SafeId), []),
  foreach: z._default(z.nullable(ForeachSpec), null),
  expanded_into: z._default(z.nullable(z.array(SafeId)), null),
  /**
   * A foreach over more items than config foreach.window: children are made a window at a time,
   * in item order; `created` items exist (0..created-1), written before this cursor moves.
   */
  window: z._default(z.nullable(z.object({ items: z.number().check(z.int(), z.gte(0)), created: z.number().check(z.int(), z.gte(0)) })), null),
  vram_estimate_mb: z.number().check(z.int(), z.gte(0)),
  timeout_s: z.number().check(z.positive()),
  /** generate/parse tasks: prompt text and the declared output schema. */
  prompt: z._default(z.nullable(z.string()), null),
  output_schema: z._default(z.nullable(z.record(z.string(), z.unknown())), null),
  model: z._default(z.nullable(z.string()), null),
  /** promote_adapter / rollback_adapter: the adapter, and its version or a JSON file under the batch folder naming it (core/adapterTask fields). */
  adapter: z._default(z.nullable(z.string()), null),
  version: z._default(z.nullable(z.string()), null),
  /** A gate: its verdict decides whether the tasks behind it run (core/gate.ts). */
  gate: z._default(z.boolean(), false),
  /** The plan's `inputs:` and `outputs:`, filled and absolute (a foreach template's still in template encoding); null: none declared. */
  inputs: z._default(z.nullable(z.array(z.string())), null),
  outputs: z._default(z.nullable(z.array(z.string())), null),
  /** Only this agent may claim it (the brain's load_llm/unload_llm for one GPU); null: any. */
  target: z._default(z.nullable(z.string()), null),
  /** The claim token: attempt number of the current or last claim. */
  attempt: z._default(z.number().check(z.int(), z.gte(0)), 0),
  max_attempts: z.number().check(z.int(), z.gte(1)),
  attempts: z._default(z.array(AttemptRecord), []),
  /** Attempts before this index were spent before a person's retry (forge retry): only later ones count against the budgets. */
  attempts_from: z._default(z.number().check(z.int(), z.gte(0)), 0),
  /** 1 (highest) to 5 (lowest): the batch's priority (core/fairOrder.ts); 0: a realtime question (requests/), ahead of all. */
  priority: z._default(z.number().check(z.int(), z.gte(0), z.lte(5)), 3),
  /** The first retry's wait, s (doubled at each retry, to retries.backoff_cap_s); null: retries.backoff_base_s. */
  retry_delay_s: z._default(z.nullable(z.number().check(z.gte(0))), null),
  infra_failures: z._default(z.number().check(z.int(), z.gte(0)), 0),
  approved: z._default(z.boolean(), false),
  /** Held by the brain instead of released: 'approval' waits for <shared>/approvals/<id>. */
  parked: z._default(z.nullable(z.enum(['approval'])), null),
  /** Why the brain holds it, for status (e.g. the executor's reason). */
  parked_reason: z._default(z.nullable(z.string()), null),
  created_at: z.string(),
  released_at: z._default(z.nullable(z.string()), null),
  claimed_by: z._default(z.nullable(z.string()), null),
  claimed_at: z._default(z.nullable(z.string()), null),
  finished_at: z._default(z.nullable(z.string()), null),
  result: z._default(z.nullable(WorkerResult), null),
  /** The brain model's quality score of a generate task's output (1-5), when a brain model is configured. */
  evaluation: z._default(z.nullable(z.object({ score: z.number().check(z.int(), z.gte(1), z.lte(5)), reason: z.string(), model: z.string() })), null),
});
export type Task = z.infer<typeof Task>;
export type TaskInput = z.input<typeof Task>;

type Claim = Pick<Task, 'attempt' | 'claimed_by' | 'claimed_at'>;

/**
 * Whether the task file carries an open claim: an attempt token (>= 1) that is not yet recorded
 * as over. A file in processing/ without one is a claim between its rename and its write.
 */
export function holdsOpenClaim(t: Pick<Task, 'attempt' | 'attempts'>): boolean {
  return t.attempt >= 1 && !t.attempts.some((a) => a.attempt === t.attempt);
}

/** Whether two readings of a task show the same claim: the same token, claimer and time. */
export function sameClaim(a: Claim, b: Claim): boolean {
  return a.attempt === b.attempt && a.claimed_by === b.claimed_by && a.claimed_at === b.claimed_at;
}

export function taskId(batch: string, name: string): string {
  return `${batch}__${name}`;
}

/** Foreach children are <template>.<n>: plan task names cannot hold a dot, so no child id can collide with a plan task. */
export function childName(template: string, index: number): string {
  return `${template}.${index + 1}`;
}

/**
 * Item `index` of a foreach template as expansion makes it (plan/expand.ts), before the item
 * fills its argv, prompt, inputs and outputs: the template's task under the child's id and
 * name, with nothing of the template's own life (its foreach, attempts, approval, claim, result).
 */
export function childOfTemplate(template: Task, index: number, createdAt: string): Task {
  const name = childName(template.name, index);
  return {
    ...template,
    id: taskId(template.batch, name),
    name,
    template: template.name,
    item_index: index,
    foreach: null,
    expanded_into: null,
    window: null,
    attempt: 0,
    attempts: [],
    infra_failures: 0,
    approved: false,
    parked: null,
    parked_reason: null,
    created_at: createdAt,
    released_at: null,
    claimed_by: null,
    claimed_at: null,
    finished_at: null,
    result: null,
  };
}

/** Plan task names: what may appear after the batch id in a task id. */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Whether a task that ended with this outcome belongs in complete/: it succeeded, or a gate before it said no (skipped). */
export function endsComplete(outcome: Outcome | undefined): boolean {
  return outcome === 'success' || outcome === 'skipped';
}
