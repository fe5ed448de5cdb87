// generate and parse tasks: one request to the agent's own LLM runtime, the answer checked
// (parse fails closed: invalid JSON or a schema mismatch is the task's failure), written to
// the batch's outputs folder, and the prompt/response pair kept as a training sample.
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { writeJsonAtomic } from '../core/atomic.ts';
import { isoTime } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import { childPath } from '../core/paths.ts';
import type { FailureKind, LlmUsage, Outcome, Task, WorkerResult } from '../core/task.ts';
import { type GenerateResult, type ModelRuntime, RuntimeError } from '../llm/runtime.ts';
import { RUNTIME_KINDS, parseRuntimeKind, runtimeFor } from '../llm/runtimeFor.ts';
import { writeTrainingSample } from '../llm/trainingSamples.ts';

export interface LlmTaskContext {
  /** The agent's own runtime (Ollama or an OpenAI-compatible server), e.g. http://127.0.0.1:11435. */
  ollamaUrl: string;
  /** <shared>/logs/spool/samples (mountPaths().spoolSamples): where the sample is left for the brain to merge. */
  trainingSamplesDir: string;
  /** When the worker started (ms since the epoch). */
  startedAt: number;
  /** Another runtime (tests); default: the FORGE_AGENT_RUNTIME kind on ollamaUrl. */
  runtime?: ModelRuntime;
  /** Where FORGE_AGENT_MODEL and FORGE_AGENT_RUNTIME are read; default process.env. */
  env?: Record<string, string | undefined>;
  /** Aborts the request (the agent's abort signal). */
  signal?: AbortSignal;
  now?: () => number;
}

/** Model used when a task names none: the agent's configured model, set in the worker's environment. */
export const AGENT_MODEL_ENV = 'FORGE_AGENT_MODEL';
/** The runtime's name for the task's model when it differs (an adapter version's model, agents/llm/adapterRuntime.ts); set by the agent. */
export const AGENT_SERVED_MODEL_ENV = 'FORGE_AGENT_SERVED_MODEL';
/** The kind of the agent's runtime (config gpus[].runtime), set in the worker's environment; absent: ollama. */
export const AGENT_RUNTIME_ENV = 'FORGE_AGENT_RUNTIME';

const PARSE_SYSTEM = 'Answer with one JSON value only: no prose, no code fences.';

interface Ending {
  outcome: Outcome;
  failure_kind: FailureKind | null;
  reason: string | null;
  output?: unknown;
  llm?: LlmUsage;
}

export async function runLlmTask(task: Task, ctx: LlmTaskContext): Promise<WorkerResult> {
  const now = ctx.now ?? Date.now;
  const end = (e: Ending): WorkerResult => {
    const finished = now();
    return {
      task_id: task.id,
      attempt: Math.max(1, task.attempt),
      outcome: e.outcome,
      failure_kind: e.failure_kind,
      exit_code: null,
      signal: null,
      reason: e.reason,
      started_at: isoTime(ctx.startedAt),
      finished_at: isoTime(finished),
      duration_ms: Math.max(0, finished - ctx.startedAt),
      stdout_path: null,
      stderr_path: null,
      ...(e.output !== undefined ? { output: e.output } : {}),
      ...(e.llm ? { llm: e.llm } : {}),
    };
  };
  try {
    return end(await run(task, ctx, now));
  } catch (err) {
    // Our own failure (a write into the batch folder, a bug): the rig's fault, not the task's.
    return end({ outcome: 'error', failure_kind: 'infra', reason: `llm worker failed: ${errorMessage(err)}` });
  }
}

async function run(task: Task, ctx: LlmTaskContext, now: () => number): Promise<Ending> {
  if (task.type !== 'generate' && task.type !== 'parse') {
    return { outcome: 'error', failure_kind: 'infra', reason: `runLlmTask runs generate and parse tasks, not ${task.type}` };
  }
  const env = ctx.env ?? process.env;
  const model = task.model ?? env[AGENT_MODEL_ENV] ?? null;
  if (!model) {
    return {
      outcome: 'error',
      failure_kind: 'infra',
      reason: `task names no model and ${AGENT_MODEL_ENV} is not set (the agent sets it to its configured model)`,
    };
  }
  // An empty prompt would not even reach a model: to Ollama it means "load the model".
  if (!task.prompt || !task.prompt.trim()) {
    return { outcome: 'failed', failure_kind: 'app', reason: `${task.type} task has no prompt: give it a prompt in the plan` };
  }
  const kindText = env[AGENT_RUNTIME_ENV] || 'ollama';
  const kind = parseRuntimeKind(kindText);
  if (!ctx.runtime && kind === null) {
    return {
      outcome: 'error',
      failure_kind: 'infra',
      reason: `${AGENT_RUNTIME_ENV} is "${kindText}": expected one of ${RUNTIME_KINDS.join(', ')} (the agent sets it from its GPU's runtime in the config)`,
    };
  }
  const runtime = ctx.runtime ?? runtimeFor(kind ?? 'ollama', ctx.ollamaUrl, { generateTimeoutMs: Math.max(1000, Math.round(task.timeout_s * 1000)) });

  const isParse = task.type === 'parse';
  let text: string;
  let llm: LlmUsage;
  try {
    const res = await runtime.generate({
      model: env[AGENT_SERVED_MODEL_ENV] || model,
      prompt: task.prompt,
      ...(isParse ? { system: PARSE_SYSTEM, format: task.output_schema ?? 'json' } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    text = res.text;
    llm = usageOf(model, res);
  } catch (err) {
    return runtimeFailure(err, task.model !== null);
  }

  const outputs = join(task.batch_path, 'outputs');
  if (!isParse) {
    await recordSample(ctx, task, model, text, text.length > 0, now);
    await mkdir(outputs, { recursive: true });
    // One convention for every LLM task: outputs/<task>.json (PLAN_FORMAT.md, "Outputs").
    await writeJsonAtomic(childPath(outputs, `${task.name}.json`, 'task name'), { text });
    return { outcome: 'success', failure_kind: null, reason: null, output: { text }, llm };
  }

  const checked = checkAnswer(text, task.output_schema);
  await recordSample(ctx, task, model, text, checked.ok, now);
  if (!checked.ok) {
    return { outcome: 'failed', failure_kind: 'app', reason: checked.reason, output: { raw: text.slice(0, 4000) }, llm };
  }
  await mkdir(outputs, { recursive: true });
  await writeJsonAtomic(childPath(outputs, `${task.name}.json`, 'task name'), checked.value);
  return { outcome: 'success', failure_kind: null, reason: null, output: checked.value, llm };
}

/** The request's tokens, time and model load, as the result carries them; the agent fills in GPU-seconds and energy. */
export function usageOf(model: string, res: GenerateResult): LlmUsage {
  const tokS = res.completion_tokens !== null && res.duration_ms > 0 ? Math.round((res.completion_tokens / res.duration_ms) * 1000 * 10) / 10 : null;
  return { model, prompt_tokens: res.prompt_tokens, output_tokens: res.completion_tokens, request_ms: res.duration_ms, tok_s: tokS, load_ms: res.load_ms, gpu_s: null, energy_wh: null };
}

/** A runtime failure as a task outcome: the rig's problems are infra, the task's own are app. */
function runtimeFailure(err: unknown, taskNamedModel: boolean): Ending {
  if (!(err instanceof RuntimeError)) return { outcome: 'error', failure_kind: 'infra', reason: `LLM request failed: ${errorMessage(err)}` };
  switch (err.kind) {
    case 'oom':
      return { outcome: 'oom', failure_kind: 'infra', reason: err.message };
    case 'timeout':
      return { outcome: 'timeout', failure_kind: 'app', reason: err.message };
    case 'aborted':
      return { outcome: 'killed', failure_kind: 'infra', reason: err.message };
    case 'model_missing':
      // A model the plan named and the rig lacks is the plan's error; the agent's own model missing is the rig's.
      return taskNamedModel
        ? { outcome: 'failed', failure_kind: 'app', reason: `${err.message}: the task's model is not installed on this rig` }
        : { outcome: 'error', failure_kind: 'infra', reason: err.message };
    case 'server':
      if (err.status !== null && err.status >= 400 && err.status < 500) {
        return { outcome: 'failed', failure_kind: 'app', reason: err.message };
      }
      return { outcome: 'error', failure_kind: 'infra', reason: err.message };
    default:
      return { outcome: 'error', failure_kind: 'infra', reason: `LLM runtime unavailable: ${err.message}` };
  }
}

async function recordSample(ctx: LlmTaskContext, task: Task, model: string, response: string, ok: boolean, now: () => number) {
  try {
    await writeTrainingSample(ctx.trainingSamplesDir, {
      ts: isoTime(now()),
      task_id: task.id,
      batch: task.batch,
      model,
      type: task.type,
      prompt: task.prompt ?? '',
      response,
      ok,
    });
  } catch (err) {
    // Losing a sample must not lose the task's result; stderr is the worker's log.
    process.stderr.write(`llm worker: training sample for ${task.id} not written: ${errorMessage(err)}\n`);
  }
}

export type AnswerCheck = { ok: true; value: unknown } | { ok: false; reason: string };

/** Parses a model's answer and checks it against the task's output schema; fails closed. */
export function checkAnswer(text: string, schema: Record<string, unknown> | null): AnswerCheck {
  let value: unknown;
  try {
    value = JSON.parse(stripFence(text));
  } catch (err) {
    const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
    return { ok: false, reason: `answer is not valid JSON (${errorMessage(err)}): ${JSON.stringify(shown)}` };
  }
  if (schema) {
    const mismatch = findSchemaMismatch(value, schema);
    if (mismatch) return { ok: false, reason: `answer does not match output_schema: ${mismatch}` };
  }
  return { ok: true, value };
}

/** Models often wrap JSON in a ``` fence despite being told not to; the fence is not the answer. */
function stripFence(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  return m?.[1] ?? text;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function fitsType(v: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      return false;
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * The first place where value does not fit schema, as "<path>: expected …, found …", or null.
 * The JSON Schema subset plans use: type (one or a list), properties, required, items, enum,
 * const, additionalProperties: false. Other keywords are ignored.
 */
export function findSchemaMismatch(value: unknown, schema: unknown, path = '$'): string | null {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as Record<string, unknown>;
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path}: expected one of ${s.enum.map(show).join(', ')}, found ${show(value)}`;
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) {
    return `${path}: expected ${show(s.const)}, found ${show(value)}`;
  }
  const types = typeof s.type === 'string' ? [s.type] : Array.isArray(s.type) ? s.type.map(String) : [];
  if (types.length > 0 && !types.some((t) => fitsType(value, t))) {
    return `${path}: expected ${types.join(' or ')}, found ${typeName(value)} ${show(value)}`;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, unknown>;
    if (Array.isArray(s.required)) {
      for (const key of s.required.map(String)) {
        if (!(key in obj)) return `${path}.${key}: required property is missing`;
      }
    }
    for (const [key, sub] of Object.entries(props)) {
      if (!(key in obj)) continue;
      const found = findSchemaMismatch(obj[key], sub, `${path}.${key}`);
      if (found) return found;
    }
    if (s.additionalProperties === false) {
      const extra = Object.keys(obj).find((k) => !(k in props));
      if (extra !== undefined) return `${path}.${extra}: property not allowed by the schema (allowed: ${Object.keys(props).join(', ') || 'none'})`;
    }
  }
  if (Array.isArray(value) && s.items && typeof s.items === 'object') {
    for (const [i, item] of value.entries()) {
      const found = findSchemaMismatch(item, s.items, `${path}[${i}]`);
      if (found) return found;
    }
  }
  return null;
}
