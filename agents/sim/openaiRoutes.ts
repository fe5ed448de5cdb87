// The OpenAI-compatible endpoints of the simulator, on the same port as Ollama's: what
// llama.cpp's `llama-server` and vLLM answer. Started with a served model (--serve-model) the
// server behaves like them: that model loads at start, /health and /v1 answer 503 "Loading
// model" until it is resident, /v1/models lists only it, and another model is 404. Without
// one, /v1 behaves like Ollama's own /v1: any known model, loaded on demand.
import type http from 'node:http';
import { sameModelName } from '../core/config.ts';
import { hashOf, simAnswer, tokens } from './ollamaAnswers.ts';
import { HttpError, clientGone, readBody, sendJson } from './ollamaHttp.ts';
import type { GenerationSlots } from './generationSlots.ts';
import type { ResidentModels } from './ollamaModels.ts';
import { readAsked } from './ollamaRespond.ts';

/** The model a server started with --serve-model serves, and whether it is still loading. */
export interface Serving {
  model: string | null;
  loading: boolean;
}

export interface OpenAiRouteContext {
  models: ResidentModels;
  slots: GenerationSlots;
  /** Plain answers are lengthened to about this many tokens (0: the short answer). */
  answerTokens: number;
  serving: Serving;
  /** Throws 404 for a model the server lacks (--model list). */
  checkKnown: (model: string) => void;
  /** When the server started (ms since the epoch): every model's `created`. */
  startedAtMs: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

/** What response_format asks for, as simAnswer reads a format: undefined (text), 'json', or a schema. */
function formatOf(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  const f = (typeof value === 'object' ? value : {}) as { type?: unknown; json_schema?: { schema?: unknown } };
  if (f.type === 'text') return undefined;
  if (f.type === 'json_object') return 'json';
  if (f.type === 'json_schema') {
    const schema = f.json_schema?.schema;
    if (!schema || typeof schema !== 'object') throw new HttpError(400, 'response_format.json_schema.schema is required: a JSON Schema object');
    return schema;
  }
  throw new HttpError(400, `response_format.type must be one of text, json_object, json_schema; got ${JSON.stringify(f.type ?? value)}`);
}

function checkReady(serving: Serving): void {
  if (serving.loading) throw new HttpError(503, 'Loading model');
}

async function chatCompletion(ctx: OpenAiRouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  checkReady(ctx.serving);
  const cancel = clientGone(res);
  const body = await readBody(req);
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new HttpError(400, 'messages is required: a non-empty list of {role, content}');
  if (body.stream === true) throw new HttpError(400, 'stream: true is not supported by the simulator; ask with stream: false');
  const asked = readAsked('chat', body);
  const format = formatOf(body.response_format);
  const served = ctx.serving.model;
  if (served !== null && !sameModelName(asked.model, served)) {
    throw new HttpError(404, `model "${asked.model}" not found: this server serves ${served}`);
  }
  ctx.checkKnown(asked.model);
  // A served model is pinned (stays); otherwise Ollama's /v1 loads on demand with its default keep_alive.
  await ctx.models.ensureLoaded(asked.model, served !== null ? null : 5 * 60_000);
  const text = simAnswer(asked.model, asked.prompt, asked.system, format, ctx.answerTokens);
  const promptTokens = tokens(asked.system + asked.prompt);
  const completionTokens = tokens(text);
  await ctx.slots.generate(promptTokens, completionTokens, cancel);
  sendJson(res, 200, {
    id: `chatcmpl-${hashOf(asked.model, asked.system, asked.prompt).slice(0, 24)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: asked.model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  });
}

/** The OpenAI-compatible endpoints, keyed `METHOD path`. */
export function openAiRoutes(ctx: OpenAiRouteContext): Record<string, Handler> {
  return {
    'GET /health': (_req, res) => {
      checkReady(ctx.serving);
      sendJson(res, 200, { status: 'ok' });
    },
    'GET /v1/models': (_req, res) => {
      checkReady(ctx.serving);
      const names = ctx.serving.model !== null ? [ctx.serving.model] : ctx.models.names();
      const created = Math.floor(ctx.startedAtMs / 1000);
      sendJson(res, 200, { object: 'list', data: names.map((id) => ({ id, object: 'model', created, owned_by: 'forge-sim' })) });
    },
    'POST /v1/chat/completions': (req, res) => chatCompletion(ctx, req, res),
  };
}
