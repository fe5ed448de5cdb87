// An Ollama-compatible HTTP server on loopback, for tests and the demo: the rig's LLM
// code talks to it through the real `ollama` client exactly as it talks to Ollama.
// Answers are deterministic (a function of model, system and prompt: ollamaAnswers.ts);
// loading takes time and, while a model is loaded, the server registers itself as a GPU
// process for the simulated nvidia-smi (ollamaModels.ts). Failure modes are switched at
// runtime with setMode() or POST /sim/mode (ollamaMode.ts); routing is ollamaRoutes.ts.
import http from 'node:http';
import { HttpError, sendJson } from './ollamaHttp.ts';
import { type SimMode, applyMode, healthyMode } from './ollamaMode.ts';
import { ResidentModels } from './ollamaModels.ts';
import { createRouter } from './ollamaRoutes.ts';

export { fillSchema, normalizeModel, parseKeepAlive, simAnswer, simAnswerText } from './ollamaAnswers.ts';
export type { SimMode } from './ollamaMode.ts';

export interface SimOllamaOptions {
  /** 0 = any free port. */
  port: number;
  /** Loopback only: the rig is air-gapped and this server has no authentication. */
  host?: '127.0.0.1';
  /** GPU the simulated runner uses, for the procs file. Default 0. */
  gpuIndex?: number;
  /** Simulator state folder shared with the simulated nvidia-smi; no procs file when absent. */
  simDir?: string;
  /** GPU memory of one loaded model, in MiB. Default 4700 (a 7B at Q4 with its context). */
  modelSizeMb?: number;
  /** How long a load takes, in ms. Default 0. */
  loadDelayMs?: number;
  /** Models the server has; others answer 404 like Ollama. Absent: any name is accepted. */
  models?: string[];
}

export interface SimOllama {
  url: string;
  port: number;
  setMode(mode: SimMode): void;
  mode(): Required<SimMode>;
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
  const mode = healthyMode();
  const closing = new AbortController();
  const models = new ResidentModels({
    gpuIndex, modelSizeMb, loadDelayMs: opts.loadDelayMs ?? 0, simDir: opts.simDir, mode, closing: closing.signal,
  });
  const route = createRouter({
    mode, models, known: opts.models, gpuIndex, modelSizeMb, startedAt: new Date().toISOString(), closing: closing.signal,
  });

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.destroy();
      else sendJson(res, status, { error: message });
    });
  });
  server.keepAliveTimeout = 1000;
  const port = await listen(server, opts.port, host);

  let closed: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    setMode: (m) => applyMode(mode, m),
    mode: () => ({ ...mode }),
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
