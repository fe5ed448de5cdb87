// An Ollama-compatible and OpenAI-compatible HTTP server on loopback, for tests and the
// demo: the rig's LLM code talks to it through the real `ollama` client exactly as it talks
// to Ollama, and through OpenAiRuntime as to llama-server or vLLM (openaiRoutes.ts), on the
// same port. Answers are deterministic (a function of model, system and prompt:
// ollamaAnswers.ts); generating takes the time of a speed model, with at most numParallel
// requests at once (generationSlots.ts); loading takes time and, while a model is loaded,
// the server registers itself as a GPU process for the simulated nvidia-smi
// (ollamaModels.ts). Failure modes are switched at runtime with setMode() or POST /sim/mode
// (ollamaMode.ts); GET /sim/stats counts the requests; routing is ollamaRoutes.ts.
import http from 'node:http';
import { GenerationSlots, type SlotStats } from './generationSlots.ts';
import { HttpError, sendError } from './ollamaHttp.ts';
import { type SimMode, applyMode, healthyMode } from './ollamaMode.ts';
import { ResidentModels } from './ollamaModels.ts';
import { createRouter } from './ollamaRoutes.ts';
import { CreatedModels } from './ollamaCreate.ts';
import type { Serving } from './openaiRoutes.ts';

export { fillSchema, normalizeModel, parseKeepAlive, simAnswer, simAnswerText } from './ollamaAnswers.ts';
export type { SimMode } from './ollamaMode.ts';
export type { SlotStats } from './generationSlots.ts';

export interface SimOllamaOptions {
  /** 0 = any free port. */
  port: number;
  /** Loopback only: the rig is air-gapped and this server has no authentication. */
  host?: '127.0.0.1';
  /** GPU the simulated runner uses, for the procs file. Default 0. */
  gpuIndex?: number;
  /** Simulator state folder shared with the simulated nvidia-smi; no procs file when absent. */
  simDir?: string;
  /** GPU memory of one loaded model with one request slot, in MiB. Default 4700 (a 7B at Q4 with its context). */
  modelSizeMb?: number;
  /** How long a load takes, in ms. Default 0. */
  loadDelayMs?: number;
  /** Models the server has; others answer 404 like Ollama. Absent: any name is accepted. */
  models?: string[];
  /**
   * Serve this one model like llama-server or vLLM: loaded at start (`ready` resolves once it
   * is), kept for ever, the only one /v1/models lists; /v1 answers 404 for another. Default none.
   */
  serveModel?: string;
  /** Output tokens per second of one request alone on the card (generationSlots.ts). Absent: instant answers. */
  tokS?: number;
  /** Plain answers are lengthened to about this many tokens, as a real model's would be. Default 0: the short answer. */
  answerTokens?: number;
  /** Requests generating at once; further ones wait in FIFO order. Default 1. */
  numParallel?: number;
  /** KV cache of each request slot beyond the first, in MiB: a loaded model holds modelSizeMb + (numParallel - 1) × kvMb. Default 0. */
  kvMb?: number;
}

export interface SimOllama {
  url: string;
  port: number;
  setMode(mode: SimMode): void;
  mode(): Required<SimMode>;
  /** Resolves once the served model is loaded (at once without serveModel); rejects when its load fails. */
  ready: Promise<void>;
  /** The request counters of GET /sim/stats. */
  stats(): SlotStats;
  /** Models loaded now. */
  loaded(): string[];
  close(): Promise<void>;
}

/** Listens on host:port (0: any free port) and resolves with the port it got. */
async function listen(server: http.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

export async function startSimOllama(opts: SimOllamaOptions): Promise<SimOllama> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error(`sim ollama listens on loopback only (127.0.0.1), got host ${String(host)}`);
  const gpuIndex = opts.gpuIndex ?? 0;
  const modelSizeMb = opts.modelSizeMb ?? 4700;
  const numParallel = opts.numParallel ?? 1;
  if (opts.kvMb !== undefined && !(opts.kvMb >= 0)) throw new Error(`kvMb must be a number of MiB of at least 0, got ${opts.kvMb}`);
  const residentMb = modelSizeMb + (numParallel - 1) * (opts.kvMb ?? 0);
  const mode = healthyMode();
  const closing = new AbortController();
  const models = new ResidentModels({
    gpuIndex, modelSizeMb: residentMb, loadDelayMs: opts.loadDelayMs ?? 0, simDir: opts.simDir, mode, closing: closing.signal,
  });
  const slots = new GenerationSlots({ tokS: opts.tokS ?? null, numParallel, closing: closing.signal });
  const serving: Serving = { model: opts.serveModel ?? null, loading: opts.serveModel !== undefined };
  const known = opts.models && opts.serveModel !== undefined ? [...opts.models, opts.serveModel] : opts.models;
  const route = createRouter({
    mode, models, created: new CreatedModels(), slots, answerTokens: opts.answerTokens ?? 0, serving, known, gpuIndex, modelSizeMb, residentMb, startedAt: new Date().toISOString(), closing: closing.signal,
  });

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.destroy();
      else sendError(res, new URL(req.url ?? '/', 'http://sim').pathname, status, message);
    });
  });
  server.keepAliveTimeout = 1000;
  const port = await listen(server, opts.port, host);
  // Listening first, as llama-server does: /health answers 503 "Loading model" meanwhile.
  const ready = opts.serveModel === undefined ? Promise.resolve() : models.pin(opts.serveModel).then(() => {
    serving.loading = false;
  });
  ready.catch(() => {}); // the caller hears of a failed load by awaiting ready

  let closed: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    setMode: (m) => applyMode(mode, m),
    mode: () => ({ ...mode }),
    ready,
    stats: () => slots.stats(),
    loaded: () => models.names(),
    close: () => {
      closed ??= (async () => {
        closing.abort();
        models.clear();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
        await models.release();
      })();
      return closed;
    },
  };
}
