// /api/generate and /api/chat of the simulated Ollama: a load-only request, or the answer
// as one JSON object or streamed as NDJSON pieces with Ollama's closing statistics.
import type http from 'node:http';
import { parseKeepAlive, simAnswer, tokens } from './ollamaAnswers.ts';
import { HttpError, sendJson } from './ollamaHttp.ts';
import type { ResidentModels } from './ollamaModels.ts';
import type { GenerationSlots } from './generationSlots.ts';

export type AnswerKind = 'generate' | 'chat';

/** What answering needs from the server: its models, its generation slots, and the request's fate. */
export interface AnswerEnv {
  models: ResidentModels;
  slots: GenerationSlots;
  /** Plain answers are lengthened to about this many tokens (0: the short answer). */
  answerTokens: number;
  /** Throws 404 for a model the server lacks. */
  checkKnown: (model: string) => void;
  /** Aborted when the client goes away: its generation gives its slot up. */
  cancel: AbortSignal;
  /** How the answer names the model: a created one with its adapter (ollamaCreate.ts). Default: its name. */
  label?: (model: string) => string;
}

/** What a generate or chat request asks, read as Ollama reads it. */
export interface Asked {
  model: string;
  prompt: string;
  system: string;
  /** No prompt (generate) or no messages (chat): only load or unload the model. */
  empty: boolean;
}

export function readAsked(kind: AnswerKind, body: Record<string, unknown>): Asked {
  const model = typeof body.model === 'string' ? body.model : '';
  if (!model) throw new HttpError(400, 'model is required');
  const system = typeof body.system === 'string' ? body.system : '';
  if (kind === 'generate') {
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    return { model, prompt, system, empty: prompt === '' };
  }
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string; content?: string }>) : [];
  return {
    model,
    system: messages.filter((m) => m.role === 'system').map((m) => m.content ?? '').join('\n') || system,
    prompt: [...messages].reverse().find((m) => m.role === 'user')?.content ?? '',
    empty: messages.length === 0,
  };
}

/** One answer object in the kind's shape: `response` for generate, `message` for chat. */
function shaper(kind: AnswerKind, model: string) {
  const created_at = new Date().toISOString();
  return (text: string, done: boolean, extra: Record<string, unknown> = {}) =>
    kind === 'generate'
      ? { model, created_at, response: text, done, ...extra }
      : { model, created_at, message: { role: 'assistant', content: text }, done, ...extra };
}

/** The closing statistics, in Ollama's units (durations in ns). */
function answerStats(kind: AnswerKind, asked: Asked, text: string, totalNs: number, loadMs: number): Record<string, unknown> {
  return {
    done_reason: 'stop',
    total_duration: totalNs,
    load_duration: loadMs * 1_000_000,
    prompt_eval_count: tokens(asked.system + asked.prompt),
    prompt_eval_duration: 1_000_000,
    eval_count: tokens(text),
    eval_duration: Math.max(1, totalNs - loadMs * 1_000_000),
    ...(kind === 'generate' ? { context: [1, 2, 3] } : {}),
  };
}

/** generate and chat: the shared part. `kind` picks the answer shape. */
export async function answer(res: http.ServerResponse, kind: AnswerKind, body: Record<string, unknown>, env: AnswerEnv): Promise<void> {
  const { models } = env;
  const asked = readAsked(kind, body);
  const { model } = asked;
  env.checkKnown(model);
  const keepAliveMs = parseKeepAlive(body.keep_alive);
  const stream = body.stream !== false; // Ollama streams unless told not to
  const shape = shaper(kind, model);

  if (asked.empty) {
    // No prompt: only load (or, with keep_alive 0, unload), as Ollama does.
    if (keepAliveMs === 0) {
      await models.unload(model);
      sendJson(res, 200, shape('', true, { done_reason: 'unload' }));
    } else {
      await models.ensureLoaded(model, keepAliveMs);
      sendJson(res, 200, shape('', true, { done_reason: 'load' }));
    }
    return;
  }

  const t0 = process.hrtime.bigint();
  const loadMs = await models.ensureLoaded(model, keepAliveMs === 0 ? 0 : keepAliveMs);
  const text = simAnswer(env.label?.(model) ?? model, asked.prompt, asked.system, body.format, env.answerTokens);
  // Waits for a slot (FIFO), then takes the generation time of the speed model (generationSlots.ts).
  await env.slots.generate(tokens(asked.system + asked.prompt), tokens(text), env.cancel);
  const stats = answerStats(kind, asked, text, Number(process.hrtime.bigint() - t0), loadMs);
  if (!stream) {
    sendJson(res, 200, shape(text, true, stats));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const pieces = text.match(/[\s\S]{1,16}/g) ?? [];
  for (const piece of pieces) res.write(JSON.stringify(shape(piece, false)) + '\n');
  res.end(JSON.stringify(shape('', true, stats)) + '\n');
}
