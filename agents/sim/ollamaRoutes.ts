// Request routing of the simulator: the /sim control surface (answers in every mode), then
// the mode's failures, then Ollama's endpoints and the OpenAI-compatible ones (openaiRoutes.ts).
import type http from 'node:http';
import { hashOf, normalizeModel } from './ollamaAnswers.ts';
import type { GenerationSlots } from './generationSlots.ts';
import { HttpError, clientGone, readBody, sendJson, waitUnlessClosed } from './ollamaHttp.ts';
import { type SimMode, applyMode } from './ollamaMode.ts';
import type { ResidentModels } from './ollamaModels.ts';
import type { CreatedModels } from './ollamaCreate.ts';
import { type AnswerKind, answer } from './ollamaRespond.ts';
import { type Serving, openAiRoutes } from './openaiRoutes.ts';

const VERSION = '0.12.0-forge-sim';
const DEFAULT_MODELS = ['qwen2.5:7b'];
/** Ollama reports "never expires" (keep_alive < 0) as a time centuries away. */
const FOREVER = '2318-01-01T00:00:00Z';
const BUSY_ERROR = 'server busy, please try again.  maximum pending requests exceeded';

export interface RouteContext {
  mode: Required<SimMode>;
  models: ResidentModels;
  /** Models made with /api/create (adapters). */
  created: CreatedModels;
  /** Models the server has; absent: any name is accepted. */
  known: string[] | undefined;
  /** Generation time and the requests served at once. */
  slots: GenerationSlots;
  /** Plain answers are lengthened to about this many tokens (0: the short answer). */
  answerTokens: number;
  /** The model a --serve-model server serves, and whether it is still loading. */
  serving: Serving;
  gpuIndex: number;
  /** Size of a model's file, in MiB (/api/tags). */
  modelSizeMb: number;
  /** GPU memory a loaded model holds with its KV cache for every request slot, in MiB (/api/ps). */
  residentMb: number;
  /** When the server started: every model's modified_at. */
  startedAt: string;
  closing: AbortSignal;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

function modelEntry(ctx: RouteContext, name: string) {
  return {
    name,
    model: name,
    modified_at: ctx.startedAt,
    size: ctx.modelSizeMb * 1024 * 1024,
    digest: hashOf(name).slice(0, 64),
    details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '7.6B', quantization_level: 'Q4_K_M' },
  };
}

/** The /sim control surface, keyed `METHOD path`. */
function controlRoutes(ctx: RouteContext): Record<string, Handler> {
  return {
    'POST /sim/mode': async (req, res) => {
      const body = await readBody(req);
      applyMode(ctx.mode, body as SimMode);
      sendJson(res, 200, { ...ctx.mode });
    },
    'GET /sim/stats': (_req, res) => sendJson(res, 200, ctx.slots.stats()),
    'GET /sim/state': (_req, res) => {
      sendJson(res, 200, { mode: { ...ctx.mode }, loaded: ctx.models.names(), proc_file: ctx.models.procFile, pid: process.pid, gpu_index: ctx.gpuIndex });
    },
  };
}

/** Ollama's endpoints, keyed `METHOD path` (the root is handled apart: it also answers HEAD). */
function apiRoutes(ctx: RouteContext): Record<string, Handler> {
  const known = ctx.known ? new Set(ctx.known.map(normalizeModel)) : null;
  const checkKnown = (model: string) => {
    if (known && !known.has(normalizeModel(model)) && !ctx.created.has(model)) throw new HttpError(404, `model "${model}" not found, try pulling it first`);
  };
  const respond = async (kind: AnswerKind, req: http.IncomingMessage, res: http.ServerResponse) => {
    const cancel = clientGone(res);
    return answer(res, kind, await readBody(req), { models: ctx.models, slots: ctx.slots, answerTokens: ctx.answerTokens, checkKnown, cancel, label: (m) => ctx.created.label(m) });
  };
  return {
    'GET /api/version': (_req, res) => sendJson(res, 200, { version: VERSION }),
    'GET /api/tags': (_req, res) => {
      const names = new Set([...(ctx.known ?? DEFAULT_MODELS).map(normalizeModel), ...ctx.created.names(), ...ctx.models.names()]);
      sendJson(res, 200, { models: [...names].map((n) => modelEntry(ctx, n)) });
    },
    'GET /api/ps': (_req, res) => sendJson(res, 200, {
      models: ctx.models.loaded().map((r) => ({
        ...modelEntry(ctx, r.model),
        expires_at: r.expiresAt === null ? FOREVER : new Date(r.expiresAt).toISOString(),
        size_vram: ctx.residentMb * 1024 * 1024,
        context_length: 4096,
      })),
    }),
    'POST /api/generate': (req, res) => respond('generate', req, res),
    'POST /api/chat': (req, res) => respond('chat', req, res),
    'POST /api/create': (req, res) => ctx.created.create(req, res, checkKnown),
    ...openAiRoutes({ models: ctx.models, slots: ctx.slots, answerTokens: ctx.answerTokens, serving: ctx.serving, checkKnown, startedAtMs: Date.parse(ctx.startedAt) }),
  };
}

/** The server's request handler; a thrown HttpError is answered by the caller. */
export function createRouter(ctx: RouteContext): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const control = controlRoutes(ctx);
  const api = apiRoutes(ctx);
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    const method = req.method ?? 'GET';
    const key = `${method} ${path}`;
    // The control surface answers in every mode, so a test can always switch back.
    const controlHandler = Object.hasOwn(control, key) ? control[key] : undefined;
    if (controlHandler) return controlHandler(req, res);

    if (ctx.mode.refuse) {
      req.socket.destroy();
      return;
    }
    if (ctx.mode.slow_ms > 0) await waitUnlessClosed(ctx.mode.slow_ms, ctx.closing);
    if (ctx.mode.busy) throw new HttpError(503, BUSY_ERROR);

    if ((path === '/' || path === '') && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(method === 'HEAD' ? undefined : 'Ollama is running');
      return;
    }
    if (path.startsWith('/api/blobs/')) return ctx.created.blob(req, res, decodeURIComponent(path.slice('/api/blobs/'.length)));
    const handler = Object.hasOwn(api, key) ? api[key] : undefined;
    if (handler) return handler(req, res);
    throw new HttpError(404, `${method} ${path}: not an endpoint of this server`);
  };
}
