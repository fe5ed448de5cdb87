// ModelRuntime for Ollama, through the `ollama` package. Every call has a deadline, every
// failure becomes a RuntimeError that names the URL and says what was being done.
import http from 'node:http';
import { Readable } from 'node:stream';
import { Ollama } from 'ollama';
import { sameModelName } from '../core/config.ts';
import {
  type GenerateRequest,
  type GenerateResult,
  type LoadedModel,
  type ModelRuntime,
  type RuntimeHealth,
  type RuntimeDeadlines,
  RuntimeError,
  deadlinesOf,
  isOutOfMemoryText,
} from './runtime.ts';

export interface OllamaRuntimeOptions extends RuntimeDeadlines {
  /** How long unload waits for /api/ps to stop listing the model, in ms. Default 15 000. */
  unloadWaitMs?: number;
}

/** http://<host>:<port> of an agent's Ollama. */
export function ollamaUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Ollama calls a model without a tag `<name>:latest`. */
export const sameModel = sameModelName;

/** Ollama reports keep_alive -1 as an expiry centuries away; that means "stays until unloaded". */
function expiryOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  const text = value instanceof Date ? value.toISOString() : String(value);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || new Date(ms).getUTCFullYear() > 2200) return null;
  return text;
}

/** Ollama's load_duration (ns) in ms; a model already resident still reports a few µs, which is no load. */
function loadMsOf(ns: unknown): number | null {
  if (typeof ns !== 'number' || !Number.isFinite(ns)) return null;
  const ms = ns / 1_000_000;
  return ms > 1 ? Math.round(ms) : null;
}

export class OllamaRuntime implements ModelRuntime {
  readonly url: string;
  private readonly opts: Required<OllamaRuntimeOptions>;

  constructor(url: string, opts: OllamaRuntimeOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.opts = { ...deadlinesOf(opts), unloadWaitMs: opts.unloadWaitMs ?? 15_000 };
  }

  async listLoaded(): Promise<LoadedModel[]> {
    const res = await this.call('list loaded models (GET /api/ps)', this.opts.requestTimeoutMs, undefined, (c) => c.ps());
    if (!res || !Array.isArray(res.models)) {
      throw new RuntimeError('bad_response', this.url, `Ollama at ${this.url}: /api/ps answered without a models list`);
    }
    return res.models.map((m) => ({
      name: String(m.name ?? m.model),
      size_vram_mb: Math.round(Number(m.size_vram ?? 0) / (1024 * 1024)),
      expires_at: expiryOf(m.expires_at),
    }));
  }

  async load(model: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    // An empty prompt only loads; keep_alive -1 keeps it resident until unload().
    await this.call(`load ${model}`, this.opts.loadTimeoutMs, opts.signal, (c) =>
      c.generate({ model, prompt: '', keep_alive: -1, stream: false }),
    );
  }

  async unload(model: string): Promise<void> {
    try {
      await this.call(`unload ${model}`, this.opts.requestTimeoutMs, undefined, (c) =>
        c.generate({ model, prompt: '', keep_alive: 0, stream: false }),
      );
    } catch (err) {
      // A model the server does not have is certainly not loaded.
      if (err instanceof RuntimeError && err.kind === 'model_missing') return;
      throw err;
    }
    // Ollama answers before the runner has exited; GPU memory is free only once ps stops listing it.
    const deadline = Date.now() + this.opts.unloadWaitMs;
    for (;;) {
      const loaded = await this.listLoaded();
      if (!loaded.some((m) => sameModel(m.name, model))) return;
      if (Date.now() >= deadline) {
        throw new RuntimeError('server', this.url, `Ollama at ${this.url}: ${model} still loaded ${this.opts.unloadWaitMs} ms after unload`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const started = Date.now();
    const res = await this.call(`generate with ${req.model}`, this.opts.generateTimeoutMs, req.signal, (c) =>
      c.generate({
        model: req.model,
        prompt: req.prompt,
        ...(req.system !== undefined ? { system: req.system } : {}),
        ...(req.format !== undefined ? { format: req.format } : {}),
        stream: false,
        // Without it every request resets residency to Ollama's default 5 minutes, and a
        // hot agent would go cold behind its back. Residency is the agent's decision (unload).
        keep_alive: -1,
      }),
    );
    if (typeof res?.response !== 'string') {
      throw new RuntimeError('bad_response', this.url, `Ollama at ${this.url}: generate answered without a response text`);
    }
    return {
      text: res.response,
      prompt_tokens: typeof res.prompt_eval_count === 'number' ? res.prompt_eval_count : null,
      completion_tokens: typeof res.eval_count === 'number' ? res.eval_count : null,
      duration_ms: Date.now() - started,
      load_ms: loadMsOf(res.load_duration),
    };
  }

  sameModel(a: string, b: string): boolean {
    return sameModel(a, b);
  }

  async health(): Promise<RuntimeHealth> {
    try {
      await this.call('check health (GET /api/version)', this.opts.healthTimeoutMs, undefined, (c) => c.version());
      return { ok: true, reason: null };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Runs one client call with a deadline and the caller's signal; maps every failure to a RuntimeError. */
  private async call<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, fn: (c: Ollama) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const client = new Ollama({ host: this.url, fetch: (input, init) => nodeFetch(input, { ...init, signal: combined }) });
    try {
      if (combined.aborted) throw combined.reason;
      return await fn(client);
    } catch (err) {
      if (signal?.aborted) throw new RuntimeError('aborted', this.url, `Ollama at ${this.url}: ${what} aborted`, { cause: err });
      if (timeout.aborted) {
        throw new RuntimeError('timeout', this.url, `Ollama at ${this.url}: no answer to ${what} within ${timeoutMs} ms`, { cause: err });
      }
      throw this.toRuntimeError(what, err);
    }
  }

  private toRuntimeError(what: string, err: unknown): RuntimeError {
    const e = err as { name?: string; message?: string; status_code?: number; error?: string; code?: string };
    const message = e?.message ?? String(err);
    if (e?.name === 'ResponseError' && typeof e.status_code === 'number') {
      const status = e.status_code;
      const text = e.error ?? message;
      const kind = isOutOfMemoryText(text) ? 'oom' : status === 404 ? 'model_missing' : status === 503 ? 'busy' : 'server';
      return new RuntimeError(kind, this.url, `Ollama at ${this.url} failed to ${what}: ${text} (HTTP ${status})`, { status, cause: err });
    }
    if (err instanceof SyntaxError || /did not receive done|missing body/i.test(message)) {
      return new RuntimeError('bad_response', this.url, `Ollama at ${this.url} gave a malformed answer to ${what}: ${message}`, { cause: err });
    }
    if (e?.message && isOutOfMemoryText(e.message)) {
      return new RuntimeError('oom', this.url, `Ollama at ${this.url} failed to ${what}: ${message}`, { cause: err });
    }
    const code = e?.code ? `${e.code}: ` : '';
    return new RuntimeError('unreachable', this.url, `Ollama at ${this.url} is unreachable (${code}${message}) while trying to ${what}`, {
      cause: err,
    });
  }
}

/**
 * A fetch on node:http for the ollama client. Node's built-in fetch (undici) gives up on an
 * answer whose headers take over 300 s, and a cold load on an old card can take that long
 * with no byte sent; here only our own deadlines apply. Error answers that are not JSON are
 * wrapped as {"error": text}, so the client never logs to stdout (a worker's stdout carries
 * only its result).
 */
export function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers ?? {}).forEach((v, k) => {
      headers[k] = v;
    });
    const method = (init.method ?? 'GET').toUpperCase();
    const req = http.request(url, { method, headers, agent: false });
    const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    req.on('response', (res) => {
      res.on('close', () => signal?.removeEventListener('abort', onAbort));
      const status = res.statusCode ?? 502;
      const resHeaders = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) resHeaders.append(k, one);
      }
      const ok = status >= 200 && status < 300;
      if (!ok && !(resHeaders.get('content-type') ?? '').includes('application/json')) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8').trim() || `HTTP ${status} ${res.statusMessage ?? ''}`.trim();
          resolve(new Response(JSON.stringify({ error: text }), { status, headers: { 'content-type': 'application/json' } }));
        });
        return;
      }
      const noBody = method === 'HEAD' || status === 204 || status === 304;
      const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: resHeaders }));
    });
    if (init.body !== undefined && init.body !== null) req.end(init.body as string | Uint8Array);
    else req.end();
  });
}
