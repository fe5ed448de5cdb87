// The brain's decisions about realtime questions (requests/), pure: whether a request becomes a
// task and which, what its answer says once the task has ended (or whether an infra failure
// is tried again), and which old requests housekeeping removes. brain/requests.ts reads the
// mount, calls these and acts.
//
// A question is one llm task of the pseudo-batch "ask" (like the brain's own "rig" tasks), not
// a batch of its own: a batch is a record, a seal, a summary, a report and an archive, seconds
// of work for a one-line answer, and its tasks wait for the per-batch release rules. The task
// is put straight into queue/ at priority 0, ahead of every batch's (core/fairOrder.ts), and
// claimed by the same rules as any llm task: the seal, the model the agent holds, health and
// the VRAM budget.
import type { Config } from '../core/config.ts';
import { isoTime } from '../core/clock.ts';
import { PRIORITY_REALTIME } from '../core/fairOrder.ts';
import { ASK_BATCH, type AskAnswer, type AskRequest } from '../core/request.ts';
import { type Task, type TaskInput, taskId } from '../core/task.ts';
import { type AgedSeen, ageOf } from './housekeepingPlan.ts';
import { decideRetry } from './retry.ts';

/** The models this rig knows: every GPU's configured model, the config's models and default_model. */
export function knownModels(config: Pick<Config, 'gpus' | 'models' | 'default_model'>): string[] {
  const all = new Set<string>();
  for (const g of config.gpus) all.add(g.model);
  for (const m of Object.keys(config.models)) all.add(m);
  if (config.default_model) all.add(config.default_model);
  return [...all];
}

/** Model names compared as Ollama does (`m` is `m:latest`). */
function sameModel(a: string, b: string): boolean {
  const norm = (m: string) => (m.includes(':') ? m : `${m}:latest`);
  return norm(a) === norm(b);
}

/** The model a request runs on: its own, else the config's default (default_model, else the first GPU's). */
export function requestModel(req: Pick<AskRequest, 'model'>, config: Pick<Config, 'gpus' | 'default_model'>): string {
  return req.model ?? config.default_model ?? config.gpus[0]!.model;
}

/** Why the rig cannot answer with `model`, or null: it must be a model the config names. */
export function modelProblem(model: string, config: Pick<Config, 'gpus' | 'models' | 'default_model'>): string | null {
  const known = knownModels(config);
  if (known.some((k) => sameModel(k, model))) return null;
  return `model '${model}' is not known to the rig: use one of ${known.join(', ')} (config.json gpus[].model, models, default_model), or add it to config.json models`;
}

export type RequestDecision = { kind: 'queue'; task: TaskInput } | { kind: 'refuse'; reason: string };

/** Pure: what becomes of a valid request: its task, or why it is refused. */
export function decideRequest(id: string, req: AskRequest, config: Config, batchPath: string, now: number): RequestDecision {
  const model = requestModel(req, config);
  const problem = modelProblem(model, config);
  if (problem) return { kind: 'refuse', reason: problem };
  const timeout = req.timeout_s ?? config.timeouts.task_default_s;
  return {
    kind: 'queue',
    task: {
      id: taskId(ASK_BATCH, id), batch: ASK_BATCH, plan: ASK_BATCH, name: id, type: 'generate', task_class: 'llm', executor: 'worker',
      command: null, argv: null, cwd: batchPath, batch_path: batchPath, prompt: req.prompt, model,
      // The model is resident on the card: a request adds no VRAM of its own, as any llm task.
      vram_estimate_mb: 0, timeout_s: timeout,
      // An answer is asked for once: an app failure is the answer; infra failures (an agent lost) are tried again.
      max_attempts: 1, priority: PRIORITY_REALTIME, created_at: isoTime(now), released_at: isoTime(now),
    },
  };
}

/** The answer for a request refused before it ran. */
export function refusalAnswer(id: string, reason: string, req: Partial<AskRequest> | null, now: number): AskAnswer {
  return {
    id, ok: false, text: null, reason, model: req?.model ?? null, agent: null, task: null, prompt_tokens: null, output_tokens: null,
    request_ms: null, load_ms: null, asked_at: req?.asked_at ?? null, queued_at: null, started_at: null, answered_at: isoTime(now),
  };
}

/** The text of a generate task's output ({text}), or null. */
function textOf(output: unknown): string | null {
  if (output && typeof output === 'object' && typeof (output as { text?: unknown }).text === 'string') return (output as { text: string }).text;
  return null;
}

export type FinishedDecision =
  | { kind: 'answer'; answer: AskAnswer }
  | { kind: 'retry'; attempt: { n: number; of: number }; reason: string };

/** Pure: an ask task that ended (complete/ or failed/): its answer, or a retry of an infra failure. */
export function decideFinished(t: Task, folder: 'complete' | 'failed', config: Config, now: number, askedAt: string | null): FinishedDecision {
  if (folder === 'failed') {
    const verdict = decideRetry(t, config);
    if (verdict.retry) return { kind: 'retry', attempt: verdict.attempt, reason: verdict.reason };
  }
  const r = t.result;
  const text = folder === 'complete' ? textOf(r?.output) : null;
  const ok = folder === 'complete' && text !== null;
  const reason = ok ? null : folder === 'complete' ? 'the task completed without a text answer' : `${r?.outcome ?? 'failed'}: ${r?.reason ?? 'no reason given'}`;
  return {
    kind: 'answer',
    answer: {
      id: t.name, ok, text, reason, model: r?.llm?.model ?? t.model, agent: t.claimed_by, task: t.id,
      prompt_tokens: r?.llm?.prompt_tokens ?? null, output_tokens: r?.llm?.output_tokens ?? null,
      request_ms: r?.llm?.request_ms ?? null, load_ms: r?.llm?.load_ms ?? null,
      asked_at: askedAt, queued_at: t.released_at, started_at: t.claimed_at, answered_at: isoTime(now),
    },
  };
}

/** Pure: the request ids whose answers are older than keepHours (by answered_at, else as seen). */
export function planRequestCleanup(answers: readonly AgedSeen[], now: number, keepHours: number): string[] {
  const limit = keepHours * 3600 * 1000;
  return answers.filter((a) => ageOf(a, now) >= limit).map((a) => a.name).sort();
}
