// An Ollama-compatible HTTP server on loopback, for tests and the demo: the rig's LLM
// code talks to it through the real `ollama` client exactly as it talks to Ollama.
// Answers are deterministic (a function of model, system and prompt); loading takes time
// and, while a model is loaded, the server registers itself as a GPU process for the
// simulated nvidia-smi (<simDir>/procs/<pid>.json). Failure modes are switched at runtime
// with setMode() or POST /sim/mode.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { writeJsonAtomic } from '../core/atomic.ts';

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

export interface SimMode {
  /** Delay every /api answer by this many ms. */
  slow_ms?: number;
  /** Close every /api connection without answering (a dead or wedged server). */
  refuse?: boolean;
  /** Loads fail with Ollama's out-of-memory error (HTTP 500). */
  oom?: boolean;
  /** Answer every /api request 503 "server busy", like Ollama with its queue full. */
  busy?: boolean;
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

const VERSION = '0.12.0-forge-sim';
const DEFAULT_MODELS = ['qwen2.5:7b'];
const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
/** Ollama reports "never expires" (keep_alive < 0) as a time centuries away. */
const FOREVER = '2318-01-01T00:00:00Z';
const OOM_ERROR =
  'llama runner process has terminated: cudaMalloc failed: out of memory (model requires more GPU memory than is available)';
const BUSY_ERROR = 'server busy, please try again.  maximum pending requests exceeded';

/** In-process servers sharing a simDir get distinct procs files (the file name is normally the pid). */
const procNamesInUse = new Set<string>();

interface Resident {
  model: string;
  expiresAt: number | null; // null: never
  timer: NodeJS.Timeout | null;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function normalizeModel(m: string): string {
  return m.includes(':') ? m : `${m}:latest`;
}

/** keep_alive as Ollama reads it: a number is seconds, a string a Go duration ("5m", "1h30m", "-1"); negative means forever. */
export function parseKeepAlive(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return DEFAULT_KEEP_ALIVE_MS;
  if (typeof value === 'number') return value < 0 ? null : value * 1000;
  const text = String(value).trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) < 0 ? null : Number(text) * 1000;
  if (text.startsWith('-')) return null;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
    matched += m[0];
  }
  if (matched !== text) throw new HttpError(400, `time: invalid duration "${text}"`);
  return total;
}

function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** The deterministic answer text: what the model was asked, and a stable hash of it. */
export function simAnswerText(model: string, prompt: string, system = ''): string {
  const head = prompt.replace(/\s+/g, ' ').trim().slice(0, 60);
  return `sim(${model}): ${head} [${hashOf(model, system, prompt).slice(0, 12)}]`;
}

/**
 * A JSON value that fits a simple JSON Schema (type, properties, items, enum), filled from
 * the seed: the same request always gets the same value.
 */
export function fillSchema(schema: unknown, seed: string, key = 'value', depth = 0): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
  const h = hashOf(seed, key);
  const n = parseInt(h.slice(0, 8), 16);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[n % s.enum.length];
  if ('const' in s) return s.const;
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') ?? 'null' : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, unknown>;
      for (const [k, sub] of Object.entries(props)) out[k] = fillSchema(sub, seed, `${key}.${k}`, depth + 1);
      return out;
    }
    case 'array': {
      const count = depth > 4 ? 0 : 2;
      return Array.from({ length: count }, (_, i) => fillSchema(s.items, seed, `${key}[${i}]`, depth + 1));
    }
    case 'integer':
      return n % 100;
    case 'number':
      return (n % 10_000) / 100;
    case 'boolean':
      return n % 2 === 0;
    case 'null':
      return null;
    default:
      return `${key.split('.').pop()?.replace(/\[\d+\]$/, '') ?? 'value'}-${h.slice(0, 6)}`;
  }
}

/** The same shape with every leaf of the wrong type: a model ignoring the schema. */
function misfitSchema(schema: unknown, seed: string): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
  if (s.type === 'object') {
    const out: Record<string, unknown> = {};
    const props = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, unknown>;
    for (const [k, sub] of Object.entries(props)) out[k] = misfitSchema(sub, seed);
    return out;
  }
  if (s.type === 'array') return 'not-an-array';
  if (s.type === 'string') return 12345;
  return 'not-a-number';
}

/**
 * The answer to a request, as Ollama's model would give it:
 * - format 'json' or a schema: JSON (fitting the schema) unless the prompt says BROKEN_JSON
 *   (then cut-off JSON) or SCHEMA_MISMATCH (then valid JSON of the wrong types);
 * - no format: simAnswerText.
 */
export function simAnswer(model: string, prompt: string, system: string, format: unknown): string {
  const text = simAnswerText(model, prompt, system);
  if (format === undefined || format === null || format === '') return text;
  const seed = hashOf(model, system, prompt);
  if (prompt.includes('BROKEN_JSON')) return `{"answer": "${text.replace(/"/g, "'")}", "items": [1, 2`;
  if (format === 'json' || typeof format !== 'object') return JSON.stringify({ answer: text });
  if (prompt.includes('SCHEMA_MISMATCH')) return JSON.stringify(misfitSchema(format, seed));
  return JSON.stringify(fillSchema(format, seed));
}

function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export async function startSimOllama(opts: SimOllamaOptions): Promise<SimOllama> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new Error(`sim ollama listens on loopback only (127.0.0.1), got host ${String(host)}`);
  const gpuIndex = opts.gpuIndex ?? 0;
  const modelSizeMb = opts.modelSizeMb ?? 4700;
  const loadDelayMs = opts.loadDelayMs ?? 0;
  const known = opts.models ? new Set(opts.models.map(normalizeModel)) : null;
  const mode: Required<SimMode> = { slow_ms: 0, refuse: false, oom: false, busy: false };
  const resident = new Map<string, Resident>();
  const closing = new AbortController();
  const startedAt = new Date().toISOString();
  // Loads and unloads happen one at a time, like Ollama's scheduler.
  let schedule: Promise<unknown> = Promise.resolve();

  let procFile: string | null = null;
  if (opts.simDir) {
    procFile = join(resolvePath(opts.simDir), 'procs', `${process.pid}.json`);
    if (procNamesInUse.has(procFile)) {
      procFile = join(resolvePath(opts.simDir), 'procs', `${process.pid}-gpu${gpuIndex}-${randomBytes(3).toString('hex')}.json`);
    }
    procNamesInUse.add(procFile);
  }
  // Serialised so a slow write can never land after a later removal.
  let procWrites: Promise<void> = Promise.resolve();
  const syncProcFile = (): Promise<void> => {
    if (!procFile) return Promise.resolve();
    const file = procFile;
    const count = resident.size;
    procWrites = procWrites.then(async () => {
      if (count > 0) {
        await mkdir(dirname(file), { recursive: true });
        await writeJsonAtomic(file, { pid: process.pid, gpu_index: gpuIndex, used_mb: modelSizeMb * count, name: 'ollama' });
      } else {
        await unlink(file).catch(() => {});
      }
    });
    return procWrites;
  };

  const checkKnown = (model: string) => {
    if (known && !known.has(normalizeModel(model))) throw new HttpError(404, `model "${model}" not found, try pulling it first`);
  };

  const setExpiry = (r: Resident, keepAliveMs: number | null) => {
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    r.expiresAt = keepAliveMs === null ? null : Date.now() + keepAliveMs;
    if (keepAliveMs !== null) {
      r.timer = setTimeout(() => void unloadModel(r.model), keepAliveMs);
      r.timer.unref();
    }
  };

  const wait = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (ms <= 0) return resolve();
      const onClose = () => {
        clearTimeout(t);
        reject(new HttpError(503, 'server shutting down'));
      };
      const t = setTimeout(() => {
        closing.signal.removeEventListener('abort', onClose);
        resolve();
      }, ms);
      closing.signal.addEventListener('abort', onClose, { once: true });
    });

  const runScheduled = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = schedule.then(fn, fn);
    schedule = next.catch(() => {});
    return next;
  };

  /** Loads (if needed) and sets the residency; resolves once the model is usable. */
  const ensureLoaded = (model: string, keepAliveMs: number | null): Promise<number> =>
    runScheduled(async () => {
      const name = normalizeModel(model);
      const r = resident.get(name);
      if (r) {
        setExpiry(r, keepAliveMs);
        return 0;
      }
      const t0 = Date.now();
      await wait(loadDelayMs);
      if (mode.oom) throw new HttpError(500, OOM_ERROR);
      const fresh: Resident = { model: name, expiresAt: null, timer: null };
      resident.set(name, fresh);
      setExpiry(fresh, keepAliveMs);
      await syncProcFile();
      return Date.now() - t0;
    });

  const unloadModel = (model: string): Promise<void> =>
    runScheduled(async () => {
      const name = normalizeModel(model);
      const r = resident.get(name);
      if (!r) return;
      if (r.timer) clearTimeout(r.timer);
      resident.delete(name);
      await syncProcFile();
    });

  const modelEntry = (name: string) => ({
    name,
    model: name,
    modified_at: startedAt,
    size: modelSizeMb * 1024 * 1024,
    digest: hashOf(name).slice(0, 64),
    details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '7.6B', quantization_level: 'Q4_K_M' },
  });

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const readBody = async (req: http.IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text.trim()) return {};
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new HttpError(400, 'invalid request body: expected a JSON object');
  };

  /** generate and chat: the shared part. `kind` picks the answer shape. */
  const answer = async (res: http.ServerResponse, kind: 'generate' | 'chat', body: Record<string, unknown>) => {
    const model = typeof body.model === 'string' ? body.model : '';
    if (!model) throw new HttpError(400, 'model is required');
    checkKnown(model);
    let prompt: string;
    let system = typeof body.system === 'string' ? body.system : '';
    let empty: boolean;
    if (kind === 'generate') {
      prompt = typeof body.prompt === 'string' ? body.prompt : '';
      empty = prompt === '';
    } else {
      const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: string; content?: string }>) : [];
      empty = messages.length === 0;
      system = messages.filter((m) => m.role === 'system').map((m) => m.content ?? '').join('\n') || system;
      prompt = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    }
    const keepAliveMs = parseKeepAlive(body.keep_alive);
    const stream = body.stream !== false; // Ollama streams unless told not to
    const created_at = new Date().toISOString();
    const shape = (text: string, done: boolean, extra: Record<string, unknown> = {}) =>
      kind === 'generate'
        ? { model, created_at, response: text, done, ...extra }
        : { model, created_at, message: { role: 'assistant', content: text }, done, ...extra };

    if (empty) {
      // No prompt: only load (or, with keep_alive 0, unload), as Ollama does.
      if (keepAliveMs === 0) {
        await unloadModel(model);
        sendJson(res, 200, shape('', true, { done_reason: 'unload' }));
      } else {
        await ensureLoaded(model, keepAliveMs);
        sendJson(res, 200, shape('', true, { done_reason: 'load' }));
      }
      return;
    }

    const t0 = process.hrtime.bigint();
    const loadMs = await ensureLoaded(model, keepAliveMs === 0 ? 0 : keepAliveMs);
    const text = simAnswer(model, prompt, system, body.format);
    const total = Number(process.hrtime.bigint() - t0);
    const stats = {
      done_reason: 'stop',
      total_duration: total,
      load_duration: loadMs * 1_000_000,
      prompt_eval_count: tokens(system + prompt),
      prompt_eval_duration: 1_000_000,
      eval_count: tokens(text),
      eval_duration: Math.max(1, total - loadMs * 1_000_000),
      ...(kind === 'generate' ? { context: [1, 2, 3] } : {}),
    };
    if (!stream) {
      sendJson(res, 200, shape(text, true, stats));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const pieces = text.match(/[\s\S]{1,16}/g) ?? [];
    for (const piece of pieces) res.write(JSON.stringify(shape(piece, false)) + '\n');
    res.end(JSON.stringify(shape('', true, stats)) + '\n');
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    const method = req.method ?? 'GET';

    // The control surface answers in every mode, so a test can always switch back.
    if (path === '/sim/mode' && method === 'POST') {
      const body = await readBody(req);
      applyMode(body as SimMode);
      sendJson(res, 200, { ...mode });
      return;
    }
    if (path === '/sim/state' && method === 'GET') {
      sendJson(res, 200, { mode: { ...mode }, loaded: [...resident.keys()], proc_file: procFile, pid: process.pid, gpu_index: gpuIndex });
      return;
    }

    if (mode.refuse) {
      req.socket.destroy();
      return;
    }
    if (mode.slow_ms > 0) await wait(mode.slow_ms);
    if (mode.busy) throw new HttpError(503, BUSY_ERROR);

    if ((path === '/' || path === '') && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(method === 'HEAD' ? undefined : 'Ollama is running');
      return;
    }
    if (path === '/api/version' && method === 'GET') return sendJson(res, 200, { version: VERSION });
    if (path === '/api/tags' && method === 'GET') {
      const names = new Set([...(opts.models ?? DEFAULT_MODELS).map(normalizeModel), ...resident.keys()]);
      return sendJson(res, 200, { models: [...names].map(modelEntry) });
    }
    if (path === '/api/ps' && method === 'GET') {
      return sendJson(res, 200, {
        models: [...resident.values()].map((r) => ({
          ...modelEntry(r.model),
          expires_at: r.expiresAt === null ? FOREVER : new Date(r.expiresAt).toISOString(),
          size_vram: modelSizeMb * 1024 * 1024,
          context_length: 4096,
        })),
      });
    }
    if (path === '/api/generate' && method === 'POST') return answer(res, 'generate', await readBody(req));
    if (path === '/api/chat' && method === 'POST') return answer(res, 'chat', await readBody(req));
    throw new HttpError(404, `${method} ${path}: not an endpoint of this server`);
  };

  const applyMode = (m: SimMode) => {
    if (m.slow_ms !== undefined) mode.slow_ms = Math.max(0, Number(m.slow_ms) || 0);
    if (m.refuse !== undefined) mode.refuse = Boolean(m.refuse);
    if (m.oom !== undefined) mode.oom = Boolean(m.oom);
    if (m.busy !== undefined) mode.busy = Boolean(m.busy);
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (res.headersSent) res.destroy();
      else sendJson(res, status, { error: message });
    });
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${host}:${port}`;

  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    setMode: applyMode,
    mode: () => ({ ...mode }),
    loaded: () => [...resident.keys()],
    close: () => {
      closed ??= (async () => {
        closing.abort();
        for (const r of resident.values()) if (r.timer) clearTimeout(r.timer);
        resident.clear();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await done;
        await syncProcFile();
        if (procFile) procNamesInUse.delete(procFile);
      })();
      return closed;
    },
  };
}
