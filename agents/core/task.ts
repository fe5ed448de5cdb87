// The task file and the worker's result: one schema each, shared by every process.
import { z } from 'zod';
import { isSafeName } from './paths.ts';

export const TASK_CLASSES = ['cpu', 'script', 'llm', 'meta'] as const;
export const TaskClass = z.enum(TASK_CLASSES);
export type TaskClass = z.infer<typeof TaskClass>;

/** Who runs a task: a worker subprocess, the GPU agent itself (meta), or the brain (batch_summary). */
export const EXECUTORS = ['worker', 'agent', 'brain'] as const;
export const Executor = z.enum(EXECUTORS);
export type Executor = z.infer<typeof Executor>;

/** What the runner does with the task. */
export const TASK_TYPES = ['shell', 'generate', 'parse', 'load_llm', 'unload_llm', 'batch_summary'] as const;
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
]);
export type Outcome = z.infer<typeof Outcome>;

export const SafeId = z.string().refine(isSafeName, { message: 'must be a safe file name' });

/** What an LLM request of a generate or parse task cost: tokens as the runtime counted them, and time. */
export const LlmUsage = z.object({
  model: z.string(),
  prompt_tokens: z.number().int().min(0).nullable(),
  output_tokens: z.number().int().min(0).nullable(),
  /** The request's wall time as the worker saw it (a model load included), ms. */
  request_ms: z.number().min(0),
  /** Output tokens per second of request time; null when the runtime counted none. */
  tok_s: z.number().min(0).nullable(),
  /** Time the runtime spent loading the model for this request, ms; null when no load happened or the runtime does not say. */
  load_ms: z.number().min(0).nullable().default(null),
  /** The card's time this task held: seconds running, shared evenly with the llm tasks running beside it. */
  gpu_s: z.number().min(0).nullable().default(null),
  /** Energy of that share, Wh, from the power draw the agent sampled while the task ran; null without power readings. */
  energy_wh: z.number().min(0).nullable().default(null),
});
export type LlmUsage = z.infer<typeof LlmUsage>;

export const WorkerResult = z.object({
  task_id: SafeId,
  attempt: z.number().int().min(1),
  outcome: Outcome,
  failure_kind: FailureKind.nullable(),
  exit_code: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string().nullable(),
  started_at: z.string(),
  finished_at: z.string(),
  duration_ms: z.number().min(0),
  stdout_path: z.string().nullable(),
  stderr_path: z.string().nullable(),
  /** Structured output of generate/parse tasks. */
  output: z.unknown().optional(),
  peak_vram_mb: z.number().min(0).nullable().optional(),
  /** Generate and parse tasks: tokens and time of the LLM request. */
  llm: LlmUsage.optional(),
});
export type WorkerResult = z.infer<typeof WorkerResult>;

export const AttemptRecord = z.object({
  attempt: z.number().int().min(1),
  agent: z.string(),
  claimed_at: z.string(),
  finished_at: z.string().nullable(),
  outcome: Outcome,
  failure_kind: FailureKind.nullable(),
  reason: z.string().nullable(),
  exit_code: z.number().int().nullable(),
  peak_vram_mb: z.number().nullable().optional(),
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
  name: z.string().min(1),
  /** For a task made by foreach expansion: the template's name and the item's index. */
  template: z.string().nullable().default(null),
  item_index: z.number().int().min(0).nullable().default(null),
  type: TaskType.default('shell'),
  task_class: TaskClass,
  executor: Executor.default('worker'),
  /** The command as written in the plan, for people. Never run as shell. */
  command: z.string().nullable(),
  /** The command as argument vector, placeholders filled; each value one literal argument. */
  argv: z.array(z.string()).nullable(),
  cwd: z.string(),
  batch_path: z.string(),
  depends_on: z.array(SafeId).default([]),
  foreach: ForeachSpec.nullable().default(null),
  expanded_into: z.array(SafeId).nullable().default(null),
  vram_estimate_mb: z.number().int().min(0),
  timeout_s: z.number().positive(),
  /** generate/parse tasks: prompt text and the declared output schema. */
  prompt: z.string().nullable().default(null),
  output_schema: z.record(z.string(), z.unknown()).nullable().default(null),
  model: z.string().nullable().default(null),
  /** Only this agent may claim it (the brain's load_llm/unload_llm for one GPU); null: any. */
  target: z.string().nullable().default(null),
  /** The claim token: attempt number of the current or last claim. */
  attempt: z.number().int().min(0).default(0),
  max_attempts: z.number().int().min(1),
  attempts: z.array(AttemptRecord).default([]),
  /** Attempts before this index were spent before a person's retry (forge retry): only later ones count against the budgets. */
  attempts_from: z.number().int().min(0).default(0),
  /** 1 (highest) to 5 (lowest): the batch's priority (core/fairOrder.ts). */
  priority: z.number().int().min(1).max(5).default(3),
  /** The first retry's wait, s (doubled at each retry, to retries.backoff_cap_s); null: retries.backoff_base_s. */
  retry_delay_s: z.number().min(0).nullable().default(null),
  infra_failures: z.number().int().min(0).default(0),
  approved: z.boolean().default(false),
  /** Held by the brain instead of released: 'approval' waits for <shared>/approvals/<id>. */
  parked: z.enum(['approval']).nullable().default(null),
  /** Why the brain holds it, for status (e.g. the executor's reason). */
  parked_reason: z.string().nullable().default(null),
  created_at: z.string(),
  released_at: z.string().nullable().default(null),
  claimed_by: z.string().nullable().default(null),
  claimed_at: z.string().nullable().default(null),
  finished_at: z.string().nullable().default(null),
  result: WorkerResult.nullable().default(null),
  /** The brain model's quality score of a generate task's output (1-5), when a brain model is configured. */
  evaluation: z.object({ score: z.number().int().min(1).max(5), reason: z.string(), model: z.string() }).nullable().default(null),
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

/** Plan task names: what may appear after the batch id in a task id. */
export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
